import Foundation
import MediaIO
import Testing
import VTagTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Stalled inputs, with real sockets on 127.0.0.1, FIFOs and pipes: a stop request ends a source whatever it is
/// blocked in (opening, probing, reading), cleanly; an idle input times out with an error naming it and the seconds.
/// Nothing here asserts how fast: each test asserts that the source ended, and how. The time limit only keeps a
/// regression from hanging the suite.
@Suite(.enabled(if: Media.hasFFmpeg, Media.needsFFmpeg), .timeLimit(.minutes(2)))
struct StallTests {
  /// 6 s of 160×120 H.264 in MPEG-TS (a format that streams: no index needed).
  static func streamTS() throws -> URL {
    try Media.generate(
      "stall_h264.ts",
      Media.testsrc("160x120", rate: "25", seconds: 6) + " -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p")
  }

  /// The first `fraction` of the stream TS, cut at a 188-byte packet boundary.
  static func prefix(_ fraction: Double) throws -> Data {
    let data = try Data(contentsOf: streamTS())
    return data.prefix(Int(Double(data.count / 188) * fraction) * 188)
  }

  /// Opens `input` in a task; returns the error it ended with (nil when it opened).
  static func openError(
    _ input: String, _ options: VideoSourceOptions, interrupt: SourceInterrupt? = nil
  ) async -> VideoSourceError? {
    do {
      let s = try await VideoSource.open(input, options: options, interrupt: interrupt)
      s.stop()
      return nil
    } catch {
      return error
    }
  }

  static func expectTimedOut(_ e: VideoSourceError?, _ input: String, seconds: Double) {
    #expect(e?.reason == .timedOut(seconds: seconds), "\(String(describing: e))")
    #expect(e?.description.contains(input) == true && e?.description.contains("\(Int(seconds)) s") == true)
  }

  /// A FIFO in a fresh folder, with no writer.
  static func fifo() throws -> (path: String, cleanup: () -> Void) {
    let dir = try Fixtures.temporaryDirectory("vtag-fifo")
    let path = dir.appendingPathComponent("in.ts").path
    try #require(mkfifo(path, 0o600) == 0)
    return (path, { try? FileManager.default.removeItem(at: dir) })
  }

  // MARK: - Opening

  @Test("tcp:// and http:// servers that accept and never send: opening times out, naming the input and seconds")
  func silentServerTimesOut() async throws {
    let server = try StallServer(.silent)
    defer { server.stop() }
    for url in [server.url("tcp"), server.url("http", path: "/live.ts")] {
      Self.expectTimedOut(await Self.openError(url, .init(timeout: 1)), url, seconds: 1)
    }
    #expect(server.acceptedCount == 2)
  }

  @Test("A server that never sends: a raised interrupt, or cancelling the task, ends the open as interrupted")
  func silentServerInterrupted() async throws {
    let server = try StallServer(.silent)
    defer { server.stop() }
    for url in [server.url("tcp"), server.url("http", path: "/live.ts")] {
      let interrupt = SourceInterrupt()
      let before = server.acceptedCount
      let task = Task { await Self.openError(url, .init(timeout: nil), interrupt: interrupt) }
      while server.acceptedCount == before { try await Task.sleep(for: .milliseconds(10)) }
      interrupt.raise()
      #expect(await task.value?.reason == .interrupted)
    }
    let before = server.acceptedCount
    let task = Task { await Self.openError(server.url("tcp"), .init(timeout: nil)) }
    while server.acceptedCount == before { try await Task.sleep(for: .milliseconds(10)) }
    task.cancel()
    #expect(await task.value?.reason == .interrupted)
  }

  @Test("A FIFO with no writer: opening does not block in open(2); it times out, or is interrupted")
  func fifoWithoutWriter() async throws {
    let (path, cleanup) = try Self.fifo()
    defer { cleanup() }
    Self.expectTimedOut(await Self.openError(path, .init(timeout: 1)), path, seconds: 1)

    let interrupt = SourceInterrupt()
    let task = Task { await Self.openError(path, .init(timeout: nil), interrupt: interrupt) }
    try await Task.sleep(for: .milliseconds(200))  // raised before or during the open: either way it must end
    interrupt.raise()
    #expect(await task.value?.reason == .interrupted)

    let cancelled = Task { await Self.openError(path, .init(timeout: nil)) }
    try await Task.sleep(for: .milliseconds(200))
    cancelled.cancel()
    #expect(await cancelled.value?.reason == .interrupted)
  }

  @Test("A FIFO whose writer comes later is read to its end")
  func fifoWriterLater() async throws {
    let (path, cleanup) = try Self.fifo()
    defer { cleanup() }
    let data = try Data(contentsOf: Self.streamTS())
    let writer = Thread {
      Thread.sleep(forTimeInterval: 0.3)
      let fd = open(path, O_WRONLY)
      guard fd >= 0 else { return }
      data.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
          let n = write(fd, raw.baseAddress! + off, raw.count - off)
          if n <= 0 { break }
          off += n
        }
      }
      close(fd)
    }
    writer.start()
    let source = try await VideoSource.open(path, options: .init(live: false))  // a FIFO would be live: no drops
    var n = 0
    for try await _ in source.frames() { n += 1 }
    #expect(n == 150)
  }

  // MARK: - Reading

  /// A source over `input` whose data stops after a while: collects frames until the end, then stops it (when
  /// `stopAfter` frames arrived) or lets it time out.
  static func readUntilEnd(_ source: VideoSource, stopAfter: Int?) async -> (frames: Int, error: VideoSourceError?) {
    var n = 0
    do {
      for try await _ in source.frames() {
        n += 1
        if let k = stopAfter, n == k { source.stop() }
      }
      return (n, nil)
    } catch let e as VideoSourceError {
      return (n, e)
    } catch {
      Issue.record("unexpected error \(error)")
      return (n, nil)
    }
  }

  @Test("An HTTP stream that stalls mid-stream: the frames end with a timeout after the data that came")
  func httpStallTimesOut() async throws {
    let server = try StallServer(.httpStall(prefix: try Self.prefix(0.6)))
    defer { server.stop() }
    let url = server.url("http", path: "/stream.ts")
    let source = try await VideoSource.open(url, options: .init(live: false, timeout: 1))
    let (n, e) = await Self.readUntilEnd(source, stopAfter: nil)
    #expect(n > 10 && n < 150, "\(n) frames")
    Self.expectTimedOut(e, url, seconds: 1)
    await source.waitUntilStopped()
  }

  @Test("An HTTP stream that stalls mid-stream: stop() from another task ends it cleanly")
  func httpStallStopped() async throws {
    let server = try StallServer(.httpStall(prefix: try Self.prefix(0.6)))
    defer { server.stop() }
    let source = try await VideoSource.open(server.url("http", path: "/s.ts"), options: .init(live: false, timeout: nil))
    let frames = Counter()
    let reader = Task { () -> VideoSourceError? in
      do {
        for try await _ in source.frames() { frames.increment() }
        return nil
      } catch {
        return error as? VideoSourceError
      }
    }
    // Let it reach the stall: the decoder has taken every frame of the prefix (some tens) and waits for more.
    while frames.value < 10 { try await Task.sleep(for: .milliseconds(10)) }
    try await Task.sleep(for: .milliseconds(300))
    source.stop()
    #expect(await reader.value == nil)  // a clean end, not an error
    await source.waitUntilStopped()
    #expect(frames.value < 150)
  }

  /// A pipe whose writer sends part of a stream and then stays open without sending: what a stalled standard input
  /// looks like (read here through `/dev/fd/N`, which reopens the pipe, so the test process's own stdin is untouched).
  static func stalledPipe(_ prefix: Data) throws -> (path: String, close: () -> Void) {
    var fds: [Int32] = [0, 0]
    try #require(pipe(&fds) == 0)
    _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, 1 << 20)
    let written = prefix.withUnsafeBytes { write(fds[1], $0.baseAddress!, $0.count) }
    try #require(written == prefix.count, "the pipe holds \(written) of \(prefix.count) bytes")
    return ("/dev/fd/\(fds[0])", {
      close(fds[1])
      close(fds[0])
    })
  }

  @Test("A pipe that stops sending (as a stalled stdin): a timeout, or a clean stop")
  func stalledPipeTimesOutOrStops() async throws {
    let prefix = try Self.prefix(0.5)
    guard prefix.count <= 1 << 20 else {
      Issue.record("the prefix (\(prefix.count) bytes) does not fit the pipe")
      return
    }
    let (path, closeTimed) = try Self.stalledPipe(prefix)
    defer { closeTimed() }
    let timed = try await VideoSource.open(path, options: .init(live: false, timeout: 1))
    #expect(!timed.info.isSeekable)
    let (n, e) = await Self.readUntilEnd(timed, stopAfter: nil)
    #expect(n > 10 && n < 150, "\(n) frames")
    Self.expectTimedOut(e, path, seconds: 1)

    let (path2, closeStopped) = try Self.stalledPipe(prefix)
    defer { closeStopped() }
    let stopped = try await VideoSource.open(path2, options: .init(live: false, timeout: nil))
    let (m, e2) = await Self.readUntilEnd(stopped, stopAfter: 5)
    #expect(e2 == nil && m >= 5 && m < 150, "\(m) frames, \(String(describing: e2))")
    await stopped.waitUntilStopped()
  }

  @Test("A source shared interrupt, raised while the consumer is slow (the decoder blocked on a full buffer)")
  func interruptWhileBackPressured() async throws {
    let interrupt = SourceInterrupt()
    let source = try await VideoSource.open(
      try Self.streamTS().path, options: .init(bufferedFrames: 1), interrupt: interrupt)
    var n = 0
    for try await _ in source.frames() {
      n += 1
      if n == 3 { interrupt.raise() }
    }
    await source.waitUntilStopped()
    #expect(n >= 3 && n < 150)
    #expect(source.statistics.readError == nil)
  }
}
