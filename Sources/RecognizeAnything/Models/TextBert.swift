import Foundation
import TensorCore

/// BERT embeddings of the tag encoder / text decoder: `LN(word[id] + position[p])` (no token types).
public struct BertEmbeddings: Sendable {
  public let words: Weight  // [vocab, hidden]
  public let positions: Weight  // [maxPositions, hidden]
  public let norm: LayerNorm

  public init(_ scope: WeightScope, vocab: Int, hidden: Int, maxPositions: Int, eps: Float) throws {
    words = try scope.weight("word_embeddings.weight", [vocab, hidden])
    positions = try scope.weight("position_embeddings.weight", [maxPositions, hidden])
    norm = try LayerNorm(scope.scope("LayerNorm"), dim: hidden, eps: eps)
  }

  public var hidden: Int { words.shape[1] }
  public var vocab: Int { words.shape[0] }

  /// Embeds `ids` at positions `start…` into `out` `[ids.count, hidden]`.
  public func embed(_ ids: [Int], start: Int, into out: UnsafeMutablePointer<Float>) {
    let d = hidden
    for (i, id) in ids.enumerated() {
      let row = out + i * d
      let w = words.data + id * d
      let p = positions.data + (start + i) * d
      for j in 0..<d { row[j] = w[j] + p[j] }
    }
    norm(out, rows: ids.count, into: out)
  }
}

/// A BERT layer with self-attention, cross-attention and FFN (`multimodal` mode).
public struct BertTextLayer: Sendable {
  public let selfAttention: BertAttention
  public let cross: BertAttention
  public let ffn: BertFeedForward
}

/// Tag2Text's image-tag interaction encoder (`tag_encoder.*`): embeddings, then per layer
/// bidirectional self-attention over the 40 tag tokens (padding masked with −10000), cross-attention
/// to the image tokens, FFN. Layers that are tied to the tagging head read the head's tensors for
/// cross-attention and FFN but apply them with this encoder's head count.
public struct TagEncoder: Sendable {
  public let embeddings: BertEmbeddings
  public let layers: [BertTextLayer]

  public init(
    _ scope: WeightScope, head: WeightScope, config: ModelConfig.Bert, vocab: Int, imageWidth: Int, tiedLayers: Int
  )
    throws
  {
    let eps = Float(config.layerNormEps)
    let h = config.hiddenSize
    embeddings = try BertEmbeddings(
      scope.scope("embeddings"), vocab: vocab, hidden: h, maxPositions: config.maxPositionEmbeddings ?? 512, eps: eps)
    var layers: [BertTextLayer] = []
    for l in 0..<config.numLayers {
      let s = scope.scope("encoder.layer.\(l)")
      // PyTorch loads tagging_head.* after tag_encoder.*, so for tied layers the head's values win.
      let shared = l < tiedLayers ? head.scope("encoder.layer.\(l)") : s
      layers.append(
        BertTextLayer(
          selfAttention: try BertAttention(
            s.scope("attention"), hidden: h, keyValueWidth: h, heads: config.numHeads, eps: eps),
          cross: try BertAttention(
            shared.scope("crossattention"), hidden: h, keyValueWidth: imageWidth, heads: config.numHeads, eps: eps),
          ffn: try BertFeedForward(shared, hidden: h, intermediateSize: config.intermediateSize, eps: eps)))
    }
    self.layers = layers
  }

  /// Encodes one tag sequence (`ids` with its attention mask) against `image` `[T, width]`: `[ids.count, hidden]`.
  public func encode(ids: [Int], mask: [Int], image: UnsafePointer<Float>, imageTokens: Int) -> Tensor {
    let d = embeddings.hidden
    let n = ids.count
    let h = Tensor(uninitialized: [n, d])
    embeddings.embed(ids, start: 0, into: h.data)
    let keyMask = mask.map { Float(1 - $0) * -10000 }
    let k = Tensor(uninitialized: [max(n, imageTokens), d])
    let v = Tensor(uninitialized: [max(n, imageTokens), d])
    keyMask.withUnsafeBufferPointer { km in
      for layer in layers {
        layer.selfAttention.projectKeysValues(h.data, rows: n, k: k.data, v: v.data)
        layer.selfAttention.attend(h.data, rows: n, k: k.data, v: v.data, nk: n, keyMask: km.baseAddress)
        layer.cross.projectKeysValues(image, rows: imageTokens, k: k.data, v: v.data)
        layer.cross.attend(h.data, rows: n, k: k.data, v: v.data, nk: imageTokens)
        layer.ffn.apply(h.data, rows: n)
      }
    }
    return h
  }
}

/// Tag2Text's caption decoder (`text_decoder.*`, a BERT LM head model): causal self-attention with a
/// per-beam key/value cache, cross-attention to the tag encoder output (all positions, no mask), FFN,
/// then the tied LM head.
public final class TextDecoder: @unchecked Sendable {
  public let embeddings: BertEmbeddings
  public let layers: [BertTextLayer]
  let transform: Linear
  let transformNorm: LayerNorm
  let lmWeight: Weight  // [vocab, hidden], tied to the word embeddings
  let lmBias: Weight

  public init(_ scope: WeightScope, config: ModelConfig.Bert, vocab: Int) throws {
    let eps = Float(config.layerNormEps)
    let h = config.hiddenSize
    let bert = scope.scope("bert")
    embeddings = try BertEmbeddings(
      bert.scope("embeddings"), vocab: vocab, hidden: h, maxPositions: config.maxPositionEmbeddings ?? 512, eps: eps)
    var layers: [BertTextLayer] = []
    for l in 0..<config.numLayers {
      let s = bert.scope("encoder.layer.\(l)")
      layers.append(
        BertTextLayer(
          selfAttention: try BertAttention(
            s.scope("attention"), hidden: h, keyValueWidth: h, heads: config.numHeads, eps: eps),
          cross: try BertAttention(
            s.scope("crossattention"), hidden: h, keyValueWidth: config.encoderWidth ?? h, heads: config.numHeads,
            eps: eps),
          ffn: try BertFeedForward(s, hidden: h, intermediateSize: config.intermediateSize, eps: eps)))
    }
    self.layers = layers
    let p = scope.scope("cls.predictions")
    transform = try Linear(p.scope("transform.dense"), in: h, out: h)
    transformNorm = try LayerNorm(p.scope("transform.LayerNorm"), dim: h, eps: eps)
    // The decoder weight is tied to the word embeddings, its bias to predictions.bias (the tied keys load last).
    let lm = p.contains("decoder.weight") ? try p.weight("decoder.weight", [vocab, h]) : embeddings.words
    // bf16: packed for the LM head; the fp32 rows stay (the word embeddings may share them).
    lmWeight = p.store.precision == .bf16 ? lm.packedBF16() : lm
    lmBias = p.contains("decoder.bias") ? try p.weight("decoder.bias", [vocab]) : try p.weight("bias", [vocab])
  }

  public var vocab: Int { lmWeight.shape[0] }
  public var hidden: Int { embeddings.hidden }

  /// Cross-attention keys/values per layer for one encoder output `[n, hidden]`, computed once per image.
  public struct CrossCache: @unchecked Sendable {
    public let keys: [Tensor]
    public let values: [Tensor]
    public let count: Int
  }

  public func crossCache(encoderOutput: Tensor) -> CrossCache {
    let n = encoderOutput.dim(0)
    var ks: [Tensor] = []
    var vs: [Tensor] = []
    for layer in layers {
      let k = Tensor(uninitialized: [n, hidden])
      let v = Tensor(uninitialized: [n, hidden])
      layer.cross.projectKeysValues(encoderOutput.data, rows: n, k: k.data, v: v.data)
      ks.append(k)
      vs.append(v)
    }
    return CrossCache(keys: ks, values: vs, count: n)
  }

  /// Self-attention keys/values of one beam: per layer `[length, hidden]`, grown as tokens are decoded.
  public struct BeamCache: Sendable {
    public var keys: [[Float]]
    public var values: [[Float]]
    public var length: Int
  }

  public func emptyCache() -> BeamCache {
    BeamCache(
      keys: Array(repeating: [], count: layers.count), values: Array(repeating: [], count: layers.count), length: 0)
  }

  /// Runs new tokens for several beams at once: beam `b` appends `tokens[b]` (all the same count) to
  /// `caches[b]`. Returns the LM logits of each beam's last new position, `[beams][vocab]`.
  public func step(tokens: [[Int]], caches: inout [BeamCache], cross: CrossCache) -> [[Float]] {
    let beams = tokens.count
    let m = tokens[0].count
    let d = hidden
    let rows = beams * m
    let h = Tensor(uninitialized: [rows, d])
    for b in 0..<beams {
      precondition(tokens[b].count == m)
      embeddings.embed(tokens[b], start: caches[b].length, into: h.data + b * m * d)
    }
    let q = Tensor(uninitialized: [rows, d])
    let k = Tensor(uninitialized: [rows, d])
    let v = Tensor(uninitialized: [rows, d])
    let ctx = Tensor(uninitialized: [rows, d])
    for (l, layer) in layers.enumerated() {
      // Causal self-attention with the cache.
      let sa = layer.selfAttention
      sa.query(h.data, rows: rows, into: q.data)
      sa.key(h.data, rows: rows, into: k.data)
      sa.value(h.data, rows: rows, into: v.data)
      for b in 0..<beams {
        caches[b].keys[l].append(contentsOf: UnsafeBufferPointer(start: k.data + b * m * d, count: m * d))
        caches[b].values[l].append(contentsOf: UnsafeBufferPointer(start: v.data + b * m * d, count: m * d))
        let total = caches[b].length + m
        let past = caches[b].length
        // Additive causal mask [m, total]: new position i sees keys 0...(past + i).
        var mask = [Float](repeating: 0, count: m * total)
        for i in 0..<m {
          for j in 0..<total where j > past + i { mask[i * total + j] = -10000 }
        }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: m * total)
        defer { scratch.deallocate() }
        caches[b].keys[l].withUnsafeBufferPointer { kc in
          caches[b].values[l].withUnsafeBufferPointer { vc in
            mask.withUnsafeBufferPointer { mk in
              Attention.multiHead(
                q: q.data + b * m * d, ldq: d, k: kc.baseAddress!, ldk: d, v: vc.baseAddress!, ldv: d, nq: m,
                nk: total, heads: sa.heads, headDim: d / sa.heads, scale: 1 / Float(d / sa.heads).squareRoot(),
                sharedBias: m > 1 ? mk.baseAddress : nil, out: ctx.data + b * m * d,
                ldo: d, scratch: scratch)
            }
          }
        }
      }
      BLAS.linear(
        ctx.data, rows: rows, inFeatures: d, weight: sa.dense.weight, bias: sa.dense.bias?.data, outFeatures: d,
        into: h.data, accumulate: true)
      sa.norm(h.data, rows: rows, into: h.data)
      // Cross-attention: every beam attends to the same encoder output.
      layer.cross.attend(h.data, rows: rows, k: cross.keys[l].data, v: cross.values[l].data, nk: cross.count)
      layer.ffn.apply(h.data, rows: rows)
    }
    for b in 0..<beams { caches[b].length += m }
    // LM head on each beam's last position.
    let last = Tensor(uninitialized: [beams, d])
    for b in 0..<beams { (last.data + b * d).update(from: h.data + (b * m + m - 1) * d, count: d) }
    let t = Tensor(uninitialized: [beams, d])
    transform(last.data, rows: beams, into: t.data)
    Ops.gelu(t.data, count: t.count)
    transformNorm(t.data, rows: beams, into: t.data)
    let logits = Tensor(uninitialized: [beams, vocab])
    BLAS.linear(
      t.data, rows: beams, inFeatures: d, weight: lmWeight, bias: lmBias.data, outFeatures: vocab,
      into: logits.data)
    return (0..<beams).map { Array(UnsafeBufferPointer(start: logits.data + $0 * vocab, count: vocab)) }
  }
}
