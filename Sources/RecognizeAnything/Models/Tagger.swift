import Checkpoints
import Foundation
import TensorCore

/// What one forward pass of the tagging branch produced for one image.
public struct TaggingOutput: Sendable {
  /// Pre-sigmoid class scores `[K]`.
  public var logits: [Float]
  /// `sigmoid(logits)` `[K]`.
  public var probs: [Float]
  /// Intermediate tensors, kept only when asked for (parity checks): `image_embeds` `[T, C]`,
  /// `image_proj` `[T, L]`, `label_queries` `[K, D]`.
  public var intermediates: [String: [Float]] = [:]
}

/// The tagging branch of RAM++, RAM and Tag2Text over a Swin backbone.
///
/// - RAM++: image_proj → per-image re-weighting of the 51 description embeddings per class →
///   ReLU(wordvec_proj) → tagging head → shared fc → sigmoid.
/// - RAM: ReLU(wordvec_proj(label_embed)) (image-independent, computed once at load) → tagging head
///   over image_proj tokens → shared fc.
/// - Tag2Text: learned label_embed queries → tagging head over the raw Swin tokens → per-class fc.
public final class TaggingModel: @unchecked Sendable {
  public let config: ModelConfig
  public let swin: SwinTransformer
  public let head: TaggingHead
  let imageProj: Linear?
  let labelEmbed: Weight?  // RAM++ [K·D, L]; RAM [K, L]
  /// RAM++ with bf16 precision: the description embeddings in bf16 (the fp32 copy released).
  let labelEmbedBF16: BF16Rows?
  let reweightScale: Float
  let wordvecProj: Linear?
  /// RAM: the cached image-independent queries `[K, hidden]`; Tag2Text: label_embed.weight.
  let fixedQueries: Weight?
  let fcWeight: Weight  // [1, hidden] shared, or [1, K, hidden] per class
  let fcBias: Weight  // [1] or [1, K]
  let perClassClassifier: Bool
  /// Optional stage observer (benchmarks): called with `projection` and `head` when they end.
  public var onStage: (@Sendable (String) -> Void)?

  /// Builds the model from the bundle's weights, checking every tensor's shape against the config.
  public init(config: ModelConfig, weights store: WeightStore) throws {
    self.config = config
    let root = WeightScope(store: store, prefix: "")
    swin = try SwinTransformer(
      config: config.vision, imageSize: config.imageSize, weights: root.scope("visual_encoder"))
    let k = config.numClasses
    let hidden = config.taggingHead.hiddenSize
    let visionWidth = swin.outputWidth
    switch config.architecture {
    case .ramPlus, .ram:
      let l = config.labelEmbeddingDim!
      imageProj = try Linear(root.scope("image_proj"), in: visionWidth, out: l)
      wordvecProj = try Linear(root.scope("wordvec_proj"), in: l, out: hidden)
      if config.architecture == .ramPlus {
        let d = config.descriptionsPerClass!
        let embed = try root.weight("label_embed", [k * d, l])
        labelEmbed = embed
        if store.precision == .bf16 {
          let mapped = (embed.owner as? FloatBuffer)?.isView ?? false
          labelEmbedBF16 = BF16Rows(converting: embed.data, rows: k * d, cols: l, releasingMappedSource: mapped)
        } else {
          labelEmbedBF16 = nil
        }
        reweightScale = try root.weight("reweight_scale", []).scalar
        fixedQueries = nil
      } else {
        let embed = try root.weight("label_embed", [k, l])
        labelEmbed = embed
        labelEmbedBF16 = nil
        reweightScale = 0
        let q = Tensor(uninitialized: [k, hidden])
        wordvecProj!(embed.data, rows: k, into: q.data)
        Ops.relu(q.data, count: q.count)
        fixedQueries = Weight(q)
      }
      fcWeight = try root.weight("fc.weight", [1, hidden])
      fcBias = try root.weight("fc.bias", [1])
      perClassClassifier = false
    case .tag2text:
      imageProj = nil
      wordvecProj = nil
      labelEmbed = nil
      labelEmbedBF16 = nil
      reweightScale = 0
      fixedQueries = try root.weight("label_embed.weight", [k, hidden])
      fcWeight = try root.weight("fc.W", [1, k, hidden])
      fcBias = try root.weight("fc.b", [1, k])
      perClassClassifier = true
    }
    head = try TaggingHead(
      root.scope("tagging_head"), config: config.taggingHead, keyValueWidth: config.headEncoderWidth)
  }

  /// Width of the tokens the tagging head attends to.
  public var headTokenWidth: Int { imageProj?.outFeatures ?? swin.outputWidth }

  /// Runs the backbone on `[B, 3, S, S]` pixels: `[B, T, C]` image embeddings.
  public func imageEmbeddings(pixels: UnsafePointer<Float>, batch: Int) -> Tensor {
    swin.forward(pixels: pixels, batch: batch)
  }

  /// Full tagging forward for `batch` images of normalised pixels `[B, 3, S, S]`.
  public func forward(pixels: UnsafePointer<Float>, batch: Int, keepIntermediates: Bool = false) -> [TaggingOutput] {
    let embeds = imageEmbeddings(pixels: pixels, batch: batch)
    return tag(imageEmbeddings: embeds, batch: batch, keepIntermediates: keepIntermediates)
  }

  /// Tagging from precomputed image embeddings `[B, T, C]`.
  ///
  /// With `classes`, only those classes are computed (the head has no self-attention, so each
  /// class's score does not depend on the others and equals the full run's); the other entries of
  /// `logits`/`probs` are NaN.
  public func tag(
    imageEmbeddings embeds: Tensor, batch: Int, keepIntermediates: Bool = false, classes: [Int]? = nil
  ) -> [TaggingOutput] {
    let t = swin.outputTokens
    let c = swin.outputWidth
    let hidden = head.hidden
    let subset = classes ?? Array(0..<config.numClasses)
    let k = subset.count
    var outputs: [TaggingOutput] = []
    let queries = Tensor(uninitialized: [k, hidden])
    for b in 0..<batch {
      let image = embeds.data + b * t * c
      var tokens = UnsafePointer(image)
      var projected: Tensor?
      if let imageProj {
        let p = Tensor(uninitialized: [t, imageProj.outFeatures])
        imageProj(image, rows: t, into: p.data)
        projected = p
        tokens = UnsafePointer(p.data)
      }
      // Label queries.
      switch config.architecture {
      case .ramPlus:
        ramPlusQueries(imageProj: projected!, classes: subset, into: queries)
      case .ram, .tag2text:
        if classes == nil {
          queries.data.update(from: fixedQueries!.data, count: k * hidden)
        } else {
          for (row, cls) in subset.enumerated() {
            (queries.data + row * hidden).update(from: fixedQueries!.data + cls * hidden, count: hidden)
          }
        }
      }
      var out = TaggingOutput(logits: [], probs: [])
      if keepIntermediates {
        out.intermediates["image_embeds"] = Array(UnsafeBufferPointer(start: image, count: t * c))
        if let projected { out.intermediates["image_proj"] = projected.array }
        out.intermediates["label_queries"] = queries.array
      }
      onStage?("projection")
      head.forward(queries: queries.data, count: k, tokens: tokens, tokenCount: t)
      var logits = [Float](repeating: classes == nil ? 0 : .nan, count: config.numClasses)
      for (r, i) in subset.enumerated() {
        let row = queries.data + r * hidden
        let w = perClassClassifier ? fcWeight.data + i * hidden : fcWeight.data
        var acc: Float = 0
        for j in 0..<hidden { acc += row[j] * w[j] }
        logits[i] = acc + (perClassClassifier ? fcBias.data[i] : fcBias.data[0])
      }
      onStage?("head")
      if keepIntermediates { out.intermediates["logits"] = logits }
      out.logits = logits
      out.probs = logits.map(Ops.sigmoid)
      outputs.append(out)
    }
    return outputs
  }

  /// RAM++ per-image queries: softmax-weighted description embeddings, then ReLU(wordvec_proj).
  func ramPlusQueries(imageProj e: Tensor, classes: [Int], into queries: Tensor) {
    let l = e.dim(-1)
    let k = classes.count
    let d = config.descriptionsPerClass!
    let embed = labelEmbed!
    // c = E[0] / ‖E[0]‖
    var norm: Float = 0
    for j in 0..<l { norm += e.data[j] * e.data[j] }
    norm = norm.squareRoot()
    let scale = expf(reweightScale)
    var cls = [Float](repeating: 0, count: l)
    // The reference scales the normalised token before the product: (s · c) · label_embedᵀ.
    for j in 0..<l { cls[j] = scale * (e.data[j] / norm) }
    // Per class, while its 51 description rows are in cache: similarities (s·c)·label_embed[k·D+d],
    // softmax over d, weighted sum. One pass over label_embed, classes split over the workers.
    let weighted = Tensor(uninitialized: [k, l])
    let rows = embed.data
    let out = weighted.data
    if let bf = labelEmbedBF16 {
      cls.withUnsafeBufferPointer { cp in
        let c = cp.baseAddress!
        Parallel.forRange(k, grain: 64) { start, end in
          let w = UnsafeMutablePointer<Float>.allocate(capacity: d)
          defer { w.deallocate() }
          for cIdx in start..<end {
            let row0 = classes[cIdx] * d
            for di in 0..<d { w[di] = bf.dot(c, row: row0 + di) }
            Ops.softmaxRows(w, rows: 1, cols: d)
            let dst = out + cIdx * l
            dst.initialize(repeating: 0, count: l)
            for di in 0..<d { bf.axpy(w[di], row: row0 + di, into: dst) }
          }
        }
      }
      wordvecProj!(weighted.data, rows: k, into: queries.data)
      Ops.relu(queries.data, count: queries.count)
      return
    }
    cls.withUnsafeBufferPointer { cp in
      let c = cp.baseAddress!
      Parallel.forRange(k, grain: 64) { start, end in
        let w = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { w.deallocate() }
        for cIdx in start..<end {
          let block = rows + classes[cIdx] * d * l
          for di in 0..<d { w[di] = Ops.dot(c, block + di * l, count: l) }
          Ops.softmaxRows(w, rows: 1, cols: d)
          let dst = out + cIdx * l
          dst.initialize(repeating: 0, count: l)
          for di in 0..<d { Ops.axpy(w[di], block + di * l, into: dst, count: l) }
        }
      }
    }
    wordvecProj!(weighted.data, rows: k, into: queries.data)
    Ops.relu(queries.data, count: queries.count)
  }
}
