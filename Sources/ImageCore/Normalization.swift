/// Converts 8-bit RGB images into the models' float input, exactly as torchvision's
/// `ToTensor()` followed by `Normalize(mean, std)` does on the CPU in float32.
///
/// Each value is `(Float(v) / 255 - mean[c]) / std[c]`, every operation a single float32 IEEE operation in that order
/// (`ToTensor` divides the uint8 value by 255, `Normalize` subtracts the mean and then divides by the std), so the
/// result is bit-identical to the reference `pixel_values` whenever the 8-bit pixels are identical.
public struct ImageNormalization: Sendable, Equatable {
  /// Per-channel means (R, G, B).
  public let mean: (Float, Float, Float)
  /// Per-channel standard deviations (R, G, B).
  public let std: (Float, Float, Float)

  /// ImageNet statistics: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), as used by all RAM models.
  public static let imageNet = ImageNormalization(mean: (0.485, 0.456, 0.406), std: (0.229, 0.224, 0.225))

  /// Creates a normalisation with the given per-channel statistics.
  public init(mean: (Float, Float, Float), std: (Float, Float, Float)) {
    self.mean = mean
    self.std = std
  }

  public static func == (a: ImageNormalization, b: ImageNormalization) -> Bool {
    a.mean == b.mean && a.std == b.std
  }

  /// The float value of byte `v` in channel `c` (0 = R, 1 = G, 2 = B).
  @inline(__always)
  public func value(_ v: UInt8, channel c: Int) -> Float {
    let m: Float = c == 0 ? mean.0 : (c == 1 ? mean.1 : mean.2)
    let s: Float = c == 0 ? std.0 : (c == 1 ? std.1 : std.2)
    return (Float(v) / 255 - m) / s
  }

  /// A 3 × 256 lookup table: `table[c * 256 + v] == value(v, channel: c)`.
  public func lookupTable() -> [Float] {
    var t = [Float](repeating: 0, count: 3 * 256)
    for c in 0..<3 {
      for v in 0..<256 { t[c * 256 + v] = value(UInt8(v), channel: c) }
    }
    return t
  }

  /// The image as a `[3, height, width]` float32 CHW tensor (channel planes R, G, B, each row-major).
  public func chw(_ image: RGBImage) -> [Float] {
    let n = image.width * image.height * 3
    return [Float](unsafeUninitializedCapacity: n) { buf, initialized in
      write(image, into: buf)
      initialized = n
    }
  }

  /// Writes the image as a `[3, height, width]` float32 CHW tensor into `destination`, e.g. one slot of a batch.
  /// - Precondition: `destination.count >= 3 * image.width * image.height`; only that many floats are written.
  public func write(_ image: RGBImage, into destination: UnsafeMutableBufferPointer<Float>) {
    let plane = image.width * image.height
    precondition(destination.count >= 3 * plane, "destination holds \(destination.count) floats, need \(3 * plane)")
    let table = lookupTable()
    table.withUnsafeBufferPointer { t in
      image.pixels.withUnsafeBufferPointer { px in
        let r = destination.baseAddress!
        let g = r + plane
        let b = g + plane
        for i in 0..<plane {
          r[i] = t[Int(px[3 * i])]
          g[i] = t[256 + Int(px[3 * i + 1])]
          b[i] = t[512 + Int(px[3 * i + 2])]
        }
      }
    }
  }
}

/// The complete RAM / RAM++ / Tag2Text preprocessing of a decoded image:
/// PIL bilinear squash-resize to `size × size`, then ImageNet normalisation into CHW float32.
public enum ModelInput {
  /// The models' input side length.
  public static let defaultSize = 384

  /// `[3, size, size]` float32 CHW model input for `image` (resize with ``PILResize``, then ``ImageNormalization``).
  public static func pixelValues(
    _ image: RGBImage, size: Int = defaultSize, normalization: ImageNormalization = .imageNet
  ) -> [Float] {
    normalization.chw(PILResize.bilinear(image, width: size, height: size))
  }

  /// Writes the `[3, size, size]` model input for `image` into `destination` (e.g. slot `i` of a batch buffer).
  /// - Precondition: `destination.count >= 3 * size * size`.
  public static func writePixelValues(
    _ image: RGBImage, size: Int = defaultSize, normalization: ImageNormalization = .imageNet,
    into destination: UnsafeMutableBufferPointer<Float>
  ) {
    normalization.write(PILResize.bilinear(image, width: size, height: size), into: destination)
  }
}
