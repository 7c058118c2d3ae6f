import CFFmpeg
import Foundation
import ImageCore

/// Settings of a ``VideoSource``.
public struct VideoSourceOptions: Sendable, Equatable {
  /// Treat the input as live (drop the oldest buffered frames when the consumer is slow, and count them) or as a file
  /// (never drop; a slow consumer slows the decoder). `nil` decides from the input: network protocols that stream
  /// (`rtsp`, `rtmp`, `udp`, `rtp`, `srt`, `tcp`) and inputs with neither a duration nor seeking are live.
  public var live: Bool?
  /// Decoded frames held between the decode thread and the consumer (default 4; a 1080p RGB frame is 6 MB).
  public var bufferedFrames: Int
  /// Decoder threads; 0 lets FFmpeg choose from the core count (default).
  public var decoderThreads: Int
  /// ``FrameSampling/uniform(count:)`` seeks to a target only when it lies more than this many seconds after the
  /// last decoded frame; closer targets are reached by decoding on (default 1 s).
  public var seekThreshold: Double
  /// Extra libavformat options for opening (e.g. `rw_timeout`, `rtsp_transport`).
  public var formatOptions: [String: String]
  /// With ``FrameSampling/every(seconds:)`` or ``FrameSampling/uniform(count:)``: while the next target is
  /// more than ``skipMargin`` seconds ahead, tell the decoder to skip non-reference frames
  /// (`AVDISCARD_NONREF`), which no later frame needs; near each target every frame is decoded, so the nearest
  /// frame is still found. Frame indices are then estimated from the time (`indexIsExact` false). Off by default.
  public var skipNonReferenceFrames: Bool
  /// How close to a target (seconds) decoding goes back to every frame (default 0.3 s, well beyond B-frame
  /// reordering at common frame rates).
  public var skipMargin: Double
  /// Idle timeout in seconds (default 30): when a blocking read (opening, probing, reading, seeking) gets no byte
  /// for this long, opening throws, or the frames end after the ones already decoded, with
  /// ``VideoSourceError/Reason/timedOut(seconds:)``. Time the consumer spends not asking for frames does not count.
  /// `nil` waits for ever (a stop request still ends the wait).
  public var timeout: Double?

  public init(
    live: Bool? = nil, bufferedFrames: Int = 4, decoderThreads: Int = 0, seekThreshold: Double = 1,
    formatOptions: [String: String] = [:], skipNonReferenceFrames: Bool = false, skipMargin: Double = 0.3,
    timeout: Double? = 30
  ) {
    self.timeout = timeout
    self.live = live
    self.bufferedFrames = bufferedFrames
    self.decoderThreads = decoderThreads
    self.seekThreshold = seekThreshold
    self.formatOptions = formatOptions
    self.skipNonReferenceFrames = skipNonReferenceFrames
    self.skipMargin = skipMargin
  }
}

/// A video file, pipe (`-` is standard input) or stream URL, decoded with FFmpeg on a dedicated thread.
///
/// ```swift
/// let source = try await VideoSource.open("movie.mp4")
/// print(source.info.duration ?? 0, source.info.frameRate ?? 0)
/// for try await frame in source.frames(.every(seconds: 1), output: .modelInput) {
///   // frame.t (seconds from the stream start), frame.image (384×384 RGB, upright)
/// }
/// print(source.statistics.damagedFrames)
/// ```
///
/// Decoding runs on its own `Thread`, never in Swift's cooperative pool. Frames cross to the consumer through a
/// bounded buffer (``VideoSourceOptions/bufferedFrames``): for files the decoder waits while the buffer is full
/// (nothing is dropped); for live inputs the oldest buffered frame is dropped and counted
/// (``SourceStatistics/droppedFrames``). Cancelling the consuming task, or leaving the loop, stops the thread
/// promptly (blocking network reads are interrupted) and frees every FFmpeg object.
///
/// Damaged data does not stop decoding: packets the decoder rejects and frames it flags as damaged are counted in
/// ``statistics``. A source delivers its frames once.
public final class VideoSource: Sendable {
  /// Container and stream properties.
  public let info: VideoInfo
  private let demuxer: Demuxer

  /// Opens `input` on a dedicated thread (opening a network stream can block for seconds).
  ///
  /// Cancelling the calling task, or raising `interrupt`, makes it throw ``VideoSourceError/Reason/interrupted``
  /// within about 100 ms whatever the input is doing; `interrupt` then goes on watching the opened source (raising
  /// it later ends its frames, like ``stop()``).
  /// - Throws: ``VideoSourceError`` naming the input and the problem.
  public static func open(
    _ input: String, options: VideoSourceOptions = .init(), interrupt: SourceInterrupt? = nil
  ) async throws(VideoSourceError) -> VideoSource {
    let watchdog = Watchdog(timeout: options.timeout, external: interrupt)
    let result = await withTaskCancellationHandler {
      await withCheckedContinuation { (c: CheckedContinuation<Result<VideoSource, VideoSourceError>, Never>) in
        let thread = Thread {
          do {
            c.resume(returning: .success(try VideoSource(opening: input, options: options, watchdog: watchdog)))
          } catch let error as VideoSourceError {
            c.resume(returning: .failure(error))
          } catch {
            c.resume(returning: .failure(VideoSourceError(input: input, reason: .cannotOpen("\(error)"))))
          }
        }
        thread.name = "vtag.video.open"
        thread.start()
      }
    } onCancel: {
      watchdog.stop()
    }
    return try result.get()
  }

  /// Opens `input` on the calling thread (blocking; do not call from the cooperative pool for network inputs).
  /// Raising `interrupt` from another thread makes it throw ``VideoSourceError/Reason/interrupted``.
  /// - Throws: ``VideoSourceError`` naming the input and the problem.
  public convenience init(
    opening input: String, options: VideoSourceOptions = .init(), interrupt: SourceInterrupt? = nil
  ) throws(VideoSourceError) {
    try self.init(opening: input, options: options, watchdog: Watchdog(timeout: options.timeout, external: interrupt))
  }

  init(opening input: String, options: VideoSourceOptions, watchdog: Watchdog) throws(VideoSourceError) {
    let d = try Demuxer(input: input, options: options, watchdog: watchdog)
    demuxer = d
    info = d.info
    watchdog.onExternalRaise { [weak d] in d?.stop() }
  }

  /// Stops the source from any thread: a blocking read returns within about 100 ms whatever the input is doing, the
  /// frame sequence ends cleanly (`nil`, frames not yet taken are discarded), and the decode thread frees FFmpeg
  /// (``waitUntilStopped()`` returns once it has). Idempotent; harmless after the end.
  public func stop() { demuxer.stop() }

  /// The frames, sampled as asked and converted to `output`. Iterate once; decoding starts with the iteration.
  public func frames(_ sampling: FrameSampling = .all, output: FrameOutput = .none) -> VideoFrames {
    VideoFrames(demuxer: demuxer, sampling: sampling, output: output)
  }

  /// Counters so far (final once the frame sequence has ended).
  public var statistics: SourceStatistics { demuxer.statisticsSnapshot() }

  /// Returns once the decode thread has ended and freed every FFmpeg object (after the end of the input, an error,
  /// or cancellation); at once when the frames were never iterated.
  public func waitUntilStopped() async { await demuxer.waitUntilStopped() }
}

/// The frames of a ``VideoSource``: an `AsyncSequence` of ``DecodedFrame``s that ends at the end of the input and
/// throws ``VideoSourceError`` when nothing can be decoded. Iterate it once.
public struct VideoFrames: AsyncSequence, Sendable {
  public typealias Element = DecodedFrame
  fileprivate let demuxer: Demuxer
  /// The sampling asked for.
  public let sampling: FrameSampling
  /// The conversion asked for.
  public let output: FrameOutput

  public func makeAsyncIterator() -> Iterator {
    Iterator(state: IteratorState(demuxer: demuxer, sampling: sampling, output: output))
  }

  /// Iterator over decoded frames.
  public struct Iterator: AsyncIteratorProtocol {
    fileprivate let state: IteratorState

    public mutating func next() async throws -> DecodedFrame? {
      try await state.next()
    }
  }
}

/// Starts the decode thread at the first `next()`; cancels it when the iterator goes away.
private final class IteratorState: @unchecked Sendable {
  let demuxer: Demuxer
  let sampling: FrameSampling
  let output: FrameOutput
  private let lock = NSLock()
  private var buffer: BoundedFrameBuffer<DecodedFrame>?
  private var startError: VideoSourceError?

  init(demuxer: Demuxer, sampling: FrameSampling, output: FrameOutput) {
    self.demuxer = demuxer
    self.sampling = sampling
    self.output = output
  }

  deinit { buffer?.cancel() }

  func next() async throws -> DecodedFrame? {
    try await startedBuffer().next()
  }

  private func startedBuffer() throws -> BoundedFrameBuffer<DecodedFrame> {
    lock.lock()
    defer { lock.unlock() }
    if let buffer { return buffer }
    if let startError { throw startError }
    guard let started = demuxer.start(sampling: sampling, output: output) else {
      let e = VideoSourceError(input: demuxer.info.input, reason: .alreadyConsumed)
      startError = e
      throw e
    }
    buffer = started
    return started
  }
}

