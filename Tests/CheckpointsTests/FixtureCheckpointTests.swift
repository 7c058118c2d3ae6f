import Foundation
import Testing
import VTagTestSupport

@testable import Checkpoints

/// Reads the three tiny official-layout checkpoints in `../shared/fixtures/ram-parity`.
@Suite(
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))))
struct FixtureCheckpointTests {
  static func model(_ name: String) -> String {
    Fixtures.ramParity.appendingPathComponent("\(name)/model.pth").path
  }

  @Test(arguments: [("ram_plus", 170), ("ram", 331), ("tag2text", 327)])
  func keyCountsAndSkippedEntries(model: String, count: Int) throws {
    let ckpt = try PthCheckpoint(path: Self.model(model))
    #expect(ckpt.entries.count == count)
    #expect(ckpt.orderedNames.count == count)
    #expect(ckpt.archivePrefix == "model/")
    #expect(ckpt.stateDictKey == "model")
    #expect(ckpt.topLevelKeys == ["model", "optimizer", "config", "epoch"])
    #expect(ckpt.skippedKeys == ["optimizer", "config", "epoch"])
    #expect(ckpt.topLevelSummary["epoch"] == "int 1")
    #expect(ckpt.nonTensorKeys.isEmpty)
    // Every floating tensor is stored as contiguous f32 and read as a zero-copy view.
    for (name, e) in ckpt.entries where e.dtype == .f32 {
      let f = try ckpt.floats(name)
      #expect(f.isView, "\(name) should be a view")
      #expect(f.count == e.elementCount)
    }
    // The generic opener picks the same reader.
    let opened = try openTensorArchive(path: Self.model(model))
    #expect(opened is PthCheckpoint)
    #expect(opened.entries.count == count)
  }

  @Test func ramPlusShapesAndValues() throws {
    let ckpt = try PthCheckpoint(path: Self.model("ram_plus"))
    let e = try #require(ckpt.entries["visual_encoder.patch_embed.proj.weight"])
    #expect(e.shape == [32, 3, 4, 4])
    #expect(e.strides == [48, 16, 4, 1])
    #expect(e.dtype == .f32)
    #expect(ckpt.entries["label_embed"]?.shape == [233835, 16])
    #expect(ckpt.entries["visual_encoder.layers.0.blocks.0.attn.relative_position_bias_table"]?.shape == [529, 1])

    let scale = try #require(ckpt.entries["reweight_scale"])
    #expect(scale.shape == [])
    let s = try ckpt.floats("reweight_scale")
    #expect(s.count == 1)
    #expect(abs(s.array[0] - 3.3) < 1e-6)

    let idxName = "visual_encoder.layers.0.blocks.0.attn.relative_position_index"
    let idx = try #require(ckpt.entries[idxName])
    #expect(idx.dtype == .i64)
    #expect(idx.shape == [144, 144])
    let values = try ckpt.int64s(idxName)
    #expect(values.count == 144 * 144)
    var mismatches = 0
    for i in 0..<144 {
      for j in 0..<144 {
        let (yi, xi, yj, xj) = (i / 12, i % 12, j / 12, j % 12)
        let expected = Int64((yi - yj + 11) * 23 + (xi - xj + 11))
        if values[i * 144 + j] != expected { mismatches += 1 }
      }
    }
    #expect(mismatches == 0)
    // floats() refuses integer tensors.
    #expect(throws: CheckpointError.self) { _ = try ckpt.floats(idxName) }
    #expect(throws: CheckpointError.missingTensor(path: Self.model("ram_plus"), name: "nope")) {
      _ = try ckpt.floats("nope")
    }
  }

  @Test func ramHasNoSwinBuffers() throws {
    let ckpt = try PthCheckpoint(path: Self.model("ram"))
    #expect(!ckpt.entries.keys.contains { $0.hasSuffix("relative_position_index") })
    #expect(ckpt.entries["label_embed"]?.shape == [4585, 32])
    #expect(ckpt.entries["tag_encoder.embeddings.position_ids"]?.dtype == .i64)
    let ids = try ckpt.int64s("tag_encoder.embeddings.position_ids")
    #expect(ids == (0..<512).map { Int64($0) })
  }

  @Test func tag2textTiedStorages() throws {
    let ckpt = try PthCheckpoint(path: Self.model("tag2text"))
    let a = "tag_encoder.encoder.layer.0.crossattention.self.query.weight"
    let b = "tagging_head.encoder.layer.0.crossattention.self.query.weight"
    let ea = try #require(ckpt.entries[a])
    let eb = try #require(ckpt.entries[b])
    #expect(ea.storageKey == eb.storageKey)
    #expect(ea.storageKey.hasPrefix("model/data/"))
    #expect(ea.shape == eb.shape)
    let va = try ckpt.floats(a)
    let vb = try ckpt.floats(b)
    #expect(va.base == vb.base)  // the same bytes of the mapping
    #expect(va.array == vb.array)
    let dec = try #require(ckpt.entries["text_decoder.cls.predictions.decoder.weight"])
    let emb = try #require(ckpt.entries["text_decoder.bert.embeddings.word_embeddings.weight"])
    #expect(dec.storageKey == emb.storageKey)
    #expect(ckpt.entries["fc.W"]?.shape == [1, 3429, 64])
  }

  @Test func truncatedPrefixOfARealFile() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try Data(contentsOf: URL(fileURLWithPath: Self.model("ram_plus")))
    for cut in [data.count / 2, data.count - 1, data.count - 30, 100] {
      let path = dir.appendingPathComponent("cut-\(cut).pth").path
      try data.prefix(cut).write(to: URL(fileURLWithPath: path))
      do {
        _ = try PthCheckpoint(path: path)
        Issue.record("a file cut at \(cut) bytes should not load")
      } catch let error as CheckpointError {
        guard case .truncated(let p, _) = error else {
          Issue.record("cut at \(cut): expected truncated, got \(error)")
          continue
        }
        #expect(p == path)
        #expect(error.description.contains("truncated"))
      }
      #expect(throws: CheckpointError.self) { _ = try openTensorArchive(path: path) }
    }
  }
}
