import Foundation

/// Locates the repository root and the shared reference material (`../shared` beside the repository).
public enum Fixtures {
  /// The repository root, found from this source file's location.
  public static let repositoryRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    // Tests/VTagTestSupport/Fixtures.swift → repository root
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
  }()

  /// `../shared` relative to the repository root.
  public static let shared: URL = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")

  /// `../shared/fixtures/ram-parity`.
  public static let ramParity: URL = shared.appendingPathComponent("fixtures/ram-parity")
  /// `../shared/fixtures/tokenizer`.
  public static let tokenizer: URL = shared.appendingPathComponent("fixtures/tokenizer")
  /// `../shared/media`.
  public static let media: URL = shared.appendingPathComponent("media")
  /// `../shared/fixtures/openset` (CLIP text towers, tokenizer cases, open-set experiments).
  public static let openset: URL = shared.appendingPathComponent("fixtures/openset")
  /// `../shared/ram-data`.
  public static let ramData: URL = shared.appendingPathComponent("ram-data")

  /// True when `url` exists on disk.
  public static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

  /// The message a skipped test shows when `url` is missing.
  public static func missing(_ url: URL) -> String { "skipped: needs \(url.standardizedFileURL.path), which is absent" }

  /// A fresh temporary directory, removed by the caller when done.
  public static func temporaryDirectory(_ label: String = "vtag-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}
