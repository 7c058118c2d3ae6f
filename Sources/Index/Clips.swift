import CFFmpeg
import Foundation

/// A clip written for a moment: where it really starts (the key frame at or before the moment) and ends.
public struct ClipResult: Sendable, Equatable {
  public var path: String
  public var start: Double
  public var end: Double
}

/// A clip that could not be written.
public struct ClipError: Error, CustomStringConvertible {
  public var path: String
  public var reason: String
  public var description: String { "\(path): \(reason)" }
}

/// Writes moments as clips by stream copy through libavformat (no re-encoding): from the key frame at
/// or before the moment's start to its end, every audio/video/subtitle stream kept.
public enum ClipWriter {
  /// The clip's file name: `<video stem>_<start>-<end>.<ext>` with times in seconds (3 decimals).
  public static func fileName(video: String, start: Double, end: Double, ext: String) -> String {
    let stem = URL(fileURLWithPath: video).deletingPathExtension().lastPathComponent
    return "\(stem)_\(String(format: "%.3f", start))-\(String(format: "%.3f", end)).\(ext)"
  }

  static func check(_ code: Int32, _ what: String, _ path: String) throws {
    guard code >= 0 else {
      var buf = [CChar](repeating: 0, count: 256)
      cff_err2str(code, &buf, buf.count)
      throw ClipError(
        path: path,
        reason: "\(what): \(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }
  }

  /// Writes the clip of `moment` into `directory`.
  public static func write(moment: Moment, directory: String, reencode: Bool = false) throws -> ClipResult {
    guard let input = moment.mediaPath ?? TimelineFile.locateMedia(uri: moment.video, timelinePath: nil) else {
      throw ClipError(path: moment.video, reason: "the media file is not on disk (clips need the original video)")
    }
    let ext = URL(fileURLWithPath: input).pathExtension.isEmpty ? "mkv" : URL(fileURLWithPath: input).pathExtension
    let output = (directory as NSString).appendingPathComponent(
      fileName(video: input, start: moment.start, end: moment.end, ext: ext))
    return try remux(input: input, output: output, start: moment.start, end: moment.end)
  }

  /// Stream-copies `[start, end)` of `input` into `output`, starting at the key frame at or before `start`.
  public static func remux(input: String, output: String, start: Double, end: Double) throws -> ClipResult {
    cff_set_log_error()
    var ictx: UnsafeMutablePointer<AVFormatContext>?
    try check(avformat_open_input(&ictx, input, nil, nil), "cannot open", input)
    defer { avformat_close_input(&ictx) }
    guard let inCtx = ictx else { throw ClipError(path: input, reason: "cannot open") }
    try check(avformat_find_stream_info(inCtx, nil), "cannot read stream info", input)

    var octx: UnsafeMutablePointer<AVFormatContext>?
    try check(avformat_alloc_output_context2(&octx, nil, nil, output), "no muxer for this file name", output)
    guard let outCtx = octx else { throw ClipError(path: output, reason: "no muxer") }
    defer {
      if let pb = outCtx.pointee.pb, (outCtx.pointee.oformat.pointee.flags & AVFMT_NOFILE) == 0 {
        var p: UnsafeMutablePointer<AVIOContext>? = pb
        avio_closep(&p)
      }
      avformat_free_context(outCtx)
    }

    let count = Int(inCtx.pointee.nb_streams)
    var map = [Int](repeating: -1, count: count)
    var next = 0
    for i in 0..<count {
      let ist = inCtx.pointee.streams[i]!
      let type = ist.pointee.codecpar.pointee.codec_type
      guard type == AVMEDIA_TYPE_VIDEO || type == AVMEDIA_TYPE_AUDIO || type == AVMEDIA_TYPE_SUBTITLE else {
        continue
      }
      if type == AVMEDIA_TYPE_VIDEO, (ist.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC) != 0 { continue }
      guard let ost = avformat_new_stream(outCtx, nil) else {
        throw ClipError(path: output, reason: "cannot add a stream")
      }
      try check(avcodec_parameters_copy(ost.pointee.codecpar, ist.pointee.codecpar), "cannot copy codec", output)
      ost.pointee.codecpar.pointee.codec_tag = 0
      ost.pointee.time_base = ist.pointee.time_base
      map[i] = next
      next += 1
    }
    let video = Int(av_find_best_stream(inCtx, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0))
    guard video >= 0, map[video] >= 0 else { throw ClipError(path: input, reason: "no video stream") }

    if (outCtx.pointee.oformat.pointee.flags & AVFMT_NOFILE) == 0 {
      try check(avio_open(&outCtx.pointee.pb, output, AVIO_FLAG_WRITE), "cannot create", output)
    }
    try check(avformat_write_header(outCtx, nil), "cannot write the header", output)

    let vst = inCtx.pointee.streams[video]!
    let vtb = vst.pointee.time_base
    func seconds(_ ts: Int64, _ tb: AVRational) -> Double { Double(ts) * Double(tb.num) / Double(tb.den) }
    let target = Int64((start * Double(vtb.den) / Double(vtb.num)).rounded(.down))
    if av_seek_frame(inCtx, Int32(video), target, AVSEEK_FLAG_BACKWARD) < 0 {
      _ = av_seek_frame(inCtx, Int32(video), 0, AVSEEK_FLAG_BACKWARD)
    }

    guard let pkt = av_packet_alloc() else { throw ClipError(path: output, reason: "out of memory") }
    defer {
      var p: UnsafeMutablePointer<AVPacket>? = pkt
      av_packet_free(&p)
    }
    var offset: Double?  // seconds subtracted from every timestamp (the first video packet's dts)
    var clipStart = start
    var lastVideoEnd = start
    let nopts = cff_nopts()
    while av_read_frame(inCtx, pkt) >= 0 {
      defer { av_packet_unref(pkt) }
      let si = Int(pkt.pointee.stream_index)
      guard si < count, map[si] >= 0 else { continue }
      let tb = inCtx.pointee.streams[si]!.pointee.time_base
      let pts = pkt.pointee.pts == nopts ? nil : Optional(seconds(pkt.pointee.pts, tb))
      let dts = pkt.pointee.dts == nopts ? pts : Optional(seconds(pkt.pointee.dts, tb))
      if offset == nil {
        // Wait for the video key frame the seek landed on; drop anything before it.
        guard si == video, (pkt.pointee.flags & AV_PKT_FLAG_KEY) != 0, let p = pts else { continue }
        offset = dts ?? p
        clipStart = p
      }
      guard let off = offset else { continue }
      if si == video {
        if let d = dts, d >= end { break }
        if let p = pts {
          let dur = seconds(pkt.pointee.duration, tb)
          lastVideoEnd = max(lastVideoEnd, p + dur)
        }
      } else {
        if let p = pts, p < clipStart || p >= end { continue }
      }
      let shift = Int64((off * Double(tb.den) / Double(tb.num)).rounded())
      if pkt.pointee.pts != nopts { pkt.pointee.pts -= shift }
      if pkt.pointee.dts != nopts { pkt.pointee.dts -= shift }
      let ost = outCtx.pointee.streams[map[si]]!
      av_packet_rescale_ts(pkt, tb, ost.pointee.time_base)
      pkt.pointee.stream_index = Int32(map[si])
      pkt.pointee.pos = -1
      try check(av_interleaved_write_frame(outCtx, pkt), "cannot write a packet", output)
    }
    guard offset != nil else {
      _ = av_write_trailer(outCtx)
      throw ClipError(path: input, reason: "no video key frame at or before \(start) s")
    }
    try check(av_write_trailer(outCtx), "cannot finish", output)
    return ClipResult(path: output, start: clipStart, end: min(end, max(lastVideoEnd, clipStart)))
  }
}
