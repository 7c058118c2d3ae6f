import CFFmpeg
import Foundation
import ImageCore

// MARK: - The decode thread

extension Demuxer {
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

  func run(sampling: FrameSampling, output: FrameOutput, buffer: BoundedFrameBuffer<DecodedFrame>) {
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
    var timedOut = false

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
        if watchdog.guarded({ av_seek_frame(fmtCtx, streamIndex, ts, AVSEEK_FLAG_BACKWARD) }) >= 0 {
          avcodec_flush_buffers(cc)
          s.forgetHeld()
          selector = s
          av_frame_unref(held)
          heldMeta = nil
          updateStats { $0.seeks += 1 }
        }
      }
      let r = watchdog.guarded { av_read_frame(fmtCtx, pkt) }
      if r < 0 {
        if watchdog.hasExpired {
          timedOut = true
        } else if watchdog.isStopped {
          stop = true
        } else if r != eof && !buffer.isCancelled {
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
    if timedOut {
      buffer.finish(throwing: VideoSourceError(input: info.input, reason: .timedOut(seconds: watchdog.timeout ?? 0)))
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
