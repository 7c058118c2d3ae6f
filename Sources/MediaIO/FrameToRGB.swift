import CFFmpeg
import ImageCore

/// Converts a decoded `AVFrame` into an ``RGBImage`` the way Pillow's `convert("RGB")` treats the equivalent mode.
enum FrameToRGB {
  struct Failure: Error { let message: String }

  /// How one packed pixel format maps to RGB by hand.
  enum Layout {
    /// 8 bits per channel: `bytesPerPixel`, and the byte offsets of R, G, B (alpha / padding ignored).
    case packed8(bytesPerPixel: Int, r: Int, g: Int, b: Int)
    /// 16 bits per channel: Pillow keeps the most significant byte. Offsets are sample indices.
    case packed16(samplesPerPixel: Int, r: Int, g: Int, b: Int, bigEndian: Bool)
    /// 8-bit gray (+ optional alpha byte), replicated into R = G = B.
    case gray8(bytesPerPixel: Int)
    /// 16-bit gray (Pillow mode `I;16`): `convert("RGB")` clips to 255.
    case gray16(bigEndian: Bool)
    /// 16-bit gray + 16-bit alpha (Pillow reads it as `LA;16B`): most significant byte of the gray sample.
    case grayAlpha16(bigEndian: Bool)
    /// 8-bit indices into the 256-entry palette in `data[1]` (native-endian `0xAARRGGBB`).
    case palette
    /// 1 bit per pixel, most significant bit first; `oneIsWhite` for MONOBLACK.
    case mono(oneIsWhite: Bool)
    /// 16-bit RGB 5-6-5 (`greenBits` 6) or x-5-5-5 (`greenBits` 5), red in the high bits (16-bit BMP).
    /// Pillow (`BGR;16` / `BGR;15`) expands each field as `v * 255 / max` with truncation.
    case rgb16(greenBits: Int, bigEndian: Bool)
  }

  static func layout(_ f: AVPixelFormat) -> Layout? {
    switch f {
    case AV_PIX_FMT_RGB24: return .packed8(bytesPerPixel: 3, r: 0, g: 1, b: 2)
    case AV_PIX_FMT_BGR24: return .packed8(bytesPerPixel: 3, r: 2, g: 1, b: 0)
    case AV_PIX_FMT_RGBA, AV_PIX_FMT_RGB0: return .packed8(bytesPerPixel: 4, r: 0, g: 1, b: 2)
    case AV_PIX_FMT_BGRA, AV_PIX_FMT_BGR0: return .packed8(bytesPerPixel: 4, r: 2, g: 1, b: 0)
    case AV_PIX_FMT_ARGB, AV_PIX_FMT_0RGB: return .packed8(bytesPerPixel: 4, r: 1, g: 2, b: 3)
    case AV_PIX_FMT_ABGR, AV_PIX_FMT_0BGR: return .packed8(bytesPerPixel: 4, r: 3, g: 2, b: 1)
    case AV_PIX_FMT_RGB48BE: return .packed16(samplesPerPixel: 3, r: 0, g: 1, b: 2, bigEndian: true)
    case AV_PIX_FMT_RGB48LE: return .packed16(samplesPerPixel: 3, r: 0, g: 1, b: 2, bigEndian: false)
    case AV_PIX_FMT_BGR48BE: return .packed16(samplesPerPixel: 3, r: 2, g: 1, b: 0, bigEndian: true)
    case AV_PIX_FMT_BGR48LE: return .packed16(samplesPerPixel: 3, r: 2, g: 1, b: 0, bigEndian: false)
    case AV_PIX_FMT_RGBA64BE: return .packed16(samplesPerPixel: 4, r: 0, g: 1, b: 2, bigEndian: true)
    case AV_PIX_FMT_RGBA64LE: return .packed16(samplesPerPixel: 4, r: 0, g: 1, b: 2, bigEndian: false)
    case AV_PIX_FMT_BGRA64BE: return .packed16(samplesPerPixel: 4, r: 2, g: 1, b: 0, bigEndian: true)
    case AV_PIX_FMT_BGRA64LE: return .packed16(samplesPerPixel: 4, r: 2, g: 1, b: 0, bigEndian: false)
    case AV_PIX_FMT_GRAY8: return .gray8(bytesPerPixel: 1)
    case AV_PIX_FMT_YA8: return .gray8(bytesPerPixel: 2)
    case AV_PIX_FMT_GRAY16BE: return .gray16(bigEndian: true)
    case AV_PIX_FMT_GRAY16LE: return .gray16(bigEndian: false)
    case AV_PIX_FMT_YA16BE: return .grayAlpha16(bigEndian: true)
    case AV_PIX_FMT_YA16LE: return .grayAlpha16(bigEndian: false)
    case AV_PIX_FMT_PAL8: return .palette
    case AV_PIX_FMT_MONOBLACK: return .mono(oneIsWhite: true)
    case AV_PIX_FMT_MONOWHITE: return .mono(oneIsWhite: false)
    case AV_PIX_FMT_RGB565LE: return .rgb16(greenBits: 6, bigEndian: false)
    case AV_PIX_FMT_RGB565BE: return .rgb16(greenBits: 6, bigEndian: true)
    case AV_PIX_FMT_RGB555LE: return .rgb16(greenBits: 5, bigEndian: false)
    case AV_PIX_FMT_RGB555BE: return .rgb16(greenBits: 5, bigEndian: true)
    default: return nil
    }
  }

  static func convert(_ frame: UnsafeMutablePointer<AVFrame>) throws -> RGBImage {
    let w = Int(frame.pointee.width)
    let h = Int(frame.pointee.height)
    let format = AVPixelFormat(rawValue: frame.pointee.format)
    guard let layout = layout(format) else {
      return try viaSwscale(frame, width: w, height: h, format: format)
    }
    guard let plane0 = cff_frame_data(frame, 0) else { throw Failure(message: "decoded frame has no data") }
    let stride0 = Int(cff_frame_linesize(frame, 0))
    var paletteRGB: [UInt8] = []
    if case .palette = layout {
      guard let pal = cff_frame_data(frame, 1) else { throw Failure(message: "palette frame without a palette") }
      let raw = UnsafeRawPointer(pal)
      paletteRGB = [UInt8](repeating: 0, count: 256 * 3)
      for i in 0..<256 {
        let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
        paletteRGB[3 * i] = UInt8(truncatingIfNeeded: v >> 16)
        paletteRGB[3 * i + 1] = UInt8(truncatingIfNeeded: v >> 8)
        paletteRGB[3 * i + 2] = UInt8(truncatingIfNeeded: v)
      }
    }
    return try RGBImage(width: w, height: h) { out in
      let dst = out.baseAddress!
      for y in 0..<h {
        let row = UnsafePointer(plane0 + y * stride0)
        let o = dst + y * w * 3
        switch layout {
        case .packed8(let bpp, let r, let g, let b):
          if bpp == 3 && r == 0 && g == 1 && b == 2 {
            o.update(from: row, count: w * 3)
          } else {
            for x in 0..<w {
              let p = row + x * bpp
              o[3 * x] = p[r]
              o[3 * x + 1] = p[g]
              o[3 * x + 2] = p[b]
            }
          }
        case .packed16(let spp, let r, let g, let b, let be):
          let hi = be ? 0 : 1
          for x in 0..<w {
            let p = row + x * spp * 2 + hi
            o[3 * x] = p[2 * r]
            o[3 * x + 1] = p[2 * g]
            o[3 * x + 2] = p[2 * b]
          }
        case .gray8(let bpp):
          for x in 0..<w {
            let v = row[x * bpp]
            o[3 * x] = v
            o[3 * x + 1] = v
            o[3 * x + 2] = v
          }
        case .gray16(let be):
          for x in 0..<w {
            let hiByte = row[2 * x + (be ? 0 : 1)]
            let loByte = row[2 * x + (be ? 1 : 0)]
            let v: UInt8 = hiByte == 0 ? loByte : 255
            o[3 * x] = v
            o[3 * x + 1] = v
            o[3 * x + 2] = v
          }
        case .grayAlpha16(let be):
          for x in 0..<w {
            let v = row[4 * x + (be ? 0 : 1)]
            o[3 * x] = v
            o[3 * x + 1] = v
            o[3 * x + 2] = v
          }
        case .palette:
          for x in 0..<w {
            let i = Int(row[x]) * 3
            o[3 * x] = paletteRGB[i]
            o[3 * x + 1] = paletteRGB[i + 1]
            o[3 * x + 2] = paletteRGB[i + 2]
          }
        case .rgb16(let gBits, let be):
          let gMax = (1 << gBits) - 1
          for x in 0..<w {
            let lo = Int(row[2 * x + (be ? 1 : 0)])
            let hi = Int(row[2 * x + (be ? 0 : 1)])
            let p = lo | (hi << 8)
            o[3 * x] = UInt8(((p >> (5 + gBits)) & 31) * 255 / 31)
            o[3 * x + 1] = UInt8(((p >> 5) & gMax) * 255 / gMax)
            o[3 * x + 2] = UInt8((p & 31) * 255 / 31)
          }
        case .mono(let oneIsWhite):
          for x in 0..<w {
            let bit = (row[x >> 3] >> (7 - UInt8(x & 7))) & 1
            let v: UInt8 = (bit == 1) == oneIsWhite ? 255 : 0
            o[3 * x] = v
            o[3 * x + 1] = v
            o[3 * x + 2] = v
          }
        }
      }
    }
  }

  static func viaSwscale(
    _ frame: UnsafeMutablePointer<AVFrame>, width w: Int, height h: Int, format: AVPixelFormat
  ) throws -> RGBImage {
    var status: Int32 = 0
    let image = try RGBImage(width: w, height: h) { out in
      status = cff_frame_to_rgb24(frame, out.baseAddress!, Int32(w * 3))
    }
    if status < 0 {
      let name = av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "format \(format.rawValue)"
      throw Failure(message: "cannot convert pixel format \(name) to RGB: \(FFmpegStillDecoding.errorString(status))")
    }
    return image
  }
}
