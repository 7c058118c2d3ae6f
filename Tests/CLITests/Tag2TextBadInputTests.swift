import Foundation
import Testing
import VTagTestSupport

/// Tag2Text bundles with a missing vocabulary, a vocabulary of the wrong size, or no caption section:
/// clear errors, exit code 1, no crash.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct Tag2TextBadInputTests {
  static let source = Fixtures.ramParity.appendingPathComponent("tag2text")
  static let image = Fixtures.ramParity.appendingPathComponent("cases/chelsea.png")

  static func copyBundle() throws -> URL {
    let dir = try Fixtures.temporaryDirectory("vtag-t2t")
    for name in ["config.json", "tags.txt", "vocab.txt", "model.pth"] {
      try Data(contentsOf: source.appendingPathComponent(name)).write(to: dir.appendingPathComponent(name))
    }
    return dir
  }

  func expectFailure(_ bundle: URL, mentions: [String]) throws {
    let r = try VTagProcess.run(["image", "--model", bundle.path, Self.image.path])
    #expect(!r.crashed, "crashed: \(r.stderr)")
    #expect(r.status == 1, "status \(r.status): \(r.stderr)")
    for m in mentions { #expect(r.stderr.contains(m), "stderr does not mention '\(m)': \(r.stderr)") }
  }

  @Test("A missing vocab.txt")
  func missingVocab() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.removeItem(at: dir.appendingPathComponent("vocab.txt"))
    try expectFailure(dir, mentions: ["vocab.txt", "bert-base-uncased"])
  }

  @Test("A vocabulary of the wrong size for the checkpoint")
  func wrongVocabSize() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("vocab.txt")
    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
    try lines.dropLast(11).joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    try expectFailure(dir, mentions: ["vocab.txt", "30524"])
  }

  @Test("A config without the caption section")
  func noCaptionSection() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    let configURL = dir.appendingPathComponent("config.json")
    var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
    json.removeValue(forKey: "caption")
    try JSONSerialization.data(withJSONObject: json).write(to: configURL)
    try expectFailure(dir, mentions: ["config.json", "caption"])
  }

  @Test("Default text output of a Tag2Text bundle: tags and caption lines as the reference prints them")
  func textOutput() throws {
    let r = try VTagProcess.run(["image", "--model", Self.source.path, Self.image.path])
    #expect(r.status == 0, "\(r.stderr)")
    let want = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: Fixtures.ramParity.appendingPathComponent("cases/chelsea.tag2text.expected.json")))
        as? [String: Any])
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines == ["Image Tags: \(want["tags_string"] as! String)", "Image Caption: \(want["caption"] as! String)"])
  }
}
