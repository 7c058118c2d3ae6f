/// Why an ``RGBImage`` could not be built.
public enum RGBImageError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Width or height is zero or negative.
  case invalidSize(width: Int, height: Int)
  /// `width * height * 3` does not fit in an `Int`.
  case tooLarge(width: Int, height: Int)
  /// The pixel array does not hold exactly `width * height * 3` bytes.
  case pixelCountMismatch(expected: Int, actual: Int)

  public var description: String {
    switch self {
    case .invalidSize(let w, let h): return "invalid image size \(w)×\(h) (both sides must be at least 1)"
    case .tooLarge(let w, let h): return "image size \(w)×\(h) is too large"
    case .pixelCountMismatch(let e, let a): return "an RGB image of this size needs \(e) bytes, got \(a)"
    }
  }
}

/// An 8-bit RGB image: interleaved `R, G, B` bytes, row-major, top row first, no row padding.
///
/// The byte for channel `c` of pixel `(x, y)` is `pixels[(y * width + x) * 3 + c]`.
/// Instances are always valid: both sides are at least 1 and `pixels.count == width * height * 3`.
public struct RGBImage: Sendable, Equatable {
  /// Width in pixels (≥ 1).
  public let width: Int
  /// Height in pixels (≥ 1).
  public let height: Int
  /// Interleaved RGB bytes, `width * height * 3` of them.
  public let pixels: [UInt8]

  /// Creates an image from interleaved RGB bytes.
  /// - Throws: ``RGBImageError`` when a side is < 1 or `pixels.count != width * height * 3`.
  public init(width: Int, height: Int, pixels: [UInt8]) throws(RGBImageError) {
    let expected = try RGBImage.byteCount(width: width, height: height)
    guard pixels.count == expected else { throw .pixelCountMismatch(expected: expected, actual: pixels.count) }
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// Creates an image of one colour.
  /// - Throws: ``RGBImageError`` when a side is < 1 or the size is too large.
  public init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) throws(RGBImageError) {
    let count = try RGBImage.byteCount(width: width, height: height)
    var px = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
      px[i] = red
      px[i + 1] = green
      px[i + 2] = blue
      i += 3
    }
    self.width = width
    self.height = height
    self.pixels = px
  }

  /// Creates an image by letting `body` fill a zero-initialised buffer of `width * height * 3` bytes.
  /// - Throws: ``RGBImageError`` for an invalid size, or whatever `body` throws.
  public init(
    width: Int, height: Int, initializingWith body: (inout UnsafeMutableBufferPointer<UInt8>) throws -> Void
  ) throws {
    let count = try RGBImage.byteCount(width: width, height: height)
    self.width = width
    self.height = height
    self.pixels = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      buffer.initialize(repeating: 0)
      initialized = count
      try body(&buffer)
    }
  }

  /// Trusted initialiser for code in this module that has already checked the sizes.
  init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
    precondition(width >= 1 && height >= 1 && pixels.count == width * height * 3)
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// The number of bytes an RGB image of this size needs.
  /// - Throws: ``RGBImageError`` when a side is < 1 or the product overflows.
  public static func byteCount(width: Int, height: Int) throws(RGBImageError) -> Int {
    guard width >= 1, height >= 1 else { throw .invalidSize(width: width, height: height) }
    let (wh, o1) = width.multipliedReportingOverflow(by: height)
    let (n, o2) = wh.multipliedReportingOverflow(by: 3)
    guard !o1, !o2 else { throw .tooLarge(width: width, height: height) }
    return n
  }

  /// The `(r, g, b)` value of pixel `(x, y)`; `x` in `0..<width`, `y` in `0..<height`.
  public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
    precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
    let i = (y * width + x) * 3
    return (pixels[i], pixels[i + 1], pixels[i + 2])
  }
}
