import Foundation

/// Rounds a time in seconds to whole microseconds, so that `2.5 + 1e-16` prints as `2.5`.
@inlinable
public func roundedTime(_ t: Double) -> Double { (t * 1_000_000).rounded() / 1_000_000 }

/// Which frames of a stream are tagged.
public enum SamplingMode: Sendable, Equatable {
  /// The frame nearest to each multiple of `seconds` (0, s, 2s, …). Default: every 1 s.
  case every(seconds: Double)
  /// `count` frames spread uniformly over a stream of known duration: the frames nearest to the
  /// centres of `count` equal slices, `(k + 0.5) · duration / count` for k = 0 … count − 1.
  case uniform(count: Int)
  /// Every key frame (I-frame) and nothing else.
  case keyframes
  /// Every frame.
  case allFrames
}

/// How scene cuts are measured on downscaled thumbnails.
public enum SceneMetric: String, Sendable, Equatable, CaseIterable {
  /// Mean absolute difference of corresponding thumbnail samples, on the 0–255 scale.
  case meanAbsoluteDifference = "mad"
  /// Half the L1 distance between normalised 32-bin histograms of each channel, averaged over channels:
  /// 0 (same distribution) … 1 (disjoint).
  case histogram = "histogram"
}

/// Sampling settings: what `--every`, `--frames`, `--keyframes` and `--scene-threshold` set.
public struct SamplingSettings: Sendable, Equatable {
  public var mode: SamplingMode
  /// Extra samples at scene cuts when set (`--scene-threshold X`), on the `sceneMetric` scale.
  public var sceneThreshold: Double?
  public var sceneMetric: SceneMetric
  /// A cut is not reported within this many seconds of the previous one (flashes, strobes).
  public var minSceneDuration: Double

  /// Defaults: one frame per second, no scene detection; MAD metric and 0.5 s minimum scene when enabled.
  public init(
    mode: SamplingMode = .every(seconds: 1), sceneThreshold: Double? = nil,
    sceneMetric: SceneMetric = .meanAbsoluteDifference, minSceneDuration: Double = 0.5
  ) {
    self.mode = mode
    self.sceneThreshold = sceneThreshold
    self.sceneMetric = sceneMetric
    self.minSceneDuration = minSceneDuration
  }

  /// The default scene threshold for a metric (used when scene detection is switched on without a value).
  public static func defaultSceneThreshold(for metric: SceneMetric) -> Double {
    switch metric {
    case .meanAbsoluteDifference: return 30
    case .histogram: return 0.4
    }
  }

  /// The nominal time between two samples, when the mode fixes one: `every` → its period, `uniform` →
  /// duration / count (needs the duration); nil for keyframes and all frames (they depend on the stream).
  public func nominalInterval(duration: Double?) -> Double? {
    switch mode {
    case .every(let s): return s
    case .uniform(let n): return duration.map { $0 / Double(max(n, 1)) }
    case .keyframes, .allFrames: return nil
    }
  }

  public var json: JSONValue {
    var f: [(String, JSONValue)] = []
    switch mode {
    case .every(let s): f += [("mode", .string("every")), ("every", .double(s))]
    case .uniform(let n): f += [("mode", .string("uniform")), ("frames", .int(n))]
    case .keyframes: f += [("mode", .string("keyframes"))]
    case .allFrames: f += [("mode", .string("all"))]
    }
    f.append(("scene_threshold", sceneThreshold.map { .double($0) } ?? .null))
    f.append(("scene_metric", .string(sceneMetric.rawValue)))
    f.append(("min_scene_duration", .double(minSceneDuration)))
    return .object(f)
  }

  public init(json: JSONValue) throws {
    func need<T>(_ v: T?, _ key: String) throws -> T {
      guard let v else { throw TimelineDecodingError.badField(record: "header.sampling", key: key) }
      return v
    }
    switch try need(json["mode"]?.stringValue, "mode") {
    case "every": mode = .every(seconds: try need(json["every"]?.doubleValue, "every"))
    case "uniform": mode = .uniform(count: try need(json["frames"]?.intValue, "frames"))
    case "keyframes": mode = .keyframes
    case "all": mode = .allFrames
    default: throw TimelineDecodingError.badField(record: "header.sampling", key: "mode")
    }
    sceneThreshold = json["scene_threshold"]?.doubleValue
    sceneMetric = try need(json["scene_metric"]?.stringValue.flatMap(SceneMetric.init(rawValue:)), "scene_metric")
    minSceneDuration = try need(json["min_scene_duration"]?.doubleValue, "min_scene_duration")
  }
}

/// Per-tag score smoothing.
public enum SmoothingMethod: Sendable, Equatable {
  /// No smoothing: the raw scores.
  case none
  /// Exponential moving average `s = α·x + (1 − α)·s_prev`, started at the first sample after a reset.
  case ema(alpha: Float)
  /// Median of the last `window` samples (fewer just after a reset; the mean of the two middle
  /// values when the count is even).
  case median(window: Int)
}

/// Smoothing settings (`--smooth ema|median|none`, `--alpha`, `--window`, `--exit-offset`).
public struct SmoothingSettings: Sendable, Equatable {
  public var method: SmoothingMethod
  /// A tag turns off when its smoothed score falls below `threshold − exitOffset` (default 0.1).
  public var exitOffset: Float
  /// Clear every tag's history and turn every tag off at a scene cut (default true).
  public var resetAtSceneCuts: Bool

  public static let defaultAlpha: Float = 0.5
  public static let defaultWindow = 3

  /// Defaults: EMA with α = 0.5, exit offset 0.1, reset at scene cuts.
  public init(method: SmoothingMethod = .ema(alpha: 0.5), exitOffset: Float = 0.1, resetAtSceneCuts: Bool = true) {
    self.method = method
    self.exitOffset = exitOffset
    self.resetAtSceneCuts = resetAtSceneCuts
  }

  public var json: JSONValue {
    var f: [(String, JSONValue)] = []
    switch method {
    case .none: f.append(("method", .string("none")))
    case .ema(let a): f += [("method", .string("ema")), ("alpha", .float(a))]
    case .median(let w): f += [("method", .string("median")), ("window", .int(w))]
    }
    f += [("exit_offset", .float(exitOffset)), ("reset_at_scene_cuts", .bool(resetAtSceneCuts))]
    return .object(f)
  }

  public init(json: JSONValue) throws {
    func need<T>(_ v: T?, _ key: String) throws -> T {
      guard let v else { throw TimelineDecodingError.badField(record: "header.smoothing", key: key) }
      return v
    }
    switch try need(json["method"]?.stringValue, "method") {
    case "none": method = .none
    case "ema": method = .ema(alpha: Float(try need(json["alpha"]?.doubleValue, "alpha")))
    case "median": method = .median(window: try need(json["window"]?.intValue, "window"))
    default: throw TimelineDecodingError.badField(record: "header.smoothing", key: "method")
    }
    exitOffset = Float(try need(json["exit_offset"]?.doubleValue, "exit_offset"))
    resetAtSceneCuts = try need(json["reset_at_scene_cuts"]?.boolValue, "reset_at_scene_cuts")
  }
}

/// Segment settings (`--min-duration`, `--fill-gap`, `--padding`).
public struct SegmentSettings: Sendable, Equatable {
  /// Segments shorter than this (after padding and gap filling) are dropped. Default 1.5 s: at 1 fps a
  /// tag seen in a single isolated sample (1 s once padded) is dropped, two samples (2 s) are kept.
  public var minDuration: Double
  /// Two segments of a tag in the same shot separated by at most this gap are merged. Default 1 s.
  public var fillGap: Double
  /// Each run of active samples is widened by this much on both sides. Nil (the default): half the
  /// nominal sample interval (0.5 s at 1 fps), or 0 when the sampling has no nominal interval.
  public var padding: Double?

  public init(minDuration: Double = 1.5, fillGap: Double = 1, padding: Double? = nil) {
    self.minDuration = minDuration
    self.fillGap = fillGap
    self.padding = padding
  }

  /// The padding actually used for a nominal sample interval.
  public func resolvedPadding(sampleInterval: Double?) -> Double {
    padding ?? (sampleInterval.map { $0 / 2 } ?? 0)
  }

  /// `padding` here is the resolved value that the segmenter used.
  public func json(resolvedPadding: Double) -> JSONValue {
    .object([
      ("min_duration", .double(minDuration)), ("fill_gap", .double(fillGap)),
      ("padding", .double(roundedTime(resolvedPadding))),
    ])
  }
}
