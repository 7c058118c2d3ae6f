import Foundation
import TensorCore
import Testing

/// The vectorised kernels agree with the scalar libm/double references.
@Suite(.serialized)
struct KernelTests {
  static func values(_ n: Int, scale: Float = 6, seed: UInt64 = 7) -> [Float] {
    var s = seed
    return (0..<n).map { _ in
      s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
  }

  // The rational erf is within 4e-7 of erf; with float rounding GELU stays within 2e-6 relative.
  @Test(
    "GELU matches 0.5·x·(1+erf(x/√2)) within 2e-6 over [−10, 10], tails included (AVX2 and portable, 1 and 2 workers)",
    arguments: [(1, true), (2, true), (1, false)])
  func gelu(workers: Int, simd: Bool) {
    Parallel.workers = workers
    Ops.setSIMD(simd)
    defer {
      Parallel.workers = 1
      Ops.setSIMD(true)
    }
    var x = Self.values(100_003, scale: 10)
    x += [0, -0, 1e-30, -1e-30, 5.7, -5.7, 30, -30, 88, -88]
    var ref = x
    x.withUnsafeMutableBufferPointer { Ops.gelu($0.baseAddress!, count: $0.count) }
    ref.withUnsafeMutableBufferPointer { Ops.Reference.gelu($0.baseAddress!, count: $0.count) }
    var worst: Float = 0
    for i in x.indices { worst = max(worst, abs(x[i] - ref[i]) / max(1, abs(ref[i]))) }
    #expect(worst < 2e-6, "worst relative error \(worst)")
  }

  @Test(
    "softmax rows match the scalar reference (AVX2 and portable)",
    arguments: [(7, 144, true), (33, 145, true), (5, 51, true), (3, 1, true), (33, 145, false)])
  func softmax(rows: Int, cols: Int, simd: Bool) {
    Ops.setSIMD(simd)
    defer { Ops.setSIMD(true) }
    var x = Self.values(rows * cols, scale: 20)
    var ref = x
    x.withUnsafeMutableBufferPointer { Ops.softmaxRows($0.baseAddress!, rows: rows, cols: cols) }
    ref.withUnsafeMutableBufferPointer { Ops.Reference.softmaxRows($0.baseAddress!, rows: rows, cols: cols) }
    for i in x.indices { #expect(abs(x[i] - ref[i]) <= 2e-7, "element \(i): \(x[i]) vs \(ref[i])") }
  }

  @Test(
    "LayerNorm matches the double-precision reference (AVX2 and portable)",
    arguments: [(64, 192, true), (9, 1536, true), (4, 50, true), (3, 7, true), (9, 1536, false)])
  func layerNorm(rows: Int, dim: Int, simd: Bool) {
    Ops.setSIMD(simd)
    defer { Ops.setSIMD(true) }
    let x = Self.values(rows * dim, scale: 30).enumerated().map { $0.element + Float($0.offset % dim) * 0.01 + 3 }
    let g = Self.values(dim, scale: 1, seed: 3).map { $0 + 1 }
    let b = Self.values(dim, scale: 0.1, seed: 5)
    var out = [Float](repeating: 0, count: x.count)
    var ref = out
    x.withUnsafeBufferPointer { xp in
      out.withUnsafeMutableBufferPointer {
        Ops.layerNorm(xp.baseAddress!, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-5, into: $0.baseAddress!)
      }
      ref.withUnsafeMutableBufferPointer {
        Ops.Reference.layerNorm(
          xp.baseAddress!, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-5, into: $0.baseAddress!)
      }
    }
    var worst: Float = 0
    for i in out.indices { worst = max(worst, abs(out[i] - ref[i])) }
    #expect(worst < 2e-5, "worst abs error \(worst)")
  }

  @Test("Linear through sgemm equals a naive x·Wᵀ + b")
  func linear() {
    let rows = 5
    let inF = 7
    let outF = 3
    let x = Self.values(rows * inF, scale: 1)
    let w = Self.values(outF * inF, scale: 1, seed: 11)
    let b = Self.values(outF, scale: 1, seed: 13)
    var y = [Float](repeating: 0, count: rows * outF)
    y.withUnsafeMutableBufferPointer {
      BLAS.linear(x, rows: rows, inFeatures: inF, weight: w, bias: b, outFeatures: outF, into: $0.baseAddress!)
    }
    for r in 0..<rows {
      for o in 0..<outF {
        var acc = b[o]
        for i in 0..<inF { acc += x[r * inF + i] * w[o * inF + i] }
        #expect(abs(acc - y[r * outF + o]) < 1e-5)
      }
    }
  }

  @Test(
    "Few-row linear layers (streamed weights) equal the naive product, with and without accumulation",
    arguments: [1, 3, 4])
  func fewRows(rows: Int) {
    let inF = 77
    let outF = 300
    let x = Self.values(rows * inF, scale: 1, seed: 31)
    let w = Self.values(outF * inF, scale: 1, seed: 32)
    let b = Self.values(outF, scale: 1, seed: 33)
    for accumulate in [false, true] {
      var y = [Float](repeating: 0.5, count: rows * outF)
      y.withUnsafeMutableBufferPointer {
        BLAS.linear(
          x, rows: rows, inFeatures: inF, weight: w, bias: b, outFeatures: outF, into: $0.baseAddress!,
          accumulate: accumulate)
      }
      for r in 0..<rows {
        for o in 0..<outF {
          var acc = b[o] + (accumulate ? 0.5 : 0)
          for i in 0..<inF { acc += x[r * inF + i] * w[o * inF + i] }
          #expect(abs(acc - y[r * outF + o]) < 1e-4, "row \(r) col \(o)")
        }
      }
    }
  }
}
