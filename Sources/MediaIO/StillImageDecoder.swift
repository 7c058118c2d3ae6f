import CFFmpeg
import CJPEG
import Foundation
import ImageCore

/// Decodes still image files into 8-bit RGB the way the reference preprocessing does:
/// `PIL.Image.open(path).convert("RGB")`.
///
/// - JPEG (recognised by its magic bytes `FF D8 FF`, whatever the file name) is decoded with libjpeg-turbo and its
///   defaults (ISLOW IDCT, fancy upsampling) to RGB; grayscale is replicated into R = G = B; CMYK/YCCK is converted like
///   Pillow (Adobe-inverted CMYK, then `R = (255 − K) − (255 − K)·C'/255` with Pillow's rounding).
/// - Everything else (PNG, WebP, BMP, GIF, TIFF, PNM, TGA, QOI, …) is decoded with FFmpeg (first frame of the first
///   video stream). The conversion to RGB follows Pillow's `convert("RGB")` exactly for: RGB/BGR variants, RGBA (alpha
///   dropped, not composited), gray (replicated), gray + alpha, palette, 1-bit, 16-bit RGB(A) and gray + alpha (high
///   byte kept), 16-bit gray (Pillow's `I;16`: clipped to 255), 16-bit 5-6-5 / 5-5-5 BMP (`v·255/max`, truncated), and
///   lossy WebP (libwebp's fancy chroma upsampling and fixed-point BT.601, see `WebPYUV`). Other pixel formats (e.g.
///   YCbCr TIFF) go through swscale and may differ from Pillow by a few levels.
///   Non-images (text, video, …) are rejected with ``ImageDecodeError/Reason/notAnImage(_:)``.
/// - EXIF orientation is ignored, as in the reference.
public enum StillImageDecoder {
  /// Largest accepted image, in pixels: Pillow's decompression-bomb error threshold (2 × `MAX_IMAGE_PIXELS`).
  public static let maxPixels = 178_956_970

  /// Decodes the image file at `path` into RGB.
  /// - Throws: ``ImageDecodeError`` naming `path` and the problem (missing file, directory, empty file,
  ///   not an image, corrupt or truncated data, unsupported kind, too large).
  public static func decode(path: String) throws(ImageDecodeError) -> RGBImage {
    func fail(_ r: ImageDecodeError.Reason) -> ImageDecodeError { ImageDecodeError(path: path, reason: r) }

    var isDir: ObjCBool = false
    guard !path.isEmpty, FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      throw fail(.fileNotFound)
    }
    if isDir.boolValue { throw fail(.isDirectory) }

    let head: [UInt8]
    do {
      let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
      defer { try? handle.close() }
      head = [UInt8](try handle.read(upToCount: 16) ?? Data())
    } catch {
      throw fail(.unreadable(Self.describe(error)))
    }
    if head.isEmpty { throw fail(.emptyFile) }

    if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF {
      let data: Data
      do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
      } catch {
        throw fail(.unreadable(Self.describe(error)))
      }
      return try JPEGDecoding.decode(data, path: path)
    }
    do {
      return try FFmpegStillDecoding.decode(path: path)
    } catch {
      // FFmpeg's image2 demuxer trusts the file extension: a text file named "x.png" reaches the PNG decoder and
      // fails as "invalid data". Only call data corrupt when it starts like an image.
      if case .corrupt(let detail) = error.reason, !ImageSignature.isKnown(head) {
        throw fail(.notAnImage("the content is not a recognised image format; \(detail)"))
      }
      throw error
    }
  }

  static func describe(_ error: any Error) -> String {
    if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError {
      return u.localizedDescription
    }
    return (error as NSError).localizedDescription
  }
}

// MARK: - JPEG (libjpeg-turbo)

enum JPEGDecoding {
  static func decode(_ data: Data, path: String) throws(ImageDecodeError) -> RGBImage {
    func fail(_ r: ImageDecodeError.Reason) -> ImageDecodeError { ImageDecodeError(path: path, reason: r) }
    var result = vtag_jpeg_result()
    let status: Int32 = data.withUnsafeBytes { raw in
      vtag_jpeg_decode(
        raw.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(raw.count),
        UInt64(StillImageDecoder.maxPixels), &result)
    }
    let message = withUnsafeBytes(of: &result.message) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    switch status {
    case VTAG_JPEG_OK: break
    case VTAG_JPEG_TRUNCATED: throw fail(.truncated)
    case VTAG_JPEG_UNSUPPORTED: throw fail(.unsupported(message))
    case VTAG_JPEG_TOO_LARGE:
      throw fail(.tooLarge(width: Int(result.width), height: Int(result.height)))
    case VTAG_JPEG_NO_MEMORY: throw fail(.unreadable("out of memory"))
    default: throw fail(.corrupt(message.isEmpty ? "libjpeg error" : message))
    }
    guard let pixels = result.pixels else { throw fail(.corrupt("no pixels")) }
    defer { free(pixels) }
    let w = Int(result.width)
    let h = Int(result.height)
    let comps = Int(result.components)
    let n = w * h
    do {
      return try RGBImage(width: w, height: h) { out in
        switch comps {
        case 3:
          out.baseAddress!.update(from: pixels, count: n * 3)
        case 1:
          for i in 0..<n {
            let v = pixels[i]
            out[3 * i] = v
            out[3 * i + 1] = v
            out[3 * i + 2] = v
          }
        case 4:
          // Pillow reads 4-component JPEGs as "CMYK;I" (Adobe convention: stored inverted), then cmyk2rgb.
          for i in 0..<n {
            let nk = Int(pixels[4 * i + 3])  // 255 - (255 - K_stored)
            for c in 0..<3 {
              let cInv = 255 - Int(pixels[4 * i + c])
              out[3 * i + c] = PixelMath.cmykChannelToRGB(cInv, nk: nk)
            }
          }
        default:
          break
        }
      }
    } catch {
      throw fail(.corrupt("\(error)"))
    }
  }
}

/// Small integer helpers that reproduce Pillow's conversion arithmetic.
enum PixelMath {
  /// Pillow's `MULDIV255(a, b)`: `a·b/255` rounded, computed as `((t >> 8) + t) >> 8` with `t = a·b + 128`.
  @inline(__always)
  static func mulDiv255(_ a: Int, _ b: Int) -> Int {
    let t = a * b + 128
    return ((t >> 8) + t) >> 8
  }

  /// One channel of Pillow's `cmyk2rgb`: `clip8(nk − MULDIV255(c, nk))`, `nk = 255 − k`.
  @inline(__always)
  static func cmykChannelToRGB(_ c: Int, nk: Int) -> UInt8 {
    let v = nk - mulDiv255(c, nk)
    return UInt8(clamping: v)
  }
}

/// Magic numbers of the still-image formats FFmpeg reads, to tell damaged images from files that are no image at all.
enum ImageSignature {
  static func isKnown(_ h: [UInt8]) -> Bool {
    func starts(_ bytes: [UInt8], at offset: Int = 0) -> Bool {
      h.count >= offset + bytes.count && Array(h[offset..<(offset + bytes.count)]) == bytes
    }
    func ascii(_ s: String, at offset: Int = 0) -> Bool { starts(Array(s.utf8), at: offset) }
    if starts([0x89, 0x50, 0x4E, 0x47]) { return true }  // PNG / APNG
    if starts([0xFF, 0xD8]) { return true }  // JPEG family
    if ascii("GIF8") || ascii("BM") || ascii("8BPS") || ascii("qoif") || ascii("DDS ") { return true }
    if ascii("RIFF") && ascii("WEBP", at: 8) { return true }
    if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return true }  // TIFF
    if starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) { return true }  // BigTIFF
    if h.count >= 2 && h[0] == 0x50 && Array("1234567fFhH".utf8).contains(h[1]) { return true }  // PNM / PAM / PFM / PHM
    if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) { return true }  // JPEG 2000
    if starts([0xFF, 0x0A]) || starts([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) { return true }  // JPEG XL
    if starts([0x76, 0x2F, 0x31, 0x01]) { return true }  // OpenEXR
    if starts([0x01, 0xDA]) || starts([0x59, 0xA6, 0x6A, 0x95]) { return true }  // SGI, Sun raster
    if starts([0x00, 0x00, 0x01, 0x00]) { return true }  // ICO
    if h.count >= 2 && h[0] == 0x0A && h[1] <= 5 { return true }  // PCX
    return false
  }
}
