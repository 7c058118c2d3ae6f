import Foundation
import Testing
import VTagTestSupport

private let openset = Fixtures.openset
private let bpeFile = openset.appendingPathComponent("tokenizer/bpe_simple_vocab_16e6.txt.gz").path
private let ready = Fixtures.exists(openset.appendingPathComponent("clip")) && VTagProcess.available

@Suite("vtag tags build: bad input")
struct TagSetBadInputTests {
  /// Builds a set for the tiny RAM++ bundle from a descriptions file with `content`.
  func build(
    descriptions content: String? = nil, names: String? = nil, model: String = "ram_plus", clip: String = "clip"
  )
    throws -> VTagProcess.Result
  {
    let tmp = try Fixtures.temporaryDirectory("vtag-badset")
    defer { try? FileManager.default.removeItem(at: tmp) }
    let file = tmp.appendingPathComponent(content != nil ? "d.json" : "n.txt")
    try (content ?? names!).write(to: file, atomically: true, encoding: .utf8)
    return try VTagProcess.run([
      "tags", "build", content != nil ? "--descriptions" : "--names", file.path, "--clip",
      openset.appendingPathComponent(clip).path + "/model.safetensors", "--bpe", bpeFile, "--model",
      Fixtures.ramParity.appendingPathComponent(model).path, "-o", tmp.appendingPathComponent("set").path,
    ])
  }

  @Test(
    "each bad input exits 1 with an error naming the file and the entry",
    .enabled(if: ready, Comment(rawValue: Fixtures.missing(openset.appendingPathComponent("clip")))),
    arguments: [
      (#"[{"A": ["x", "y"]}, {"B": ["x"]}]"#, "entry 2 ('B') has 1 descriptions, but entry 1 ('A') has 2"),
      (#"[{"A": []}]"#, "entry 1 ('A') has an empty description list"),
      (#"[{"A": ["x"]}, {"A": ["y"]}]"#, "class 'A' is a duplicate of entry 1"),
      (#"{"A": ["x"]}"#, "must be a JSON list"),
      (#"[]"#, "the list has no classes"),
      (#"[{"": ["x"]}]"#, "entry 1 has an empty class name"),
      (#"[{"A": [1]}]"#, "the descriptions must be a list of strings"),
      (#"[{"A": ["x"], "B": ["y"]}]"#, "entry 1 has 2 keys"),
      (#"[{"A": ["x"]"#, "is not valid JSON"),
    ])
  func badDescriptions(content: String, message: String) throws {
    let r = try build(descriptions: content)
    #expect(r.status == 1 && !r.crashed)
    #expect(r.stderr.contains("d.json") && r.stderr.contains(message), "\(r.stderr)")
  }

  @Test(
    "names: empty line, duplicate and over-long name are refused; CLIP width must match the model's",
    .enabled(if: ready, Comment(rawValue: Fixtures.missing(openset.appendingPathComponent("clip")))))
  func badNames() throws {
    var r = try build(names: "cat\n\ndog\n", model: "ram", clip: "clip_ram")
    #expect(r.status == 1 && r.stderr.contains("n.txt: line 2 is empty"), "\(r.stderr)")
    r = try build(names: "cat\ndog\ncat\n", model: "ram", clip: "clip_ram")
    #expect(r.status == 1 && r.stderr.contains("line 3: 'cat' is a duplicate of line 1"), "\(r.stderr)")
    r = try build(
      names: Array(repeating: "word", count: 80).joined(separator: " ") + "\n", model: "ram", clip: "clip_ram")
    #expect(r.status == 1 && r.stderr.contains("is too long") && r.stderr.contains("vtag refuses it"), "\(r.stderr)")
    r = try build(names: "cat\n", model: "ram", clip: "clip")
    #expect(
      r.status == 1 && r.stderr.contains("projection width (projection_dim) is 16")
        && r.stderr.contains("label width 32"), "\(r.stderr)")
  }

  @Test(
    "a set built for RAM++ is refused by a RAM model; usage errors exit 2",
    .enabled(if: ready, Comment(rawValue: Fixtures.missing(openset.appendingPathComponent("clip")))))
  func wrongArchitecture() throws {
    let tmp = try Fixtures.temporaryDirectory("vtag-archset")
    defer { try? FileManager.default.removeItem(at: tmp) }
    let set = tmp.appendingPathComponent("set").path
    let r0 = try VTagProcess.run([
      "tags", "build", "--descriptions", openset.appendingPathComponent("ram_plus_custom/descriptions.json").path,
      "--clip", openset.appendingPathComponent("clip").path + "/model.pth", "--bpe", bpeFile, "--model",
      Fixtures.ramParity.appendingPathComponent("ram_plus").path, "-o", set,
    ])
    #expect(r0.status == 0, "\(r0.stderr)")
    let image = Fixtures.ramParity.appendingPathComponent("cases/demo4.jpg").path
    let r = try VTagProcess.run([
      "image", "--model", Fixtures.ramParity.appendingPathComponent("ram").path, "--tag-set", set, image,
    ])
    #expect(r.status == 1 && r.stderr.contains("it was built for ram_plus, but the model is ram"), "\(r.stderr)")
    let missing = try VTagProcess.run([
      "image", "--model", Fixtures.ramParity.appendingPathComponent("ram_plus").path, "--tag-set", tmp.path, image,
    ])
    #expect(missing.status == 1 && missing.stderr.contains("set.json is missing"), "\(missing.stderr)")
    let usage = try VTagProcess.run(["tags", "build", "--clip", "x", "--model", "y", "-o", "z"])
    #expect(usage.status == 2 && usage.stderr.contains("exactly one of --descriptions and --names"))
    let both = try VTagProcess.run(["image", "--tag-set", set, "--add-tag-set", set, image])
    #expect(both.status == 2)
  }
}
