import Foundation

/// Range checks for every `config.json` field, run before any size arithmetic (a config is untrusted input: a
/// `patch_size` of 0 divides by zero, a negative depth makes an invalid range, `mlp_ratio` 1e300 overflows and
/// `image_size` 38400 asks for tens of gigabytes).
///
/// The bounds are generous for the Recognize Anything family (the official models use `image_size` 384,
/// `patch_size` 4, `window_size` 12, widths up to 1536, 24 heads, 12 BERT layers): `image_size` ≤ 1536 (a
/// 1536² Swin-L forward already takes ~16× the 384² time and memory), `patch_size` and `window_size` ≤ 64,
/// at most 8 Swin stages of ≤ 64 blocks, ≤ 256 heads, widths ≤ 16384, `mlp_ratio` in (0, 16], BERT ≤ 64
/// layers, ≤ 100,000 classes, `vocab_size` ≤ 1,000,000, beams ≤ 64, captions ≤ 512 tokens, every epsilon in
/// (0, 1) and every threshold in [0, 1].
enum ConfigLimits {
  static let imageSize = 1...1536
  static let patchSize = 1...64
  static let windowSize = 1...64
  static let stages = 1...8
  static let depth = 1...64
  static let heads = 1...256
  static let width = 1...16384
  static let layers = 0...64
  static let classes = 1...100_000
  static let descriptions = 1...1000
  static let vocab = 1...1_000_000
  static let positions = 1...8192
  static let beams = 1...64
  static let captionLength = 0...512
}

struct ConfigChecker {
  let path: String

  func bad(_ field: String, _ value: Any, _ rule: String) -> BundleError {
    .invalidConfig(path: path, detail: "field '\(field)' is \(value); \(rule)")
  }

  func int(_ field: String, _ v: Int, _ r: ClosedRange<Int>) throws {
    guard r.contains(v) else { throw bad(field, v, "it must be in \(r.lowerBound)…\(r.upperBound)") }
  }

  func real(_ field: String, _ v: Double, above low: Double, upTo high: Double, inclusiveLow: Bool = false) throws {
    guard v.isFinite, inclusiveLow ? v >= low : v > low, v <= high else {
      throw bad(field, v, "it must be a number in \(inclusiveLow ? "[" : "(")\(low), \(high)]")
    }
  }

  func bert(_ name: String, _ b: ModelConfig.Bert) throws {
    try int("\(name).hidden_size", b.hiddenSize, ConfigLimits.width)
    try int("\(name).num_layers", b.numLayers, ConfigLimits.layers)
    try int("\(name).num_heads", b.numHeads, ConfigLimits.heads)
    try int("\(name).intermediate_size", b.intermediateSize, 1...65536)
    try real("\(name).layer_norm_eps", b.layerNormEps, above: 0, upTo: 0.5)
    if let w = b.encoderWidth { try int("\(name).encoder_width", w, ConfigLimits.width) }
    if let p = b.maxPositionEmbeddings { try int("\(name).max_position_embeddings", p, ConfigLimits.positions) }
    guard b.hiddenSize % b.numHeads == 0 else {
      throw bad("\(name).num_heads", b.numHeads, "it must divide \(name).hidden_size \(b.hiddenSize)")
    }
  }

  func check(_ c: ModelConfig) throws {
    try int("image_size", c.imageSize, ConfigLimits.imageSize)
    let v = c.vision
    try int("vision.patch_size", v.patchSize, ConfigLimits.patchSize)
    try int("vision.window_size", v.windowSize, ConfigLimits.windowSize)
    try int("vision.embed_dim", v.embedDim, ConfigLimits.width)
    guard ConfigLimits.stages.contains(v.depths.count) else {
      throw bad("vision.depths", v.depths, "it must list 1…\(ConfigLimits.stages.upperBound) stages")
    }
    guard v.numHeads.count == v.depths.count else {
      throw bad("vision.num_heads", v.numHeads, "it must have one entry per stage (\(v.depths.count), as vision.depths)")
    }
    for (i, d) in v.depths.enumerated() { try int("vision.depths[\(i)]", d, ConfigLimits.depth) }
    for (i, h) in v.numHeads.enumerated() { try int("vision.num_heads[\(i)]", h, ConfigLimits.heads) }
    let finalWidth = v.embedDim.multipliedReportingOverflow(by: 1 << (v.depths.count - 1))
    guard !finalWidth.overflow, ConfigLimits.width.contains(finalWidth.partialValue) else {
      throw bad(
        "vision.embed_dim", v.embedDim,
        "doubled at each of \(v.depths.count - 1) patch merges it must stay ≤ \(ConfigLimits.width.upperBound)")
    }
    try real("vision.mlp_ratio", v.mlpRatio, above: 0, upTo: 16)
    guard Int(Double(v.embedDim) * v.mlpRatio) >= 1 else {
      throw bad("vision.mlp_ratio", v.mlpRatio, "embed_dim × mlp_ratio must be at least 1")
    }
    if let e = v.layerNormEps { try real("vision.layer_norm_eps", e, above: 0, upTo: 0.5) }
    try bert("tagging_head", c.taggingHead)
    if let b = c.tagEncoder { try bert("tag_encoder", b) }
    if let b = c.textDecoder { try bert("text_decoder", b) }
    try int("num_classes", c.numClasses, ConfigLimits.classes)
    if let d = c.labelEmbeddingDim { try int("label_embedding_dim", d, ConfigLimits.width) }
    if let d = c.descriptionsPerClass { try int("descriptions_per_class", d, ConfigLimits.descriptions) }
    if let n = c.vocabSize { try int("vocab_size", n, ConfigLimits.vocab) }
    if let cap = c.caption {
      try int("caption.num_beams", cap.numBeams, ConfigLimits.beams)
      try int("caption.max_length", cap.maxLength, ConfigLimits.captionLength)
      try int("caption.min_length", cap.minLength, 0...cap.maxLength)
      if let r = cap.repetitionPenalty { try real("caption.repetition_penalty", r, above: 0, upTo: 100) }
    }
    try real("threshold.default", c.threshold.default, above: 0, upTo: 1, inclusiveLow: true)
    for (k, t) in (c.threshold.overrides ?? [:]).sorted(by: { $0.key < $1.key }) {
      try real("threshold.overrides.\(k)", t, above: 0, upTo: 1, inclusiveLow: true)
    }
    for (i, t) in (c.deleteTagIndices ?? []).enumerated() {
      try int("delete_tag_indices[\(i)]", t, 0...(c.numClasses - 1))
    }
    if let b = c.checkpoint?.bytes { try int("checkpoint.bytes", b, 0...Int.max) }
  }

  /// For a decoding failure without a field: the first integer field holding a non-integer number (e.g.
  /// `"image_size": 384.5`, which Foundation's decoder reports only as "not valid JSON").
  static func nonIntegerField(in data: Data) -> (field: String, value: String)? {
    guard let root = try? JSONSerialization.jsonObject(with: data) else { return nil }
    let intKeys: Set<String> = [
      "image_size", "patch_size", "embed_dim", "depths", "num_heads", "window_size", "hidden_size", "num_layers",
      "intermediate_size", "encoder_width", "max_position_embeddings", "num_beams", "max_length", "min_length",
      "label_embedding_dim", "descriptions_per_class", "num_classes", "vocab_size", "delete_tag_indices", "bytes",
    ]
    func isInteger(_ v: Any) -> Bool {
      guard let n = v as? NSNumber, type(of: n) == NSNumber.self else { return true }  // not a number: not ours
      return Int(exactly: n) != nil && !"\(n)".contains(".")
    }
    func walk(_ v: Any, _ path: String, _ key: String?) -> (String, String)? {
      if let d = v as? [String: Any] {
        for k in d.keys.sorted() {
          if let hit = walk(d[k]!, path.isEmpty ? k : "\(path).\(k)", k) { return hit }
        }
      } else if let a = v as? [Any] {
        for (i, x) in a.enumerated() {
          if let hit = walk(x, "\(path)[\(i)]", key) { return hit }
        }
      } else if let key, intKeys.contains(key), !isInteger(v) {
        return (path, "\(v)")
      }
      return nil
    }
    return walk(root, "", nil)
  }
}
