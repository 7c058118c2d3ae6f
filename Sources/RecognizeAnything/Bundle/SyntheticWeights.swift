import Checkpoints
import Foundation

/// Deterministic random weights for a config's full checkpoint layout, generated lazily per tensor.
/// Used by `vtag models synth` to make full-size bundles for speed and memory measurements (the
/// official weights cannot be downloaded everywhere). Values keep activations in a sane range:
/// LayerNorm weights 1 and biases 0; other weights uniform with standard deviation 0.02 (0.5 for
/// relative-position tables); the label embeddings are unit-norm rows; `reweight_scale` ln(1/0.07).
public final class SyntheticWeights: TensorArchive, @unchecked Sendable {
  public let path: String
  public let entries: [String: TensorEntry]
  public let layout: [CheckpointLayout.Item]
  let seed: UInt64

  public init(config: ModelConfig, seed: UInt64 = 1205) {
    layout = CheckpointLayout.items(config)
    self.seed = seed
    path = "synthetic \(config.architecture.rawValue) weights (seed \(seed))"
    var entries: [String: TensorEntry] = [:]
    for item in layout {
      let owner = item.tiedTo ?? item.name
      entries[item.name] = TensorEntry(
        name: item.name, dtype: item.dtype, shape: item.shape, strides: TensorEntry.contiguousStrides(item.shape),
        storageKey: owner, storageOffset: 0)
    }
    self.entries = entries
  }

  /// Values of tensor `name`, generated afresh on every call from a seed derived from its storage
  /// key, so tied tensors get their owner's values and nothing is cached (memory stays bounded by
  /// the tensors the caller holds).
  public func floats(_ name: String) throws -> FloatBuffer {
    guard let entry = entries[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    return generate(key: entry.storageKey, shape: entry.shape)
  }

  public func int64s(_ name: String) throws -> [Int64] {
    guard let entry = entries[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    if name.hasSuffix("position_ids") { return (0..<Int64(entry.elementCount)).map { $0 } }
    if name.hasSuffix("relative_position_index") {
      let n = entry.shape[0]
      let w = Int(Double(n).squareRoot())
      var out = [Int64](repeating: 0, count: n * n)
      for i in 0..<n {
        for j in 0..<n { out[i * n + j] = Int64((i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1)) }
      }
      return out
    }
    throw CheckpointError.wrongDType(path: path, name: name, dtype: entry.dtype.rawValue, wanted: "int64")
  }

  func generate(key: String, shape: [Int]) -> FloatBuffer {
    let count = shape.reduce(1, *)
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    var rng = SplitMix64(seed: seed ^ Self.hash(key))
    if key.hasSuffix("LayerNorm.weight") || key.hasSuffix("norm.weight") || key.hasSuffix("norm1.weight")
      || key.hasSuffix("norm2.weight")
    {
      p.initialize(repeating: 1, count: count)
    } else if key.hasSuffix(".bias") || key == "fc.b" {
      p.initialize(repeating: 0, count: count)
    } else if key == "reweight_scale" {
      p.initialize(to: Float(log(1 / 0.07)))
    } else if key.hasSuffix("attn_mask") {
      p.initialize(repeating: 0, count: count)
    } else {
      let std: Float = key.hasSuffix("relative_position_bias_table") ? 0.5 : 0.02
      let a = std * Float(3).squareRoot()
      for i in 0..<count { p[i] = (rng.nextUnitFloat() * 2 - 1) * a }
      if key == "label_embed", shape.count == 2 {
        // Unit-norm rows, as CLIP text embeddings are.
        let d = shape[1]
        for r in 0..<shape[0] {
          let row = p + r * d
          var n: Float = 0
          for j in 0..<d { n += row[j] * row[j] }
          let inv = 1 / max(n.squareRoot(), 1e-12)
          for j in 0..<d { row[j] *= inv }
        }
      }
    }
    return FloatBuffer(adopting: p, count: count)
  }

  static func hash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 {
      h ^= UInt64(b)
      h = h &* 0x100_0000_01b3
    }
    return h
  }
}

/// SplitMix64: a small, fast, deterministic generator.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [0, 1).
  mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
}
