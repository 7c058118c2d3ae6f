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

  /// Opens the bundle at `directory` and loads its weights.
  public convenience init(directory: URL) throws {
    try self.init(bundle: ModelBundle(directory: directory))
  }

  public init(bundle: ModelBundle) throws {
    self.bundle = bundle
    let archive = try openTensorArchive(path: bundle.weightsPath)
    store = WeightStore(archive: archive)
    tagging = try TaggingModel(config: bundle.config, weights: store)
    deletedIndices = Set(bundle.config.deleteTagIndices ?? [])
  }

  public var architecture: Architecture { bundle.config.architecture }
  /// Input side length (384).
  public var imageSize: Int { bundle.config.imageSize }

  /// Tags `batch` preprocessed images `[B, 3, S, S]`.
  public func tag(pixels: UnsafePointer<Float>, batch: Int, keepIntermediates: Bool = false) -> [ImageTags] {
    tagging.forward(pixels: pixels, batch: batch, keepIntermediates: keepIntermediates).map {
      decide($0)
    }
  }

  /// Applies thresholds (strict `>`) and deletions to a forward output.
  public func decide(_ output: TaggingOutput) -> ImageTags {
    var hits: [TagHit] = []
    for (i, p) in output.probs.enumerated() where p > bundle.thresholds[i] && !deletedIndices.contains(i) {
      hits.append(TagHit(index: i, tag: bundle.tags[i], tagZh: bundle.tagsChinese?[i], score: p))
    }
    return ImageTags(tags: hits, scores: output.probs, intermediates: output.intermediates)
  }
}
