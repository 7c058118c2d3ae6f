import CFFmpeg
import ImageCore

/// Lossy WebP (VP8, 4:2:0) to RGB exactly as libwebp's own decoder produces it for Pillow: "fancy" chroma upsampling
/// (each output pixel's chroma is a 9-3-3-1 weighted blend of the four nearest chroma samples) followed by libwebp's
/// 14-bit fixed-point BT.601 limited-range conversion. VP8 decoding itself is bit-exact, so FFmpeg's Y/U/V planes are
/// libwebp's, and the result matches `PIL.Image.open(webp).convert("RGB")`.
enum WebPYUV {
  @inline(__always) static func multHi(_ v: Int, _ c: Int) -> Int { (v * c) >> 8 }

  @inline(__always) static func clip8(_ v: Int) -> UInt8 {
    let mask = (256 << 6) - 1
    if v & ~mask == 0 { return UInt8(v >> 6) }
    return v < 0 ? 0 : 255
  }

  @inline(__always)
  static func store(_ y: Int, _ u: Int, _ v: Int, _ dst: UnsafeMutablePointer<UInt8>) {
    let yy = multHi(y, 19077)
    dst[0] = clip8(yy + multHi(v, 26149) - 14234)
    dst[1] = clip8(yy - multHi(u, 6419) - multHi(v, 13320) + 8708)
    dst[2] = clip8(yy + multHi(u, 33050) - 17685)
  }

  /// One or two output rows from two chroma rows (`topU/V`, `curU/V`), libwebp's `UpsampleRgbLinePair`.
  /// U and V are packed into one integer (`u | v << 16`) and averaged together, as libwebp does.
  static func upsamplePair(
    topY: UnsafePointer<UInt8>, bottomY: UnsafePointer<UInt8>?,
    topU: UnsafePointer<UInt8>, topV: UnsafePointer<UInt8>, curU: UnsafePointer<UInt8>, curV: UnsafePointer<UInt8>,
    topDst: UnsafeMutablePointer<UInt8>, bottomDst: UnsafeMutablePointer<UInt8>?, width len: Int
  ) {
    @inline(__always) func load(_ u: UnsafePointer<UInt8>, _ v: UnsafePointer<UInt8>, _ i: Int) -> UInt32 {
      UInt32(u[i]) | UInt32(v[i]) << 16
    }
    @inline(__always) func emit(_ y: UInt8, _ uv: UInt32, _ dst: UnsafeMutablePointer<UInt8>) {
      store(Int(y), Int(uv & 0xFF), Int((uv >> 16) & 0xFF), dst)
    }
    let lastPair = (len - 1) >> 1
    var tl = load(topU, topV, 0)
    var l = load(curU, curV, 0)
    emit(topY[0], (3 &* tl &+ l &+ 0x0002_0002) >> 2, topDst)
    if let bottomY, let bottomDst { emit(bottomY[0], (3 &* l &+ tl &+ 0x0002_0002) >> 2, bottomDst) }
    var x = 1
    while x <= lastPair {
      let t = load(topU, topV, x)
      let c = load(curU, curV, x)
      let avg = tl &+ t &+ l &+ c &+ 0x0008_0008
      let diag12 = (avg &+ 2 &* (t &+ l)) >> 3
      let diag03 = (avg &+ 2 &* (tl &+ c)) >> 3
      emit(topY[2 * x - 1], (diag12 &+ tl) >> 1, topDst + (2 * x - 1) * 3)
      emit(topY[2 * x], (diag03 &+ t) >> 1, topDst + 2 * x * 3)
      if let bottomY, let bottomDst {
        emit(bottomY[2 * x - 1], (diag03 &+ l) >> 1, bottomDst + (2 * x - 1) * 3)
        emit(bottomY[2 * x], (diag12 &+ c) >> 1, bottomDst + 2 * x * 3)
      }
      tl = t
      l = c
      x += 1
    }
    if len & 1 == 0 {
      emit(topY[len - 1], (3 &* tl &+ l &+ 0x0002_0002) >> 2, topDst + (len - 1) * 3)
      if let bottomY, let bottomDst {
        emit(bottomY[len - 1], (3 &* l &+ tl &+ 0x0002_0002) >> 2, bottomDst + (len - 1) * 3)
      }
    }
  }

  /// Converts a yuv420p / yuva420p frame (alpha ignored) the way libwebp's fancy RGB output does.
  static func convert(_ frame: UnsafeMutablePointer<AVFrame>) throws -> RGBImage {
    let w = Int(frame.pointee.width)
    let h = Int(frame.pointee.height)
    guard let yP = cff_frame_data(frame, 0), let uP = cff_frame_data(frame, 1), let vP = cff_frame_data(frame, 2)
    else { throw FrameToRGB.Failure(message: "WebP frame without Y/U/V planes") }
    let ys = Int(cff_frame_linesize(frame, 0))
    let us = Int(cff_frame_linesize(frame, 1))
    let vs = Int(cff_frame_linesize(frame, 2))
    func yRow(_ r: Int) -> UnsafePointer<UInt8> { UnsafePointer(yP + r * ys) }
    func uRow(_ r: Int) -> UnsafePointer<UInt8> { UnsafePointer(uP + r * us) }
    func vRow(_ r: Int) -> UnsafePointer<UInt8> { UnsafePointer(vP + r * vs) }
    return try RGBImage(width: w, height: h) { out in
      let dst = out.baseAddress!
      func dRow(_ r: Int) -> UnsafeMutablePointer<UInt8> { dst + r * w * 3 }
      // First row: its chroma row mirrored.
      upsamplePair(
        topY: yRow(0), bottomY: nil, topU: uRow(0), topV: vRow(0), curU: uRow(0), curV: vRow(0),
        topDst: dRow(0), bottomDst: nil, width: w)
      // Row pairs (2k−1, 2k) between chroma rows k−1 and k.
      var k = 1
      while 2 * k < h {
        upsamplePair(
          topY: yRow(2 * k - 1), bottomY: yRow(2 * k), topU: uRow(k - 1), topV: vRow(k - 1), curU: uRow(k),
          curV: vRow(k), topDst: dRow(2 * k - 1), bottomDst: dRow(2 * k), width: w)
        k += 1
      }
      // Even height: the last row uses the last chroma row mirrored.
      if h & 1 == 0 && h > 1 {
        let c = (h - 1) / 2
        upsamplePair(
          topY: yRow(h - 1), bottomY: nil, topU: uRow(c), topV: vRow(c), curU: uRow(c), curV: vRow(c),
          topDst: dRow(h - 1), bottomDst: nil, width: w)
      }
    }
  }
}
