import Foundation
import RecognizeAnything

/// Sampling, smoothing and segment settings together (what a pipeline file's `sampling`,
/// `smoothing` and `segments` sections hold).
public struct TimelineSettings: Sendable, Equatable {
  public var sampling: SamplingSettings
  public var smoothing: SmoothingSettings
  public var segments: SegmentSettings

  public init(
    sampling: SamplingSettings = SamplingSettings(), smoothing: SmoothingSettings = SmoothingSettings(),
    segments: SegmentSettings = SegmentSettings()
  ) {
    self.sampling = sampling
    self.smoothing = smoothing
    self.segments = segments
  }
}

/// The model's output for one sampled frame: what the runner feeds to `TimelineBuilder.add`.
public struct FrameTags: Sendable {
  public var t: Double
  public var frameIndex: Int?
  /// Every class probability, class-index order.
  public var scores: [Float]
  public var caption: String?
  public var isSceneCut: Bool

  public init(t: Double, frameIndex: Int? = nil, scores: [Float], caption: String? = nil, isSceneCut: Bool = false) {
    self.t = t
    self.frameIndex = frameIndex
    self.scores = scores
    self.caption = caption
    self.isSceneCut = isSceneCut
  }

  /// A sampled frame and the model's result for it (scores and Tag2Text caption).
  public init(sample: SampledFrame, result: ImageTags, caption: String? = nil) {
    self.init(
      t: sample.t, frameIndex: sample.index, scores: result.scores, caption: caption ?? result.caption?.caption,
      isSceneCut: sample.isSceneCut)
  }
}

/// Smoother + segmenter + summary in one pure state machine: feed each tagged frame in time order,
/// get the timeline records to write. The runner's whole per-frame job after inference.
public struct TimelineBuilder: Sendable {
  public let settings: TimelineSettings
  public let vocabulary: TagVocabulary
  /// The nominal sample interval (nil for keyframes / all frames).
  public let sampleInterval: Double?
  public private(set) var smoother: Smoother
  public private(set) var segmenter: Segmenter
  private var perTag: [Int: (duration: Double, segments: Int, scoreMax: Float)] = [:]
  private var segmentCount = 0
  private var captionCount = 0
  private var lastT: Double?
  private var finished = false

  /// `thresholds`: per-class on-thresholds (a bundle's `thresholds`, or a global `--threshold`);
  /// `disabled`: classes never reported (Tag2Text's deleted tags); `duration`: the stream's duration
  /// when known (needed by uniform sampling to know its interval).
  public init(
    settings: TimelineSettings = TimelineSettings(), vocabulary: TagVocabulary, thresholds: [Float],
    disabled: Set<Int> = [], duration: Double? = nil
  ) {
    precondition(vocabulary.count == thresholds.count, "one threshold per tag")
    self.settings = settings
    self.vocabulary = vocabulary
    sampleInterval = settings.sampling.nominalInterval(duration: duration)
    smoother = Smoother(settings: settings.smoothing, thresholds: thresholds, disabled: disabled)
    segmenter = Segmenter(settings: settings.segments, sampleInterval: sampleInterval, vocabulary: vocabulary)
  }

  /// A builder for a model bundle's tags and thresholds.
  public init(settings: TimelineSettings = TimelineSettings(), bundle: ModelBundle, duration: Double? = nil) {
    self.init(
      settings: settings, vocabulary: TagVocabulary(bundle: bundle), thresholds: bundle.thresholds,
      disabled: Set(bundle.config.deleteTagIndices ?? []), duration: duration)
  }

  /// The padding the segmenter applies.
  public var padding: Double { segmenter.padding }

  /// The header record for this run.
  public func header(
    vtagVersion: String, created: String? = nil, source: SourceInfo, models: [ModelInfo], compute: JSONValue? = nil
  ) -> TimelineRecord {
    var segments = settings.segments
    segments.padding = padding
    return .header(
      TimelineHeader(
        vtagVersion: vtagVersion, created: created, source: source, models: models, sampling: settings.sampling,
        smoothing: settings.smoothing, segments: segments, sampleInterval: sampleInterval,
        compute: compute))
  }

  private mutating func count(_ segments: [TagSegment]) -> [TimelineRecord] {
    for s in segments {
      var e = perTag[s.tagIndex] ?? (0, 0, 0)
      e.duration += s.duration
      e.segments += 1
      e.scoreMax = max(e.scoreMax, s.scoreMax)
      perTag[s.tagIndex] = e
    }
    segmentCount += segments.count
    return segments.map { .segment($0) }
  }

  /// Feeds one tagged frame. Returns the segments this frame closed, then the frame record.
  public mutating func add(_ frame: FrameTags) -> [TimelineRecord] {
    precondition(!finished, "add after finish")
    let s = smoother.add(t: frame.t, scores: frame.scores, isSceneCut: frame.isSceneCut)
    let out = segmenter.add(t: frame.t, active: s.active, scores: s.smoothed, isSceneCut: frame.isSceneCut)
    lastT = frame.t
    let caption = frame.caption.flatMap { $0.isEmpty ? nil : $0 }
    if caption != nil { captionCount += 1 }
    var records = count(out.closed)
    let tags = s.active.map {
      FrameTag(
        index: $0, tag: vocabulary.tags[$0], tagZh: vocabulary.chinese($0), score: s.smoothed[$0], raw: s.raw[$0])
    }
    records.append(
      .frame(
        FrameRecord(
          t: frame.t, frameIndex: frame.frameIndex, sceneCut: frame.isSceneCut, tags: tags, caption: caption,
          settled: out.settledUntil)))
    return records
  }

  /// Ends the timeline: the segments still open, then the summary. `streamEnd`: the stream's duration
  /// (or the time of the last decoded frame) when known — it bounds the last segments' padding.
  public mutating func finish(streamEnd: Double? = nil, counters: RunCounters, interrupted: Bool = false)
    -> [TimelineRecord]
  {
    precondition(!finished, "finish called twice")
    finished = true
    let end = max(segmenter.timelineEnd(streamEnd: streamEnd), lastT ?? 0)
    var records = count(segmenter.finish(streamEnd: end))
    let tags = perTag.map { index, e in
      TagSummary(
        index: index, tag: vocabulary.tags[index], tagZh: vocabulary.chinese(index), duration: roundedTime(e.duration),
        segments: e.segments, share: end > 0 ? min(1, e.duration / end) : 0, scoreMax: e.scoreMax)
    }.sorted { ($1.duration, $0.index) < ($0.duration, $1.index) }
    records.append(
      .summary(
        TimelineSummary(
          duration: roundedTime(end), counters: counters, captions: captionCount, segments: segmentCount,
          interrupted: interrupted, tags: tags)))
    return records
  }
}
