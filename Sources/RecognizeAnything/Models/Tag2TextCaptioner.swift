import Foundation
import TensorCore

/// A Tag2Text caption and how it was made.
public struct CaptionResult: Sendable {
  /// The caption with the prompt removed (the reference's `decoded[len(prompt):]`).
  public var caption: String
  /// The full `generate()` output: prefix, generated ids, and 102 when the beam ended with EOS.
  public var tokenIDs: [Int]
  /// The decoded text before the prompt is cut off.
  public var decodedFull: String
  /// The tag text that guided the caption, and its 40 encoder ids / attention mask.
  public var tagInput: String
  public var tagInputIDs: [Int]
  public var tagAttentionMask: [Int]
  /// Parity tensors when requested: `tag_encoder_hidden` `[40, hidden]`, `decoder_step0_logits` `[vocab]`.
  public var intermediates: [String: [Float]] = [:]
}

/// Problems specific to captioning bundles.
public enum CaptionError: Error, Equatable, CustomStringConvertible {
  case notTag2Text(architecture: String)
  case missingCaptionConfig(path: String, field: String)
  case vocabularyMismatch(path: String, vocabLines: Int, modelVocab: Int)

  public var description: String {
    switch self {
    case .notTag2Text(let a): "captions need a Tag2Text bundle; this one is '\(a)'"
    case .missingCaptionConfig(let path, let field):
      "\(path): captioning needs the '\(field)' section in config.json (Tag2Text: caption{prompt, num_beams, max_length, min_length}, tag_encoder, text_decoder, vocab_size)"
    case .vocabularyMismatch(let path, let lines, let model):
      "\(path) has \(lines) tokens (+ [DEC], [ENC] = \(lines + 2)), but the checkpoint's vocabulary has \(model); use the bert-base-uncased vocab.txt (30522 lines)"
    }
  }
}

/// Tag2Text captioning (`Tag2Text.generate`): tag text → 40 tokens with [ENC] first → tag encoder
/// over the image tokens → BERT decoder with beam search from `[DEC] a picture of`.
/// The tag encoder runs once per image and the decoder's cross-attention keys/values are computed
/// once per image and shared by all beams (the reference recomputes both per beam).
public final class Tag2TextCaptioner: @unchecked Sendable {
  public let tokenizer: BertTokenizer
  public let tagEncoder: TagEncoder
  public let decoder: TextDecoder
  public let caption: ModelConfig.Caption
  public let beamSearch: BeamSearch
  let prefix: [Int]

  public init(bundle: ModelBundle, weights store: WeightStore) throws {
    let config = bundle.config
    let configPath = bundle.directory.appendingPathComponent("config.json").path
    guard config.architecture == .tag2text else {
      throw CaptionError.notTag2Text(architecture: config.architecture.rawValue)
    }
    guard let caption = config.caption else {
      throw CaptionError.missingCaptionConfig(path: configPath, field: "caption")
    }
    guard let enc = config.tagEncoder else {
      throw CaptionError.missingCaptionConfig(path: configPath, field: "tag_encoder")
    }
    guard let dec = config.textDecoder else {
      throw CaptionError.missingCaptionConfig(path: configPath, field: "text_decoder")
    }
    guard let vocabPath = bundle.vocabPath else {
      throw BundleError.missingFile(
        path: bundle.directory.appendingPathComponent(config.files?["vocab"] ?? "vocab.txt").path,
        what: "the bert-base-uncased vocabulary (vocab.txt, 30522 lines) that Tag2Text captions need")
    }
    let tokenizer = try BertTokenizer(vocabPath: vocabPath)
    let root = WeightScope(store: store, prefix: "")
    let modelVocab = try store.shape("text_decoder.bert.embeddings.word_embeddings.weight").first ?? 0
    let vocab = config.vocabSize ?? modelVocab
    if tokenizer.vocabularySize != vocab || vocab != modelVocab {
      throw CaptionError.vocabularyMismatch(
        path: vocabPath, vocabLines: tokenizer.vocabularySize - 2, modelVocab: modelVocab)
    }
    self.tokenizer = tokenizer
    self.caption = caption
    tagEncoder = try TagEncoder(
      root.scope("tag_encoder"), head: root.scope("tagging_head"), config: enc, vocab: vocab,
      imageWidth: enc.encoderWidth ?? config.vision.finalWidth, tiedLayers: min(2, config.taggingHead.numLayers))
    decoder = try TextDecoder(root.scope("text_decoder"), config: dec, vocab: vocab)
    var prefix = tokenizer.encode(caption.prompt)
    prefix[0] = tokenizer.decoderStartTokenID
    prefix.removeLast()
    self.prefix = prefix
    beamSearch = BeamSearch(
      configuration: BeamSearchConfiguration(
        numBeams: caption.numBeams, maxLength: caption.maxLength, minLength: caption.minLength,
        eosTokenID: tokenizer.sepTokenID))
  }

  /// Captions one image from its Swin embeddings `[T, C]`, guided by `tagText`.
  public func caption(
    imageEmbeddings image: UnsafePointer<Float>, tokens: Int, tagText: String, keepIntermediates: Bool = false
  ) throws -> CaptionResult {
    let (ids, mask) = tokenizer.encodeTagInput(tagText, maxLength: 40)
    let encoded = tagEncoder.encode(ids: ids, mask: mask, image: image, imageTokens: tokens)
    let cross = decoder.crossCache(encoderOutput: encoded)
    let beams = beamSearch.configuration.numBeams
    var caches: [TextDecoder.BeamCache] = []
    var step0: [Float] = []
    let result = try beamSearch.generate(prefix: prefix) { step in
      if step.index == 0 {
        var first = [decoder.emptyCache()]
        let logits = decoder.step(tokens: [step.sequences[0]], caches: &first, cross: cross)
        step0 = logits[0]
        caches = Array(repeating: first[0], count: beams)
        return Array(repeating: logits[0], count: beams)
      }
      caches = step.parentBeams.map { caches[$0] }
      return decoder.step(tokens: step.lastTokens.map { [$0] }, caches: &caches, cross: cross)
    }
    let decoded = tokenizer.decode(result.tokens)
    let captionText = String(
      String.UnicodeScalarView(decoded.unicodeScalars.dropFirst(caption.prompt.unicodeScalars.count)))
    var out = CaptionResult(
      caption: captionText, tokenIDs: result.tokens, decodedFull: decoded, tagInput: tagText, tagInputIDs: ids,
      tagAttentionMask: mask)
    if keepIntermediates {
      out.intermediates["tag_encoder_hidden"] = encoded.array
      out.intermediates["decoder_step0_logits"] = step0
    }
    return out
  }

  /// The reference's specified-tags text: every `,` becomes `" | "` (no trimming).
  public static func specifiedTagText(_ userTags: String) -> String {
    userTags.replacingOccurrences(of: ",", with: " | ")
  }
}
