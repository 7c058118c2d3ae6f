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

  public init(
    live: Bool? = nil, bufferedFrames: Int = 4, decoderThreads: Int = 0, seekThreshold: Double = 1,
    formatOptions: [String: String] = [:], skipNonReferenceFrames: Bool = false, skipMargin: Double = 0.3
  ) {
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
  /// - Throws: ``VideoSourceError`` naming the input and the problem.
  public static func open(_ input: String, options: VideoSourceOptions = .init()) async throws -> VideoSource {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<VideoSource, any Error>) in
      let thread = Thread {
        do {
          c.resume(returning: try VideoSource(opening: input, options: options))
        } catch {
          c.resume(throwing: error)
        }
      }
      thread.name = "vtag.video.open"
      thread.start()
    }
  }

  /// Opens `input` on the calling thread (blocking; do not call from the cooperative pool for network inputs).
  /// - Throws: ``VideoSourceError`` naming the input and the problem.
  public init(opening input: String, options: VideoSourceOptions = .init()) throws(VideoSourceError) {
    let d = try Demuxer(input: input, options: options)
    demuxer = d
    info = d.info
  }

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

/// A flag the libavformat interrupt callback reads, to abort blocking I/O when the consumer cancels.
private final class InterruptFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var raised = false
  func raise() {
    lock.lock()
    raised = true
    lock.unlock()
  }
  var isRaised: Bool {
    lock.lock()
    defer { lock.unlock() }
    return raised
  }
}

/// Owns the FFmpeg demuxer and decoder of one input; its decode thread is the only user once started.
/// Every FFmpeg object is freed once, in ``close()`` (called by the thread at its end, or by `deinit`).
private final class Demuxer: @unchecked Sendable {
  let info: VideoInfo
  private var format: UnsafeMutablePointer<AVFormatContext>?
  private var codec: UnsafeMutablePointer<AVCodecContext>?
  private let stream: UnsafeMutablePointer<AVStream>
  private let streamIndex: Int32
  private let options: VideoSourceOptions
  private let interrupt = InterruptFlag()
  private let lock = NSLock()
  private var started = false
  private var stats = SourceStatistics()
  private var buffer: BoundedFrameBuffer<DecodedFrame>?
  private let stopped = StopSignal()

  /// Codecs FFmpeg presents as video that are not moving pictures (text rendered as ANSI art and kin).
  static let textCodecs: Set<UInt32> = [AV_CODEC_ID_ANSI, AV_CODEC_ID_BINTEXT, AV_CODEC_ID_XBIN, AV_CODEC_ID_IDF]
    .reduce(into: Set<UInt32>()) { $0.insert($1.rawValue) }

  static let liveSchemes: Set<String> = ["rtsp", "rtsps", "rtmp", "rtmps", "udp", "rtp", "srt", "tcp", "mmsh", "mmst"]

  init(input: String, options: VideoSourceOptions) throws(VideoSourceError) {
    _ = FFmpegStillDecoding.silenceLogging
    func fail(_ r: VideoSourceError.Reason) -> VideoSourceError { VideoSourceError(input: input, reason: r) }
    self.options = options

    let url: String
    var scheme: String?
    if input == "-" {
      url = "pipe:0"
    } else if let range = input.range(of: "://"), input[..<range.lowerBound].allSatisfy({ $0.isLetter || $0 == "+" }) {
      url = input
      scheme = input[..<range.lowerBound].lowercased()
    } else {
      var isDir: ObjCBool = false
      guard !input.isEmpty, FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
        throw fail(.fileNotFound)
      }
      if isDir.boolValue { throw fail(.isDirectory) }
      url = "file:" + input
    }

    guard let ctx = avformat_alloc_context() else { throw fail(.cannotOpen("out of memory")) }
    ctx.pointee.interrupt_callback.callback = { opaque in
      guard let opaque else { return 0 }
      return Unmanaged<InterruptFlag>.fromOpaque(opaque).takeUnretainedValue().isRaised ? 1 : 0
    }
    ctx.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(interrupt).toOpaque()
    var fmt: UnsafeMutablePointer<AVFormatContext>? = ctx
    var opts: OpaquePointer? = nil
    for (k, v) in options.formatOptions { av_dict_set(&opts, k, v, 0) }
    let openStatus = avformat_open_input(&fmt, url, nil, &opts)  // frees ctx on failure
    av_dict_free(&opts)
    guard openStatus >= 0, let fmtCtx = fmt else {
      throw fail(.cannotOpen(FFmpegStillDecoding.errorString(openStatus)))
    }
    // From here on `self.format` owns the context; `deinit` frees it on any later failure.
    format = fmtCtx
    let infoStatus = avformat_find_stream_info(fmtCtx, nil)
    if infoStatus < 0 {
      avformat_close_input(&format)
      throw fail(.cannotOpen("cannot read stream information: \(FFmpegStillDecoding.errorString(infoStatus))"))
    }
    let formatName = fmtCtx.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "?"

    let best = av_find_best_stream(fmtCtx, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
    guard best >= 0, let st = fmtCtx.pointee.streams[Int(best)], let par = st.pointee.codecpar else {
      var kinds: [String] = []
      for i in 0..<Int(fmtCtx.pointee.nb_streams) {
        guard let p = fmtCtx.pointee.streams[i]?.pointee.codecpar else { continue }
        let type = av_get_media_type_string(p.pointee.codec_type).map { String(cString: $0) } ?? "unknown"
        kinds.append("\(type) (\(String(cString: avcodec_get_name(p.pointee.codec_id))))")
      }
      avformat_close_input(&format)
      throw fail(
        .noVideoStream(
          kinds.isEmpty
            ? "format \(formatName) has no streams" : "format \(formatName) has " + kinds.joined(separator: ", ")))
    }
    stream = st
    streamIndex = best
    let codecID = par.pointee.codec_id
    let codecName = String(cString: avcodec_get_name(codecID))
    if Self.textCodecs.contains(codecID.rawValue) {
      avformat_close_input(&format)
      throw fail(.notAVideo("format \(formatName) renders text (\(codecName))"))
    }
    guard let decoder = avcodec_find_decoder(codecID) else {
      avformat_close_input(&format)
      if codecID == AV_CODEC_ID_NONE {
        throw fail(.unsupportedCodec("format \(formatName) names a video codec FFmpeg does not know"))
      }
      throw fail(.unsupportedCodec("\(codecName): this FFmpeg build has no decoder for it"))
    }
    guard let cc = avcodec_alloc_context3(decoder) else {
      avformat_close_input(&format)
      throw fail(.cannotOpen("out of memory"))
    }
    codec = cc
    if avcodec_parameters_to_context(cc, par) < 0 {
      avcodec_free_context(&codec)
      avformat_close_input(&format)
      throw fail(.unsupportedCodec("\(codecName): bad codec parameters"))
    }
    cc.pointee.thread_count = Int32(max(0, options.decoderThreads))
    cc.pointee.pkt_timebase = st.pointee.time_base
    let opened = avcodec_open2(cc, decoder, nil)
    if opened < 0 {
      avcodec_free_context(&codec)
      avformat_close_input(&format)
      throw fail(
        .unsupportedCodec("\(codecName): the decoder refuses the stream: \(FFmpegStillDecoding.errorString(opened))"))
    }

    let tb = st.pointee.time_base
    let tbSeconds = tb.den != 0 ? Double(tb.num) / Double(tb.den) : 0
    let nopts = cff_nopts()
    var duration: Double?
    if st.pointee.duration != nopts, st.pointee.duration > 0 {
      duration = Double(st.pointee.duration) * tbSeconds
    } else if fmtCtx.pointee.duration != nopts, fmtCtx.pointee.duration > 0 {
      duration = Double(fmtCtx.pointee.duration) / Double(AV_TIME_BASE)
    }
    func rate(_ r: AVRational) -> Double? { r.num > 0 && r.den > 0 ? Double(r.num) / Double(r.den) : nil }
    let frameRate = rate(st.pointee.avg_frame_rate) ?? rate(st.pointee.r_frame_rate)
    let ccw = cff_stream_display_rotation(st)
    let clockwise = ((Int((-ccw).rounded()) % 360) + 360) % 360
    let rotation = [0, 90, 180, 270].min { abs($0 - clockwise) < abs($1 - clockwise) } ?? 0
    let seekable =
      (fmtCtx.pointee.pb.map { $0.pointee.seekable != 0 } ?? false)
      && (fmtCtx.pointee.iformat.map { $0.pointee.flags & AVFMT_NOFILE == 0 } ?? true)
      || (fmtCtx.pointee.pb == nil && duration != nil)
    let autoLive =
      scheme.map { Self.liveSchemes.contains($0) } ?? false || (duration == nil && !seekable && input != "-")
    let pixFmt = av_get_pix_fmt_name(AVPixelFormat(rawValue: par.pointee.format)).map { String(cString: $0) }
    info = VideoInfo(
      input: input, formatName: formatName, duration: duration, frameRate: frameRate,
      width: Int(par.pointee.width), height: Int(par.pointee.height), codecName: codecName, pixelFormat: pixFmt,
      rotation: rotation, timeBase: (tb.num, tb.den),
      startTime: st.pointee.start_time != nopts ? Double(st.pointee.start_time) * tbSeconds : nil,
      declaredFrameCount: st.pointee.nb_frames > 0 ? Int(st.pointee.nb_frames) : nil,
      bitRate: fmtCtx.pointee.bit_rate > 0 ? Int(fmtCtx.pointee.bit_rate) : nil,
      isSeekable: seekable, isLive: options.live ?? autoLive, streamIndex: Int(best))
  }

  deinit { close() }

  /// Frees the decoder and the demuxer (idempotent).
  func close() {
    if codec != nil { avcodec_free_context(&codec) }
    if format != nil { avformat_close_input(&format) }
  }

  func statisticsSnapshot() -> SourceStatistics {
    lock.lock()
    var s = stats
    let b = buffer
    lock.unlock()
    if let b, info.isLive { s.droppedFrames = b.droppedCount }
    return s
  }

  private func updateStats(_ body: (inout SourceStatistics) -> Void) {
    lock.lock()
    body(&stats)
    lock.unlock()
  }

  func waitUntilStopped() async {
    if wasStarted { await stopped.wait() }
  }

  private var wasStarted: Bool {
    lock.lock()
    defer { lock.unlock() }
    return started
  }

  /// Starts the decode thread; `nil` when it was started before.
  func start(sampling: FrameSampling, output: FrameOutput) -> BoundedFrameBuffer<DecodedFrame>? {
    lock.lock()
    if started {
      lock.unlock()
      return nil
    }
    started = true
    let b = BoundedFrameBuffer<DecodedFrame>(
      capacity: max(1, options.bufferedFrames), policy: info.isLive ? .dropOldest : .blockProducer)
    buffer = b
    lock.unlock()
    let flag = interrupt
    b.setOnCancel { flag.raise() }
    let thread = Thread { [self] in
      run(sampling: sampling, output: output, buffer: b)
      close()
      stopped.signal()
    }
    thread.name = "vtag.video.decode"
    thread.start()
    return b
  }

  // MARK: - The decode thread

  /// Per-frame bookkeeping of one decode run.
  private struct FrameMeta {
    var index: Int
    var indexIsExact: Bool
    var t: Double
    var pts: Int64?
    var absoluteTime: Double
    var isKey: Bool
    var isDamaged: Bool
  }

  private func run(sampling: FrameSampling, output: FrameOutput, buffer: BoundedFrameBuffer<DecodedFrame>) {
    guard let fmtCtx = format, let cc = codec else {
      buffer.finish(throwing: VideoSourceError(input: info.input, reason: .decodeFailed("the source was closed")))
      return
    }
    var packetBox = av_packet_alloc()
    var frameBox = av_frame_alloc()
    var heldBox = av_frame_alloc()
    defer {
      av_packet_free(&packetBox)
      av_frame_free(&frameBox)
      av_frame_free(&heldBox)
    }
    guard let pkt = packetBox, let frame = frameBox, let held = heldBox else {
      buffer.finish(throwing: VideoSourceError(input: info.input, reason: .decodeFailed("out of memory")))
      return
    }

    let scaler = FrameScaler()
    let tb = stream.pointee.time_base
    let tbSeconds = tb.den != 0 ? Double(tb.num) / Double(tb.den) : 0
    let nopts = cff_nopts()
    var startPts: Int64? = stream.pointee.start_time != nopts ? stream.pointee.start_time : nil
    let fps = info.frameRate ?? 25
    let eagain = cff_averror_eagain()
    let eof = cff_averror_eof()

    var selector: NearestFrameSelector?
    var seekMode = false
    switch sampling {
    case .all: break
    case .keyframes: cc.pointee.skip_frame = AVDISCARD_NONKEY
    case .every(let s): selector = NearestFrameSelector(targets: .every(s))
    case .uniform(let n):
      let duration = info.duration ?? 0
      selector = NearestFrameSelector(targets: .list(uniformTargets(count: max(1, n), duration: duration)))
      seekMode = info.isSeekable && duration > 0
    }
    let skipNonRef = options.skipNonReferenceFrames && selector != nil
    var skipping = false
    var heldMeta: FrameMeta?
    var frameNumber = 0
    var lastT = 0.0  // the position before the first frame: the start
    var lastPts: Int64?
    var seekedForTarget = -1
    var targetsServed = 0
    var stop = false
    var failure: String?

    func deliver(_ f: UnsafeMutablePointer<AVFrame>, _ m: FrameMeta) {
      let image: RGBImage?
      do {
        image = try scaler.convert(f, output: output, rotation: info.rotation)
      } catch {
        failure = (error as? FrameScaler.Failure)?.message ?? "\(error)"
        stop = true
        return
      }
      let d = DecodedFrame(
        index: m.index, indexIsExact: m.indexIsExact, t: m.t, pts: m.pts, absoluteTime: m.absoluteTime,
        isKeyFrame: m.isKey, isDamaged: m.isDamaged, image: image)
      if buffer.push(d) {
        updateStats { $0.deliveredFrames += 1 }
      } else {
        stop = true
      }
    }

    func handle(_ f: UnsafeMutablePointer<AVFrame>) {
      var pts: Int64? = f.pointee.best_effort_timestamp != nopts ? f.pointee.best_effort_timestamp : nil
      if pts == nil, f.pointee.pts != nopts { pts = f.pointee.pts }
      if pts == nil, let last = lastPts, tbSeconds > 0 {
        pts = last + Int64((1 / fps / tbSeconds).rounded())  // no timestamp at all: one frame after the last
      }
      if let p = pts { lastPts = p }
      if startPts == nil { startPts = pts ?? 0 }
      let absolute = Double(pts ?? 0) * tbSeconds
      let t = Double((pts ?? 0) - (startPts ?? 0)) * tbSeconds
      let damaged = cff_frame_is_damaged(f) != 0
      let exact = !(seekMode || sampling == .keyframes || skipNonRef)
      let meta = FrameMeta(
        index: exact ? frameNumber : Int((t * fps).rounded()), indexIsExact: exact, t: t, pts: pts,
        absoluteTime: absolute, isKey: cff_frame_is_key(f) != 0, isDamaged: damaged)
      frameNumber += 1
      lastT = t
      updateStats {
        $0.decodedFrames += 1
        if damaged { $0.damagedFrames += 1 }
      }
      switch sampling {
      case .all:
        deliver(f, meta)
      case .keyframes:
        if meta.isKey { deliver(f, meta) }
      case .every, .uniform:
        guard var s = selector else { return }
        let before = s.nextTarget
        let decision = s.offer(t)
        selector = s
        if s.nextTarget != before { targetsServed += 1 }
        if decision.emitHeld, let hm = heldMeta { deliver(held, hm) }
        switch decision.current {
        case .keep:
          av_frame_unref(held)
          heldMeta = nil
          deliver(f, meta)
        case .hold:
          av_frame_unref(held)
          if av_frame_ref(held, f) >= 0 { heldMeta = meta } else { heldMeta = nil }
        case .discard:
          av_frame_unref(held)
          heldMeta = nil
        }
        if s.isFinished { stop = true }
      }
    }

    func drain() {
      while !stop {
        let r = avcodec_receive_frame(cc, frame)
        if r == eagain || r == eof { return }
        if r < 0 {
          updateStats { $0.rejectedPackets += 1 }
          return
        }
        handle(frame)
        av_frame_unref(frame)
      }
    }

    var flushed = false
    while !stop {
      if buffer.isCancelled { break }
      // Uniform sampling on a seekable input: jump to a target that is far ahead.
      if seekMode, var s = selector, let target = s.nextTarget, seekedForTarget < targetsServed,
        target - lastT > options.seekThreshold
      {
        seekedForTarget = targetsServed
        let ts = (startPts ?? 0) + Int64((target / tbSeconds).rounded(.down))
        if av_seek_frame(fmtCtx, streamIndex, ts, AVSEEK_FLAG_BACKWARD) >= 0 {
          avcodec_flush_buffers(cc)
          s.forgetHeld()
          selector = s
          av_frame_unref(held)
          heldMeta = nil
          updateStats { $0.seeks += 1 }
        }
      }
      let r = av_read_frame(fmtCtx, pkt)
      if r < 0 {
        if r != eof && !buffer.isCancelled {
          let message = FFmpegStillDecoding.errorString(r)
          updateStats { $0.readError = message }
        }
        flushed = true
        break
      }
      if pkt.pointee.stream_index != streamIndex {
        av_packet_unref(pkt)
        continue
      }
      if skipNonRef, let target = selector?.nextTarget {
        let far = target - lastT > options.skipMargin
        if far != skipping {
          skipping = far
          cc.pointee.skip_frame = far ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
        }
      }
      let s = avcodec_send_packet(cc, pkt)
      av_packet_unref(pkt)
      if s < 0 && s != eagain {
        updateStats { $0.rejectedPackets += 1 }
      }
      drain()
    }
    if flushed && !stop {
      _ = avcodec_send_packet(cc, nil)
      drain()
    }
    // Uniform targets past the last frame are served by the frame held at the end.
    if !stop, case .uniform = sampling, let s = selector, !s.isFinished, let hm = heldMeta {
      deliver(held, hm)
    }
    av_frame_unref(held)

    if let failure {
      buffer.finish(throwing: VideoSourceError(input: info.input, reason: .decodeFailed(failure)))
      return
    }
    let final = statisticsSnapshot()
    if final.decodedFrames == 0 && !buffer.isCancelled {
      let why =
        final.readError
        ?? (final.rejectedPackets > 0
          ? "\(final.rejectedPackets) packets rejected as invalid" : "no frame could be decoded")
      buffer.finish(throwing: VideoSourceError(input: info.input, reason: .decodeFailed(why)))
      return
    }
    buffer.finish()
  }
}
