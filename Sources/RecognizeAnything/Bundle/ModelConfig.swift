import Foundation

/// The model family a bundle holds.
public enum Architecture: String, Codable, Sendable, CaseIterable {
  case ramPlus = "ram_plus"
  case ram = "ram"
  case tag2text = "tag2text"
}

/// `config.json` of a model bundle (the schema of `../shared/fixtures/ram-parity/*/config.json`).
public struct ModelConfig: Codable, Sendable, Equatable {
  /// Swin backbone geometry.
  public struct Vision: Codable, Sendable, Equatable {
    public var type: String
    public var patchSize: Int
    public var embedDim: Int
    public var depths: [Int]
    public var numHeads: [Int]
    public var windowSize: Int
    public var mlpRatio: Double
    /// LayerNorm epsilon in Swin (1e-5 in the reference; optional in the file).
    public var layerNormEps: Double?

    enum CodingKeys: String, CodingKey {
      case type, depths
      case patchSize = "patch_size"
      case embedDim = "embed_dim"
      case numHeads = "num_heads"
      case windowSize = "window_size"
      case mlpRatio = "mlp_ratio"
      case layerNormEps = "layer_norm_eps"
    }

    /// Channel width after the last stage (`embed_dim · 2^(stages−1)`).
    public var finalWidth: Int { embedDim << (depths.count - 1) }
  }

  /// A stack of BERT layers (tagging head, tag encoder, text decoder).
  public struct Bert: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var intermediateSize: Int
    public var layerNormEps: Double
    /// Input width of the cross-attention keys/values.
    public var encoderWidth: Int?
    public var maxPositionEmbeddings: Int?

    enum CodingKeys: String, CodingKey {
      case hiddenSize = "hidden_size"
      case numLayers = "num_layers"
      case numHeads = "num_heads"
      case intermediateSize = "intermediate_size"
      case layerNormEps = "layer_norm_eps"
      case encoderWidth = "encoder_width"
      case maxPositionEmbeddings = "max_position_embeddings"
    }
  }

  /// Tag2Text caption generation settings.
  public struct Caption: Codable, Sendable, Equatable {
    public var prompt: String
    public var numBeams: Int
    public var maxLength: Int
    public var minLength: Int
    public var repetitionPenalty: Double?

    enum CodingKeys: String, CodingKey {
      case prompt
      case numBeams = "num_beams"
      case maxLength = "max_length"
      case minLength = "min_length"
      case repetitionPenalty = "repetition_penalty"
    }
  }

  /// Class thresholds: a default, and either a per-class file or per-index overrides.
  public struct Threshold: Codable, Sendable, Equatable {
    public var `default`: Double
    public var perClassFile: String?
    public var overrides: [String: Double]?

    enum CodingKeys: String, CodingKey {
      case `default`
      case perClassFile = "per_class_file"
      case overrides
    }
  }

  /// The official checkpoint this config describes (file name, size, sha256), if any.
  public struct Checkpoint: Codable, Sendable, Equatable {
    public var file: String
    public var bytes: Int?
    public var sha256: String?
  }

  public var architecture: Architecture
  public var imageSize: Int
  public var vision: Vision
  public var taggingHead: Bert
  public var labelEmbeddingDim: Int?
  public var descriptionsPerClass: Int?
  public var numClasses: Int
  public var tagEncoder: Bert?
  public var textDecoder: Bert?
  public var vocabSize: Int?
  public var caption: Caption?
  public var threshold: Threshold
  public var deleteTagIndices: [Int]?
  /// Data file names inside the bundle (`tags`, `tags_zh`, `thresholds`, `vocab`).
  public var files: [String: String]?
  public var unusedByInference: [String]?
  public var checkpoint: Checkpoint?

  enum CodingKeys: String, CodingKey {
    case architecture, vision, threshold, caption, files, checkpoint
    case imageSize = "image_size"
    case taggingHead = "tagging_head"
    case labelEmbeddingDim = "label_embedding_dim"
    case descriptionsPerClass = "descriptions_per_class"
    case numClasses = "num_classes"
    case tagEncoder = "tag_encoder"
    case textDecoder = "text_decoder"
    case vocabSize = "vocab_size"
    case deleteTagIndices = "delete_tag_indices"
    case unusedByInference = "unused_by_inference"
  }

  /// Reads and validates a `config.json`.
  public static func load(path: String) throws -> ModelConfig {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw BundleError.missingFile(path: path, what: "the model's config.json")
    }
    return try decode(data, path: path)
  }

  /// An official preset by name (see `OfficialConfigs.names`).
  public static func preset(_ name: String) throws -> ModelConfig {
    guard let text = OfficialConfigs.json(name) else {
      throw BundleError.invalidConfig(
        path: name, detail: "unknown preset; choose one of \(OfficialConfigs.names.joined(separator: ", "))")
    }
    return try decode(Data(text.utf8), path: "preset \(name)")
  }

  /// Decodes and validates config JSON; `path` names it in errors.
  public static func decode(_ data: Data, path: String) throws -> ModelConfig {
    let config: ModelConfig
    do {
      config = try JSONDecoder().decode(ModelConfig.self, from: data)
    } catch let DecodingError.keyNotFound(key, ctx) {
      throw BundleError.invalidConfig(
        path: path,
        detail: "missing field '\((ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))'")
    } catch let DecodingError.typeMismatch(_, ctx) {
      throw BundleError.invalidConfig(
        path: path, detail: "field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
    } catch let DecodingError.dataCorrupted(ctx) {
      let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
      if field.isEmpty, let hit = ConfigChecker.nonIntegerField(in: data) {
        throw BundleError.invalidConfig(
          path: path, detail: "field '\(hit.field)' is \(hit.value); it must be an integer")
      }
      throw BundleError.invalidConfig(
        path: path, detail: field.isEmpty ? "not valid JSON" : "field '\(field)': \(ctx.debugDescription)")
    } catch {
      throw BundleError.invalidConfig(path: path, detail: "\(error)")
    }
    try config.validate(path: path)
    return config
  }

  /// Checks the sizes fit together.
  public func validate(path: String) throws {
    func bad(_ s: String) -> BundleError { .invalidConfig(path: path, detail: s) }
    if vision.type != "swin" { throw bad("vision.type '\(vision.type)' is not supported (only 'swin')") }
    // Every field in range first (see ConfigLimits), so the arithmetic below cannot trap.
    try ConfigChecker(path: path).check(self)
    if vision.depths.isEmpty || vision.depths.count != vision.numHeads.count {
      throw bad("vision.depths and vision.num_heads must be non-empty and of equal length")
    }
    if imageSize % vision.patchSize != 0 { throw bad("image_size \(imageSize) is not a multiple of patch_size") }
    var side = imageSize / vision.patchSize
    for i in 0..<vision.depths.count {
      if side > vision.windowSize && side % vision.windowSize != 0 {
        throw bad(
          "vision stage \(i): the \(side)×\(side) token map does not split into \(vision.windowSize)-wide windows")
      }
      if i < vision.depths.count - 1 {
        if side % 2 != 0 { throw bad("vision stage \(i): odd token map \(side) cannot be patch-merged") }
        side /= 2
      }
    }
    for (i, h) in vision.numHeads.enumerated() where (vision.embedDim << i) % h != 0 {
      throw bad("vision stage \(i): width \(vision.embedDim << i) is not divisible by \(h) heads")
    }
    if taggingHead.hiddenSize % taggingHead.numHeads != 0 {
      throw bad("tagging_head.hidden_size is not divisible by tagging_head.num_heads")
    }
    if numClasses <= 0 { throw bad("num_classes must be positive") }
    switch architecture {
    case .ramPlus:
      if labelEmbeddingDim == nil { throw bad("missing field 'label_embedding_dim'") }
      if descriptionsPerClass == nil { throw bad("missing field 'descriptions_per_class'") }
    case .ram:
      if labelEmbeddingDim == nil { throw bad("missing field 'label_embedding_dim'") }
    case .tag2text:
      break
    }
  }

  /// Width of the tagging head's cross-attention keys/values input.
  public var headEncoderWidth: Int {
    taggingHead.encoderWidth ?? (architecture == .tag2text ? vision.finalWidth : (labelEmbeddingDim ?? 512))
  }
}
