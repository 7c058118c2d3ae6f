/// A bit-exact re-implementation of Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit images
/// (Pillow's `ImagingResample` with the bilinear filter, as in Pillow 13 and every version since 4.0).
///
/// What is reproduced, step for step:
/// - a separable triangle filter with support 1 that is widened by the downscale factor
///   (`max(1, inSize / outSize)`), so shrinking anti-aliases; upscaling uses plain support 1;
/// - the per-output-pixel coefficients computed in `Double` exactly as Pillow's `precompute_coeffs` does
///   (centre `(i + 0.5) * scale`, window `[Int(centre - support + 0.5), Int(centre + support + 0.5))` clamped to the
///   image, weights `filter((j - centre + 0.5) / filterscale)` divided by their sum);
/// - their conversion to 22-bit fixed point (`Int(0.5 + w * 2^22)`), the `2^21` rounding bias, the truncating shift and
///   the clip to `0...255` after **each** pass;
/// - the pass order: Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many pixels
///   as the width (`inH − outH > 0 && inH − outH > 2·(inW − outW)`), otherwise (and always before Pillow 13) a
///   horizontal pass over only the source rows the vertical pass will read, then the vertical pass. Because each pass
///   rounds to 8 bits, the order changes results by one level here and there, so it matters for bit-exactness;
/// - a pass is skipped when that dimension does not change; equal sizes give an unchanged copy.
public enum PILResize {
  /// Which Pillow release's pass order to reproduce.
  public enum Compatibility: Sendable, Equatable {
    /// Pillow ≥ 13.0 (the RAM reference: Pillow 13.0.0): vertical pass first when the height shrinks much more than
    /// the width.
    case pillow13
    /// Pillow 4.0 … 12.x: always the horizontal pass first.
    case pillow12
  }

  /// Fixed-point precision of Pillow's 8-bit resampler (`32 - 8 - 2`).
  static let precisionBits = 22

  /// Resizes `image` to `width × height` the way `PIL.Image.resize((width, height), Image.BILINEAR)` does,
  /// bit for bit. The aspect ratio is not kept (torchvision's `Resize((h, w))` squashes the same way).
  /// - Precondition: `width >= 1`, `height >= 1`.
  /// - Parameter compatibility: the Pillow release whose pass order to follow (default: Pillow 13, the reference).
  public static func bilinear(
    _ image: RGBImage, width: Int, height: Int, compatibility: Compatibility = .pillow13
  ) -> RGBImage {
    precondition(width >= 1 && height >= 1, "resize target \(width)×\(height) must be at least 1×1")
    if width == image.width && height == image.height { return image }
    let out = resample(
      image.pixels, channels: 3, width: image.width, height: image.height, toWidth: width, toHeight: height,
      compatibility: compatibility)
    return RGBImage(uncheckedWidth: width, height: height, pixels: out)
  }

  /// Per-output-pixel filter windows and fixed-point weights along one axis.
  struct Coefficients {
    /// Maximum number of taps per output pixel (Pillow's `ksize`); `weights` holds `ksize` per output pixel.
    var ksize: Int
    /// First source index of each output pixel's window.
    var start: [Int]
    /// Number of source pixels in each output pixel's window.
    var count: [Int]
    /// Fixed-point weights, `ksize` per output pixel (unused tail entries are 0).
    var weights: [Int32]
  }

  /// The triangle ("bilinear") filter, support 1.
  @inline(__always)
  static func triangle(_ x: Double) -> Double {
    let a = x < 0 ? -x : x
    return a < 1.0 ? 1.0 - a : 0.0
  }

  /// Pillow's `precompute_coeffs` (with box `[0, inSize)`) followed by `normalize_coeffs_8bpc`.
  static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
    let support = 1.0  // bilinear filter support
    let scale = Double(inSize) / Double(outSize)
    let filterscale = scale < 1.0 ? 1.0 : scale
    let scaledSupport = support * filterscale
    let ksize = Int(scaledSupport.rounded(.up)) * 2 + 1
    var start = [Int](repeating: 0, count: outSize)
    var count = [Int](repeating: 0, count: outSize)
    var weights = [Int32](repeating: 0, count: outSize * ksize)
    var k = [Double](repeating: 0, count: ksize)
    let ss = 1.0 / filterscale
    let one = Double(1 << precisionBits)
    for xx in 0..<outSize {
      let center = 0.0 + (Double(xx) + 0.5) * scale
      var xmin = Int(center - scaledSupport + 0.5)  // truncation toward zero, as C's (int) cast
      if xmin < 0 { xmin = 0 }
      var xmax = Int(center + scaledSupport + 0.5)
      if xmax > inSize { xmax = inSize }
      xmax -= xmin
      var ww = 0.0
      for x in 0..<xmax {
        let w = triangle((Double(x + xmin) - center + 0.5) * ss)
        k[x] = w
        ww += w
      }
      for x in 0..<xmax where ww != 0.0 { k[x] /= ww }
      for x in 0..<xmax {
        let v = k[x]
        weights[xx * ksize + x] = v < 0 ? Int32(-0.5 + v * one) : Int32(0.5 + v * one)
      }
      start[xx] = xmin
      count[xx] = xmax
    }
    return Coefficients(ksize: ksize, start: start, count: count, weights: weights)
  }

  /// Pillow's `clip8`: fixed-point sum → byte.
  @inline(__always)
  static func clip8(_ v: Int) -> UInt8 {
    if v >= (1 << precisionBits) << 8 { return 255 }
    if v <= 0 { return 0 }
    return UInt8(truncatingIfNeeded: v >> precisionBits)
  }

  /// Resamples interleaved 8-bit pixels with `channels` channels (Pillow's `ImagingResampleInner`).
  static func resample(
    _ src: [UInt8], channels: Int, width inW: Int, height inH: Int, toWidth outW: Int, toHeight outH: Int,
    compatibility: Compatibility = .pillow13
  ) -> [UInt8] {
    let needH = outW != inW
    let needV = outH != inH
    if !needH && !needV { return src }
    let horizontalFirst: Bool
    switch compatibility {
    case .pillow12: horizontalFirst = true
    case .pillow13: horizontalFirst = !((inH - outH) > 0 && (inH - outH) > (inW - outW) * 2)
    }
    let horiz = needH ? coefficients(inSize: inW, outSize: outW) : nil
    var vert = needV || horizontalFirst ? coefficients(inSize: inH, outSize: outH) : nil

    if horizontalFirst {
      var current = src
      var curH = inH
      if let horiz, var v = vert {
        // Only the source rows the vertical pass reads go through the horizontal pass.
        let firstRow = v.start[0]
        let lastRow = v.start[outH - 1] + v.count[outH - 1]
        for i in 0..<outH { v.start[i] -= firstRow }
        vert = v
        curH = lastRow - firstRow
        current = horizontalPass(
          src, channels: channels, width: inW, firstRow: firstRow, rows: curH, toWidth: outW, coeffs: horiz)
      }
      if needV, let vert {
        current = verticalPass(
          current, channels: channels, width: needH ? outW : inW, height: curH, toHeight: outH, coeffs: vert)
      }
      return current
    } else {
      // Pillow 13, height shrinking much more than width: vertical pass over the full width, then horizontal.
      var current = src
      if needV, let vert {
        current = verticalPass(src, channels: channels, width: inW, height: inH, toHeight: outH, coeffs: vert)
      }
      if let horiz {
        current = horizontalPass(
          current, channels: channels, width: inW, firstRow: 0, rows: outH, toWidth: outW, coeffs: horiz)
      }
      return current
    }
  }

  static func horizontalPass(
    _ src: [UInt8], channels: Int, width inW: Int, firstRow: Int, rows: Int, toWidth outW: Int, coeffs: Coefficients
  ) -> [UInt8] {
    let half = 1 << (precisionBits - 1)
    let ksize = coeffs.ksize
    return [UInt8](unsafeUninitializedCapacity: outW * rows * channels) { out, initialized in
      src.withUnsafeBufferPointer { inp in
        coeffs.weights.withUnsafeBufferPointer { kk in
          coeffs.start.withUnsafeBufferPointer { starts in
            coeffs.count.withUnsafeBufferPointer { counts in
              for y in 0..<rows {
                let inRow = (y + firstRow) * inW * channels
                let outRow = y * outW * channels
                for xx in 0..<outW {
                  let xmin = starts[xx]
                  let n = counts[xx]
                  let kbase = xx * ksize
                  for c in 0..<channels {
                    var ss = half
                    var p = inRow + xmin * channels + c
                    for x in 0..<n {
                      ss += Int(inp[p]) * Int(kk[kbase + x])
                      p += channels
                    }
                    out[outRow + xx * channels + c] = clip8(ss)
                  }
                }
              }
            }
          }
        }
      }
      initialized = outW * rows * channels
    }
  }

  static func verticalPass(
    _ src: [UInt8], channels: Int, width: Int, height inH: Int, toHeight outH: Int, coeffs: Coefficients
  ) -> [UInt8] {
    let half = 1 << (precisionBits - 1)
    let ksize = coeffs.ksize
    let rowBytes = width * channels
    return [UInt8](unsafeUninitializedCapacity: rowBytes * outH) { out, initialized in
      src.withUnsafeBufferPointer { inp in
        coeffs.weights.withUnsafeBufferPointer { kk in
          for yy in 0..<outH {
            let ymin = coeffs.start[yy]
            let n = coeffs.count[yy]
            let kbase = yy * ksize
            let outRow = yy * rowBytes
            for i in 0..<rowBytes {
              var ss = half
              var p = ymin * rowBytes + i
              for y in 0..<n {
                ss += Int(inp[p]) * Int(kk[kbase + y])
                p += rowBytes
              }
              out[outRow + i] = clip8(ss)
            }
          }
        }
      }
      initialized = rowBytes * outH
    }
  }
}
