import Foundation
import Testing
import VTagTestSupport

private let openset = Fixtures.openset
private let bpeFile = openset.appendingPathComponent("tokenizer/bpe_simple_vocab_16e6.txt.gz").path
private let ready = Fixtures.exists(openset.appendingPathComponent("manifest.json")) && VTagProcess.available

private func loadJSON(_ url: URL) throws -> [String: Any] {
  try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

private func runOK(_ args: [String]) throws -> String {
  let r = try VTagProcess.run(args)
  #expect(r.status == 0, "vtag \(args.joined(separator: " ")): \(r.stderr)")
  return r.stdout
}

private func imageRecords(_ stdout: String) throws -> [[String: Any]] {
  try stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
}

@Suite("vtag tags build and --tag-set through the binary")
struct TagSetCommandTests {
  static let experiments = ["ram_plus_llm", "ram_plus_custom", "ram_openset"]

  @Test(
    "every experiment, CLIP layout and image: label_embed within 1e-5, probabilities within 3e-4, tags identical",
    .enabled(if: ready, Comment(rawValue: Fixtures.missing(openset.appendingPathComponent("manifest.json")))),
    arguments: experiments)
  func parity(experiment: String) throws {
    let manifest = try loadJSON(openset.appendingPathComponent("manifest.json"))
    let exp = (manifest["experiments"] as! [String: Any])[experiment] as! [String: Any]
    let clip = (manifest["clips"] as! [String: Any])[exp["clip"] as! String] as! [String: Any]
    let bundle = openset.appendingPathComponent(exp["bundle"] as! String).path
    let labels = openset.appendingPathComponent(exp["labels"] as! String).path
    let images = manifest["images"] as! [String: Any]
    let tmp = try Fixtures.temporaryDirectory("vtag-tagset")
    defer { try? FileManager.default.removeItem(at: tmp) }
    let wantEmbed = try NPY(url: openset.appendingPathComponent(exp["label_embed"] as! String))
    for layout in ["model.safetensors", "model.pth", "model.torchscript.pt"] {
      let set = tmp.appendingPathComponent(layout).path
      let weights = openset.appendingPathComponent(clip["dir"] as! String).appendingPathComponent(layout).path
      let input = labels.hasSuffix(".json") ? "--descriptions" : "--names"
      _ = try runOK(["tags", "build", input, labels, "--clip", weights, "--bpe", bpeFile, "--model", bundle, "-o", set])
      // label_embed.safetensors: one f32 tensor after an 8-byte length and the JSON header.
      let raw = try Data(contentsOf: URL(fileURLWithPath: set + "/label_embed.safetensors"))
      let n = Int(raw.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
      let floats = raw.dropFirst(8 + n).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
      #expect(floats.count == wantEmbed.floats.count)
      let diff = zip(floats, wantEmbed.floats).map { abs($0 - $1) }.max() ?? 1
      #expect(diff <= 1e-5, "\(experiment)/\(layout): label_embed max |Δ| \(diff)")
      let cases = exp["cases"] as! [String: String]
      for stem in cases.keys.sorted() {
        let source = (images[stem] as! [String: Any])["source_image"] as! String
        let image = Fixtures.ramParity.appendingPathComponent("cases/\(source)").path
        let out = try runOK(["image", "--model", bundle, "--tag-set", set, "--json", "--all-scores", image])
        let rec = try #require(try imageRecords(out).first)
        let probs = try NPY(url: openset.appendingPathComponent(cases[stem]! + "/probs.npy")).floats
        let scores = (rec["scores"] as! [NSNumber]).map(\.floatValue)
        #expect(scores.count == probs.count)
        let pd = zip(scores, probs).map { abs($0 - $1) }.max() ?? 1
        #expect(pd <= 3e-4, "\(experiment)/\(layout)/\(stem): probs max |Δ| \(pd)")
        let tags = try loadJSON(openset.appendingPathComponent(cases[stem]! + "/tags.json"))
        let got = (rec["tags"] as! [[String: Any]]).map { $0["tag"] as! String }
        #expect(got == tags["tags"] as! [String], "\(experiment)/\(layout)/\(stem)")
      }
    }
  }

  @Test(
    "--add-tag-set: built-in scores equal a plain run, added scores equal a --tag-set run; a second build is skipped",
    .enabled(if: ready, Comment(rawValue: Fixtures.missing(openset.appendingPathComponent("manifest.json")))),
    arguments: [
      ("ram_plus_llm/descriptions.json", "ram_plus", "clip"), ("ram_openset/categories.txt", "ram", "clip_ram"),
    ])
  func addTagSet(labels: String, model: String, clip: String) throws {
    let tmp = try Fixtures.temporaryDirectory("vtag-addset")
    defer { try? FileManager.default.removeItem(at: tmp) }
    let bundle = Fixtures.ramParity.appendingPathComponent(model).path
    let set = tmp.appendingPathComponent("set").path
    let input = labels.hasSuffix(".json") ? "--descriptions" : "--names"
    let build = [
      "tags", "build", input, openset.appendingPathComponent(labels).path, "--clip",
      openset.appendingPathComponent(clip).path + "/model.safetensors", "--bpe", bpeFile, "--model", bundle, "-o", set,
    ]
    _ = try runOK(build)
    let first = try Data(contentsOf: URL(fileURLWithPath: set + "/label_embed.safetensors"))
    #expect(try runOK(build).contains("up to date"))
    _ = try runOK(build + ["--force"])
    #expect(try Data(contentsOf: URL(fileURLWithPath: set + "/label_embed.safetensors")) == first, "deterministic")
    let image = Fixtures.ramParity.appendingPathComponent("cases/demo4.jpg").path
    let plain = try imageRecords(try runOK(["image", "--model", bundle, "--json", "--all-scores", image]))[0]
    let only = try imageRecords(
      try runOK(["image", "--model", bundle, "--tag-set", set, "--json", "--all-scores", image]))[0]
    let both = try imageRecords(
      try runOK(["image", "--model", bundle, "--add-tag-set", set, "--json", "--all-scores", image]))[0]
    let p = (plain["scores"] as! [NSNumber]).map(\.floatValue)
    let o = (only["scores"] as! [NSNumber]).map(\.floatValue)
    let b = (both["scores"] as! [NSNumber]).map(\.floatValue)
    #expect(b.count == p.count + o.count)
    #expect(zip(b.prefix(p.count), p).allSatisfy { abs($0 - $1) <= 1e-6 })
    #expect(zip(b.suffix(o.count), o).allSatisfy { abs($0 - $1) <= 1e-6 })
    let customFlags = (both["tags"] as! [[String: Any]]).map { ($0["index"] as! Int, $0["custom"] as! Bool) }
    #expect(customFlags.allSatisfy { $0.1 == ($0.0 >= p.count) })
    #expect(both["first_custom_class"] as? Int == p.count)
  }
}
