import Checkpoints
import Foundation
import TensorCore

/// Problems with a tag set folder; each names the file and what to fix.
public enum TagSetError: Error, Equatable, CustomStringConvertible {
  case missingFile(path: String)
  case invalid(path: String, detail: String)
  /// The set was built for another architecture or label width than the model it is used with.
  case incompatible(set: String, detail: String)

  public var description: String {
    switch self {
    case .missingFile(let path): "\(path) is missing; a tag set folder is made by `vtag tags build`"
    case .invalid(let path, let detail): "\(path): \(detail)"
    case .incompatible(let set, let detail): "tag set \(set): \(detail)"
    }
  }
}

/// A tag set: classes a RAM++ or RAM model recognises in place of, or beside, its built-in ones.
///
/// On disk (written by `vtag tags build`) a folder with `label_embed.safetensors` (one fp32 tensor `label_embed`,
/// `[rows, D]`: RAM++ `rows_per_class` L2-normalised description embeddings a class, class-major; RAM one
/// embedding a class), `tags.txt` (one name a line), `thresholds.txt` (one a line) and `set.json`
/// (`architecture`, `rows_per_class`, `label_width`, `classes`, `clip_sha256`, `source_sha256`, `set_sha256`,
/// `vtag_version`, …).
public struct TagSet: @unchecked Sendable {
  public static let embedFile = "label_embed.safetensors"
  public static let tagsFile = "tags.txt"
  public static let thresholdsFile = "thresholds.txt"
  public static let metadataFile = "set.json"

  public let directory: URL
  public let architecture: Architecture
  /// RAM++: descriptions a class; RAM: 1.
  public let rowsPerClass: Int
  public let tags: [String]
  public let thresholds: [Float]
  /// `[tags.count · rowsPerClass, D]`.
  public let labelEmbed: Weight
  /// `set.json` as read.
  public let metadata: [String: Any]
  /// SHA-256 of the set's embedding, tags and thresholds (recorded by the builder).
  public var sha256: String? { metadata["set_sha256"] as? String }
  /// Label width D.
  public var labelWidth: Int { labelEmbed.shape[1] }

  /// Reads and checks the set at `directory`.
  public init(directory: URL) throws {
    self.directory = directory
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
      throw TagSetError.invalid(
        path: directory.path, detail: "is not a tag set folder (make one with `vtag tags build … -o \(directory.path)`)"
      )
    }
    func file(_ name: String) throws -> URL {
      let u = directory.appendingPathComponent(name)
      guard fm.fileExists(atPath: u.path) else { throw TagSetError.missingFile(path: u.path) }
      return u
    }
    let metaURL = try file(TagSet.metadataFile)
    guard let data = fm.contents(atPath: metaURL.path),
      let meta = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    else { throw TagSetError.invalid(path: metaURL.path, detail: "is not a JSON object") }
    metadata = meta
    guard let archName = meta["architecture"] as? String, let arch = Architecture(rawValue: archName),
      arch != .tag2text
    else {
      throw TagSetError.invalid(
        path: metaURL.path,
        detail: "'architecture' must be \"ram_plus\" or \"ram\" (found \(meta["architecture"] ?? "nothing"))")
    }
    architecture = arch
    guard let rpc = meta["rows_per_class"] as? Int, rpc >= 1 else {
      throw TagSetError.invalid(path: metaURL.path, detail: "'rows_per_class' must be a positive integer")
    }
    rowsPerClass = rpc
    let tagsURL = try file(TagSet.tagsFile)
    let tagText = try String(contentsOf: tagsURL, encoding: .utf8)
    var names = tagText.components(separatedBy: "\n")
    if names.last == "" { names.removeLast() }
    guard !names.isEmpty else { throw TagSetError.invalid(path: tagsURL.path, detail: "has no tags") }
    if let i = names.firstIndex(of: "") {
      throw TagSetError.invalid(path: tagsURL.path, detail: "line \(i + 1) is empty")
    }
    tags = names
    let thrURL = try file(TagSet.thresholdsFile)
    var thr: [Float] = []
    let thrLines = try String(contentsOf: thrURL, encoding: .utf8).split(
      separator: "\n", omittingEmptySubsequences: false)
    for (i, line) in thrLines.enumerated() where !(i == thrLines.count - 1 && line.isEmpty) {
      guard let v = Float(line.trimmingCharacters(in: .whitespaces)), v >= 0, v <= 1 else {
        throw TagSetError.invalid(path: thrURL.path, detail: "line \(i + 1) ('\(line)') is not a threshold in [0, 1]")
      }
      thr.append(v)
    }
    guard thr.count == names.count else {
      throw TagSetError.invalid(
        path: thrURL.path, detail: "has \(thr.count) thresholds for the \(names.count) tags of \(TagSet.tagsFile)")
    }
    thresholds = thr
    let embedURL = try file(TagSet.embedFile)
    let archive = try SafetensorsFile(path: embedURL.path)
    guard let e = archive.entries["label_embed"], e.shape.count == 2 else {
      throw TagSetError.invalid(path: embedURL.path, detail: "has no 2-D tensor 'label_embed'")
    }
    guard e.shape[0] == names.count * rpc else {
      throw TagSetError.invalid(
        path: embedURL.path,
        detail:
          "label_embed has \(e.shape[0]) rows; \(names.count) tags × \(rpc) rows a class need \(names.count * rpc)")
    }
    let buf = try archive.floats("label_embed")
    labelEmbed = Weight(shape: e.shape, data: buf.base, owner: buf)
  }

  /// Throws unless the set fits a model of `architecture` with label width `width`.
  public func check(architecture model: Architecture, labelWidth width: Int?) throws {
    guard model == architecture else {
      throw TagSetError.incompatible(
        set: directory.path,
        detail:
          "it was built for \(architecture.rawValue), but the model is \(model.rawValue); build it again with `vtag tags build --model` pointing at the \(model.rawValue) bundle"
      )
    }
    guard let width, width == labelWidth else {
      throw TagSetError.incompatible(
        set: directory.path,
        detail: "its label width is \(labelWidth), the model's is \(width.map(String.init) ?? "none")")
    }
  }
}
