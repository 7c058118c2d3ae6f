import Foundation
import Testing
import VTagTestSupport

/// `vtag image` end to end through the real binary, on the tiny parity bundles.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct ImageCommandTests {
  static let cases = Fixtures.ramParity.appendingPathComponent("cases")

  struct Expected: Decodable {
    var tag_indices: [Int]
    var tags_string: String
    var tags_zh_string: String?
  }

  @Test("Default output prints the reference's tag strings, English and Chinese")
  func textOutput() throws {
    let bundle = Fixtures.ramParity.appendingPathComponent("ram_plus")
    let image = Self.cases.appendingPathComponent("chelsea.png")
    let r = try VTagProcess.run(["image", "--model", bundle.path, image.path])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let want = try JSONDecoder().decode(
      Expected.self, from: Data(contentsOf: Self.cases.appendingPathComponent("chelsea.ram_plus.expected.json")))
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines == ["Image Tags: \(want.tags_string)", "图像标签: \(want.tags_zh_string!)"])
  }

  @Test("--json prints one object per image with indices, names, Chinese names and scores")
  func jsonOutput() throws {
    let bundle = Fixtures.ramParity.appendingPathComponent("ram")
    let images = ["chelsea.png", "bigbuckbunny_t2s.png"].map { Self.cases.appendingPathComponent($0).path }
    let r = try VTagProcess.run(["image", "--json", "--all-scores", "--model", bundle.path] + images)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.count == 2)
    for (line, stem) in zip(lines, ["chelsea", "bigbuckbunny_t2s"]) {
      let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      #expect(obj["model"] as? String == "ram")
      let tags = try #require(obj["tags"] as? [[String: Any]])
      let want = try JSONDecoder().decode(
        Expected.self, from: Data(contentsOf: Self.cases.appendingPathComponent("\(stem).ram.expected.json")))
      #expect(tags.compactMap { $0["index"] as? Int } == want.tag_indices)
      #expect(tags.compactMap { $0["tag"] as? String }.joined(separator: " | ") == want.tags_string)
      #expect(tags.compactMap { $0["tag_zh"] as? String }.joined(separator: " | ") == want.tags_zh_string)
      #expect((obj["scores"] as? [Double])?.count == 4585)
    }
  }

  @Test("Usage errors exit with 2")
  func usageErrors() throws {
    let bundle = Fixtures.ramParity.appendingPathComponent("ram_plus").path
    for args in [["image"], ["image", "--threads", "0", "--model", bundle, "x.png"], ["image", "--bogus", "x.png"]] {
      let r = try VTagProcess.run(args)
      #expect(r.status == 2, "\(args): status \(r.status), stderr \(r.stderr)")
      #expect(!r.stderr.isEmpty)
    }
  }

  @Test("No model installed: the error says where it looked and how to get one")
  func noModelInstalled() throws {
    let empty = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: empty) }
    let r = try VTagProcess.run(
      ["image", Self.cases.appendingPathComponent("chelsea.png").path], environment: ["VTAG_MODELS": empty.path])
    #expect(r.status == 1)
    #expect(r.stderr.contains(empty.appendingPathComponent("ram_plus").path))
    #expect(r.stderr.contains("--model"))
  }
}
