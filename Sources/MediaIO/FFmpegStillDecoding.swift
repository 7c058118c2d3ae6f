import CFFmpeg
import ImageCore

/// Still-image decoding through libavformat/libavcodec: the first frame of the best video stream of an image file.
enum FFmpegStillDecoding {
  /// FFmpeg logging is process-wide; silence it once before the first use.
  static let silenceLogging: Void = { cff_set_log_quiet() }()

  /// Codecs accepted as still images. Anything else (video codecs, the `tty` text "decoder", …) is rejected, so
  /// that e.g. a `.txt` file is never turned into a picture.
  static let stillImageCodecs: Set<UInt32> = [
    AV_CODEC_ID_PNG, AV_CODEC_ID_APNG, AV_CODEC_ID_BMP, AV_CODEC_ID_GIF, AV_CODEC_ID_WEBP, AV_CODEC_ID_TIFF,
    AV_CODEC_ID_PPM, AV_CODEC_ID_PGM, AV_CODEC_ID_PGMYUV, AV_CODEC_ID_PBM, AV_CODEC_ID_PAM, AV_CODEC_ID_PFM,
    AV_CODEC_ID_PHM, AV_CODEC_ID_TARGA, AV_CODEC_ID_QOI, AV_CODEC_ID_SGI, AV_CODEC_ID_PCX, AV_CODEC_ID_XBM,
    AV_CODEC_ID_XPM, AV_CODEC_ID_XWD, AV_CODEC_ID_SUNRAST, AV_CODEC_ID_DDS, AV_CODEC_ID_PSD,
    AV_CODEC_ID_JPEG2000, AV_CODEC_ID_JPEGLS, AV_CODEC_ID_MJPEG, AV_CODEC_ID_EXR,
    AV_CODEC_ID_PICTOR, AV_CODEC_ID_ALIAS_PIX, AV_CODEC_ID_GEM, AV_CODEC_ID_PTX, AV_CODEC_ID_PHOTOCD,
    AV_CODEC_ID_PGX, AV_CODEC_ID_VBN, AV_CODEC_ID_JPEGXL, AV_CODEC_ID_FITS,
  ].reduce(into: Set<UInt32>()) { $0.insert($1.rawValue) }

  static func errorString(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    cff_err2str(code, &buf, buf.count)
    return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  static func decode(path: String) throws(ImageDecodeError) -> RGBImage {
    _ = silenceLogging
    func fail(_ r: ImageDecodeError.Reason) -> ImageDecodeError { ImageDecodeError(path: path, reason: r) }

    // Open the container. "file:" stops a ':' in the name being read as a protocol; pattern_type=none stops the
    // image2 demuxer treating '%' in the name as a sequence pattern; only the file protocol is allowed.
    var fmt: UnsafeMutablePointer<AVFormatContext>? = nil
    var opts: OpaquePointer? = nil
    av_dict_set(&opts, "protocol_whitelist", "file", 0)
    av_dict_set(&opts, "pattern_type", "none", 0)
    let openStatus = avformat_open_input(&fmt, "file:" + path, nil, &opts)
    av_dict_free(&opts)
    guard openStatus >= 0, let fmtCtx = fmt else {
      throw fail(.notAnImage("FFmpeg cannot identify the format: \(errorString(openStatus))"))
    }
    defer { avformat_close_input(&fmt) }
    let formatName = fmtCtx.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "?"

    let streamIndex = av_find_best_stream(fmtCtx, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
    guard streamIndex >= 0, let stream = fmtCtx.pointee.streams[Int(streamIndex)],
      let par = stream.pointee.codecpar
    else {
      throw fail(.notAnImage("no picture found (format \(formatName))"))
    }
    let codecID = par.pointee.codec_id
    let codecName = String(cString: avcodec_get_name(codecID))
    guard stillImageCodecs.contains(codecID.rawValue) else {
      throw fail(.notAnImage("format \(formatName), codec \(codecName) is not a still-image format"))
    }
    guard let codec = avcodec_find_decoder(codecID) else {
      throw fail(.unsupported("no FFmpeg decoder for \(codecName)"))
    }
    if par.pointee.width > 0, par.pointee.height > 0,
      Int(par.pointee.width) * Int(par.pointee.height) > StillImageDecoder.maxPixels
    {
      throw fail(.tooLarge(width: Int(par.pointee.width), height: Int(par.pointee.height)))
    }

    var ctx = avcodec_alloc_context3(codec)
    guard let codecCtx = ctx else { throw fail(.unreadable("out of memory")) }
    defer { avcodec_free_context(&ctx) }
    guard avcodec_parameters_to_context(codecCtx, par) >= 0 else {
      throw fail(.corrupt("bad codec parameters"))
    }
    codecCtx.pointee.thread_count = 1
    // PNG: verify chunk CRCs and stop at damaged data, as Pillow refuses broken PNGs. Not for every codec: with
    // AV_EF_EXPLODE the TIFF decoder rejects ordinary files.
    if codecID == AV_CODEC_ID_PNG || codecID == AV_CODEC_ID_APNG {
      codecCtx.pointee.err_recognition = AV_EF_CRCCHECK | AV_EF_EXPLODE
    }
    let openCodec = avcodec_open2(codecCtx, codec, nil)
    guard openCodec >= 0 else {
      throw fail(.unsupported("cannot open the \(codecName) decoder: \(errorString(openCodec))"))
    }

    var packet = av_packet_alloc()
    defer { av_packet_free(&packet) }
    var frameBox = av_frame_alloc()
    defer { av_frame_free(&frameBox) }
    guard let pkt = packet, let frame = frameBox else { throw fail(.unreadable("out of memory")) }

    let eagain = cff_averror_eagain()
    let eof = cff_averror_eof()
    var flushed = false
    var gotFrame = false
    var lastError: Int32 = 0
    decodeLoop: while true {
      if !flushed {
        let r = av_read_frame(fmtCtx, pkt)
        if r < 0 {
          if r != eof { lastError = r }
          flushed = true
          _ = avcodec_send_packet(codecCtx, nil)
        } else {
          defer { av_packet_unref(pkt) }
          if pkt.pointee.stream_index != streamIndex { continue decodeLoop }
          let s = avcodec_send_packet(codecCtx, pkt)
          if s < 0 && s != eagain {
            throw fail(.corrupt("\(codecName): \(errorString(s))"))
          }
        }
      }
      let rr = avcodec_receive_frame(codecCtx, frame)
      if rr == 0 {
        gotFrame = true
        break decodeLoop
      }
      if rr == eagain {
        if flushed { break decodeLoop }
        continue decodeLoop
      }
      if rr == eof { break decodeLoop }
      throw fail(.corrupt("\(codecName): \(errorString(rr))"))
    }
    guard gotFrame else {
      if lastError != 0 { throw fail(.corrupt("\(codecName): \(errorString(lastError))")) }
      throw fail(.corrupt("\(codecName): no picture could be decoded"))
    }
    if frame.pointee.decode_error_flags != 0 {
      throw fail(.corrupt("\(codecName): damaged picture data"))
    }
    let w = Int(frame.pointee.width)
    let h = Int(frame.pointee.height)
    guard w > 0, h > 0 else { throw fail(.corrupt("\(codecName): empty picture")) }
    guard w * h <= StillImageDecoder.maxPixels else { throw fail(.tooLarge(width: w, height: h)) }
    do {
      let format = AVPixelFormat(rawValue: frame.pointee.format)
      if codecID == AV_CODEC_ID_WEBP && (format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVA420P) {
        return try WebPYUV.convert(frame)
      }
      return try FrameToRGB.convert(frame)
    } catch let e as FrameToRGB.Failure {
      throw fail(.unsupported(e.message))
    } catch {
      throw fail(.unsupported("\(error)"))
    }
  }
}
