import Foundation

/// The matrix products one forward pass performs, shape by shape: the basis of FLOP counts and of
/// the "sgemm on the model's own shapes" roofline that `vtag bench` compares against.
public struct ComputeProfile: Sendable {
  /// One product `C[m×n] = A[m×k] · B`, performed `count` times per forward pass.
  public struct Gemm: Sendable, Hashable {
    public var m: Int
    public var n: Int
    public var k: Int
    /// True when B is used transposed (PyTorch `Linear` weights).
    public var transB: Bool
    public var count: Int
    /// Which stage it belongs to (e.g. `swin.stage1`, `head`).
    public var stage: String

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(count) }
  }

  public var gemms: [Gemm]

  /// Total multiply-add FLOPs (2 per MAC) of the products.
  public var flops: Double { gemms.reduce(0) { $0 + $1.flops } }

  /// FLOPs per stage.
  public var flopsByStage: [String: Double] {
    var out: [String: Double] = [:]
    for g in gemms { out[g.stage, default: 0] += g.flops }
    return out
  }

  /// The tagging forward pass (backbone + heads) for `batch` images.
  public static func tagging(_ config: ModelConfig, batch: Int) -> ComputeProfile {
    var g: [Gemm] = []
    func add(_ stage: String, _ m: Int, _ n: Int, _ k: Int, transB: Bool = true, count: Int = 1) {
      if m > 0 && n > 0 && k > 0 && count > 0 {
        g.append(Gemm(m: m, n: n, k: k, transB: transB, count: count, stage: stage))
      }
    }
    let v = config.vision
    let p = v.patchSize
    var side = config.imageSize / p
    var c = v.embedDim
    add("swin.patch_embed", batch * side * side, c, 3 * p * p)
    for (i, depth) in v.depths.enumerated() {
      let stage = "swin.stage\(i + 1)"
      let w = min(v.windowSize, side)
      let n = w * w
      let tokens = batch * side * side
      let windows = batch * (side / w) * (side / w)
      let heads = v.numHeads[i]
      let dh = c / heads
      let hidden = Int(Double(c) * v.mlpRatio)
      add(stage, tokens, 3 * c, c, count: depth)
      add(stage, n, n, dh, count: depth * windows * heads)  // Q·Kᵀ
      add(stage, n, dh, n, transB: false, count: depth * windows * heads)  // A·V
      add(stage, tokens, c, c, count: depth)
      add(stage, tokens, hidden, c, count: depth)
      add(stage, tokens, c, hidden, count: depth)
      if i < v.depths.count - 1 {
        add(stage, batch * (side / 2) * (side / 2), 2 * c, 4 * c)
        side /= 2
        c *= 2
      }
    }
    let t = 1 + side * side
    let k = config.numClasses
    let h = config.taggingHead.hiddenSize
    let width: Int
    switch config.architecture {
    case .ramPlus:
      let l = config.labelEmbeddingDim ?? 512
      let d = config.descriptionsPerClass ?? 51
      add("projection", batch * t, l, c)
      add("projection", 1, k * d, l, count: batch)  // similarities
      add("projection", k, l, d, transB: false, count: batch)  // weighted sums (as products)
      add("projection", k, h, l, count: batch)  // wordvec_proj
      width = l
    case .ram:
      let l = config.labelEmbeddingDim ?? 512
      add("projection", batch * t, l, c)
      width = l
    case .tag2text:
      width = c
    }
    let heads = config.taggingHead.numHeads
    let dh = h / heads
    let inter = config.taggingHead.intermediateSize
    let layers = config.taggingHead.numLayers
    add("head", k, h, h, count: batch * layers)  // query
    add("head", t, h, width, count: batch * layers * 2)  // key, value
    add("head", k, t, dh, count: batch * layers * heads)
    add("head", k, dh, t, transB: false, count: batch * layers * heads)
    add("head", k, h, h, count: batch * layers)  // output dense
    add("head", k, inter, h, count: batch * layers)
    add("head", k, h, inter, count: batch * layers)
    return ComputeProfile(gemms: g)
  }

  /// Distinct shapes with their total counts (for timing sgemm once per shape).
  public var distinctShapes: [Gemm] {
    var merged: [String: Gemm] = [:]
    for x in gemms {
      let key = "\(x.m)x\(x.n)x\(x.k)\(x.transB)"
      if var e = merged[key] {
        e.count += x.count
        merged[key] = e
      } else {
        merged[key] = x
      }
    }
    return merged.values.sorted { $0.flops > $1.flops }
  }
}
