import Foundation
import ImageCore
import Testing
import VTagTestSupport

@testable import MediaIO

/// Decoding real and generated videos: frame counts, times and key flags agree with ffprobe on the same file.
@Suite(.enabled(if: Media.hasFFmpeg, Media.needsFFmpeg))
struct VideoDecodeTests {
  /// Decodes every frame and compares with ffprobe: same count, same absolute times (µs), same key flags.
  func expectMatchesFFprobe(_ url: URL, codec: String? = nil, width: Int? = nil, height: Int? = nil) async throws {
    let (info, frames, stats) = try await Media.decode(url)
    let probe = try Media.probeFrames(url)
    #expect(!probe.isEmpty)
    #expect(frames.count == probe.count, "\(url.lastPathComponent): \(frames.count) frames, ffprobe \(probe.count)")
    for (f, p) in zip(frames, probe) {
      #expect(
        abs(f.absoluteTime - p.time) < 2e-6,
        "\(url.lastPathComponent) frame \(f.index): t \(f.absoluteTime) vs \(p.time)")
      #expect(f.isKeyFrame == p.key, "\(url.lastPathComponent) frame \(f.index): key \(f.isKeyFrame) vs \(p.key)")
    }
    #expect(frames.map(\.index) == Array(0..<frames.count))
    // t is relative to the stream start.
    let start = info.startTime ?? frames.first?.absoluteTime ?? 0
    for f in frames { #expect(abs(f.t - (f.absoluteTime - start)) < 1e-9) }
    #expect(stats.decodedFrames == frames.count && stats.deliveredFrames == frames.count)
    #expect(stats.damagedFrames == 0 && stats.rejectedPackets == 0 && stats.droppedFrames == 0)
    if let codec { #expect(info.codecName == codec) }
    if let width { #expect(info.width == width) }
    if let height { #expect(info.height == height) }
  }

  @Test(
    "The shared real videos",
    .enabled(if: Fixtures.exists(Media.bunny), Comment(rawValue: Fixtures.missing(Media.bunny))))
  func sharedVideos() async throws {
    try await expectMatchesFFprobe(Media.bunny, codec: "h264", width: 1280, height: 720)
    try await expectMatchesFFprobe(Media.carphone, codec: "h264", width: 176, height: 144)
    let (info, frames, _) = try await Media.decode(Media.bunny)
    #expect(frames.count == 132)
    #expect(info.frameRate == 25 && info.duration == 5.28 && info.rotation == 0 && info.isSeekable && !info.isLive)
  }

  @Test("Constant frame rate H.264 in MP4") func cfr() async throws {
    try await expectMatchesFFprobe(try Media.cfrH264(), codec: "h264", width: 320, height: 240)
  }

  @Test("Variable frame rate H.264 in Matroska") func vfr() async throws {
    let url = try Media.vfrH264()
    try await expectMatchesFFprobe(url, codec: "h264")
    let (_, frames, _) = try await Media.decode(url)
    let gaps = Set(zip(frames.dropFirst(), frames).map { (($0.t - $1.t) * 1000).rounded() })
    #expect(gaps.count > 1, "expected uneven frame spacing, got gaps \(gaps) ms")
  }

  @Test("VP9 in WebM at an odd size (321×241)") func vp9() async throws {
    try await expectMatchesFFprobe(try Media.vp9Odd(), codec: "vp9", width: 321, height: 241)
  }

  @Test("MPEG-4 part 2 in MOV at an odd size") func mpeg4() async throws {
    try await expectMatchesFFprobe(try Media.mpeg4Odd(), codec: "mpeg4", width: 321, height: 241)
  }

  @Test("B-frames in Matroska, and MPEG-TS whose stream starts at a non-zero time") func offsets() async throws {
    try await expectMatchesFFprobe(try Media.bframesMKV())
    let ts = try Media.h264TS()
    try await expectMatchesFFprobe(ts)
    let (info, frames, _) = try await Media.decode(ts)
    #expect((info.startTime ?? 0) > 0.5, "MPEG-TS streams start after 0; got \(String(describing: info.startTime))")
    #expect(abs(frames[0].t) < 1e-9 && abs(frames[1].t - 0.04) < 1e-6)
  }

  @Test("Every 1 s returns the frame nearest each second") func everySecond() async throws {
    for url in [try Media.cfrH264(), try Media.vfrH264(), try Media.vp9Odd()]
      + (Fixtures.exists(Media.bunny) ? [Media.bunny, Media.carphone] : [])
    {
      let all = try await Media.decode(url).frames
      let times = all.map(\.t)
      let expected = Media.nearestIndices(times: times, targets: Media.everyTargets(1, upTo: times.last!))
      let (_, sampled, stats) = try await Media.decode(url, .every(seconds: 1), output: .modelInput)
      #expect(sampled.map(\.index) == expected, "\(url.lastPathComponent)")
      #expect(sampled.map(\.t) == expected.map { times[$0] })
      #expect(stats.decodedFrames == all.count && stats.deliveredFrames == expected.count)
      for f in sampled {
        #expect(f.image?.width == 384 && f.image?.height == 384)
        #expect(f.indexIsExact)
      }
    }
  }

  @Test("Keyframes mode delivers exactly the key frames") func keyframes() async throws {
    for url in [try Media.cfrH264(), try Media.vp9Odd(), try Media.mpeg4Odd(), try Media.bframesMKV()] {
      let probe = try Media.probeFrames(url)
      let keyTimes = probe.filter(\.key).map(\.time)
      let (_, frames, stats) = try await Media.decode(url, .keyframes)
      #expect(frames.allSatisfy { $0.isKeyFrame })
      #expect(
        frames.count == keyTimes.count, "\(url.lastPathComponent): \(frames.count) vs \(keyTimes.count) key frames")
      for (f, t) in zip(frames, keyTimes) { #expect(abs(f.absoluteTime - t) < 2e-6) }
      if url.pathExtension != "webm" {  // libavcodec's VP9 decoder ignores skip_frame; the source filters instead
        #expect(stats.decodedFrames < probe.count, "the decoder should skip non-key frames")
      }
    }
  }

  @Test("Uniform N seeks and returns the frames nearest the targets") func uniformSeek() async throws {
    let url = try Media.long10s()
    let all = try await Media.decode(url).frames
    let times = all.map(\.t)
    let (info, frames, stats) = try await Media.decode(url, .uniform(count: 4))
    let targets = uniformTargets(count: 4, duration: info.duration!)
    #expect(frames.count == 4)
    #expect(frames.map(\.index) == Media.nearestIndices(times: times, targets: targets))
    #expect(stats.seeks >= 2, "expected seeks, got \(stats.seeks)")
    #expect(stats.decodedFrames < all.count / 2, "decoded \(stats.decodedFrames) of \(all.count)")
    // Without seeking (threshold larger than the file) the same frames come out.
    let (_, linear, linearStats) = try await Media.decode(url, .uniform(count: 4), options: .init(seekThreshold: 1000))
    #expect(linear.map(\.index) == frames.map(\.index) && linearStats.seeks == 0)
  }

  @Test("Rotation metadata: frames come out upright, like ffmpeg's autorotate") func rotation() async throws {
    let url = try Media.rotated()
    let (info, frames, _) = try await Media.decode(url, .all, output: .fullResolution)
    #expect(info.rotation == 270 || info.rotation == 90)
    #expect(info.displayWidth == 240 && info.displayHeight == 320)
    let image = try #require(frames.first?.image)
    #expect(image.width == 240 && image.height == 320)
    let reference = try Media.ffmpegFirstFrameRGB(url)
    #expect(reference.count == image.pixels.count)
    let mean = zip(reference, image.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / max(1, reference.count)
    #expect(mean <= 2, "mean difference from ffmpeg's autorotated frame: \(mean)")
    // The scaled output is rotated the same way.
    let scaled = try await Media.decode(url, .all, output: .scaled(width: 96, height: 128, filter: .bilinear)).frames[0]
    let small = try #require(scaled.image)
    #expect(small.width == 96 && small.height == 128)
    let expected = PILResize.bilinear(image, width: 96, height: 128)
    let smallMean =
      zip(expected.pixels, small.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / expected.pixels.count
    #expect(smallMean <= 3)
  }

  @Test("Leaving the loop early stops the decoder; a source delivers once") func earlyExit() async throws {
    let url = try Media.long10s()
    let source = try await VideoSource.open(url.path, options: .init(bufferedFrames: 2))
    var n = 0
    for try await _ in source.frames() {
      n += 1
      if n == 3 { break }
    }
    try await Task.sleep(for: .milliseconds(100))
    let s = source.statistics
    #expect(s.decodedFrames < 20, "the decoder ran on after the consumer left: \(s.decodedFrames)")
    await #expect(throws: VideoSourceError.self) {
      for try await _ in source.frames() {}
    }
  }

  @Test("Cancelling the consuming task ends the iteration, the decode thread ends, no frame follows")
  func cancellation() async throws {
    let url = try Media.long10s()
    let source = try await VideoSource.open(url.path, options: .init(bufferedFrames: 2))
    let received = Counter()
    let task = Task {
      for try await _ in source.frames(.all, output: .modelInput) {
        received.increment()
        try? await Task.sleep(for: .milliseconds(20))
      }
    }
    while received.value < 3 { try await Task.sleep(for: .milliseconds(5)) }
    task.cancel()
    try await task.value  // the iteration ends (cleanly: cancellation is not an error)
    await source.waitUntilStopped()  // returns only once the decode thread has ended and freed FFmpeg
    let n = received.value
    let s = source.statistics
    // The file has 250 frames; the decoder stopped: it ran at most the hand-off buffer and the decoder's delay ahead.
    #expect(n < 250 && s.decodedFrames < 250, "\(n) received, \(s.decodedFrames) decoded")
    #expect(s.deliveredFrames <= n + 2 + 1, "\(s.deliveredFrames) delivered, \(n) received")
  }

  @Test("Files never drop: a slow consumer slows the decoder; live mode drops the oldest and counts")
  func pacing() async throws {
    let url = try Media.cfrH264()
    let source = try await VideoSource.open(url.path, options: .init(bufferedFrames: 2))
    var n = 0
    for try await _ in source.frames() {
      n += 1
      if n % 10 == 0 { try await Task.sleep(for: .milliseconds(20)) }
    }
    #expect(n == 75 && source.statistics.droppedFrames == 0)

    let live = try await VideoSource.open(url.path, options: .init(live: true, bufferedFrames: 2))
    #expect(live.info.isLive)
    var received = 0
    for try await _ in live.frames() {
      received += 1
      try await Task.sleep(for: .milliseconds(15))
    }
    let s = live.statistics
    #expect(s.droppedFrames > 0)
    #expect(received + s.droppedFrames == s.deliveredFrames, "\(received) + \(s.droppedFrames) vs \(s.deliveredFrames)")
  }

  @Test("Standard input (-) through a pipe") func stdinPipe() throws {
    let url = try Media.bframesMKV()
    try #require(VTagProcess.available, "needs the built vtag binary")
    let out = try Media.capture("cat '\(url.path)' | '\(VTagProcess.binary.path)' probe --frames -")
    let lines = out.split(separator: "\n")
    #expect(lines.count == 1 + 60)
    #expect(lines.first?.contains("\"seekable\":false") == true)
  }
}

/// A thread-safe counter shared between a test and the task it watches.
final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var n = 0
  func increment() {
    lock.lock()
    n += 1
    lock.unlock()
  }
  var value: Int {
    lock.lock()
    defer { lock.unlock() }
    return n
  }
}
