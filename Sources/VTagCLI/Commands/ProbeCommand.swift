import ArgumentParser
import Foundation
import MediaIO

/// `vtag probe`: what vtag sees in a video input.
struct ProbeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Show the container and video-stream properties of a video file, pipe (-) or stream URL.",
    discussion: """
      Prints one JSON object (duration, frame_rate, width, height, codec, rotation, ...). With --frames, then one
      JSON line per delivered frame: {"index": i, "t": seconds from the stream start, "key": bool}, honouring
      --every, --keyframes or --frames-uniform. With --bench, decodes the whole input twice (all frames, then
      1 frame per second scaled to 384×384) and prints the decode rates as multiples of real time.
      """)

  @Argument(help: "A video file, - for standard input, or a URL libavformat opens (http, hls, rtsp, ...).")
  var input: String

  @Flag(name: .long, help: "Also print one JSON line per delivered frame.")
  var frames = false

  @Option(name: .long, help: "Deliver the frame nearest every interval (e.g. 1s, 0.5s, 250ms, 2m).")
  var every: String?

  @Flag(name: .long, help: "Deliver key frames only (the decoder skips the others).")
  var keyframes = false

  @Option(
    name: .customLong("frames-uniform"), help: "Deliver N frames spread evenly over the duration (seeks when it can).")
  var framesUniform: Int?

  @Flag(name: .long, help: "Measure decode speed (full and 1 fps sampled) instead of probing.")
  var bench = false

  /// Parses `1s`, `0.5`, `250ms`, `2m` into seconds.
  static func parseInterval(_ text: String) -> Double? {
    let s = text.trimmingCharacters(in: .whitespaces).lowercased()
    let (number, scale): (Substring, Double) =
      s.hasSuffix("ms")
      ? (s.dropLast(2), 0.001)
      : s.hasSuffix("s")
        ? (s.dropLast(), 1)
        : s.hasSuffix("m") ? (s.dropLast(), 60) : (Substring(s), 1)
    guard let v = Double(number), v.isFinite, v > 0 else { return nil }
    return v * scale
  }

  func validate() throws {
    let modes = (every != nil ? 1 : 0) + (keyframes ? 1 : 0) + (framesUniform != nil ? 1 : 0)
    if modes > 1 { throw ValidationError("give at most one of --every, --keyframes and --frames-uniform") }
    if let every, Self.parseInterval(every) == nil {
      throw ValidationError("--every needs a positive interval such as 1s, 0.5s or 250ms, got '\(every)'")
    }
    if let framesUniform, framesUniform < 1 { throw ValidationError("--frames-uniform needs at least 1 frame") }
    if modes > 0 && !frames && !bench {
      throw ValidationError("--every, --keyframes and --frames-uniform need --frames")
    }
  }

  var sampling: FrameSampling {
    if let every, let s = Self.parseInterval(every) { return .every(seconds: s) }
    if keyframes { return .keyframes }
    if let framesUniform { return .uniform(count: framesUniform) }
    return .all
  }

  static func round(_ x: Double, _ digits: Int = 6) -> JSONValue {
    let p = pow(10, Double(digits))
    return .double((x * p).rounded() / p)
  }

  static func infoJSON(_ info: VideoInfo) -> JSONValue {
    .object([
      ("input", .string(info.input)),
      ("format", .string(info.formatName)),
      ("duration", info.duration.map { round($0) } ?? .null),
      ("frame_rate", info.frameRate.map { round($0) } ?? .null),
      ("width", .int(info.width)),
      ("height", .int(info.height)),
      ("codec", .string(info.codecName)),
      ("pixel_format", info.pixelFormat.map { .string($0) } ?? .null),
      ("rotation", .int(info.rotation)),
      ("display_width", .int(info.displayWidth)),
      ("display_height", .int(info.displayHeight)),
      ("time_base", .string("\(info.timeBase.num)/\(info.timeBase.den)")),
      ("start_time", info.startTime.map { round($0) } ?? .null),
      ("frames_declared", info.declaredFrameCount.map { .int($0) } ?? .null),
      ("bit_rate", info.bitRate.map { .int($0) } ?? .null),
      ("seekable", .bool(info.isSeekable)),
      ("live", .bool(info.isLive)),
    ])
  }

  func run() async throws {
    if bench { return try await runBench() }
    let source = try await VideoSource.open(input)
    Output.line(Self.infoJSON(source.info).serialized)
    guard frames else { return }
    for try await frame in source.frames(sampling, output: .none) {
      Output.line(
        JSONValue.object([("index", .int(frame.index)), ("t", Self.round(frame.t)), ("key", .bool(frame.isKeyFrame))])
          .serialized)
    }
    let stats = source.statistics
    if stats.damagedFrames > 0 || stats.rejectedPackets > 0 || stats.readError != nil {
      var parts = ["\(stats.damagedFrames) damaged frames", "\(stats.rejectedPackets) rejected packets"]
      if let e = stats.readError { parts.append("read error: \(e)") }
      Output.error("warning: '\(input)': " + parts.joined(separator: ", "))
    }
  }

  /// Decodes the input once per mode and reports frames per second and the multiple of real time.
  func runBench() async throws {
    let every1s: FrameSampling = .every(seconds: 1)
    let skip = VideoSourceOptions(skipNonReferenceFrames: true)
    let modes: [(String, FrameSampling, FrameOutput, VideoSourceOptions)] = [
      ("full_decode", .all, .none, .init()),
      ("full_decode_384", .all, .modelInput, .init()),
      ("sampled_1fps_384", every1s, .modelInput, .init()),
      ("sampled_1fps_384_skip_nonref", every1s, .modelInput, skip),
      ("keyframes_384", .keyframes, .modelInput, .init()),
    ]
    var duration: Double = 0
    for (name, sampling, output, options) in modes {
      let started = Date()
      let source = try await VideoSource.open(input, options: options)
      duration = source.info.duration ?? 0
      var delivered = 0
      for try await _ in source.frames(sampling, output: output) { delivered += 1 }
      let seconds = Date().timeIntervalSince(started)
      let stats = source.statistics
      Output.line(
        JSONValue.object([
          ("mode", .string(name)),
          ("decoded_frames", .int(stats.decodedFrames)),
          ("delivered_frames", .int(delivered)),
          ("seconds", Self.round(seconds, 3)),
          ("decoded_fps", Self.round(Double(stats.decodedFrames) / seconds, 1)),
          ("realtime_multiple", Self.round(duration / seconds, 2)),
        ]).serialized)
    }
  }
}
