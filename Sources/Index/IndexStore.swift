import Foundation
import TaggingPipeline

/// A caption cue as indexed: what the captions track shows from `start` to `end`.
public struct IndexedCue: Sendable, Equatable {
  public var start: Double
  public var end: Double
  public var text: String
  public init(start: Double, end: Double, text: String) {
    self.start = start
    self.end = end
    self.text = text
  }
}

/// Everything the index keeps of one timeline.
public struct IndexedTimeline: Sendable {
  /// The source URI from the header (the video's identity in the index).
  public var uri: String
  /// An absolute path of the media file when it was found on disk (for clips), else nil.
  public var mediaPath: String?
  /// The JSON Lines file it was read from (nil for a live sink without one).
  public var timelinePath: String?
  /// SHA-256 of the timeline file's bytes (for a live sink: a run id).
  public var contentHash: String
  /// The timeline's duration: the summary's, else the last record's time.
  public var duration: Double
  /// True without a summary record (interrupted run, or a file cut off).
  public var incomplete: Bool
  /// True when the summary says the run was interrupted.
  public var interrupted: Bool
  /// The header and summary records as JSON lines.
  public var headerJSON: String
  public var summaryJSON: String?
  /// `architecture:name` of each model in the header.
  public var models: [String]
  public var segments: [TagSegment]
  public var cues: [IndexedCue]

  public init(
    uri: String, mediaPath: String?, timelinePath: String?, contentHash: String, duration: Double, incomplete: Bool,
    interrupted: Bool, headerJSON: String, summaryJSON: String?, models: [String], segments: [TagSegment],
    cues: [IndexedCue]
  ) {
    self.uri = uri
    self.mediaPath = mediaPath
    self.timelinePath = timelinePath
    self.contentHash = contentHash
    self.duration = duration
    self.incomplete = incomplete
    self.interrupted = interrupted
    self.headerJSON = headerJSON
    self.summaryJSON = summaryJSON
    self.models = models
    self.segments = segments
    self.cues = cues
  }
}

/// What `add` did.
public enum AddOutcome: String, Sendable, Equatable {
  /// A new video.
  case added
  /// The same source with the same content hash was already indexed.
  case unchanged
  /// The source was indexed from different content; the old entry was replaced.
  case replaced
}

/// A video in the index, as listed.
public struct VideoEntry: Sendable, Equatable {
  public var id: Int64
  public var uri: String
  public var mediaPath: String?
  public var timelinePath: String?
  public var contentHash: String
  public var duration: Double
  public var incomplete: Bool
  public var interrupted: Bool
  /// True while a live sink is still adding to it.
  public var live: Bool
  public var models: [String]
  public var segments: Int
  public var cues: Int
  /// ISO 8601 time it was added.
  public var added: String
}

/// A tag name the index knows.
public struct KnownTag: Sendable, Equatable {
  public var id: Int64
  public var name: String
  public var nameZh: String?
}

/// A video reference for evaluation: id, URI, duration.
public struct VideoRef: Sendable, Equatable {
  public var id: Int64
  public var uri: String
  public var mediaPath: String?
  public var duration: Double
}

/// A segment row fetched for evaluation.
public struct SegmentRow: Sendable, Equatable {
  public var tagID: Int64
  public var start: Double
  public var end: Double
  public var scoreMax: Double
}

/// A caption cue matched by a caption query; `rank` is higher for better matches (SQLite: −bm25).
public struct CueHit: Sendable, Equatable {
  public var start: Double
  public var end: Double
  public var rank: Double
}

/// A storage backend of the index. The query language, evaluation and results are the backend's
/// business only through these primitives, so every backend gives the same answers (caption matching
/// aside, which is the backend's full-text engine). Implementations are thread-safe.
public protocol TimelineIndex: AnyObject, Sendable {
  /// Adds a timeline (replacing an older entry of the same source URI unless the content hash is equal).
  func add(_ timeline: IndexedTimeline) throws -> AddOutcome
  /// Every video, by URI.
  func list() throws -> [VideoEntry]
  /// Removes the videos whose URI or timeline path is one of `keys`; returns the URIs removed.
  func remove(_ keys: [String]) throws -> [String]
  /// Reclaims free space.
  func vacuum() throws

  /// Starts a live entry (replacing any entry of the same URI): segments and cues come later.
  func beginLive(_ timeline: IndexedTimeline) throws -> Int64
  /// Adds closed segments and cues to a live entry and moves its duration on.
  func appendLive(video: Int64, segments: [TagSegment], cues: [IndexedCue], duration: Double) throws
  /// Ends a live entry with its summary (nil when the run ended without one).
  func finishLive(video: Int64, summaryJSON: String?, duration: Double, interrupted: Bool) throws

  /// Every tag name that has a segment.
  func knownTags() throws -> [KnownTag]
  /// Every video, by URI.
  func videoRefs() throws -> [VideoRef]
  /// The videos with a segment of any of the tags.
  func videos(withAnyTag tags: [Int64]) throws -> Set<Int64>
  /// The segments of `tags` in `videos`, grouped by video.
  func segments(tags: [Int64], videos: [Int64]) throws -> [Int64: [SegmentRow]]
  /// The videos with a cue matching the caption query; throws ``QuerySyntaxError``-like errors for bad ones.
  func captionVideos(_ query: String) throws -> Set<Int64>
  /// The cues matching the caption query in `videos`, grouped by video.
  func captionHits(_ query: String, videos: [Int64]) throws -> [Int64: [CueHit]]
  /// For each `(video, start, end)`: the English names of the tags with a segment overlapping
  /// `[start, end)` (alphabetical) and the texts of the caption cues overlapping it (time order).
  func context(_ spans: [(video: Int64, start: Double, end: Double)]) throws -> [(tags: [String], captions: [String])]
}
