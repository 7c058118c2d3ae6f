import Checkpoints
import Foundation

/// The complete `state_dict` layout of a model as the reference code saves it (checkpoint['model']):
/// every key with its shape and dtype, including buffers and tied tensors. Used to synthesize
/// official-layout checkpoints and to say which stored entries a model uses.
public enum CheckpointLayout {
  /// One tensor of the layout.
  public struct Item: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var dtype: TensorDType
    /// The key whose storage this tensor shares (tied weights), if any.
    public var tiedTo: String?
    /// Buffers (`relative_position_index`, `attn_mask`, `position_ids`) are recomputed, not loaded.
    public var isBuffer: Bool
  }

  /// The layout for `config`, in the reference's registration order.
  public static func items(_ config: ModelConfig) -> [Item] {
    var out: [Item] = []
    func f(_ name: String, _ shape: [Int], tied: String? = nil) {
      out.append(Item(name: name, shape: shape, dtype: .f32, tiedTo: tied, isBuffer: false))
    }
    func buffer(_ name: String, _ shape: [Int], _ dtype: TensorDType) {
      out.append(Item(name: name, shape: shape, dtype: dtype, tiedTo: nil, isBuffer: true))
    }
    func linear(_ p: String, _ i: Int, _ o: Int, bias: Bool = true, tied: String? = nil) {
      f(p + ".weight", [o, i], tied: tied.map { $0 + ".weight" })
      if bias { f(p + ".bias", [o], tied: tied.map { $0 + ".bias" }) }
    }
    func norm(_ p: String, _ d: Int, tied: String? = nil) {
      f(p + ".weight", [d], tied: tied.map { $0 + ".weight" })
      f(p + ".bias", [d], tied: tied.map { $0 + ".bias" })
    }
    // Swin.
    let v = config.vision
    let p = v.patchSize
    f("visual_encoder.patch_embed.proj.weight", [v.embedDim, 3, p, p])
    f("visual_encoder.patch_embed.proj.bias", [v.embedDim])
    norm("visual_encoder.patch_embed.norm", v.embedDim)
    var side = config.imageSize / p
    var width = v.embedDim
    for (i, depth) in v.depths.enumerated() {
      let window = min(v.windowSize, side)
      let shiftable = side > v.windowSize
      let n = window * window
      for j in 0..<depth {
        let b = "visual_encoder.layers.\(i).blocks.\(j)"
        norm(b + ".norm1", width)
        f(b + ".attn.relative_position_bias_table", [(2 * window - 1) * (2 * window - 1), v.numHeads[i]])
        buffer(b + ".attn.relative_position_index", [n, n], .i64)
        linear(b + ".attn.qkv", width, 3 * width)
        linear(b + ".attn.proj", width, width)
        norm(b + ".norm2", width)
        let hidden = Int(Double(width) * v.mlpRatio)
        linear(b + ".mlp.fc1", width, hidden)
        linear(b + ".mlp.fc2", hidden, width)
        if shiftable && j % 2 == 1 {
          buffer(b + ".attn_mask", [(side / window) * (side / window), n, n], .f32)
        }
      }
      if i < v.depths.count - 1 {
        linear("visual_encoder.layers.\(i).downsample.reduction", 4 * width, 2 * width, bias: false)
        norm("visual_encoder.layers.\(i).downsample.norm", 4 * width)
        side /= 2
        width *= 2
      }
    }
    norm("visual_encoder.norm", width)

    let head = config.taggingHead
    func bertLayer(_ prefix: String, _ b: ModelConfig.Bert, selfAttention: Bool, crossWidth: Int, tiedTo: String?) {
      let h = b.hiddenSize
      if selfAttention {
        linear(prefix + ".attention.self.query", h, h)
        linear(prefix + ".attention.self.key", h, h)
        linear(prefix + ".attention.self.value", h, h)
        linear(prefix + ".attention.output.dense", h, h)
        norm(prefix + ".attention.output.LayerNorm", h)
      }
      let t = tiedTo
      linear(prefix + ".crossattention.self.query", h, h, tied: t.map { $0 + ".crossattention.self.query" })
      linear(prefix + ".crossattention.self.key", crossWidth, h, tied: t.map { $0 + ".crossattention.self.key" })
      linear(prefix + ".crossattention.self.value", crossWidth, h, tied: t.map { $0 + ".crossattention.self.value" })
      linear(prefix + ".crossattention.output.dense", h, h, tied: t.map { $0 + ".crossattention.output.dense" })
      norm(prefix + ".crossattention.output.LayerNorm", h, tied: t.map { $0 + ".crossattention.output.LayerNorm" })
      linear(prefix + ".intermediate.dense", h, b.intermediateSize, tied: t.map { $0 + ".intermediate.dense" })
      linear(prefix + ".output.dense", b.intermediateSize, h, tied: t.map { $0 + ".output.dense" })
      norm(prefix + ".output.LayerNorm", h, tied: t.map { $0 + ".output.LayerNorm" })
    }
    func embeddings(_ prefix: String, _ b: ModelConfig.Bert) {
      buffer(prefix + ".position_ids", [1, b.maxPositionEmbeddings ?? 512], .i64)
      f(prefix + ".word_embeddings.weight", [config.vocabSize ?? 30524, b.hiddenSize])
      f(prefix + ".position_embeddings.weight", [b.maxPositionEmbeddings ?? 512, b.hiddenSize])
      norm(prefix + ".LayerNorm", b.hiddenSize)
    }
    // Tag encoder and text decoder (RAM and Tag2Text).
    if let enc = config.tagEncoder {
      embeddings("tag_encoder.embeddings", enc)
      for l in 0..<enc.numLayers {
        bertLayer(
          "tag_encoder.encoder.layer.\(l)", enc, selfAttention: true, crossWidth: enc.encoderWidth ?? enc.hiddenSize,
          tiedTo: l < head.numLayers ? "tagging_head.encoder.layer.\(l)" : nil)
      }
    }
    if let dec = config.textDecoder {
      embeddings("text_decoder.bert.embeddings", dec)
      for l in 0..<dec.numLayers {
        bertLayer(
          "text_decoder.bert.encoder.layer.\(l)", dec, selfAttention: true,
          crossWidth: dec.encoderWidth ?? dec.hiddenSize, tiedTo: nil)
      }
      let vocab = config.vocabSize ?? 30524
      f("text_decoder.cls.predictions.bias", [vocab])
      linear("text_decoder.cls.predictions.transform.dense", dec.hiddenSize, dec.hiddenSize)
      norm("text_decoder.cls.predictions.transform.LayerNorm", dec.hiddenSize)
      f(
        "text_decoder.cls.predictions.decoder.weight", [vocab, dec.hiddenSize],
        tied: "text_decoder.bert.embeddings.word_embeddings.weight")
      f("text_decoder.cls.predictions.decoder.bias", [vocab], tied: "text_decoder.cls.predictions.bias")
    }
    // Tagging head.
    for l in 0..<head.numLayers {
      bertLayer(
        "tagging_head.encoder.layer.\(l)", head, selfAttention: false, crossWidth: config.headEncoderWidth, tiedTo: nil)
    }
    let k = config.numClasses
    switch config.architecture {
    case .ramPlus, .ram:
      let l = config.labelEmbeddingDim ?? 512
      f("label_embed", [config.architecture == .ramPlus ? k * (config.descriptionsPerClass ?? 51) : k, l])
      linear("wordvec_proj", l, head.hiddenSize)
      linear("fc", head.hiddenSize, 1)
      linear("image_proj", v.finalWidth, l)
      if config.architecture == .ramPlus { f("reweight_scale", []) }
    case .tag2text:
      f("label_embed.weight", [k, head.hiddenSize])
      f("fc.W", [1, k, head.hiddenSize])
      f("fc.b", [1, k])
    }
    // Tied tensors point at the owner that PyTorch loads last (tagging_head / decoder weight); keep
    // the owner as the untied entry.
    return out
  }
}
