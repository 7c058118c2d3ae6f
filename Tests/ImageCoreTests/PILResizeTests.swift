import Foundation
import Testing

@testable import ImageCore

/// Synthetic inputs, re-created exactly as `scripts/generate_pil_resize_refs.py` makes them.
enum SyntheticImage {
  /// xorshift32 bytes (`state >> 24` after each step), interleaved RGB, row-major.
  static func noise(seed: UInt32, width: Int, height: Int) throws -> RGBImage {
    var x = seed
    return try RGBImage(width: width, height: height) { buf in
      for i in 0..<buf.count {
        x ^= x << 13
        x ^= x >> 17
        x ^= x << 5
        buf[i] = UInt8(x >> 24)
      }
    }
  }

  /// 255 where `(x / 3 + y / 5 + c)` is odd, else 0.
  static func blocks(width: Int, height: Int) throws -> RGBImage {
    try RGBImage(width: width, height: height) { buf in
      for y in 0..<height {
        for x in 0..<width {
          for c in 0..<3 { buf[(y * width + x) * 3 + c] = (x / 3 + y / 5 + c) % 2 == 1 ? 255 : 0 }
        }
      }
    }
  }
}

struct ResizeReference: Decodable, Sendable, CustomTestStringConvertible {
  let name: String
  let pattern: String
  let seed: UInt32
  let width: Int
  let height: Int
  let outWidth: Int
  let outHeight: Int
  let offset: Int
  let length: Int
  var testDescription: String { "\(name) \(width)×\(height)→\(outWidth)×\(outHeight)" }

  struct Manifest: Decodable {
    let pillow: String
    let cases: [ResizeReference]
  }

  static let directory = Bundle.module.bundleURL.appendingPathComponent("Resources/pil_resize")

  static let all: [ResizeReference] = {
    guard let data = try? Data(contentsOf: directory.appendingPathComponent("manifest.json")),
      let manifest = try? JSONDecoder().decode(Manifest.self, from: data)
    else { return [] }
    return manifest.cases
  }()

  static let expectedBytes: [UInt8] = {
    (try? [UInt8](Data(contentsOf: directory.appendingPathComponent("expected.bin")))) ?? []
  }()

  func input() throws -> RGBImage {
    pattern == "noise"
      ? try SyntheticImage.noise(seed: seed, width: width, height: height)
      : try SyntheticImage.blocks(width: width, height: height)
  }
}

@Suite("PIL bilinear resize")
struct PILResizeTests {
  @Test("the Pillow references are bundled")
  func referencesPresent() {
    #expect(ResizeReference.all.count >= 10)
    #expect(ResizeReference.expectedBytes.count == ResizeReference.all.map(\.length).reduce(0, +))
  }

  @Test("equals Pillow 13's Image.resize(BILINEAR) bit for bit", arguments: ResizeReference.all)
  func matchesPillow(_ ref: ResizeReference) throws {
    let out = PILResize.bilinear(try ref.input(), width: ref.outWidth, height: ref.outHeight)
    #expect(out.width == ref.outWidth && out.height == ref.outHeight)
    let expected = ResizeReference.expectedBytes[ref.offset..<(ref.offset + ref.length)]
    let diffs = zip(out.pixels, expected).filter { $0 != $1 }.count
    #expect(diffs == 0, "\(diffs) of \(ref.length) bytes differ from Pillow")
  }

  @Test("same size returns an identical copy")
  func sameSize() throws {
    let img = try SyntheticImage.noise(seed: 42, width: 17, height: 9)
    #expect(PILResize.bilinear(img, width: 17, height: 9) == img)
  }

  @Test("a constant image stays constant at any size")
  func constant() throws {
    let img = try RGBImage(width: 37, height: 23, red: 0, green: 128, blue: 255)
    for (w, h) in [(384, 384), (5, 3), (1, 1), (37, 100), (200, 23)] {
      let out = PILResize.bilinear(img, width: w, height: h)
      #expect(out == (try RGBImage(width: w, height: h, red: 0, green: 128, blue: 255)))
    }
  }

  @Test("pass order: Pillow 13 goes vertical-first only when the height shrinks much more than the width")
  func passOrder() throws {
    let img = try SyntheticImage.noise(seed: 7, width: 428, height: 640)
    let p13 = PILResize.bilinear(img, width: 384, height: 384)
    let p12 = PILResize.bilinear(img, width: 384, height: 384, compatibility: .pillow12)
    #expect(p13 != p12)  // 640−384 > 2·(428−384): Pillow 13 runs the vertical pass first
    let wide = try SyntheticImage.noise(seed: 7, width: 640, height: 428)
    #expect(
      PILResize.bilinear(wide, width: 384, height: 384)
        == PILResize.bilinear(wide, width: 384, height: 384, compatibility: .pillow12))
  }

  @Test("coefficients: each output pixel's fixed-point weights sum to about 2^22")
  func coefficientSums() {
    for (i, o) in [(1280, 384), (97, 384), (1, 5), (451, 37), (640, 384), (384, 384)] {
      let c = PILResize.coefficients(inSize: i, outSize: o)
      for xx in 0..<o {
        let sum = (0..<c.count[xx]).reduce(0) { $0 + Int(c.weights[xx * c.ksize + $1]) }
        #expect(abs(sum - (1 << 22)) <= c.ksize, "in \(i) out \(o) pixel \(xx): sum \(sum)")
        #expect(c.start[xx] >= 0 && c.start[xx] + c.count[xx] <= i)
      }
    }
  }
}

@Suite("RGBImage and normalisation")
struct RGBImageTests {
  @Test("validation rejects bad sizes and pixel counts")
  func validation() {
    #expect(throws: RGBImageError.invalidSize(width: 0, height: 3)) { try RGBImage(width: 0, height: 3, pixels: []) }
    #expect(throws: RGBImageError.invalidSize(width: 2, height: -1)) { try RGBImage(width: 2, height: -1, pixels: []) }
    #expect(throws: RGBImageError.pixelCountMismatch(expected: 12, actual: 11)) {
      try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 11))
    }
    #expect(throws: RGBImageError.tooLarge(width: Int.max, height: 2)) {
      try RGBImage(width: Int.max, height: 2, pixels: [])
    }
    let img = try? RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
    if let img { #expect(img[1, 0] == (4, 5, 6)) } else { Issue.record("valid image rejected") }
  }

  @Test("normalisation is (v/255 − mean)/std in float32, CHW")
  func normalisation() throws {
    let img = try RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 10, 20, 30])
    let n = ImageNormalization.imageNet
    let t = n.chw(img)
    #expect(t.count == 6)
    let mean: [Float] = [0.485, 0.456, 0.406]
    let std: [Float] = [0.229, 0.224, 0.225]
    for c in 0..<3 {
      for x in 0..<2 {
        let v = Float(img.pixels[x * 3 + c])
        let expected = (v / 255 - mean[c]) / std[c]
        #expect(t[c * 2 + x].bitPattern == expected.bitPattern)
      }
    }
    // Writing into a slot of a larger (batch) buffer touches only that slot.
    var batch = [Float](repeating: .nan, count: 14)
    batch.withUnsafeMutableBufferPointer { b in
      n.write(img, into: UnsafeMutableBufferPointer(rebasing: b[4..<10]))
    }
    #expect(Array(batch[4..<10]) == t)
    #expect(batch[0..<4].allSatisfy(\.isNaN) && batch[10...].allSatisfy(\.isNaN))
  }

  @Test("ModelInput: 384×384 CHW, writable into a batch buffer")
  func modelInput() throws {
    let img = try SyntheticImage.noise(seed: 3, width: 50, height: 40)
    let a = ModelInput.pixelValues(img)
    #expect(a.count == 3 * 384 * 384)
    var b = [Float](repeating: 0, count: 2 * 3 * 384 * 384)
    b.withUnsafeMutableBufferPointer { buf in
      ModelInput.writePixelValues(img, into: UnsafeMutableBufferPointer(rebasing: buf[(3 * 384 * 384)...]))
    }
    #expect(Array(b[(3 * 384 * 384)...]) == a)
  }
}
