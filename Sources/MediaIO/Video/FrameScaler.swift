import CFFmpeg
import ImageCore

/// Converts decoded frames to RGB with one cached swscale context: straight from the decoded pixel format to the
/// requested size (one pass, no intermediate full-size RGB), then turns the picture upright.
///
/// Colour: the frame's matrix (BT.601 when unspecified) and range, to full-range RGB, as the still-image path.
/// Rotation by 90°/270° scales to the transposed size first and rotates the small result; with a separable filter
/// that equals rotating first and scaling after.
final class FrameScaler {
  private var context: OpaquePointer?
  private var key: [Int32] = []

  deinit { sws_freeContext(context) }

  /// swscale flags for scaling with `filter`: accurate rounding and full-resolution chroma in and out.
  static func flags(_ filter: ScaleFilter) -> Int32 {
    let base: Int32
    switch filter {
    case .bilinear: base = SWS_BILINEAR
    case .area: base = SWS_AREA
    case .bicubic: base = SWS_BICUBIC
    }
    return base | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
  }

  /// Same flags as the still-image path's full-resolution conversion (bit-exact, no scaling).
  static let fullResolutionFlags: Int32 =
    SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP

  struct Failure: Error { let message: String }

  /// The frame as RGB per `output` (nil for ``FrameOutput/none``), rotated clockwise by `rotation` degrees.
  func convert(_ frame: UnsafeMutablePointer<AVFrame>, output: FrameOutput, rotation: Int) throws -> RGBImage? {
    let srcW = frame.pointee.width
    let srcH = frame.pointee.height
    guard srcW > 0, srcH > 0 else { throw Failure(message: "decoded frame has no size") }
    let transposed = rotation == 90 || rotation == 270
    let dstW: Int32
    let dstH: Int32
    let flags: Int32
    switch output {
    case .none:
      return nil
    case .scaled(let w, let h, let filter):
      guard w > 0, h > 0, w <= 1 << 14, h <= 1 << 14 else { throw Failure(message: "invalid output size \(w)×\(h)") }
      dstW = Int32(transposed ? h : w)
      dstH = Int32(transposed ? w : h)
      flags = Self.flags(filter)
    case .fullResolution:
      dstW = srcW
      dstH = srcH
      flags = Self.fullResolutionFlags
    }
    let format = frame.pointee.format
    let newKey: [Int32] = [
      srcW, srcH, format, dstW, dstH, flags, Int32(frame.pointee.colorspace.rawValue),
      Int32(frame.pointee.color_range.rawValue),
    ]
    if newKey != key || context == nil {
      context = sws_getCachedContext(
        context, srcW, srcH, AVPixelFormat(rawValue: format), dstW, dstH, AV_PIX_FMT_RGB24, flags, nil, nil, nil)
      guard let context else {
        key = []
        let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: format)).map { String(cString: $0) } ?? "\(format)"
        throw Failure(message: "swscale cannot convert \(name) \(srcW)×\(srcH) to RGB \(dstW)×\(dstH)")
      }
      cff_sws_set_frame_colorspace(context, frame)
      key = newKey
    }
    let ctx = context
    var scaledRows: Int32 = 0
    let image = try RGBImage(width: Int(dstW), height: Int(dstH)) { out in
      var dst: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
      var strides: [Int32] = [dstW * 3, 0, 0, 0]
      withUnsafePointer(to: &frame.pointee.data) { dataTuple in
        withUnsafePointer(to: &frame.pointee.linesize) { lineTuple in
          dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
            lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { lines in
              scaledRows = sws_scale(ctx, src, lines, 0, srcH, &dst, &strides)
            }
          }
        }
      }
    }
    guard scaledRows == dstH else { throw Failure(message: "swscale produced \(scaledRows) of \(dstH) rows") }
    return rotation == 0 ? image : RGBRotation.rotateClockwise(image, degrees: rotation)
  }
}

/// Quarter-turn rotations of RGB images.
public enum RGBRotation {
  /// `image` turned clockwise by `degrees` (0, 90, 180 or 270; anything else returns the image unchanged).
  public static func rotateClockwise(_ image: RGBImage, degrees: Int) -> RGBImage {
    let w = image.width
    let h = image.height
    let turns = ((degrees % 360) + 360) % 360
    guard turns == 90 || turns == 180 || turns == 270 else { return image }
    let outW = turns == 180 ? w : h
    let outH = turns == 180 ? h : w
    // swiftlint:disable:next force_try
    return try! RGBImage(width: outW, height: outH) { out in
      image.pixels.withUnsafeBufferPointer { src in
        let s = src.baseAddress!
        let d = out.baseAddress!
        for y in 0..<h {
          for x in 0..<w {
            let (nx, ny): (Int, Int)
            switch turns {
            case 90: (nx, ny) = (h - 1 - y, x)
            case 180: (nx, ny) = (w - 1 - x, h - 1 - y)
            default: (nx, ny) = (y, w - 1 - x)
            }
            let si = (y * w + x) * 3
            let di = (ny * outW + nx) * 3
            d[di] = s[si]
            d[di + 1] = s[si + 1]
            d[di + 2] = s[si + 2]
          }
        }
      }
    }
  }
}

/// swscale resizing of packed RGB images (e.g. camera frames, or to compare with ``PILResize``).
public enum RGBScaling {
  /// `image` scaled to `width × height` with swscale's `filter` (the flags video frames use).
  /// - Throws: when swscale cannot set up the conversion (sizes out of range).
  public static func resize(_ image: RGBImage, width: Int, height: Int, filter: ScaleFilter = .bilinear) throws
    -> RGBImage
  {
    guard
      let ctx = sws_getContext(
        Int32(image.width), Int32(image.height), AV_PIX_FMT_RGB24, Int32(width), Int32(height), AV_PIX_FMT_RGB24,
        FrameScaler.flags(filter), nil, nil, nil)
    else {
      throw FrameScaler.Failure(message: "swscale cannot scale \(image.width)×\(image.height) to \(width)×\(height)")
    }
    defer { sws_freeContext(ctx) }
    var rows: Int32 = 0
    let out = try RGBImage(width: width, height: height) { out in
      image.pixels.withUnsafeBufferPointer { src in
        var srcPlanes: [UnsafePointer<UInt8>?] = [src.baseAddress, nil, nil, nil]
        var srcStrides: [Int32] = [Int32(image.width * 3), 0, 0, 0]
        var dst: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
        var dstStrides: [Int32] = [Int32(width * 3), 0, 0, 0]
        rows = sws_scale(ctx, &srcPlanes, &srcStrides, 0, Int32(image.height), &dst, &dstStrides)
      }
    }
    guard rows == Int32(height) else {
      throw FrameScaler.Failure(message: "swscale produced \(rows) of \(height) rows")
    }
    return out
  }
}
