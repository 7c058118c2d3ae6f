import CLIPText
import Checkpoints
import Foundation
import Testing
import VTagTestSupport

let clipDir = Fixtures.openset.appendingPathComponent("clip")
let clipRamDir = Fixtures.openset.appendingPathComponent("clip_ram")
let layouts = ["model.safetensors", "model.pth", "model.torchscript.pt"]

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
  return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite("CLIP text tower")
struct TextTowerTests {
  @Test(
    "trace texts: features within 1e-4 from every weight layout, with and without the end-of-text shortcut",
    .enabled(if: Fixtures.exists(clipDir), Comment(rawValue: Fixtures.missing(clipDir))),
    arguments: layouts)
  func traceFeatures(file: String) throws {
    let tok = try #require(sharedTokenizer)
    for dir in [clipDir, clipRamDir] {
      let config = try CLIPTextConfig(file: dir.appendingPathComponent("config.json").path)
      let model = try CLIPTextModel(config: config, weights: dir.appendingPathComponent(file).path)
      let texts =
        try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("trace/texts.json")))
        as! [String]
      let ids = try NPY(url: dir.appendingPathComponent("trace/input_ids.npy"))
      let tokens = try texts.map { try tok.tokenize($0) }
      #expect(tokens.flatMap { $0.ids.map(Float.init) } == ids.floats)
      let want = try NPY(url: dir.appendingPathComponent("trace/text_features.npy"))
      let fast = model.encode(tokens).flatMap { $0 }
      let full = model.encode(tokens, shortcut: false).flatMap { $0 }
      #expect(maxAbsDiff(fast, want.floats) <= 1e-4, "\(dir.lastPathComponent)/\(file)")
      #expect(maxAbsDiff(full, want.floats) <= 1e-4, "\(dir.lastPathComponent)/\(file) without the shortcut")
    }
  }

  @Test(
    "RAM prompt features (26 × 63) within 1e-4",
    .enabled(if: Fixtures.exists(clipRamDir), Comment(rawValue: Fixtures.missing(clipRamDir))))
  func promptFeatures() throws {
    let tok = try #require(sharedTokenizer)
    let base = Fixtures.openset.appendingPathComponent("ram_openset")
    let config = try CLIPTextConfig(file: clipRamDir.appendingPathComponent("config.json").path)
    let model = try CLIPTextModel(config: config, weights: clipRamDir.appendingPathComponent("model.safetensors").path)
    let names = try String(contentsOf: base.appendingPathComponent("categories.txt"), encoding: .utf8)
      .split(separator: "\n").map(String.init)
    let prompts =
      try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathComponent("prompts.json")))
      as! [[String: [String]]]
    for (name, entry) in zip(names, prompts) {
      #expect(OpenSetPrompts.prompts(for: name) == entry[name], "prompts of \(name)")
    }
    let texts = names.flatMap { OpenSetPrompts.prompts(for: $0) }
    let got = model.encode(try texts.map { try tok.tokenize($0, truncate: false) }).flatMap { $0 }
    let want = try NPY(url: base.appendingPathComponent("prompt_features.npy"))
    #expect(maxAbsDiff(got, want.floats) <= 1e-4)
  }

  @Test(
    "a TorchScript archive is read as inert records, without its vision tower",
    .enabled(if: Fixtures.exists(clipDir), Comment(rawValue: Fixtures.missing(clipDir))))
  func torchScriptRecords() throws {
    let path = clipDir.appendingPathComponent("model.torchscript.pt").path
    #expect(TorchScriptArchive.isTorchScript(path: path))
    #expect(!TorchScriptArchive.isTorchScript(path: clipDir.appendingPathComponent("model.pth").path))
    let ts = try TorchScriptArchive(path: path) { !$0.hasPrefix("visual.") }
    #expect(ts.rootClass.hasPrefix("__torch__."))
    #expect(ts.entries["transformer.resblocks.1.attn.in_proj_weight"]?.shape == [72, 24])
    #expect(!ts.excludedNames.isEmpty && ts.excludedNames.allSatisfy { $0.hasPrefix("visual.") })
    #expect(ts.entries.keys.allSatisfy { !$0.hasPrefix("visual.") })
    let pth = try PthCheckpoint(path: clipDir.appendingPathComponent("model.pth").path)
    for name in ts.entries.keys.sorted() {
      #expect(try ts.floats(name).array == pth.floats(name).array, "\(name)")
    }
    // The plain unpickler still refuses __torch__ classes.
    #expect(throws: CheckpointError.self) { try PthCheckpoint(path: path) }
  }
}
