import CFFmpeg
import Foundation
import ImageCore

/// Owns the FFmpeg demuxer and decoder of one input; its decode thread is the only user once started.
/// Every FFmpeg object is freed once, in ``close()`` (called by the thread at its end, or by `deinit`).
///
/// Every blocking libavformat call (open, stream probing, reads, seeks, close) runs under the ``Watchdog``: the
/// interrupt callback of the format context (network protocols) and the ``LocalInput`` reader (files, FIFOs,
/// standard input) ask it every ~100 ms whether to stop, and whether the idle timeout has passed.
final class Demuxer: @unchecked Sendable {
  let info: VideoInfo
  var format: UnsafeMutablePointer<AVFormatContext>?
  var codec: UnsafeMutablePointer<AVCodecContext>?
  let stream: UnsafeMutablePointer<AVStream>
  let streamIndex: Int32
  let options: VideoSourceOptions
  let watchdog: Watchdog
  private var local: LocalInput?
  private let lock = NSLock()
  private var started = false
  private var stats = SourceStatistics()
  private var buffer: BoundedFrameBuffer<DecodedFrame>?
  private let stopped = StopSignal()

  /// Codecs FFmpeg presents as video that are not moving pictures (text rendered as ANSI art and kin).
  static let textCodecs: Set<UInt32> = [AV_CODEC_ID_ANSI, AV_CODEC_ID_BINTEXT, AV_CODEC_ID_XBIN, AV_CODEC_ID_IDF]
    .reduce(into: Set<UInt32>()) { $0.insert($1.rawValue) }

  static let liveSchemes: Set<String> = ["rtsp", "rtsps", "rtmp", "rtmps", "udp", "rtp", "srt", "tcp", "mmsh", "mmst"]

  /// The scheme of a URL input (`rtsp`, `http`, …), or `nil` for a path or `-`.
  static func scheme(of input: String) -> String? {
    guard let range = input.range(of: "://"), !input[..<range.lowerBound].isEmpty,
      input[..<range.lowerBound].allSatisfy({ $0.isLetter || $0 == "+" })
    else { return nil }
    return input[..<range.lowerBound].lowercased()
  }

  init(input: String, options: VideoSourceOptions, watchdog: Watchdog) throws(VideoSourceError) {
    _ = FFmpegStillDecoding.silenceLogging
    func fail(_ r: VideoSourceError.Reason) -> VideoSourceError { VideoSourceError(input: input, reason: r) }
    self.options = options
    self.watchdog = watchdog
    /// The reason a blocking call failed: the watchdog's verdict when it caused the failure, else FFmpeg's message.
    func failure(_ code: Int32, _ what: (String) -> VideoSourceError.Reason) -> VideoSourceError {
      if watchdog.hasExpired { return fail(.timedOut(seconds: watchdog.timeout ?? 0)) }
      if watchdog.isStopped { return fail(.interrupted) }
      return fail(what(FFmpegStillDecoding.errorString(code)))
    }
    if watchdog.isStopped { throw fail(.interrupted) }

    let url: String
    let scheme = Self.scheme(of: input)
    var localPath: String??  // .some(nil): standard input
    if input == "-" {
      url = "pipe:0"
      localPath = .some(nil)
    } else if scheme != nil {
      url = input
    } else {
      var isDir: ObjCBool = false
      guard !input.isEmpty, FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
        throw fail(.fileNotFound)
      }
      if isDir.boolValue { throw fail(.isDirectory) }
      url = "file:" + input
      localPath = .some(input)
    }

    guard let ctx = avformat_alloc_context() else { throw fail(.cannotOpen("out of memory")) }
    if let localPath {
      do {
        let l = try LocalInput(path: localPath, watchdog: watchdog)
        local = l
        ctx.pointee.pb = l.context
      } catch {
        avformat_free_context(ctx)
        if case .system(let m) = error { throw fail(.cannotOpen(m)) }
        throw fail(.cannotOpen("\(error)"))
      }
    }
    ctx.pointee.interrupt_callback.callback = { opaque in
      guard let opaque else { return 0 }
      return Unmanaged<Watchdog>.fromOpaque(opaque).takeUnretainedValue().interruptRequested() ? 1 : 0
    }
    // Unretained: the context never outlives this object, which holds the watchdog (``close()`` frees it first).
    ctx.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(watchdog).toOpaque()
    watchdog.context = ctx
    var fmt: UnsafeMutablePointer<AVFormatContext>? = ctx
    var opts: OpaquePointer? = nil
    for (k, v) in options.formatOptions { av_dict_set(&opts, k, v, 0) }
    let openStatus = watchdog.guarded { avformat_open_input(&fmt, url, nil, &opts) }  // frees ctx on failure
    av_dict_free(&opts)
    guard openStatus >= 0, let fmtCtx = fmt else {
      watchdog.context = nil
      Self.release(&codec, &format, &local, watchdog)
      throw failure(openStatus) { .cannotOpen($0) }
    }
    // From here on `self.format` owns the context; `deinit` frees it on any later failure.
    format = fmtCtx
    let infoStatus = watchdog.guarded { avformat_find_stream_info(fmtCtx, nil) }
    if infoStatus < 0 {
      let e = failure(infoStatus) { .cannotOpen("cannot read stream information: \($0)") }
      Self.release(&codec, &format, &local, watchdog)
      throw e
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
      Self.release(&codec, &format, &local, watchdog)
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
      Self.release(&codec, &format, &local, watchdog)
      throw fail(.notAVideo("format \(formatName) renders text (\(codecName))"))
    }
    guard let decoder = avcodec_find_decoder(codecID) else {
      Self.release(&codec, &format, &local, watchdog)
      if codecID == AV_CODEC_ID_NONE {
        throw fail(.unsupportedCodec("format \(formatName) names a video codec FFmpeg does not know"))
      }
      throw fail(.unsupportedCodec("\(codecName): this FFmpeg build has no decoder for it"))
    }
    guard let cc = avcodec_alloc_context3(decoder) else {
      Self.release(&codec, &format, &local, watchdog)
      throw fail(.cannotOpen("out of memory"))
    }
    codec = cc
    if avcodec_parameters_to_context(cc, par) < 0 {
      Self.release(&codec, &format, &local, watchdog)
      throw fail(.unsupportedCodec("\(codecName): bad codec parameters"))
    }
    cc.pointee.thread_count = Int32(max(0, options.decoderThreads))
    cc.pointee.pkt_timebase = st.pointee.time_base
    let opened = avcodec_open2(cc, decoder, nil)
    if opened < 0 {
      Self.release(&codec, &format, &local, watchdog)
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
  func close() { Self.release(&codec, &format, &local, watchdog) }

  /// Frees the decoder, the demuxer and the local reader, each once (usable before `init` completes).
  private static func release(
    _ codec: inout UnsafeMutablePointer<AVCodecContext>?, _ format: inout UnsafeMutablePointer<AVFormatContext>?,
    _ local: inout LocalInput?, _ watchdog: Watchdog
  ) {
    if codec != nil { avcodec_free_context(&codec) }
    if format != nil { watchdog.guarded { avformat_close_input(&format) } }
    watchdog.context = nil
    local?.close()
    local = nil
    watchdog.detach()
  }

  /// Stops the source from any thread: blocking reads return, the frames end cleanly.
  func stop() {
    watchdog.stop()
    lock.lock()
    let b = buffer
    lock.unlock()
    b?.cancel()
  }

  func statisticsSnapshot() -> SourceStatistics {
    lock.lock()
    var s = stats
    let b = buffer
    lock.unlock()
    if let b, info.isLive { s.droppedFrames = b.droppedCount }
    return s
  }

  func updateStats(_ body: (inout SourceStatistics) -> Void) {
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
    let dog = watchdog
    b.setOnCancel { dog.stop() }
    let thread = Thread { [self] in
      run(sampling: sampling, output: output, buffer: b)
      close()
      stopped.signal()
    }
    thread.name = "vtag.video.decode"
    thread.start()
    return b
  }

}
