import Foundation
import MediaIO
import Testing
import VTagTestSupport

/// Bad inputs: clear errors naming the input and the problem, or decoding that continues past damage; no crash.
@Suite(.enabled(if: Media.hasFFmpeg, Media.needsFFmpeg))
struct VideoBadInputTests {
  func openError(_ path: String) async -> VideoSourceError? {
    do {
      _ = try await VideoSource.open(path)
      return nil
    } catch let e as VideoSourceError {
      return e
    } catch {
      Issue.record("unexpected error type: \(error)")
      return nil
    }
  }

  @Test("A missing file") func missing() async {
    let e = await openError("/nonexistent/clip.mp4")
    #expect(e?.reason == .fileNotFound)
    #expect(e?.description.contains("/nonexistent/clip.mp4") == true)
  }

  @Test("A directory") func directory() async {
    #expect(await openError(Media.directory.path)?.reason == .isDirectory)
  }

  @Test("A text file is not a video") func textFile() async throws {
    let url = Media.scratch("notes.txt")
    defer { try? FileManager.default.removeItem(at: url) }
    try "just some words\nand more\n".write(to: url, atomically: true, encoding: .utf8)
    let e = try #require(await openError(url.path))
    switch e.reason {
    case .cannotOpen, .notAVideo: break
    default: Issue.record("unexpected reason \(e.reason)")
    }
    #expect(e.description.contains("notes.txt"))
  }

  @Test("An audio-only file: no video stream") func audioOnly() async throws {
    let url = try Media.audioOnly()
    let e = try #require(await openError(url.path))
    guard case .noVideoStream(let detail) = e.reason else {
      Issue.record("unexpected reason \(e.reason)")
      return
    }
    #expect(detail.contains("audio"))
    #expect(e.description.contains("no video stream"))
  }

  @Test("A truncated file decodes what is there") func truncated() async throws {
    let full = try Media.faststartMP4()
    let data = try Data(contentsOf: full)
    let url = Media.scratch("truncated.mp4")
    defer { try? FileManager.default.removeItem(at: url) }
    try data.prefix(data.count * 6 / 10).write(to: url)
    let complete = try await Media.decode(full).frames.count
    let (_, frames, stats) = try await Media.decode(url)
    #expect(frames.count > 0 && frames.count < complete, "\(frames.count) of \(complete)")
    #expect(stats.decodedFrames == frames.count)
    // Opening a file cut before its index fails clearly.
    let head = Media.scratch("head.mp4")
    defer { try? FileManager.default.removeItem(at: head) }
    try data.prefix(200).write(to: head)
    let e = await openError(head.path)
    #expect(e != nil)
  }

  @Test("Corrupted bytes in the middle: decoding continues, damage is counted") func corrupted() async throws {
    let full = try Media.faststartMP4()
    var data = try Data(contentsOf: full)
    var rng = SystemRandomNumberGenerator()
    let start = data.count / 2
    for i in start..<(start + 4000) { data[i] = UInt8.random(in: 0...255, using: &rng) }
    let url = Media.scratch("corrupted.mp4")
    defer { try? FileManager.default.removeItem(at: url) }
    try data.write(to: url)
    let complete = try await Media.decode(full).frames
    let (_, frames, stats) = try await Media.decode(url, .all, output: .modelInput)
    #expect(frames.count >= complete.count * 8 / 10, "\(frames.count) of \(complete.count) frames")
    #expect(frames.last!.t > complete.last!.t - 0.5, "decoding should reach the end")
    #expect(stats.damagedFrames + stats.rejectedPackets > 0, "damage should be counted: \(stats)")
  }

  @Test("An unsupported codec (a Matroska codec ID FFmpeg does not know)") func unsupportedCodec() async throws {
    let mkv = try Media.bframesMKV()
    var data = try Data(contentsOf: mkv)
    let id = Data("V_MPEG4/ISO/AVC".utf8)
    let range = try #require(data.range(of: id))
    data.replaceSubrange(range, with: Data("V_VTAG/UNKNOWN!".utf8))
    let url = Media.scratch("unknown_codec.mkv")
    defer { try? FileManager.default.removeItem(at: url) }
    try data.write(to: url)
    let e = try #require(await openError(url.path))
    guard case .unsupportedCodec = e.reason else {
      Issue.record("unexpected reason \(e.reason)")
      return
    }
    #expect(e.description.contains("unknown_codec.mkv") && e.description.contains("unsupported video codec"))
  }
}
