import Foundation

/// What `vtag models fetch` verified when it installed a bundle: the file `.complete` in the bundle.
///
/// A fetch works in a hidden staging folder (`.NAME.partial` beside the target) that carries the
/// marker `.incomplete`; only when every file has its expected size and sha256 does it write this
/// record and rename the folder into place. `ModelBundle` refuses a folder with `.incomplete`, and
/// one whose record lists a file that is missing or has another size.
public struct InstallRecord: Codable, Sendable, Equatable {
  /// File name of the record inside a bundle.
  public static let fileName = ".complete"
  /// File name of the marker of an unfinished fetch.
  public static let incompleteMarker = ".incomplete"

  /// One verified file.
  public struct File: Codable, Sendable, Equatable {
    public var bytes: Int64
    public var sha256: String
    /// Where it came from (URL or local path), if downloaded.
    public var source: String?

    /// Creates a file entry.
    public init(bytes: Int64, sha256: String, source: String?) {
      self.bytes = bytes
      self.sha256 = sha256
      self.source = source
    }
  }

  /// Bundle name in the manifest (`ram_plus`, ...).
  public var model: String
  /// When it was installed (ISO 8601).
  public var installed: String
  /// Verified files by bundle file name.
  public var files: [String: File]
  /// Notes (e.g. "model.pth converted to model.safetensors").
  public var notes: [String]?

  /// Creates a record.
  public init(model: String, installed: String, files: [String: File], notes: [String]? = nil) {
    self.model = model
    self.installed = installed
    self.files = files
    self.notes = notes
  }

  /// The record of the bundle at `directory`, or nil when it has none (e.g. installed by hand).
  public static func read(directory: URL) throws -> InstallRecord? {
    let url = directory.appendingPathComponent(fileName)
    guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
    do {
      return try JSONDecoder().decode(InstallRecord.self, from: data)
    } catch {
      throw BundleError.incomplete(path: directory.path, detail: "its \(fileName) record is unreadable (\(error))")
    }
  }

  /// Writes the record into `directory` (atomically).
  public func write(directory: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(to: directory.appendingPathComponent(Self.fileName), options: .atomic)
  }

  /// A quick check (sizes only): nil when every recorded file exists with its recorded size,
  /// else what is wrong.
  public func sizeProblem(directory: URL) -> String? {
    for (name, f) in files.sorted(by: { $0.key < $1.key }) {
      let path = directory.appendingPathComponent(name).path
      guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else {
        return "\(name) is missing"
      }
      let size = (attrs[.size] as? NSNumber)?.int64Value ?? -1
      if size != f.bytes { return "\(name) has \(size) bytes, but \(f.bytes) were verified" }
    }
    return nil
  }

  /// Now in ISO 8601.
  public static func now() -> String {
    ISO8601DateFormatter().string(from: Date())
  }
}
