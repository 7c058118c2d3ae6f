import Foundation
import ImageCore
import MediaIO
import RecognizeAnything

/// Everything one tagging run needs: what `vtag tag`, `vtag live` and `vtag run` fill in.
public struct TagRunConfiguration: Sendable {
  /// A path, `-` (stdin), a URL libavformat opens, or a camera device (`/dev/videoN`).
  public var input: String
  /// The tagging model bundle (RAM++, RAM or Tag2Text).
  public var model: URL
  /// A Tag2Text bundle whose captions go into the timeline (optional).
  public var captionModel: URL?
  public var timeline: TimelineSettings
  /// Frames per forward pass.
  public var batch: Int
  /// OpenBLAS threads.
  public var threads: Int
  /// Output formats and base path (`-o`): `jsonl`, `vtt`, `srt`, `videochat`; base `-` = JSONL on stdout.
  public var formats: [SinkFormat]
  public var outputBase: String
  public var sinkOptions: SinkOptions
  /// Caption a sampled frame at most this often (seconds), and at scene cuts.
  public var captionEvery: Double
  /// What guides the captions: the caption model's own tags, or the tagger's current smoothed tags.
  public var captionGuide: CaptionGuide
  /// How frames are resized to the model input.
  public var resize: FramePreprocessing.Resize
  /// Treat the input as live (drop the oldest frames when behind); nil = decide from the input.
  public var live: Bool?
  /// Live mode: flush a partial batch after this many seconds.
  public var batchTimeout: Double
  /// Camera capture size (cameras only).
  public var cameraWidth: Int
  public var cameraHeight: Int
  /// Reuse the previous result when a sampled frame is identical to the previous one (static scenes).
  public var reuseStaticFrames: Bool = true
  /// Compute only these classes (nil = all).
  public var classes: [Int]? = nil
  /// Compute only the classes with these tag names (resolved against the tagger's tag list).
  public var onlyTags: [String]? = nil

  /// Where captions take their guiding tags from.
  public enum CaptionGuide: String, Sendable, CaseIterable {
    case own
    case tags
  }

  public init(
    input: String, model: URL, captionModel: URL? = nil, timeline: TimelineSettings = TimelineSettings(),
    batch: Int = 1, threads: Int = ProcessInfo.processInfo.activeProcessorCount, formats: [SinkFormat] = [.jsonl],
    outputBase: String = "-", sinkOptions: SinkOptions = SinkOptions(), captionEvery: Double = 5,
    captionGuide: CaptionGuide = .own, resize: FramePreprocessing.Resize = .swscale, live: Bool? = nil,
    batchTimeout: Double = 0.5, cameraWidth: Int = 640, cameraHeight: Int = 480
  ) {
    self.input = input
    self.model = model
    self.captionModel = captionModel
    self.timeline = timeline
    self.batch = batch
    self.threads = threads
    self.formats = formats
    self.outputBase = outputBase
    self.sinkOptions = sinkOptions
    self.captionEvery = captionEvery
    self.captionGuide = captionGuide
    self.resize = resize
    self.live = live
    self.batchTimeout = batchTimeout
    self.cameraWidth = cameraWidth
    self.cameraHeight = cameraHeight
  }

  /// True when the input names a V4L2 device.
  public var isCamera: Bool { input.hasPrefix("/dev/video") }
}

/// Problems found before any work starts.
public enum TagRunError: Error, Equatable, CustomStringConvertible {
  case badSetting(name: String, value: String, expected: String)
  case captionModelNotTag2Text(path: String, architecture: String)
  /// The input failed before any frame was tagged; the outputs the run had begun were removed.
  case failedBeforeAnyFrame(reason: String, removed: [String])

  public var description: String {
    switch self {
    case .badSetting(let name, let value, let expected): "\(name) = \(value): expected \(expected)"
    case .captionModelNotTag2Text(let path, let architecture):
      "the caption model \(path) is \(architecture); captions need a Tag2Text bundle"
    case .failedBeforeAnyFrame(let reason, let removed):
      removed.isEmpty
        ? "\(reason) (no frame was tagged)"
        : "\(reason) (no frame was tagged; removed the outputs begun: \(removed.joined(separator: ", ")))"
    }
  }
}

/// Progress of a run, reported after every forward pass.
public struct TagRunProgress: Sendable {
  public var t: Double
  public var duration: Double?
  public var framesSampled: Int
  public var forwards: Int
  public var framesDropped: Int
  public var elapsed: Double
  /// The current smoothed tags (for live display) and the latest caption.
  public var activeTags: [String]
  public var caption: String?
  /// Wall seconds from the latest tagged frame's arrival from the source to its tags (nil before any).
  public var latency: Double?

  public init(
    t: Double, duration: Double?, framesSampled: Int, forwards: Int, framesDropped: Int, elapsed: Double,
    activeTags: [String], caption: String?, latency: Double? = nil
  ) {
    self.t = t
    self.duration = duration
    self.framesSampled = framesSampled
    self.forwards = forwards
    self.framesDropped = framesDropped
    self.elapsed = elapsed
    self.activeTags = activeTags
    self.caption = caption
    self.latency = latency
  }
}

/// What a finished run did.
public struct TagRunReport: Sendable {
  public var counters: RunCounters
  public var duration: Double
  public var interrupted: Bool
  public var outputs: [String]
  /// Seconds spent in forward passes (tagging and captions) on the inference thread.
  public var forwardSeconds: Double
  public var wallSeconds: Double
  /// Sampled frames identical to the previous one whose result was reused instead of recomputed.
  public var reusedFrames: Int
  public var damagedFrames: Int
}

/// A source of frames with pixels, file/stream or camera, seen through one interface.
struct PipelineFrame: Sendable {
  var index: Int
  var t: Double
  var isKey: Bool
  var image: RGBImage
  /// When the runner received it (for the capture-to-tags latency).
  var arrived = Date()
}

/// Pulls frames straight from a source's own bounded hand-off (no extra buffer), as `PipelineFrame`s;
/// frames without pixels are skipped. Used by one task only.
final class FrameFeed {
  private let pull: () async throws -> PipelineFrame?

  init<I: AsyncIteratorProtocol>(_ iterator: I, _ transform: @escaping (I.Element) -> PipelineFrame?) {
    var it = iterator
    pull = {
      while let element = try await it.next() {
        if let frame = transform(element) { return frame }
      }
      return nil
    }
  }

  func next() async throws -> PipelineFrame? { try await pull() }
}

/// One streaming tagging run: source → sampler → preprocess → batcher → tagger (the inference
/// thread) → smoother/segmenter (`TimelineBuilder`) → sinks (`SinkFanOut`).
public final class TagRun: Sendable {
  public let configuration: TagRunConfiguration
  let plan: SinkPlan

  /// Validates the configuration and the outputs (formats, writable directory) before any work.
  public init(_ configuration: TagRunConfiguration) throws {
    let c = configuration
    if c.batch < 1 { throw TagRunError.badSetting(name: "batch", value: "\(c.batch)", expected: "at least 1") }
    if c.threads < 1 { throw TagRunError.badSetting(name: "threads", value: "\(c.threads)", expected: "at least 1") }
    if !(c.captionEvery > 0) {
      throw TagRunError.badSetting(name: "caption-every", value: "\(c.captionEvery)", expected: "> 0 seconds")
    }
    self.configuration = c
    plan = try SinkPlan(
      formats: c.formats, base: c.outputBase, captions: c.captionModel != nil || Self.isTag2Text(c.model))
    // Surface sampling errors (e.g. uniform on a stream without duration) before loading models.
    if case .uniform = c.timeline.sampling.mode {
    } else {
      _ = try Sampler(settings: c.timeline.sampling, duration: nil)
    }
  }

  static func isTag2Text(_ dir: URL) -> Bool {
    (try? ModelConfig.load(path: dir.appendingPathComponent("config.json").path).architecture) == .tag2text
  }

  /// The output files (or `-`).
  public var outputs: [String] { plan.outputs.map(\.path) }

  /// Runs to the end of the input, or until `shouldStop()` turns true (then the outputs are closed
  /// cleanly and the report says `interrupted`).
  /// `extraSinks` receive the same records as the configured outputs (library users' own sinks).
  public func run(
    extraSinks: [any TimelineSink] = [],
    shouldStop: @escaping @Sendable () -> Bool = { false },
    progress: @escaping @Sendable (TagRunProgress) -> Void = { _ in }
  ) async throws -> TagRunReport {
    let c = configuration
    let started = Date()
    let inference = InferenceThread(threads: c.threads)
    defer { inference.stop() }

    // Models, on the inference thread.
    // A Tag2Text tagger with no separate caption model captions its own frames: one model, one pass.
    let tagger = try await inference.run {
      try RecognizeAnythingModel(directory: c.model, captions: c.captionModel == nil)
    }
    let captioner: RecognizeAnythingModel?
    if let dir = c.captionModel {
      let m = try await inference.run { try RecognizeAnythingModel(directory: dir, captions: true) }
      guard m.captioner != nil else {
        throw TagRunError.captionModelNotTag2Text(path: dir.path, architecture: m.architecture.rawValue)
      }
      captioner = m
    } else {
      captioner = tagger.captioner != nil ? tagger : nil
    }
    let sharedModel = captioner === tagger
    var classSubset = c.classes
    if let names = c.onlyTags { classSubset = try tagger.classIndices(forTags: names) }
    let size = tagger.imageSize

    // Source.
    let frames: FrameFeed
    let sourceInfo: SourceInfo
    let duration: Double?
    let statistics: @Sendable () -> (decoded: Int, dropped: Int, damaged: Int)
    let needsAllFrames = c.timeline.sampling.sceneThreshold != nil
    let live: Bool
    if c.isCamera {
      let camera = try CameraSource(
        path: c.input, configuration: CameraConfiguration(width: c.cameraWidth, height: c.cameraHeight))
      duration = nil
      live = true
      sourceInfo = SourceInfo(
        uri: c.input, kind: "camera",
        properties: [
          ("width", .int(camera.info.width)), ("height", .int(camera.info.height)),
        ])
      frames = FrameFeed(camera.frames().makeAsyncIterator()) { f in
        PipelineFrame(index: f.sequence, t: f.t, isKey: true, image: f.image)
      }
      statistics = { (0, camera.droppedFrames, 0) }
    } else {
      // Sampled decoding skips non-reference frames between sample times (the tagger never sees them).
      let source = try await VideoSource.open(
        c.input,
        options: VideoSourceOptions(live: c.live, skipNonReferenceFrames: c.timeline.sampling.sceneThreshold == nil))
      let info = source.info
      duration = info.duration
      live = info.isLive
      var props: [(String, JSONValue)] = [
        ("format", .string(info.formatName)), ("codec", .string(info.codecName)), ("width", .int(info.width)),
        ("height", .int(info.height)), ("rotation", .int(info.rotation)), ("live", .bool(info.isLive)),
      ]
      if let d = info.duration { props.append(("duration", .double(d))) }
      if let r = info.frameRate { props.append(("frame_rate", .double(r))) }
      let kind = c.input == "-" ? "stdin" : (c.input.contains("://") ? "url" : "file")
      sourceInfo = SourceInfo(uri: c.input, kind: kind, properties: props)
      let sampling: FrameSampling
      if needsAllFrames {
        sampling = .all
      } else {
        switch c.timeline.sampling.mode {
        case .every(let s): sampling = .every(seconds: s)
        case .uniform(let n): sampling = .uniform(count: n)
        case .keyframes: sampling = .keyframes
        case .allFrames: sampling = .all
        }
      }
      let output = FramePreprocessing.frameOutput(for: c.resize, size: size)
      frames = FrameFeed(source.frames(sampling, output: output).makeAsyncIterator()) { f in
        guard let image = f.image else { return nil }
        return PipelineFrame(index: f.index, t: f.t, isKey: f.isKeyFrame, image: image)
      }
      statistics = {
        let s = source.statistics
        return (s.decodedFrames, s.droppedFrames, s.damagedFrames)
      }
    }

    // Timeline and sinks.
    var builder = TimelineBuilder(settings: c.timeline, bundle: tagger.bundle, duration: duration)
    var sampler = try Sampler(settings: c.timeline.sampling, duration: duration)
    let fanOut = SinkFanOut(sinks: try plan.open(options: c.sinkOptions) + extraSinks)
    var models = [ModelInfo(bundle: tagger.bundle, role: "tagger")]
    if let captioner, c.captionModel != nil { models.append(ModelInfo(bundle: captioner.bundle, role: "captioner")) }
    let created = ISO8601DateFormatter().string(from: Date())
    await fanOut.send(
      builder.header(
        vtagVersion: TagRun.version, created: created, source: sourceInfo, models: models,
        compute: ComputeInfo.json(precision: tagger.precision)))

    var counters = RunCounters()
    var forwardSeconds = 0.0
    var pending: [(SampledFrame, RGBImage, Bool)] = []  // frame, pixels, same pixels as the previous sample
    var pendingArrival: [Date] = []
    var lastSampledImage: RGBImage?
    var lastResult: (ImageTags, String?)?
    var reused = 0
    var previous: PipelineFrame?
    var lastCaptionT = -Double.infinity
    var lastActive: [String] = []
    var lastCaption: String?
    var lastT = 0.0
    var batchStarted = Date()

    func flush() async throws {
      guard !pending.isEmpty else { return }
      let items = pending
      let arrivals = pendingArrival
      pending.removeAll()
      pendingArrival.removeAll()
      let compute = items.enumerated().filter { !$0.element.2 || (lastResult == nil && $0.offset == 0) }.map(\.offset)
      // Decide which frames get a caption (at most one per captionEvery, and every scene cut).
      var captionFor = [Bool](repeating: false, count: items.count)
      if captioner != nil {
        for (i, item) in items.enumerated() where item.0.t >= lastCaptionT + c.captionEvery - 1e-9 || item.0.isSceneCut
        {
          captionFor[i] = true
          lastCaptionT = item.0.t
        }
      }
      let classes = classSubset
      let guideTags: String? = c.captionGuide == .tags ? lastActive.joined(separator: ", ") : nil
      let captionMask = captionFor
      let t0 = Date()
      let computed = try await inference.run { () -> [(ImageTags, String?)] in
        let n = compute.count
        guard n > 0 else { return [] }
        var pixels = [Float](repeating: 0, count: n * 3 * size * size)
        pixels.withUnsafeMutableBufferPointer { buf in
          for (i, idx) in compute.enumerated() {
            FramePreprocessing.writePixelValues(
              items[idx].1, size: size, into: UnsafeMutableBufferPointer(rebasing: buf[(i * 3 * size * size)...]))
          }
        }
        let guide = guideTags.flatMap { $0.isEmpty ? nil : $0 }
        let captionHere = Set((0..<n).filter { sharedModel && captionMask[compute[$0]] })
        let tags = try pixels.withUnsafeBufferPointer {
          try tagger.tag(
            pixels: $0.baseAddress!, batch: n, specifiedTags: sharedModel ? guide : nil, classes: classes,
            captionImages: captionHere)
        }
        var captions = tags.map { $0.caption?.caption }
        if let captioner, !sharedModel {
          for i in 0..<n where captionMask[compute[i]] {
            let one = Array(pixels[(i * 3 * size * size)..<((i + 1) * 3 * size * size)])
            let r = try one.withUnsafeBufferPointer {
              try captioner.tag(pixels: $0.baseAddress!, batch: 1, specifiedTags: guide)[0]
            }
            captions[i] = r.caption?.caption
          }
        }
        return zip(tags, captions).map { ($0, $1) }
      }
      forwardSeconds += Date().timeIntervalSince(t0)
      if !compute.isEmpty { counters.forwards += 1 }
      // Identical frames take the previous frame's result (a recomputation would give the same).
      var results: [(ImageTags, String?)] = []
      var next = 0
      for i in items.indices {
        if next < compute.count && compute[next] == i {
          results.append(computed[next])
          next += 1
        } else {
          let previousResult = results.last ?? lastResult!
          results.append((previousResult.0, captionFor[i] ? previousResult.1 : nil))
          reused += 1
        }
      }
      lastResult = results.last
      for (item, result) in zip(items, results) {
        let records = builder.add(FrameTags(sample: item.0, result: result.0, caption: result.1))
        for case .frame(let f) in records {
          lastActive = f.tags.map(\.tag)
          if let cap = f.caption { lastCaption = cap }
        }
        await fanOut.send(records)
        lastT = item.0.t
      }
      let stats = statistics()
      progress(
        TagRunProgress(
          t: lastT, duration: duration, framesSampled: counters.framesSampled, forwards: counters.forwards,
          framesDropped: stats.dropped, elapsed: Date().timeIntervalSince(started), activeTags: lastActive,
          caption: lastCaption, latency: arrivals.last.map { Date().timeIntervalSince($0) }))
    }

    var interrupted = false
    var runError: (any Error)?
    do {
      while let frame = try await frames.next() {
        if shouldStop() || Task.isCancelled {
          interrupted = true
          break
        }
        let sampled: [SampledFrame]
        if needsAllFrames {
          sampled = sampler.offer(
            index: frame.index, t: frame.t, isKey: frame.isKey, thumbnail: Self.thumbnail(frame.image))
        } else {
          // The source already sampled: every delivered frame is a scheduled sample.
          sampled = [
            SampledFrame(index: frame.index, t: frame.t, reasons: frame.isKey ? [.scheduled, .keyframe] : .scheduled)
          ]
        }
        for s in sampled {
          let image = (s.index == frame.index && s.t == frame.t) ? frame.image : (previous?.image ?? frame.image)
          if pending.isEmpty { batchStarted = Date() }
          let same = c.reuseStaticFrames && lastSampledImage == image
          lastSampledImage = image
          pending.append((s, image, same))
          pendingArrival.append(frame.arrived)
          counters.framesSampled += 1
        }
        previous = frame
        // A live source (camera, stream, or --live) never waits for a full batch.
        if pending.count >= c.batch
          || (live && !pending.isEmpty && Date().timeIntervalSince(batchStarted) >= c.batchTimeout)
        {
          try await flush()
        }
      }
      if shouldStop() { interrupted = true }
      if !interrupted || !pending.isEmpty { try await flush() }
    } catch {
      runError = error
    }
    let stats = statistics()
    counters.framesDecoded = stats.decoded
    counters.framesDropped = stats.dropped
    let stoppedEarly = interrupted || runError != nil
    await fanOut.send(
      builder.finish(streamEnd: stoppedEarly ? nil : duration, counters: counters, interrupted: stoppedEarly))
    try await fanOut.finish()
    if let runError {
      // Nothing tagged: a header-only timeline and empty tracks would only look like a result.
      if counters.framesSampled == 0 {
        let removed = outputs.filter { $0 != "-" && (try? FileManager.default.removeItem(atPath: $0)) != nil }
        throw TagRunError.failedBeforeAnyFrame(reason: String(describing: runError), removed: removed)
      }
      throw runError
    }
    return TagRunReport(
      counters: counters, duration: duration ?? lastT, interrupted: interrupted, outputs: outputs,
      forwardSeconds: forwardSeconds, wallSeconds: Date().timeIntervalSince(started), reusedFrames: reused,
      damagedFrames: stats.damaged)
  }

  /// The program version written into timeline headers.
  public static let version = "0.1.0"

  /// A 32×18 RGB thumbnail by box averaging, for scene-cut detection.
  static func thumbnail(_ image: RGBImage) -> Thumbnail {
    let w = Thumbnail.recommendedWidth
    let h = Thumbnail.recommendedHeight
    var pixels = [UInt8](repeating: 0, count: w * h * 3)
    image.pixels.withUnsafeBufferPointer { src in
      for ty in 0..<h {
        let y0 = ty * image.height / h
        let y1 = max(y0 + 1, (ty + 1) * image.height / h)
        for tx in 0..<w {
          let x0 = tx * image.width / w
          let x1 = max(x0 + 1, (tx + 1) * image.width / w)
          var sum = (0, 0, 0)
          for y in y0..<y1 {
            for x in x0..<x1 {
              let p = (y * image.width + x) * 3
              sum.0 += Int(src[p])
              sum.1 += Int(src[p + 1])
              sum.2 += Int(src[p + 2])
            }
          }
          let n = (y1 - y0) * (x1 - x0)
          let q = (ty * w + tx) * 3
          pixels[q] = UInt8(sum.0 / n)
          pixels[q + 1] = UInt8(sum.1 / n)
          pixels[q + 2] = UInt8(sum.2 / n)
        }
      }
    }
    return Thumbnail(width: w, height: h, channels: 3, pixels: pixels)
  }
}
