import Foundation
import TaggingPipeline

/// A timeline sink that adds records to the index as they are written, so a running (live) timeline
/// is searchable: a segment is searchable once its record is written (it has closed), caption cues
/// once the next caption (or 10 s) ends them, and `!A` covers the time sampled so far.
/// Writes are committed at each frame record (at most once a sample) and at the end.
public final class IndexSink: TimelineSink, @unchecked Sendable {
  private let lock = NSLock()
  private let index: any TimelineIndex
  private var video: Int64?
  private var header: TimelineHeader?
  private var segments: [TagSegment] = []
  private var cues: [IndexedCue] = []
  private var cueBuilder = CaptionCueBuilder(maxDuration: TimelineFile.maxCueDuration)
  private var duration = 0.0
  private var summary: TimelineSummary?
  private var finished = false
  private let timelinePath: String?

  /// - Parameter timelinePath: the JSON Lines file written beside it, if any (shown by `vtag index list`).
  public init(index: any TimelineIndex, timelinePath: String? = nil) {
    self.index = index
    self.timelinePath = timelinePath
  }

  public var name: String { (index as? SQLiteIndex)?.path ?? "index" }

  public func write(_ record: TimelineRecord) throws {
    try lock.withLock {
      guard !finished else { return }
      cues += cueBuilder.consume(record).map { IndexedCue(start: $0.start, end: $0.end, text: $0.text) }
      switch record {
      case .header(let h):
        header = h
        var t = try TimelineFile.build(records: [record], path: timelinePath, hash: "live-" + UUID().uuidString)
        t.mediaPath = TimelineFile.locateMedia(uri: h.source.uri, timelinePath: timelinePath)
        video = try index.beginLive(t)
      case .segment(let s):
        segments.append(s)
        duration = max(duration, s.end)
      case .frame(let f):
        duration = max(duration, f.t + (header?.padding ?? 0))
        try flush()
      case .summary(let s):
        summary = s
        duration = s.duration
      }
    }
  }

  private func flush() throws {
    guard let v = video else { return }
    try index.appendLive(video: v, segments: segments, cues: cues, duration: duration)
    segments.removeAll()
    cues.removeAll()
  }

  public func finish() throws {
    try lock.withLock {
      guard !finished else { return }
      finished = true
      cues += cueBuilder.finish().map { IndexedCue(start: $0.start, end: $0.end, text: $0.text) }
      try flush()
      guard let v = video else { return }
      try index.finishLive(
        video: v, summaryJSON: summary.map { TimelineRecord.summary($0).jsonLine }, duration: duration,
        interrupted: summary?.interrupted ?? true)
    }
  }
}
