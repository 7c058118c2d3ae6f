import Checkpoints
import Foundation
import ImageCore
import TensorCore

/// One recognised tag.
public struct TagHit: Sendable, Equatable, Codable {
  /// Class index (line number in `tags.txt`, 0-based).
  public var index: Int
  public var tag: String
  /// Chinese name (trailing spaces kept), when the bundle has `tags_zh.txt`.
  public var tagZh: String?
  public var score: Float

  public init(index: Int, tag: String, tagZh: String?, score: Float) {
    self.index = index
    self.tag = tag
    self.tagZh = tagZh
    self.score = score
  }
}

/// The result of tagging one image.
public struct ImageTags: Sendable {
  /// Tags whose probability is strictly above the class threshold, in class-index order.
  public var tags: [TagHit]
  /// Every class probability in class-index order.
  public var scores: [Float]
  /// Intermediate tensors when requested.
  public var intermediates: [String: [Float]]
  /// Tag2Text: the caption (guided by the predicted tags, or by the user's tags when given).
  public var caption: CaptionResult?
  /// Tag2Text specified-tags mode: the user's tag text as the caption's guide.
  public var specifiedTags: String?

  /// English names joined with `" | "` (the reference's output string).
  public var tagString: String { tags.map(\.tag).joined(separator: " | ") }
  /// Chinese names joined with `" | "`, if available.
  public var tagStringChinese: String? {
    tags.allSatisfy { $0.tagZh != nil } ? tags.map { $0.tagZh! }.joined(separator: " | ") : nil
  }
}

/// A loaded Recognize Anything model (RAM++, RAM or the tagging branch of Tag2Text): bundle data,
/// weights and the forward pass. Not thread-safe: run it from the one thread that owns OpenBLAS.
public final class RecognizeAnythingModel: @unchecked Sendable {
  public let bundle: ModelBundle
  public let store: WeightStore
  public let tagging: TaggingModel
  /// Classes never reported (Tag2Text's `delete_tag_indices`).
  public let deletedIndices: Set<Int>
  /// Tag2Text's caption generator (nil for RAM/RAM++, or when captions were not requested).
  public let captioner: Tag2TextCaptioner?
  /// The precision of the large products (`fp32` or `bf16`; never `auto`).
  public let precision: Precision

  /// Opens the bundle at `directory` and loads its weights.
  public convenience init(directory: URL, captions: Bool = true, precision: Precision = .fp32) throws {
    try self.init(bundle: ModelBundle(directory: directory), captions: captions, precision: precision)
  }

  /// Loads the bundle's weights. A Tag2Text bundle also loads its captioner unless `captions` is false.
  /// `precision` sets the large products' number format (`bf16` packs the weights once, here; it
  /// throws `PrecisionError` on a CPU without bf16 instructions; `auto` resolves as `Precision.resolved`).
  public init(bundle: ModelBundle, captions: Bool = true, precision: Precision = .fp32) throws {
    self.bundle = bundle
    let archive = try openTensorArchive(path: bundle.weightsPath)
    self.precision = try precision.resolved()
    store = WeightStore(archive: archive, precision: self.precision)
    tagging = try TaggingModel(config: bundle.config, weights: store)
    deletedIndices = Set(bundle.config.deleteTagIndices ?? [])
    captioner =
      bundle.config.architecture == .tag2text && captions ? try Tag2TextCaptioner(bundle: bundle, weights: store) : nil
  }

  public var architecture: Architecture { bundle.config.architecture }
  /// Input side length (384).
  public var imageSize: Int { bundle.config.imageSize }

  /// Tags `batch` preprocessed images `[B, 3, S, S]`; a Tag2Text model also captions them, guided by
  /// the predicted tags or, when `specifiedTags` is given, by those (commas become `" | "`).
  ///
  /// With `classes`, only those classes are scored (exactly as in a full run); the others get NaN scores
  /// and are never reported. `captionImages` limits captioning to those images of the batch (all when nil).
  public func tag(
    pixels: UnsafePointer<Float>, batch: Int, keepIntermediates: Bool = false, specifiedTags: String? = nil,
    classes: [Int]? = nil,
    captionImages: Set<Int>? = nil
  ) throws -> [ImageTags] {
    let embeds = tagging.imageEmbeddings(pixels: pixels, batch: batch)
    var results = tagging.tag(
      imageEmbeddings: embeds, batch: batch, keepIntermediates: keepIntermediates, classes: classes
    ).map { decide($0) }
    if let captioner {
      let t = tagging.swin.outputTokens
      let c = tagging.swin.outputWidth
      for b in 0..<batch where captionImages?.contains(b) ?? true {
        let guide = specifiedTags.map(Tag2TextCaptioner.specifiedTagText) ?? results[b].tagString
        let caption = try captioner.caption(
          imageEmbeddings: embeds.data + b * t * c, tokens: t, tagText: guide, keepIntermediates: keepIntermediates)
        for (k, v) in caption.intermediates { results[b].intermediates[k] = v }
        results[b].caption = caption
        results[b].specifiedTags = specifiedTags
      }
    }
    return results
  }

  /// Class indices for tag names (every index of a duplicated name); an unknown name is an error.
  public func classIndices(forTags names: [String]) throws -> [Int] {
    var byName: [String: [Int]] = [:]
    for (i, t) in bundle.tags.enumerated() { byName[t, default: []].append(i) }
    var out: [Int] = []
    for name in names {
      guard let idx = byName[name] else {
        throw BundleError.badTagList(
          path: bundle.directory.appendingPathComponent("tags.txt").path, detail: "has no tag named '\(name)'")
      }
      out += idx
    }
    return Array(Set(out)).sorted()
  }

  /// Applies thresholds (strict `>`) and deletions to a forward output.
  public func decide(_ output: TaggingOutput) -> ImageTags {
    var hits: [TagHit] = []
    for (i, p) in output.probs.enumerated() where p > bundle.thresholds[i] && !deletedIndices.contains(i) {
      hits.append(TagHit(index: i, tag: bundle.tags[i], tagZh: bundle.tagsChinese?[i], score: p))
    }
    return ImageTags(
      tags: hits, scores: output.probs, intermediates: output.intermediates, caption: nil, specifiedTags: nil)
  }
}
