import Foundation
import MediaIO
import Testing
import VTagTestSupport

/// Test media generated once per test process with the ffmpeg command line, and ffprobe helpers.
enum Media {
  static let hasFFmpeg = VTagProcess.hasTool("ffmpeg") && VTagProcess.hasTool("ffprobe")
  static let needsFFmpeg = Comment(rawValue: "skipped: needs the ffmpeg and ffprobe command-line tools")
  static let sharedMedia = Fixtures.media
  static let bunny = Fixtures.media.appendingPathComponent("bigbuckbunny.mp4")
  static let carphone = Fixtures.media.appendingPathComponent("carphone_pristine.mp4")

  /// The folder holding generated files: a cache reused across runs (files are made once, atomically).
  static let directory: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vtag-media-cache-\(getuid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }()

  private static let lock = NSLock()
  nonisolated(unsafe) private static var made: [String: URL] = [:]

  /// Generates `name` in ``directory`` with `ffmpeg -v error -y <arguments> <path>` unless it exists; returns its URL.
  static func generate(_ name: String, _ arguments: String) throws -> URL {
    lock.lock()
    defer { lock.unlock() }
    if let u = made[name] { return u }
    let url = directory.appendingPathComponent(name)
    if !FileManager.default.fileExists(atPath: url.path) {
      let partial = directory.appendingPathComponent("partial-\(UUID().uuidString)-\(name)")
      let status = try VTagProcess.shell("ffmpeg -nostdin -v error -y \(arguments) '\(partial.path)'")
      try #require(status == 0, "ffmpeg could not make \(name)")
      _ = rename(partial.path, url.path)
    }
    made[name] = url
    return url
  }

  /// A scratch file name in ``directory``, unique to this run.
  static func scratch(_ name: String) -> URL {
    directory.appendingPathComponent("scratch-\(UUID().uuidString)-\(name)")
  }

  static func testsrc(_ size: String, rate: String, seconds: Double) -> String {
    "-f lavfi -i testsrc2=size=\(size):rate=\(rate) -t \(seconds)"
  }

  // The generated corpus.
  static func cfrH264() throws -> URL {
    try generate(
      "cfr_h264.mp4",
      testsrc("320x240", rate: "25", seconds: 3) + " -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p")
  }
  static func vfrH264() throws -> URL {
    try generate(
      "vfr_h264.mkv",
      testsrc("320x240", rate: "30", seconds: 4)
        + " -vf \"select='not(mod(n\\,3))+eq(mod(n\\,7)\\,1)'\" -fps_mode vfr -c:v libx264 -preset ultrafast -g 20 -pix_fmt yuv420p"
    )
  }
  static func vp9Odd() throws -> URL {
    try generate(
      "odd_vp9.webm",
      "-f lavfi -i testsrc=size=321x241:rate=24 -t 2" + " -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 24")
  }
  static func mpeg4Odd() throws -> URL {
    try generate("odd_mpeg4.mov", "-f lavfi -i testsrc=size=321x241:rate=25 -t 2" + " -c:v mpeg4 -q:v 4 -g 12")
  }
  static func h264TS() throws -> URL {
    try generate(
      "offset_h264.ts",
      testsrc("320x240", rate: "25", seconds: 2) + " -c:v libx264 -preset ultrafast -g 25 -bf 2 -pix_fmt yuv420p")
  }
  static func bframesMKV() throws -> URL {
    try generate(
      "bframes_h264.mkv",
      testsrc("320x240", rate: "30", seconds: 2) + " -c:v libx264 -preset fast -g 30 -bf 3 -pix_fmt yuv420p")
  }
  static func long10s() throws -> URL {
    try generate(
      "long_h264.mp4",
      testsrc("160x120", rate: "25", seconds: 10) + " -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p")
  }
  /// A portrait phone video: coded 320×240 with a display matrix asking for a 90° turn.
  static func rotated() throws -> URL {
    let plain = try generate(
      "marked.mp4",
      "-f lavfi -i color=c=blue:size=320x240:rate=25 -t 1 -vf \"drawbox=x=0:y=0:w=80:h=60:color=red:t=fill,drawbox=x=240:y=0:w=80:h=60:color=green:t=fill\" -c:v libx264 -preset ultrafast -pix_fmt yuv420p"
    )
    return try generate("rotated.mp4", "-i '\(plain.path)' -c copy -metadata:s:v:0 rotate=90")
  }
  static func audioOnly() throws -> URL {
    try generate("audio_only.m4a", "-f lavfi -i sine=frequency=440:duration=1 -c:a aac")
  }
  static func faststartMP4() throws -> URL {
    try generate(
      "faststart_h264.mp4",
      testsrc("320x240", rate: "25", seconds: 4)
        + " -c:v libx264 -preset ultrafast -g 50 -pix_fmt yuv420p -movflags +faststart")
  }

  /// One frame as ffprobe reports it.
  struct ProbeFrame: Equatable {
    var time: Double
    var key: Bool
  }

  /// `ffprobe -select_streams v:0 -show_frames`: each frame's best-effort time and key flag, in output order.
  static func probeFrames(_ url: URL) throws -> [ProbeFrame] {
    let text = try capture(
      "ffprobe -v error -select_streams v:0 -show_frames -show_entries frame=best_effort_timestamp_time,key_frame -of compact=p=0 '\(url.path)'"
    )
    return text.split(separator: "\n").compactMap { line in
      var fields: [String: String] = [:]
      for part in line.split(separator: "|") {
        let kv = part.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
      }
      guard let k = fields["key_frame"], let t = fields["best_effort_timestamp_time"].flatMap(Double.init) else {
        return nil
      }
      return ProbeFrame(time: t, key: k == "1")
    }
  }

  /// Runs a shell command and returns its standard output.
  static func capture(_ command: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  /// Raw RGB24 bytes of `ffmpeg`'s first frame of `url` (autorotated), scaled to `size` when given.
  static func ffmpegFirstFrameRGB(_ url: URL, scale: String? = nil) throws -> [UInt8] {
    let out = directory.appendingPathComponent("frame-\(UUID().uuidString).rgb")
    let vf = scale.map { "-vf scale=\($0):flags=bilinear+accurate_rnd+full_chroma_int+full_chroma_inp " } ?? ""
    let status = try VTagProcess.shell(
      "ffmpeg -nostdin -v error -y -i '\(url.path)' -frames:v 1 \(vf)-pix_fmt rgb24 -f rawvideo '\(out.path)'")
    try #require(status == 0)
    defer { try? FileManager.default.removeItem(at: out) }
    return [UInt8](try Data(contentsOf: out))
  }

  /// Every delivered frame of `url` with `sampling` and `output`.
  static func decode(
    _ url: URL, _ sampling: FrameSampling = .all, output: FrameOutput = .none, options: VideoSourceOptions = .init()
  ) async throws -> (info: VideoInfo, frames: [DecodedFrame], stats: SourceStatistics) {
    let source = try await VideoSource.open(url.path, options: options)
    var frames: [DecodedFrame] = []
    for try await f in source.frames(sampling, output: output) { frames.append(f) }
    return (source.info, frames, source.statistics)
  }

  /// Brute force: for targets `0, s, 2s, …` up to the last time, the index of the nearest time (ties: earlier),
  /// each index once.
  static func nearestIndices(times: [Double], targets: [Double]) -> [Int] {
    var out: [Int] = []
    for target in targets {
      var best = 0
      for (i, t) in times.enumerated() where abs(t - target) < abs(times[best] - target) { best = i }
      if out.last != best { out.append(best) }
    }
    return out
  }

  static func everyTargets(_ s: Double, upTo last: Double) -> [Double] {
    var out: [Double] = []
    var k = 0
    while Double(k) * s <= last + 1e-12 {
      out.append(Double(k) * s)
      k += 1
    }
    return out
  }
}
