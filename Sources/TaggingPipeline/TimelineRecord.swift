import Foundation
import RecognizeAnything

/// A timeline line that does not match the documented schema.
public enum TimelineDecodingError: Error, Equatable, CustomStringConvertible {
  case notAnObject
  case unknownType(String)
  case badField(record: String, key: String)

  public var description: String {
    switch self {
    case .notAnObject: return "a timeline record must be a JSON object"
    case .unknownType(let t): return "unknown timeline record type '\(t)'"
    case .badField(let r, let k): return "\(r) record: field '\(k)' is missing or has the wrong type"
    }
  }
}

/// What was tagged.
public struct SourceInfo: Sendable, Equatable {
  /// Path, URL or device as given by the user.
  public var uri: String
  /// `file`, `url` or `camera`.
  public var kind: String
  /// Whatever the source knows (duration, fps, width, height, codec, …), in a stable order.
  public var properties: [(String, JSONValue)]

  public init(uri: String, kind: String, properties: [(String, JSONValue)] = []) {
    self.uri = uri
    self.kind = kind
    self.properties = properties
  }

  public static func == (a: SourceInfo, b: SourceInfo) -> Bool { a.json == b.json }

  public var json: JSONValue {
    .object([("uri", .string(uri)), ("kind", .string(kind)), ("properties", .object(properties))])
  }
}

/// A model used in the run.
public struct ModelInfo: Sendable, Equatable {
  /// `tagger` or `captioner`.
  public var role: String
  /// `ram_plus`, `ram` or `tag2text`.
  public var architecture: String
  /// The bundle's name (its directory name).
  public var name: String
  /// The weights file read (`model.safetensors` / `model.pth`).
  public var weights: String
  /// The official checkpoint the bundle declares (`config.json` `checkpoint.file`) and its sha256.
  public var checkpoint: String?
  public var sha256: String?
  public var classes: Int

  public init(
    role: String, architecture: String, name: String, weights: String, checkpoint: String?, sha256: String?,
    classes: Int
  ) {
    self.role = role
    self.architecture = architecture
    self.name = name
    self.weights = weights
    self.checkpoint = checkpoint
    self.sha256 = sha256
    self.classes = classes
  }

  /// Describes a bundle.
  /// The model of a bundle. `sha256` is the weights file's hash as verified when the bundle was
  /// fetched (its `.complete` record), else the hash the config declares for the official checkpoint.
  public init(bundle: ModelBundle, role: String) {
    let weights = URL(fileURLWithPath: bundle.weightsPath).lastPathComponent
    let verified = (try? InstallRecord.read(directory: bundle.directory))??.files[weights]?.sha256
    self.init(
      role: role, architecture: bundle.config.architecture.rawValue, name: bundle.directory.lastPathComponent,
      weights: weights, checkpoint: bundle.config.checkpoint?.file,
      sha256: verified ?? bundle.config.checkpoint?.sha256, classes: bundle.config.numClasses)
  }

  public var json: JSONValue {
    .object([
      ("role", .string(role)), ("architecture", .string(architecture)), ("name", .string(name)),
      ("weights", .string(weights)), ("checkpoint", checkpoint.map { .string($0) } ?? .null),
      ("sha256", sha256.map { .string($0) } ?? .null), ("classes", .int(classes)),
    ])
  }
}

/// The first record of a timeline.
public struct TimelineHeader: Sendable, Equatable {
  public static let formatName = "vtag-timeline"
  public static let formatVersion = 1

  public var vtagVersion: String
  /// ISO 8601 time the run started (nil in reproducible output).
  public var created: String?
  public var source: SourceInfo
  public var models: [ModelInfo]
  public var sampling: SamplingSettings
  public var smoothing: SmoothingSettings
  /// `padding` is the resolved value.
  public var segments: SegmentSettings
  /// The nominal time between samples, when the sampling mode has one.
  public var sampleInterval: Double?
  /// How the run computed (`{"precision": …, "blas": {"core": …, "cpu_features": […], …}}`, see
  /// `ComputeInfo`); written last, only when set.
  public var compute: JSONValue?

  public init(
    vtagVersion: String, created: String? = nil, source: SourceInfo, models: [ModelInfo], sampling: SamplingSettings,
    smoothing: SmoothingSettings, segments: SegmentSettings, sampleInterval: Double?, compute: JSONValue? = nil
  ) {
    self.compute = compute
    self.vtagVersion = vtagVersion
    self.created = created
    self.source = source
    self.models = models
    self.sampling = sampling
    self.smoothing = smoothing
    self.segments = segments
    self.sampleInterval = sampleInterval
  }

  /// The padding the segmenter used.
  public var padding: Double { segments.resolvedPadding(sampleInterval: sampleInterval) }
}

/// One tag of a sampled frame.
public struct FrameTag: Sendable, Equatable {
  public var index: Int
  public var tag: String
  public var tagZh: String?
  /// Smoothed score.
  public var score: Float
  /// The model's score for this frame.
  public var raw: Float

  public init(index: Int, tag: String, tagZh: String?, score: Float, raw: Float) {
    self.index = index
    self.tag = tag
    self.tagZh = tagZh
    self.score = score
    self.raw = raw
  }
}

/// One sampled frame.
public struct FrameRecord: Sendable, Equatable {
  public var t: Double
  /// The decoder's frame index, when known.
  public var frameIndex: Int?
  public var sceneCut: Bool
  /// The active tags after smoothing and hysteresis, ascending class index.
  public var tags: [FrameTag]
  public var caption: String?
  /// Every segment starting before this time appears in an earlier line.
  public var settled: Double

  public init(t: Double, frameIndex: Int?, sceneCut: Bool, tags: [FrameTag], caption: String?, settled: Double) {
    self.t = t
    self.frameIndex = frameIndex
    self.sceneCut = sceneCut
    self.tags = tags
    self.caption = caption
    self.settled = settled
  }
}

/// A tag's total presence.
public struct TagSummary: Sendable, Equatable {
  public var index: Int
  public var tag: String
  public var tagZh: String?
  /// Sum of its segments' durations (seconds).
  public var duration: Double
  public var segments: Int
  /// duration / timeline duration (0…1).
  public var share: Double
  public var scoreMax: Float

  public init(index: Int, tag: String, tagZh: String?, duration: Double, segments: Int, share: Double, scoreMax: Float)
  {
    self.index = index
    self.tag = tag
    self.tagZh = tagZh
    self.duration = duration
    self.segments = segments
    self.share = share
    self.scoreMax = scoreMax
  }
}

/// Counters the runner keeps.
public struct RunCounters: Sendable, Equatable {
  /// Frames decoded by the source (nil when unknown).
  public var framesDecoded: Int?
  /// Frames chosen by the sampler.
  public var framesSampled: Int
  /// Model forward passes run (batches).
  public var forwards: Int
  /// Frames dropped by live back-pressure.
  public var framesDropped: Int

  public init(framesDecoded: Int? = nil, framesSampled: Int = 0, forwards: Int = 0, framesDropped: Int = 0) {
    self.framesDecoded = framesDecoded
    self.framesSampled = framesSampled
    self.forwards = forwards
    self.framesDropped = framesDropped
  }
}

/// The last record of a timeline.
public struct TimelineSummary: Sendable, Equatable {
  /// The timeline's end time (seconds).
  public var duration: Double
  public var counters: RunCounters
  /// Frames with a caption.
  public var captions: Int
  public var segments: Int
  /// True when the run was stopped early (interrupt).
  public var interrupted: Bool
  /// Every tag with a segment, by share of time (descending), then class index.
  public var tags: [TagSummary]

  public init(
    duration: Double, counters: RunCounters, captions: Int, segments: Int, interrupted: Bool, tags: [TagSummary]
  ) {
    self.duration = duration
    self.counters = counters
    self.captions = captions
    self.segments = segments
    self.interrupted = interrupted
    self.tags = tags
  }
}

/// One line of a timeline.
public enum TimelineRecord: Sendable, Equatable {
  case header(TimelineHeader)
  case frame(FrameRecord)
  case segment(TagSegment)
  case summary(TimelineSummary)

  /// `header`, `frame`, `segment` or `summary`.
  public var type: String {
    switch self {
    case .header: return "header"
    case .frame: return "frame"
    case .segment: return "segment"
    case .summary: return "summary"
    }
  }

  /// The record as a JSON object (the `type` key first).
  public var json: JSONValue {
    func zh(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    func time(_ t: Double) -> JSONValue { .double(roundedTime(t)) }
    switch self {
    case .header(let h):
      let compute: [(String, JSONValue)] = h.compute.map { [("compute", $0)] } ?? []
      return .object([
        ("type", .string("header")), ("format", .string(TimelineHeader.formatName)),
        ("format_version", .int(TimelineHeader.formatVersion)), ("vtag", .string(h.vtagVersion)),
        ("created", h.created.map { .string($0) } ?? .null), ("source", h.source.json),
        ("models", .array(h.models.map(\.json))), ("sampling", h.sampling.json), ("smoothing", h.smoothing.json),
        ("segments", h.segments.json(resolvedPadding: h.padding)),
        ("sample_interval", h.sampleInterval.map { time($0) } ?? .null),
      ] + compute)
    case .frame(let f):
      var fields: [(String, JSONValue)] = [
        ("type", .string("frame")), ("t", time(f.t)), ("frame", f.frameIndex.map { .int($0) } ?? .null),
        ("scene_cut", .bool(f.sceneCut)),
        (
          "tags",
          .array(
            f.tags.map {
              .object([
                ("index", .int($0.index)), ("tag", .string($0.tag)), ("tag_zh", zh($0.tagZh)),
                ("score", .float($0.score)),
                ("raw", .float($0.raw)),
              ])
            })
        ),
      ]
      if let c = f.caption { fields.append(("caption", .string(c))) }
      fields.append(("settled", time(f.settled)))
      return .object(fields)
    case .segment(let s):
      return .object([
        ("type", .string("segment")), ("index", .int(s.tagIndex)), ("tag", .string(s.tag)), ("tag_zh", zh(s.tagZh)),
        ("start", time(s.start)), ("end", time(s.end)), ("score_max", .float(s.scoreMax)),
        ("score_mean", .float(s.scoreMean)), ("samples", .int(s.samples)),
      ])
    case .summary(let s):
      return .object([
        ("type", .string("summary")), ("duration", time(s.duration)),
        ("frames_decoded", s.counters.framesDecoded.map { .int($0) } ?? .null),
        ("frames_sampled", .int(s.counters.framesSampled)), ("forwards", .int(s.counters.forwards)),
        ("frames_dropped", .int(s.counters.framesDropped)), ("captions", .int(s.captions)),
        ("segments", .int(s.segments)), ("interrupted", .bool(s.interrupted)),
        (
          "tags",
          .array(
            s.tags.map {
              .object([
                ("index", .int($0.index)), ("tag", .string($0.tag)), ("tag_zh", zh($0.tagZh)),
                ("duration", time($0.duration)), ("segments", .int($0.segments)),
                ("share", .double(($0.share * 1e6).rounded() / 1e6)), ("score_max", .float($0.scoreMax)),
              ])
            })
        ),
      ])
    }
  }

  /// One JSON Lines line (no newline).
  public var jsonLine: String { json.serialized }

  /// Reads a record back from its JSON form.
  public init(json: JSONValue) throws {
    guard json.objectValue != nil else { throw TimelineDecodingError.notAnObject }
    guard let type = json["type"]?.stringValue else { throw TimelineDecodingError.badField(record: "?", key: "type") }
    func need<T>(_ v: T?, _ key: String) throws -> T {
      guard let v else { throw TimelineDecodingError.badField(record: type, key: key) }
      return v
    }
    func optionalString(_ v: JSONValue?, _ key: String) throws -> String? {
      guard let v, !v.isNull else { return nil }
      return try need(v.stringValue, key)
    }
    func float(_ v: JSONValue?, _ key: String) throws -> Float { Float(try need(v?.doubleValue, key)) }
    switch type {
    case "header":
      let source = try need(json["source"], "source")
      let models = try need(json["models"]?.arrayValue, "models").map { m in
        ModelInfo(
          role: try need(m["role"]?.stringValue, "models.role"),
          architecture: try need(m["architecture"]?.stringValue, "models.architecture"),
          name: try need(m["name"]?.stringValue, "models.name"),
          weights: try need(m["weights"]?.stringValue, "models.weights"),
          checkpoint: try optionalString(m["checkpoint"], "models.checkpoint"),
          sha256: try optionalString(m["sha256"], "models.sha256"),
          classes: try need(m["classes"]?.intValue, "models.classes"))
      }
      let seg = try need(json["segments"], "segments")
      self = .header(
        TimelineHeader(
          vtagVersion: try need(json["vtag"]?.stringValue, "vtag"),
          created: try optionalString(json["created"], "created"),
          source: SourceInfo(
            uri: try need(source["uri"]?.stringValue, "source.uri"),
            kind: try need(source["kind"]?.stringValue, "source.kind"),
            properties: try need(source["properties"]?.objectValue, "source.properties")),
          models: models, sampling: try SamplingSettings(json: try need(json["sampling"], "sampling")),
          smoothing: try SmoothingSettings(json: try need(json["smoothing"], "smoothing")),
          segments: SegmentSettings(
            minDuration: try need(seg["min_duration"]?.doubleValue, "segments.min_duration"),
            fillGap: try need(seg["fill_gap"]?.doubleValue, "segments.fill_gap"),
            padding: try need(seg["padding"]?.doubleValue, "segments.padding")),
          sampleInterval: json["sample_interval"]?.doubleValue,
          compute: json["compute"].flatMap { $0.isNull ? nil : $0 }))
    case "frame":
      let tags = try need(json["tags"]?.arrayValue, "tags").map { t in
        FrameTag(
          index: try need(t["index"]?.intValue, "tags.index"), tag: try need(t["tag"]?.stringValue, "tags.tag"),
          tagZh: try optionalString(t["tag_zh"], "tags.tag_zh"), score: try float(t["score"], "tags.score"),
          raw: try float(t["raw"], "tags.raw"))
      }
      self = .frame(
        FrameRecord(
          t: try need(json["t"]?.doubleValue, "t"), frameIndex: json["frame"]?.intValue,
          sceneCut: try need(json["scene_cut"]?.boolValue, "scene_cut"), tags: tags,
          caption: try optionalString(json["caption"], "caption"),
          settled: try need(json["settled"]?.doubleValue, "settled")))
    case "segment":
      self = .segment(
        TagSegment(
          tagIndex: try need(json["index"]?.intValue, "index"), tag: try need(json["tag"]?.stringValue, "tag"),
          tagZh: try optionalString(json["tag_zh"], "tag_zh"), start: try need(json["start"]?.doubleValue, "start"),
          end: try need(json["end"]?.doubleValue, "end"), scoreMax: try float(json["score_max"], "score_max"),
          scoreMean: try float(json["score_mean"], "score_mean"),
          samples: try need(json["samples"]?.intValue, "samples")))
    case "summary":
      let tags = try need(json["tags"]?.arrayValue, "tags").map { t in
        TagSummary(
          index: try need(t["index"]?.intValue, "tags.index"), tag: try need(t["tag"]?.stringValue, "tags.tag"),
          tagZh: try optionalString(t["tag_zh"], "tags.tag_zh"),
          duration: try need(t["duration"]?.doubleValue, "tags.duration"),
          segments: try need(t["segments"]?.intValue, "tags.segments"),
          share: try need(t["share"]?.doubleValue, "tags.share"),
          scoreMax: try float(t["score_max"], "tags.score_max"))
      }
      self = .summary(
        TimelineSummary(
          duration: try need(json["duration"]?.doubleValue, "duration"),
          counters: RunCounters(
            framesDecoded: json["frames_decoded"]?.intValue,
            framesSampled: try need(json["frames_sampled"]?.intValue, "frames_sampled"),
            forwards: try need(json["forwards"]?.intValue, "forwards"),
            framesDropped: try need(json["frames_dropped"]?.intValue, "frames_dropped")),
          captions: try need(json["captions"]?.intValue, "captions"),
          segments: try need(json["segments"]?.intValue, "segments"),
          interrupted: try need(json["interrupted"]?.boolValue, "interrupted"), tags: tags))
    default:
      throw TimelineDecodingError.unknownType(type)
    }
  }

  /// Reads one JSON Lines line.
  public init(jsonLine: String) throws {
    try self.init(json: try JSONValue.parse(jsonLine))
  }
}
