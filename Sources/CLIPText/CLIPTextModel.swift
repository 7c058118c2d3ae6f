import Checkpoints
import Foundation
import RecognizeAnything
import TensorCore

/// Sizes of a CLIP text tower, from a Hugging Face `CLIPTextConfig` `config.json` (the OpenAI state dict does not
/// record the number of heads).
public struct CLIPTextConfig: Sendable, Equatable {
  public var hiddenSize: Int
  public var intermediateSize: Int
  public var layers: Int
  public var heads: Int
  public var contextLength: Int
  public var vocabularySize: Int
  public var projectionDim: Int
  public var layerNormEps: Float

  public init(
    hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, contextLength: Int = 77,
    vocabularySize: Int = 49408, projectionDim: Int, layerNormEps: Float = 1e-5
  ) {
    self.hiddenSize = hiddenSize
    self.intermediateSize = intermediateSize
    self.layers = layers
    self.heads = heads
    self.contextLength = contextLength
    self.vocabularySize = vocabularySize
    self.projectionDim = projectionDim
    self.layerNormEps = layerNormEps
  }

  /// OpenAI's ViT-B/16 text tower.
  public static let vitB16 = CLIPTextConfig(
    hiddenSize: 512, intermediateSize: 2048, layers: 12, heads: 8, projectionDim: 512)

  /// Reads `config.json`; every missing or wrong key is an error naming it.
  public init(file path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw CLIPError.badModel(path: path, detail: "cannot read the CLIP config")
    }
    guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
      throw CLIPError.badModel(path: path, detail: "is not a JSON object (a Hugging Face CLIPTextConfig is expected)")
    }
    // A full CLIPConfig nests the text part under text_config.
    let o = (obj["text_config"] as? [String: Any]) ?? obj
    func int(_ key: String, default d: Int? = nil) throws -> Int {
      if let v = o[key] as? Int, v > 0 { return v }
      if o[key] == nil, let d { return d }
      throw CLIPError.badModel(
        path: path, detail: "key '\(key)' must be a positive integer (found \(o[key] ?? "nothing"))")
    }
    if let act = o["hidden_act"] as? String, act != "quick_gelu" {
      throw CLIPError.badModel(path: path, detail: "hidden_act is '\(act)'; OpenAI's CLIP uses quick_gelu")
    }
    let hidden = try int("hidden_size")
    let heads = try int("num_attention_heads")
    guard hidden % heads == 0 else {
      throw CLIPError.badModel(
        path: path, detail: "hidden_size \(hidden) is not a multiple of num_attention_heads \(heads)")
    }
    self.init(
      hiddenSize: hidden, intermediateSize: try int("intermediate_size", default: 4 * hidden),
      layers: try int("num_hidden_layers"), heads: heads,
      contextLength: try int("max_position_embeddings", default: 77),
      vocabularySize: try int("vocab_size", default: 49408),
      projectionDim: try int("projection_dim", default: (obj["projection_dim"] as? Int) ?? hidden),
      layerNormEps: Float((o["layer_norm_eps"] as? Double) ?? 1e-5))
  }
}

/// The three weight layouts a CLIP text tower is read from.
public enum CLIPWeightLayout: String, Sendable {
  /// OpenAI's `CLIP` state dict (`token_embedding.weight`, `transformer.resblocks.*`, `text_projection` [W, E]).
  case openAI = "openai"
  /// OpenAI's published TorchScript archive (same names as attributes).
  case torchScript = "torchscript"
  /// Hugging Face `CLIPTextModelWithProjection` (`text_model.*`, `text_projection.weight` [E, W]).
  case huggingFace = "huggingface"
}

/// One pre-LN residual block of CLIP's text transformer.
struct CLIPBlock {
  let ln1: LayerNorm
  let qkv: Linear  // [3W, W]: q, k, v rows
  let out: Linear
  let ln2: LayerNorm
  let fc1: Linear
  let fc2: Linear
}

/// CLIP's text tower (`encode_text`): token + position embeddings, pre-LN blocks with causal attention and
/// QuickGELU, the final LayerNorm at the first end-of-text position, the projection.
public final class CLIPTextModel: @unchecked Sendable {
  public let config: CLIPTextConfig
  public let layout: CLIPWeightLayout
  /// The weight file's path.
  public let weightsPath: String
  let tokenEmbedding: Weight
  let positionEmbedding: Weight
  let blocks: [CLIPBlock]
  let finalNorm: LayerNorm
  /// `[E, W]` (a Linear weight, no bias).
  let projection: Linear

  /// Loads the text tower from `weights` (safetensors, a state-dict `.pth`, or a TorchScript `.pt`) with sizes from
  /// `config`. The vision tower in OpenAI's files is skipped (a TorchScript archive's vision bytes are never read).
  public init(config: CLIPTextConfig, weights path: String) throws {
    self.config = config
    weightsPath = path
    let archive: any TensorArchive
    if TorchScriptArchive.isTorchScript(path: path) {
      archive = try TorchScriptArchive(path: path) { !$0.hasPrefix("visual.") }
    } else {
      archive = try openTensorArchive(path: path)
    }
    let store = WeightStore(archive: archive)
    let w = config.hiddenSize
    let eps = config.layerNormEps
    let root = store.scope("")
    if store.contains("text_model.embeddings.token_embedding.weight") {
      layout = .huggingFace
      let tm = root.scope("text_model")
      tokenEmbedding = try tm.weight("embeddings.token_embedding.weight", [config.vocabularySize, w])
      positionEmbedding = try tm.weight("embeddings.position_embedding.weight", [config.contextLength, w])
      blocks = try (0..<config.layers).map { i in
        let l = tm.scope("encoder.layers.\(i)")
        let a = l.scope("self_attn")
        let parts = try ["q_proj", "k_proj", "v_proj"].map { try Linear(a.scope($0), in: w, out: w) }
        let qkvW = Tensor(uninitialized: [3 * w, w])
        let qkvB = Tensor(uninitialized: [3 * w])
        for (k, p) in parts.enumerated() {
          (qkvW.data + k * w * w).update(from: p.weight.data, count: w * w)
          (qkvB.data + k * w).update(from: p.bias!.data, count: w)
        }
        return CLIPBlock(
          ln1: try LayerNorm(l.scope("layer_norm1"), dim: w, eps: eps),
          qkv: Linear(weight: Weight(qkvW), bias: Weight(qkvB)),
          out: try Linear(a.scope("out_proj"), in: w, out: w),
          ln2: try LayerNorm(l.scope("layer_norm2"), dim: w, eps: eps),
          fc1: try Linear(l.scope("mlp.fc1"), in: w, out: config.intermediateSize),
          fc2: try Linear(l.scope("mlp.fc2"), in: config.intermediateSize, out: w))
      }
      finalNorm = try LayerNorm(tm.scope("final_layer_norm"), dim: w, eps: eps)
      projection = Linear(weight: try root.weight("text_projection.weight", [config.projectionDim, w]), bias: nil)
    } else if store.contains("token_embedding.weight") {
      layout = archive is TorchScriptArchive ? .torchScript : .openAI
      tokenEmbedding = try root.weight("token_embedding.weight", [config.vocabularySize, w])
      positionEmbedding = try root.weight("positional_embedding", [config.contextLength, w])
      blocks = try (0..<config.layers).map { i in
        let l = root.scope("transformer.resblocks.\(i)")
        return CLIPBlock(
          ln1: try LayerNorm(l.scope("ln_1"), dim: w, eps: eps),
          qkv: Linear(
            weight: try l.weight("attn.in_proj_weight", [3 * w, w]), bias: try l.weight("attn.in_proj_bias", [3 * w])),
          out: try Linear(l.scope("attn.out_proj"), in: w, out: w),
          ln2: try LayerNorm(l.scope("ln_2"), dim: w, eps: eps),
          fc1: try Linear(l.scope("mlp.c_fc"), in: w, out: config.intermediateSize),
          fc2: try Linear(l.scope("mlp.c_proj"), in: config.intermediateSize, out: w))
      }
      finalNorm = try LayerNorm(root.scope("ln_final"), dim: w, eps: eps)
      let p = try root.weight("text_projection", [w, config.projectionDim])
      let t = Tensor(uninitialized: [config.projectionDim, w])
      for r in 0..<w {
        for c in 0..<config.projectionDim { t.data[c * w + r] = p.data[r * config.projectionDim + c] }
      }
      projection = Linear(weight: Weight(t), bias: nil)
    } else {
      throw CLIPError.badModel(
        path: path,
        detail:
          "holds neither an OpenAI CLIP state dict (token_embedding.weight) nor a Hugging Face CLIPTextModelWithProjection (text_model.embeddings.token_embedding.weight)"
      )
    }
    if store.contains("transformer.resblocks.\(config.layers).ln_1.weight")
      || store.contains("text_model.encoder.layers.\(config.layers).layer_norm1.weight")
    {
      throw CLIPError.badModel(
        path: path, detail: "has more text blocks than num_hidden_layers (\(config.layers)) in its config.json")
    }
  }

  /// A tower with deterministic random weights (benchmarks): normal-ish values of scale 0.02, LayerNorms at 1/0.
  public init(config: CLIPTextConfig, synthesizedSeed seed: UInt64) {
    self.config = config
    layout = .openAI
    weightsPath = "synthesized(seed \(seed))"
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    func random(_ shape: [Int], scale: Float = 0.02) -> Weight {
      let t = Tensor(uninitialized: shape)
      for i in 0..<t.count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let u = Float(state >> 40) / Float(1 << 24)  // [0, 1)
        t.data[i] = (u - 0.5) * 3.46 * scale
      }
      return Weight(t)
    }
    func ones(_ n: Int, _ v: Float) -> Weight { Weight(shape: [n], values: [Float](repeating: v, count: n)) }
    let w = config.hiddenSize
    let m = config.intermediateSize
    func norm() -> LayerNorm { LayerNorm(weight: ones(w, 1), bias: ones(w, 0), eps: config.layerNormEps) }
    tokenEmbedding = random([config.vocabularySize, w])
    positionEmbedding = random([config.contextLength, w], scale: 0.01)
    blocks = (0..<config.layers).map { _ in
      CLIPBlock(
        ln1: norm(), qkv: Linear(weight: random([3 * w, w]), bias: random([3 * w])),
        out: Linear(weight: random([w, w]), bias: random([w])), ln2: norm(),
        fc1: Linear(weight: random([m, w]), bias: random([m])), fc2: Linear(weight: random([w, m]), bias: random([w])))
    }
    finalNorm = norm()
    projection = Linear(weight: random([config.projectionDim, w]), bias: nil)
  }

  /// Text features `[texts, E]` (not normalised) of tokenized texts.
  ///
  /// With `shortcut` (the default) each text is computed only up to its first end-of-text token: with causal
  /// attention nothing after it changes that row, so the result is the same as the full 77-position pass.
  public func encode(_ texts: [CLIPTokens], shortcut: Bool = true, chunk: Int = 64) -> [[Float]] {
    var out: [[Float]] = []
    out.reserveCapacity(texts.count)
    var start = 0
    while start < texts.count {
      let end = min(texts.count, start + chunk)
      out += encodeChunk(Array(texts[start..<end]), shortcut: shortcut)
      start = end
    }
    return out
  }

  private var masks: [Int: Tensor] = [:]
  private let maskLock = NSLock()

  /// `[n, n]` additive causal mask.
  func causalMask(_ n: Int) -> Tensor {
    maskLock.withLock {
      if let m = masks[n] { return m }
      let m = Tensor(zeros: [n, n])
      for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { m.data[i * n + j] = -.infinity } }
      masks[n] = m
      return m
    }
  }

  private func encodeChunk(_ texts: [CLIPTokens], shortcut: Bool) -> [[Float]] {
    let w = config.hiddenSize
    let ctx = config.contextLength
    let lengths = texts.map { shortcut ? $0.endPosition + 1 : ctx }
    var offsets: [Int] = []
    var rows = 0
    for n in lengths {
      offsets.append(rows)
      rows += n
    }
    let x = Tensor(uninitialized: [rows, w])
    for (t, text) in texts.enumerated() {
      for j in 0..<lengths[t] {
        let id = Int(text.ids[j])
        Ops.sum(
          tokenEmbedding.data + id * w, positionEmbedding.data + j * w, into: x.data + (offsets[t] + j) * w, count: w)
      }
    }
    let h = Tensor(uninitialized: [rows, w])
    let qkv = Tensor(uninitialized: [rows, 3 * w])
    let attn = Tensor(uninitialized: [rows, w])
    let mlp = Tensor(uninitialized: [rows, config.intermediateSize])
    let heads = config.heads
    let dh = w / heads
    let scale = 1 / Float(dh).squareRoot()
    let masks = Set(lengths).reduce(into: [Int: Tensor]()) { $0[$1] = causalMask($1) }
    for block in blocks {
      block.ln1(x.data, rows: rows, into: h.data)
      block.qkv(h.data, rows: rows, into: qkv.data)
      let q = qkv.data
      let a = attn.data
      BLAS.singleThreaded {
        Parallel.forRange(texts.count, grain: 1) { s, e in
          let scratch = UnsafeMutablePointer<Float>.allocate(capacity: ctx * ctx)
          defer { scratch.deallocate() }
          for t in s..<e {
            let n = lengths[t]
            let base = q + offsets[t] * 3 * w
            Attention.multiHead(
              q: base, ldq: 3 * w, k: base + w, ldk: 3 * w, v: base + 2 * w, ldv: 3 * w, nq: n, nk: n, heads: heads,
              headDim: dh, scale: scale, sharedBias: masks[n]!.data, out: a + offsets[t] * w, ldo: w, scratch: scratch)
          }
        }
      }
      BLAS.linear(
        attn.data, rows: rows, inFeatures: w, weight: block.out.weight.data, bias: block.out.bias!.data,
        outFeatures: w, into: x.data, accumulate: true)
      block.ln2(x.data, rows: rows, into: h.data)
      block.fc1(h.data, rows: rows, into: mlp.data)
      CLIPTextModel.quickGELU(mlp.data, count: rows * config.intermediateSize)
      BLAS.linear(
        mlp.data, rows: rows, inFeatures: config.intermediateSize, weight: block.fc2.weight.data,
        bias: block.fc2.bias!.data, outFeatures: w, into: x.data, accumulate: true)
    }
    let pooled = Tensor(uninitialized: [texts.count, w])
    for (t, text) in texts.enumerated() {
      (pooled.data + t * w).update(from: x.data + (offsets[t] + text.endPosition) * w, count: w)
    }
    finalNorm(pooled.data, rows: texts.count, into: pooled.data)
    let e = config.projectionDim
    let features = Tensor(uninitialized: [texts.count, e])
    BLAS.linear(
      pooled.data, rows: texts.count, inFeatures: w, weight: projection.weight.data, bias: nil, outFeatures: e,
      into: features.data)
    return (0..<texts.count).map { Array(UnsafeBufferPointer(start: features.data + $0 * e, count: e)) }
  }

  /// `z · sigmoid(1.702 z)` in place.
  static func quickGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forRange(count) { s, e in
      for i in s..<e {
        let z = x[i]
        x[i] = z / (1 + expf(-1.702 * z))
      }
    }
  }

  /// `v / ‖v‖`.
  public static func normalized(_ v: [Float]) -> [Float] {
    var n: Double = 0
    for x in v { n += Double(x) * Double(x) }
    let inv = Float(1 / n.squareRoot())
    return v.map { $0 * inv }
  }
}
