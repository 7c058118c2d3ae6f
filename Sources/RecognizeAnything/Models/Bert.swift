import Foundation
import TensorCore

/// BERT attention block (`attention` or `crossattention`): Q/K/V projections, multi-head
/// attention, output dense, post-LN residual: `LN(dense(ctx) + h)`.
public struct BertAttention: Sendable {
  public let query: Linear
  public let key: Linear
  public let value: Linear
  public let dense: Linear
  public let norm: LayerNorm
  public let heads: Int

  /// Loads `<scope>.self.{query,key,value}` and `<scope>.output.{dense,LayerNorm}`.
  public init(_ scope: WeightScope, hidden: Int, keyValueWidth: Int, heads: Int, eps: Float) throws {
    query = try Linear(scope.scope("self.query"), in: hidden, out: hidden)
    key = try Linear(scope.scope("self.key"), in: keyValueWidth, out: hidden)
    value = try Linear(scope.scope("self.value"), in: keyValueWidth, out: hidden)
    dense = try Linear(scope.scope("output.dense"), in: hidden, out: hidden)
    norm = try LayerNorm(scope.scope("output.LayerNorm"), dim: hidden, eps: eps)
    self.heads = heads
  }

  /// The same tensors applied with another head count (Tag2Text's tied tag-encoder layers).
  public func withHeads(_ heads: Int) -> BertAttention {
    BertAttention(query: query, key: key, value: value, dense: dense, norm: norm, heads: heads)
  }

  init(query: Linear, key: Linear, value: Linear, dense: Linear, norm: LayerNorm, heads: Int) {
    self.query = query
    self.key = key
    self.value = value
    self.dense = dense
    self.norm = norm
    self.heads = heads
  }

  public var hidden: Int { query.outFeatures }

  /// Projects `rows` rows of the key/value source into `k` and `v` (`[rows, hidden]` each).
  public func projectKeysValues(
    _ source: UnsafePointer<Float>, rows: Int, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
  ) {
    key(source, rows: rows, into: k)
    value(source, rows: rows, into: v)
  }

  /// `h ← LN(dense(attention(query(h), k, v)) + h)` for `rows` query rows, with precomputed keys/values
  /// `[nk, hidden]` and an optional additive per-key mask.
  public func attend(
    _ h: UnsafeMutablePointer<Float>, rows: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, nk: Int,
    keyMask: UnsafePointer<Float>? = nil
  ) {
    let d = hidden
    let q = UnsafeMutablePointer<Float>.allocate(capacity: rows * d)
    defer { q.deallocate() }
    let ctx = UnsafeMutablePointer<Float>.allocate(capacity: rows * d)
    defer { ctx.deallocate() }
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rows * nk)
    defer { scratch.deallocate() }
    query(h, rows: rows, into: q)
    let dh = d / heads
    Attention.multiHead(
      q: q, ldq: d, k: k, ldk: d, v: v, ldv: d, nq: rows, nk: nk, heads: heads, headDim: dh,
      scale: 1 / Float(dh).squareRoot(), biasPerKey: keyMask, out: ctx, ldo: d, scratch: scratch)
    // dense(ctx) + h, then LN, written back into h.
    BLAS.linear(
      ctx, rows: rows, inFeatures: d, weight: dense.weight, bias: dense.bias?.data, outFeatures: d, into: h,
      accumulate: true)
    norm(h, rows: rows, into: h)
  }
}

/// BERT feed-forward block: `LN(output(GELU(intermediate(a))) + a)`.
public struct BertFeedForward: Sendable {
  public let intermediate: Linear
  public let output: Linear
  public let norm: LayerNorm

  /// Loads `<layer>.intermediate.dense` and `<layer>.output.{dense,LayerNorm}`.
  public init(_ layer: WeightScope, hidden: Int, intermediateSize: Int, eps: Float) throws {
    intermediate = try Linear(layer.scope("intermediate.dense"), in: hidden, out: intermediateSize)
    output = try Linear(layer.scope("output.dense"), in: intermediateSize, out: hidden)
    norm = try LayerNorm(layer.scope("output.LayerNorm"), dim: hidden, eps: eps)
  }

  /// `a ← LN(output(GELU(intermediate(a))) + a)` for `rows` rows, processed in chunks to bound memory.
  public func apply(_ a: UnsafeMutablePointer<Float>, rows: Int, chunk: Int = 1024) {
    let d = output.outFeatures
    let inner = intermediate.outFeatures
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: min(rows, chunk) * inner)
    defer { buffer.deallocate() }
    var start = 0
    while start < rows {
      let n = min(chunk, rows - start)
      let x = a + start * d
      intermediate(x, rows: n, into: buffer)
      Ops.gelu(buffer, count: n * inner)
      BLAS.linear(
        buffer, rows: n, inFeatures: inner, weight: output.weight, bias: output.bias?.data, outFeatures: d,
        into: x, accumulate: true)
      norm(x, rows: n, into: x)
      start += n
    }
  }
}

/// The 2-layer query-to-label tagging head (`tagging_head.encoder.layer.*`, BERT in `tagging`
/// mode): per layer cross-attention from the label queries to the image tokens, then FFN. There is
/// no self-attention, so classes are independent of each other.
public struct TaggingHead: Sendable {
  public struct Layer: Sendable {
    public let cross: BertAttention
    public let ffn: BertFeedForward
  }

  public let layers: [Layer]
  public let hidden: Int

  public init(_ scope: WeightScope, config: ModelConfig.Bert, keyValueWidth: Int) throws {
    let eps = Float(config.layerNormEps)
    var layers: [Layer] = []
    for l in 0..<config.numLayers {
      let s = scope.scope("encoder.layer.\(l)")
      layers.append(
        Layer(
          cross: try BertAttention(
            s.scope("crossattention"), hidden: config.hiddenSize, keyValueWidth: keyValueWidth,
            heads: config.numHeads, eps: eps),
          ffn: try BertFeedForward(s, hidden: config.hiddenSize, intermediateSize: config.intermediateSize, eps: eps)))
    }
    self.layers = layers
    hidden = config.hiddenSize
  }

  /// Runs the head in place on `queries` `[K, hidden]` attending to `tokens` `[T, width]` of one image.
  public func forward(queries: UnsafeMutablePointer<Float>, count: Int, tokens: UnsafePointer<Float>, tokenCount: Int) {
    let k = UnsafeMutablePointer<Float>.allocate(capacity: tokenCount * hidden)
    defer { k.deallocate() }
    let v = UnsafeMutablePointer<Float>.allocate(capacity: tokenCount * hidden)
    defer { v.deallocate() }
    for layer in layers {
      layer.cross.projectKeysValues(tokens, rows: tokenCount, k: k, v: v)
      layer.cross.attend(queries, rows: count, k: k, v: v, nk: tokenCount)
      layer.ffn.apply(queries, rows: count)
    }
  }
}
