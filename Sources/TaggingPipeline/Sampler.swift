import Foundation

/// A small downscaled copy of a frame for cut detection (e.g. 32×18 luma or RGB, row-major,
/// interleaved channels). All thumbnails given to one detector must have the same size.
public struct Thumbnail: Sendable, Equatable {
  public var width: Int
  public var height: Int
  /// 1 (luma) or 3 (RGB).
  public var channels: Int
  public var pixels: [UInt8]

  public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
    precondition(channels == 1 || channels == 3, "a thumbnail has 1 or 3 channels")
    precondition(pixels.count == width * height * channels, "thumbnail size does not match its pixels")
    self.width = width
    self.height = height
    self.channels = channels
    self.pixels = pixels
  }

  /// The recommended thumbnail size (16:9, cheap to scale to).
  public static let recommendedWidth = 32
  public static let recommendedHeight = 18
}

/// Detects hard cuts by comparing each thumbnail with the previous one. Pure: no clock, no I/O.
public struct SceneCutDetector: Sendable {
  public let metric: SceneMetric
  public let threshold: Double
  /// No cut is reported within this many seconds after the previous cut (or the first frame).
  public let minSceneDuration: Double
  private var previous: Thumbnail?
  private var previousHistogram: [Double] = []
  private var lastCut: Double?

  public init(metric: SceneMetric = .meanAbsoluteDifference, threshold: Double, minSceneDuration: Double = 0.5) {
    self.metric = metric
    self.threshold = threshold
    self.minSceneDuration = minSceneDuration
  }

  /// The distance between two thumbnails on the metric's scale.
  public static func distance(_ a: Thumbnail, _ b: Thumbnail, metric: SceneMetric) -> Double {
    precondition(a.pixels.count == b.pixels.count && a.channels == b.channels, "thumbnails differ in size")
    switch metric {
    case .meanAbsoluteDifference:
      guard !a.pixels.isEmpty else { return 0 }
      var sum = 0
      for i in 0..<a.pixels.count { sum += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
      return Double(sum) / Double(a.pixels.count)
    case .histogram:
      return histogramDistance(histogram(a), histogram(b), channels: a.channels)
    }
  }

  static let bins = 32

  static func histogram(_ t: Thumbnail) -> [Double] {
    var h = [Double](repeating: 0, count: bins * t.channels)
    let n = t.width * t.height
    guard n > 0 else { return h }
    for p in 0..<n {
      for c in 0..<t.channels { h[c * bins + Int(t.pixels[p * t.channels + c]) * bins / 256] += 1 }
    }
    return h.map { $0 / Double(n) }
  }

  static func histogramDistance(_ a: [Double], _ b: [Double], channels: Int) -> Double {
    var total = 0.0
    for i in 0..<a.count { total += abs(a[i] - b[i]) }
    return total / 2 / Double(channels)
  }

  /// Feeds the next frame's thumbnail; returns true when a cut happens at this frame (the frame is the
  /// first of a new shot).
  public mutating func observe(_ thumbnail: Thumbnail, at t: Double) -> Bool {
    defer { previous = thumbnail }
    guard let previous else {
      lastCut = t
      return false
    }
    let d = Self.distance(previous, thumbnail, metric: metric)
    guard d > threshold else { return false }
    if let lastCut, t - lastCut < minSceneDuration { return false }
    lastCut = t
    return true
  }
}

/// Why a frame was sampled.
public struct SampleReasons: OptionSet, Sendable, Hashable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// The frame nearest to a scheduled time (`every` / `uniform`), or every frame (`allFrames`).
  public static let scheduled = SampleReasons(rawValue: 1)
  /// A key frame (`keyframes` mode).
  public static let keyframe = SampleReasons(rawValue: 2)
  /// The first frame after a detected scene cut.
  public static let sceneCut = SampleReasons(rawValue: 4)
}

/// A frame the sampler chose.
public struct SampledFrame: Sendable, Equatable {
  /// The decoder's frame index (as given to `Sampler.offer`).
  public var index: Int
  /// Presentation time in seconds.
  public var t: Double
  public var reasons: SampleReasons
  /// This frame starts a new shot: smoothing resets and open segments close here.
  public var isSceneCut: Bool { reasons.contains(.sceneCut) }

  public init(index: Int, t: Double, reasons: SampleReasons) {
    self.index = index
    self.t = t
    self.reasons = reasons
  }
}

/// An invalid sampling setting.
public enum SamplingError: Error, Equatable, CustomStringConvertible {
  case uniformNeedsDuration
  case badValue(name: String, value: String, expected: String)

  public var description: String {
    switch self {
    case .uniformNeedsDuration:
      return "uniform sampling (--frames N) needs the stream's duration, which is unknown (a live source?); use --every"
    case .badValue(let name, let value, let expected): return "\(name) is \(value), but it must be \(expected)"
    }
  }
}

/// Decides which decoded frames are tagged. Feed every decoded frame in decoding (presentation) order
/// with `offer`; it returns the frames to keep, which are always the frame just offered and/or the one
/// offered before it (so the caller holds on to one previous frame, unconverted). Frames with t < 0
/// (pre-roll) are never sampled. Pure: no clock, no I/O.
public struct Sampler: Sendable {
  public let settings: SamplingSettings
  /// The stream duration, for `uniform`.
  public let duration: Double?
  private var detector: SceneCutDetector?
  private var nextTarget = 0
  private var previous: (index: Int, t: Double, kept: Bool)?
  /// Frames offered so far (including unsampled ones).
  public private(set) var framesOffered = 0
  /// Frames returned so far.
  public private(set) var framesSampled = 0

  public init(settings: SamplingSettings = SamplingSettings(), duration: Double? = nil) throws {
    switch settings.mode {
    case .every(let s):
      guard s > 0, s.isFinite else {
        throw SamplingError.badValue(name: "--every", value: "\(s)", expected: "> 0 seconds")
      }
    case .uniform(let n):
      guard n > 0 else { throw SamplingError.badValue(name: "--frames", value: "\(n)", expected: "at least 1") }
      guard let duration, duration > 0, duration.isFinite else { throw SamplingError.uniformNeedsDuration }
    case .keyframes, .allFrames: break
    }
    if let x = settings.sceneThreshold, !(x >= 0) {
      throw SamplingError.badValue(name: "--scene-threshold", value: "\(x)", expected: "≥ 0")
    }
    self.settings = settings
    self.duration = duration
    detector = settings.sceneThreshold.map {
      SceneCutDetector(metric: settings.sceneMetric, threshold: $0, minSceneDuration: settings.minSceneDuration)
    }
  }

  /// True when `offer` needs a thumbnail of every frame (scene detection is on).
  public var needsThumbnails: Bool { detector != nil }

  private func target(_ k: Int) -> Double? {
    switch settings.mode {
    case .every(let s): return Double(k) * s
    // The centres of n equal slices, as the video source's seeking `uniform` sampling uses.
    case .uniform(let n): return k < n ? (Double(k) + 0.5) * (duration ?? 0) / Double(n) : nil
    case .keyframes, .allFrames: return nil
    }
  }

  /// Offers the next decoded frame. `thumbnail` is needed when `needsThumbnails` (else ignored).
  /// Returns 0, 1 or 2 frames in time order: the previous frame (when it turned out to be the nearest to
  /// a scheduled time) and/or this one.
  public mutating func offer(index: Int, t: Double, isKey: Bool = false, thumbnail: Thumbnail? = nil) -> [SampledFrame]
  {
    framesOffered += 1
    guard t >= 0, t.isFinite else { return [] }
    var cut = false
    if var d = detector, let thumbnail {
      cut = d.observe(thumbnail, at: t)
      detector = d
    }
    var previousReasons: SampleReasons = []
    var reasons: SampleReasons = []
    switch settings.mode {
    case .allFrames: reasons.insert(.scheduled)
    case .keyframes: if isKey { reasons.insert(.keyframe) }
    case .every, .uniform:
      while let target = target(nextTarget), target <= t {
        // Targets between the previous frame and this one go to whichever is nearer (the earlier one on a tie).
        if let p = previous, target - p.t <= t - target {
          if !p.kept { previousReasons.insert(.scheduled) }
        } else {
          reasons.insert(.scheduled)
        }
        nextTarget += 1
      }
    }
    if cut { reasons.insert(.sceneCut) }
    var out: [SampledFrame] = []
    if !previousReasons.isEmpty, let p = previous {
      out.append(SampledFrame(index: p.index, t: p.t, reasons: previousReasons))
    }
    if !reasons.isEmpty { out.append(SampledFrame(index: index, t: t, reasons: reasons)) }
    previous = (index, t, !reasons.isEmpty)
    framesSampled += out.count
    return out
  }
}
