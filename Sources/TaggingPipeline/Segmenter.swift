import Foundation
import RecognizeAnything

/// Tag names by class index.
public struct TagVocabulary: Sendable, Equatable {
  public var tags: [String]
  /// Chinese names (trailing spaces removed), when the bundle has them.
  public var tagsChinese: [String]?

  public init(tags: [String], tagsChinese: [String]? = nil) {
    precondition(tagsChinese == nil || tagsChinese!.count == tags.count, "Chinese names must match the tags")
    self.tags = tags
    self.tagsChinese = tagsChinese?.map { $0.trimmingCharacters(in: .whitespaces) }
  }

  /// The names of a model bundle.
  public init(bundle: ModelBundle) {
    self.init(tags: bundle.tags, tagsChinese: bundle.tagsChinese)
  }

  public var count: Int { tags.count }
  public func chinese(_ index: Int) -> String? { tagsChinese?[index] }
}

/// A time span during which one tag was present.
public struct TagSegment: Sendable, Equatable {
  public var tagIndex: Int
  public var tag: String
  public var tagZh: String?
  /// Seconds (padded, clamped to the shot and the stream).
  public var start: Double
  public var end: Double
  /// Highest and mean smoothed score over the active samples in the segment.
  public var scoreMax: Float
  public var scoreMean: Float
  /// Number of active samples in the segment.
  public var samples: Int

  public init(
    tagIndex: Int, tag: String, tagZh: String?, start: Double, end: Double, scoreMax: Float, scoreMean: Float,
    samples: Int
  ) {
    self.tagIndex = tagIndex
    self.tag = tag
    self.tagZh = tagZh
    self.start = start
    self.end = end
    self.scoreMax = scoreMax
    self.scoreMean = scoreMean
    self.samples = samples
  }

  public var duration: Double { end - start }
}

/// What the segmenter says after each sample.
public struct SegmenterOutput: Sendable, Equatable {
  /// Segments closed by this sample, ordered by start then class index. Segments shorter than the
  /// minimum duration are not reported.
  public var closed: [TagSegment]
  /// Every segment starting before this time has now been reported (monotonic). Sinks that must write
  /// in start order (WebVTT) may write everything before it.
  public var settledUntil: Double
}

/// Turns per-sample active-tag sets into tag segments, streaming. Each run of consecutive active
/// samples from t_a to t_b becomes [t_a − padding, t_b + padding], clamped to the current shot
/// (start ≥ the last scene cut, or ≥ 0; end ≤ the next scene cut or the stream end); runs of a tag
/// in the same shot whose gap is at most `fillGap` are merged; a merged segment shorter than
/// `minDuration` is dropped. A segment is reported as soon as no later sample can extend it.
public struct Segmenter: Sendable {
  public let settings: SegmentSettings
  public let padding: Double
  public let vocabulary: TagVocabulary

  struct Open: Sendable {
    var start: Double
    var lastActive: Double
    var scoreMax: Float
    var scoreSum: Double
    var samples: Int
  }

  private var open: [Int: Open] = [:]
  private var shotStart: Double = 0
  private var lastT: Double?
  private var watermark: Double = -.infinity
  /// Segments dropped for being shorter than the minimum duration.
  public private(set) var droppedShort = 0
  static let epsilon = 1e-6

  /// `sampleInterval`: the nominal time between samples (padding defaults to half of it).
  public init(settings: SegmentSettings = SegmentSettings(), sampleInterval: Double?, vocabulary: TagVocabulary) {
    self.settings = settings
    padding = max(0, settings.resolvedPadding(sampleInterval: sampleInterval))
    self.vocabulary = vocabulary
  }

  private mutating func close(_ index: Int, upperBound: Double) -> TagSegment? {
    guard let o = open.removeValue(forKey: index) else { return nil }
    let end = max(o.lastActive, min(o.lastActive + padding, upperBound))
    let segment = TagSegment(
      tagIndex: index, tag: vocabulary.tags[index], tagZh: vocabulary.chinese(index), start: roundedTime(o.start),
      end: roundedTime(end), scoreMax: o.scoreMax, scoreMean: Float(o.scoreSum / Double(o.samples)), samples: o.samples)
    if segment.duration + Self.epsilon < settings.minDuration {
      droppedShort += 1
      return nil
    }
    return segment
  }

  private static func ordered(_ segments: [TagSegment]) -> [TagSegment] {
    segments.sorted { ($0.start, $0.tagIndex) < ($1.start, $1.tagIndex) }
  }

  private mutating func settle(now t: Double) -> Double {
    let candidate = open.values.map(\.start).min().map { min($0, t - padding) } ?? (t - padding)
    watermark = max(watermark, roundedTime(max(0, candidate)))
    return watermark
  }

  /// Feeds one sample: its time, active classes, smoothed scores (class-index order; only the active
  /// classes' entries are read) and whether it starts a new shot. Times must not decrease.
  public mutating func add(t: Double, active: [Int], scores: [Float], isSceneCut: Bool = false) -> SegmenterOutput {
    if let lastT { precondition(t >= lastT, "samples must come in time order (\(t) after \(lastT))") }
    let previousT = lastT
    lastT = t
    var closed: [TagSegment] = []
    if isSceneCut {
      for index in open.keys.sorted() { if let s = close(index, upperBound: t) { closed.append(s) } }
      shotStart = t
    }
    let activeSet = Set(active)
    for index in active {
      let start = max(t - padding, shotStart, 0)
      let score = scores[index]
      if var o = open[index] {
        // Consecutive active samples always continue a run; otherwise merge across a short gap.
        if o.lastActive == previousT || start - (o.lastActive + padding) <= settings.fillGap + Self.epsilon {
          o.lastActive = t
          o.scoreMax = max(o.scoreMax, score)
          o.scoreSum += Double(score)
          o.samples += 1
          open[index] = o
          continue
        }
        if let s = close(index, upperBound: .infinity) { closed.append(s) }
      }
      open[index] = Open(start: start, lastActive: t, scoreMax: score, scoreSum: Double(score), samples: 1)
    }
    for (index, o) in open where !activeSet.contains(index) {
      // No later run (starting after t − padding) can come within fillGap of this one: close it.
      if (t - padding) - (o.lastActive + padding) >= settings.fillGap - Self.epsilon {
        if let s = close(index, upperBound: .infinity) { closed.append(s) }
      }
    }
    return SegmenterOutput(closed: Self.ordered(closed), settledUntil: settle(now: t))
  }

  /// Closes every open segment at the end of the stream. `streamEnd` (when known) bounds the padding.
  public mutating func finish(streamEnd: Double? = nil) -> [TagSegment] {
    var closed: [TagSegment] = []
    for index in open.keys.sorted() {
      if let s = close(index, upperBound: streamEnd ?? .infinity) { closed.append(s) }
    }
    watermark = .infinity
    return Self.ordered(closed)
  }

  /// The end of the timeline: `streamEnd`, else the last sample time plus the padding.
  public func timelineEnd(streamEnd: Double?) -> Double {
    if let streamEnd { return streamEnd }
    return (lastT ?? 0) + padding
  }
}
