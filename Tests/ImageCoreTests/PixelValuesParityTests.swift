import Checkpoints
import Foundation
import ImageCore
import MediaIO
import Testing
import VTagTestSupport

/// Differences between our `pixel_values` and the reference's, in float and in 8-bit levels.
struct PixelParity: CustomStringConvertible {
  var count = 0
  var maxAbs: Float = 0
  var exact = 0
  var within1 = 0
  var within2 = 0
  var maxLevels = 0

  var percentExact: Double { 100 * Double(exact) / Double(count) }
  var percentWithin1: Double { 100 * Double(within1) / Double(count) }
  var percentWithin2: Double { 100 * Double(within2) / Double(count) }

  var description: String {
    String(
      format: "max|Δ| %.3g, exact %.3f %%, ≤1 level %.3f %%, ≤2 levels %.3f %%, max %d levels (%d values)",
      maxAbs, percentExact, percentWithin1, percentWithin2, maxLevels, count)
  }

  /// Compares CHW tensors; 8-bit levels are recovered through the channel's std (1 level = 1/(255·std)).
  init(ours: [Float], reference: UnsafeBufferPointer<Float>, plane: Int) {
    let std: [Float] = [0.229, 0.224, 0.225]
    count = ours.count
    for i in 0..<ours.count {
      let d = abs(ours[i] - reference[i])
      maxAbs = max(maxAbs, d)
      let levels = Int((d * 255 * std[i / plane]).rounded())
      maxLevels = max(maxLevels, levels)
      if d == 0 { exact += 1 }
      if levels <= 1 { within1 += 1 }
      if levels <= 2 { within2 += 1 }
    }
  }
}

enum ParityCases {
  static let cases = Fixtures.ramParity.appendingPathComponent("cases")
  static func image(_ name: String) -> URL { cases.appendingPathComponent(name) }

  static func measure(_ file: String) throws -> PixelParity {
    let url = image(file)
    let stem = url.deletingPathExtension().lastPathComponent
    let refFile = try SafetensorsFile(path: cases.appendingPathComponent("\(stem).pixel_values.safetensors").path)
    let ref = try refFile.floats("pixel_values")
    #expect(ref.count == 3 * 384 * 384)
    let decoded = try StillImageDecoder.decode(path: url.path)
    let ours = ModelInput.pixelValues(decoded)
    let parity = PixelParity(
      ours: ours, reference: UnsafeBufferPointer(start: ref.base, count: ref.count), plane: 384 * 384)
    print("pixel parity \(file) (\(decoded.width)×\(decoded.height)): \(parity)")
    return parity
  }
}

@Suite("pixel_values parity with the PyTorch reference")
struct PixelValuesParityTests {
  @Test(
    "PNG: decode + PIL resize + normalise equals the reference",
    .enabled(
      if: Fixtures.exists(ParityCases.image("chelsea.png")),
      Comment(rawValue: Fixtures.missing(ParityCases.image("chelsea.png")))),
    arguments: ["chelsea.png", "bigbuckbunny_t2s.png"])
  func png(_ file: String) throws {
    let p = try ParityCases.measure(file)
    #expect(p.maxAbs <= 1e-5)
    #expect(p.exact == p.count)
  }

  @Test(
    "JPEG: libjpeg-turbo decode + PIL resize + normalise vs the reference",
    .enabled(
      if: Fixtures.exists(ParityCases.image("demo4.jpg")),
      Comment(rawValue: Fixtures.missing(ParityCases.image("demo4.jpg")))),
    arguments: ["demo4.jpg", "rocket.jpg"])
  func jpeg(_ file: String) throws {
    let p = try ParityCases.measure(file)
    #expect(p.percentWithin2 >= 99)
    #expect(p.maxAbs <= 1e-5, "not bit-exact: \(p)")
  }
}
