import Foundation
import ImageCore
import MediaIO
import Testing
import VTagTestSupport

/// How far the swscale 384×384 path is from the PIL-exact path (numbers for docs/media-input.md).
struct SwscaleVsPILTests {
  struct Diff: CustomStringConvertible {
    var maxAbs = 0
    var sumAbs = 0
    var count = 0
    mutating func add(_ a: RGBImage, _ b: RGBImage) {
      for (x, y) in zip(a.pixels, b.pixels) {
        let d = abs(Int(x) - Int(y))
        maxAbs = max(maxAbs, d)
        sumAbs += d
      }
      count += a.pixels.count
    }
    var mean: Double { Double(sumAbs) / Double(max(1, count)) }
    var description: String { String(format: "max %d, mean %.3f", maxAbs, mean) }
  }

  static let cases = Fixtures.ramParity.appendingPathComponent("cases")

  @Test(
    "Photographs: swscale resize vs PIL bilinear",
    .enabled(if: Fixtures.exists(cases), Comment(rawValue: Fixtures.missing(cases))))
  func photographs() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: Self.cases.path)
      .filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted()
    try #require(!files.isEmpty)
    for filter in ScaleFilter.allCases {
      var total = Diff()
      var lines: [String] = []
      for f in files {
        let image = try StillImageDecoder.decode(path: Self.cases.appendingPathComponent(f).path)
        let pil = PILResize.bilinear(image, width: 384, height: 384)
        let sws = try RGBScaling.resize(image, width: 384, height: 384, filter: filter)
        var d = Diff()
        d.add(pil, sws)
        total.add(pil, sws)
        lines.append("\(f) \(image.width)×\(image.height): \(d)")
      }
      print("swscale(\(filter.rawValue)) vs PIL, photographs: \(total) [\(lines.joined(separator: "; "))]")
      if filter == .bilinear { #expect(total.mean < 3, "\(total)") }
    }
  }

  @Test(
    "Video frames: decoded → 384 in one swscale pass vs full-res RGB + PIL",
    .enabled(
      if: Fixtures.exists(Fixtures.media) && Media.hasFFmpeg, Comment(rawValue: Fixtures.missing(Fixtures.media))))
  func videoFrames() async throws {
    for url in [Media.bunny, Media.carphone, try Media.vp9Odd()] {
      let full = try await Media.decode(url, .every(seconds: 1), output: .fullResolution).frames
      for filter in ScaleFilter.allCases {
        let scaled = try await Media.decode(
          url, .every(seconds: 1), output: .scaled(width: 384, height: 384, filter: filter)
        ).frames
        #expect(scaled.count == full.count)
        var d = Diff()
        for (a, b) in zip(full, scaled) { d.add(PILResize.bilinear(a.image!, width: 384, height: 384), b.image!) }
        print("swscale(\(filter.rawValue)) vs PIL, \(url.lastPathComponent) (\(full.count) frames): \(d)")
        if filter == .bilinear { #expect(d.mean < 3, "\(d)") }
      }
    }
  }
}
