import ImageCore

/// Turns delivered frames into the models' `[3, size, size]` float32 input.
///
/// Which resize is used where:
/// - still images: ``PILResize`` (PIL-exact, bit-identical to the reference preprocessing);
/// - video and camera frames: swscale straight from the decoded pixel format to `size × size` RGB
///   (``FrameOutput/scaled(width:height:filter:)``, bilinear by default), unless the user asks for PIL-exact, in
///   which case the source delivers ``FrameOutput/fullResolution`` frames and this resizes them with ``PILResize``.
///
/// Either way the result is normalised with ``ImageNormalization`` (ImageNet statistics by default).
public enum FramePreprocessing {
  /// How frames reach the model size.
  public enum Resize: String, Sendable, CaseIterable {
    /// swscale on the decode thread (fast; a few 8-bit levels from PIL on average, see docs/media-input.md).
    case swscale
    /// Full-resolution RGB, then PIL's bilinear resize (exact, slower).
    case pilExact
  }

  /// The ``FrameOutput`` a video source should deliver for `resize` at `size`.
  public static func frameOutput(
    for resize: Resize, size: Int = ModelInput.defaultSize, filter: ScaleFilter = .bilinear
  )
    -> FrameOutput
  {
    switch resize {
    case .swscale: return .scaled(width: size, height: size, filter: filter)
    case .pilExact: return .fullResolution
    }
  }

  /// Writes the `[3, size, size]` model input for a delivered frame image into `destination`: resized with
  /// ``PILResize`` when it is not already `size × size`, then normalised.
  /// - Precondition: `destination.count >= 3 * size * size`.
  public static func writePixelValues(
    _ image: RGBImage, size: Int = ModelInput.defaultSize, normalization: ImageNormalization = .imageNet,
    into destination: UnsafeMutableBufferPointer<Float>
  ) {
    if image.width == size && image.height == size {
      normalization.write(image, into: destination)
    } else {
      ModelInput.writePixelValues(image, size: size, normalization: normalization, into: destination)
    }
  }

  /// The `[3, size, size]` model input for a delivered frame image (see ``writePixelValues(_:size:normalization:into:)``).
  public static func pixelValues(
    _ image: RGBImage, size: Int = ModelInput.defaultSize, normalization: ImageNormalization = .imageNet
  ) -> [Float] {
    [Float](unsafeUninitializedCapacity: 3 * size * size) { buf, n in
      writePixelValues(image, size: size, normalization: normalization, into: buf)
      n = 3 * size * size
    }
  }
}
