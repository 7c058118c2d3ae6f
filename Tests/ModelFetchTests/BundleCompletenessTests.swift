import Foundation
import ModelFetch
import RecognizeAnything
import Testing
import VTagTestSupport

/// `ModelBundle` refuses what an unfinished fetch leaves behind, and a verified bundle whose files changed.
@Suite(.enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))))
struct BundleCompletenessTests {
  static func copy() throws -> URL {
    let dir = try Fixtures.temporaryDirectory("vtag-bundle")
    for name in ["config.json", "tags.txt", "tags_zh.txt", "thresholds.txt"] {
      try FileManager.default.copyItem(
        at: Fixtures.ramParity.appendingPathComponent("ram_plus/\(name)"), to: dir.appendingPathComponent(name))
    }
    try FileManager.default.createSymbolicLink(
      at: dir.appendingPathComponent("model.pth"),
      withDestinationURL: Fixtures.ramParity.appendingPathComponent("ram_plus/model.pth"))
    return dir
  }

  @Test("A folder with .incomplete is refused; without it (installed by hand) it opens")
  func incompleteMarker() throws {
    let dir = try Self.copy()
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try ModelBundle(directory: dir)
    try Data("{}".utf8).write(to: dir.appendingPathComponent(InstallRecord.incompleteMarker))
    #expect(throws: BundleError.self) { try ModelBundle(directory: dir) }
  }

  @Test("A .complete record whose file sizes no longer match is refused, naming the file")
  func changedFile() throws {
    let dir = try Self.copy()
    defer { try? FileManager.default.removeItem(at: dir) }
    let tags = dir.appendingPathComponent("tags.txt")
    let record = InstallRecord(
      model: "ram_plus", installed: InstallRecord.now(),
      files: [
        "tags.txt": .init(bytes: Downloader.size(of: tags), sha256: try SHA256.hash(fileAt: tags.path), source: nil)
      ])
    try record.write(directory: dir)
    _ = try ModelBundle(directory: dir)
    #expect(try InstallRecord.read(directory: dir) == record)
    let handle = try FileHandle(forWritingTo: tags)
    try handle.truncate(atOffset: 100)
    try handle.close()
    do {
      _ = try ModelBundle(directory: dir)
      Issue.record("opened a damaged bundle")
    } catch {
      #expect("\(error)".contains("tags.txt has 100 bytes"), "\(error)")
    }
  }
}
