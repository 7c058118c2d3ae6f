import Foundation
import Testing
import VTagTestSupport

/// Bad inputs give a clear error naming the problem, exit code 1, and no crash.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct BadInputTests {
  static let source = Fixtures.ramParity.appendingPathComponent("ram_plus")
  static let image = Fixtures.ramParity.appendingPathComponent("cases/chelsea.png")

  /// A writable copy of the RAM++ fixture bundle; `model.pth` is linked unless `copyWeights`.
  static func copyBundle() throws -> URL {
    let dir = try Fixtures.temporaryDirectory("vtag-bundle")
    for name in ["config.json", "tags.txt", "tags_zh.txt", "thresholds.txt", "model.pth"] {
      let data = try Data(contentsOf: source.appendingPathComponent(name))
      try data.write(to: dir.appendingPathComponent(name))
    }
    return dir
  }

  func expectFailure(_ bundle: URL, image: URL = BadInputTests.image, mentions: [String]) throws {
    let r = try VTagProcess.run(["image", "--model", bundle.path, image.path])
    #expect(!r.crashed, "vtag crashed: \(r.stderr)")
    #expect(r.status == 1, "status \(r.status), stderr: \(r.stderr)")
    for m in mentions { #expect(r.stderr.contains(m), "stderr does not mention '\(m)': \(r.stderr)") }
    #expect(r.stdout.isEmpty)
  }

  @Test("A truncated .pth")
  func truncatedCheckpoint() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    let full = try Data(contentsOf: Self.source.appendingPathComponent("model.pth"))
    try full.prefix(full.count / 2).write(to: dir.appendingPathComponent("model.pth"))
    try expectFailure(dir, mentions: ["model.pth", "truncated"])
  }

  @Test(
    "A .pth whose pickle names a forbidden global",
    .enabled(if: VTagProcess.hasTool("python3"), "needs python3 to build the zip"))
  func forbiddenGlobal() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    let pth = dir.appendingPathComponent("model.pth").path
    // A torch-style zip whose data.pkl would call os.system("echo pwned") if unpickled by Python.
    let script = """
      import zipfile
      pkl = b"\\x80\\x02cos\\nsystem\\nq\\x00X\\x0a\\x00\\x00\\x00echo pwnedq\\x01\\x85q\\x02Rq\\x03."
      with zipfile.ZipFile('\(pth)', 'w') as z:
          z.writestr('model/data.pkl', pkl)
          z.writestr('model/version', '3\\n')
      """
    let py = dir.appendingPathComponent("make.py")
    try script.write(to: py, atomically: true, encoding: .utf8)
    try #require(try VTagProcess.shell("python3 \(py.path)") == 0)
    try expectFailure(dir, mentions: ["os.system"])
  }

  @Test("A wrong shape: the error names the key and both shapes")
  func wrongShape() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    let configURL = dir.appendingPathComponent("config.json")
    let config = try String(contentsOf: configURL, encoding: .utf8)
      .replacingOccurrences(of: "\"intermediate_size\": 128", with: "\"intermediate_size\": 96")
    try config.write(to: configURL, atomically: true, encoding: .utf8)
    try expectFailure(
      dir, mentions: ["tagging_head.encoder.layer.0.intermediate.dense.weight", "[128, 64]", "[96, 64]"])
  }

  @Test("A missing key: the error names it")
  func missingKey() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    // A config with one Swin block more than the checkpoint has.
    let configURL = dir.appendingPathComponent("config.json")
    var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
    var vision = try #require(json["vision"] as? [String: Any])
    vision["depths"] = [2, 2, 4, 2]
    json["vision"] = vision
    try JSONSerialization.data(withJSONObject: json).write(to: configURL)
    try expectFailure(dir, mentions: ["missing tensor", "visual_encoder.layers.2.blocks.2."])
  }

  @Test("A tag list with the wrong line count")
  func tagListLineCount() throws {
    let dir = try Self.copyBundle()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("tags.txt")
    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
    try lines.dropLast(3).joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    try expectFailure(dir, mentions: ["tags.txt", "4582 lines", "4585"])
  }

  @Test("A missing image file and a file that is not an image")
  func badImages() throws {
    let missing = URL(fileURLWithPath: "/nonexistent/photo.jpg")
    try expectFailure(Self.source, image: missing, mentions: [missing.path])
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = dir.appendingPathComponent("notes.png")
    try "this is not an image\n".write(to: text, atomically: true, encoding: .utf8)
    try expectFailure(Self.source, image: text, mentions: [text.path])
  }

  @Test("A bad file among good ones: the good ones are still tagged, the exit code is 1")
  func partialFailure() throws {
    let r = try VTagProcess.run(
      ["image", "--json", "--model", Self.source.path, "/nonexistent/a.png", Self.image.path])
    #expect(r.status == 1)
    #expect(r.stdout.split(separator: "\n").count == 1)
    #expect(r.stderr.contains("/nonexistent/a.png"))
  }
}
