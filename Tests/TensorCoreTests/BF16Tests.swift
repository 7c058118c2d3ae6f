import CKernels
import Foundation
import Testing

@testable import TensorCore

/// The bf16 kernels compute exactly the fp32-accumulated product of the bf16-rounded operands.
@Suite(
  .serialized,
  .enabled(
    if: BF16.supported(),
    Comment(rawValue: "skipped: this CPU lacks \(BF16.missing(.current).joined(separator: ", ")) (bf16 kernels)")))
struct BF16Tests {
  static func values(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed
    return (0..<n).map { _ in
      s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int64(bitPattern: s >> 11) % 20001 - 10000) / 10000
    }
  }

  static func rounded(_ x: [Float]) -> [Float] {
    var h = [UInt16](repeating: 0, count: x.count)
    var out = [Float](repeating: 0, count: x.count)
    vk_bf16_from_f32(x, &h, x.count)
    vk_f32_from_bf16(h, &out, x.count)
    return out
  }

  @Test(
    "linear in bf16 equals the double product of bf16-rounded inputs (edge tiles, odd k, strides, bias, accumulate, 1 and 2 workers)",
    arguments: [
      (1, 1, 1, 1, false), (12, 32, 2, 1, false), (13, 33, 3, 2, true), (37, 45, 33, 2, false), (200, 70, 257, 1, true),
      (800, 96, 64, 2, false), (3, 1000, 768, 2, true),
    ])
  func linear(m: Int, n: Int, k: Int, workers: Int, accumulate: Bool) {
    Parallel.workers = workers
    defer { Parallel.workers = 1 }
    let ldx = k + 3
    let x = Self.values(m * ldx, seed: 1)
    let w = Self.values(n * k, seed: 2)
    let bias = Self.values(n, seed: 3)
    let ldy = n + 5
    let y0 = Self.values(m * ldy, seed: 4)
    var y = y0
    let weight = Weight(shape: [n, k], values: w).packedBF16()
    BLAS.linear(
      x, rows: m, inFeatures: k, ldx: ldx, weight: weight, bias: bias, outFeatures: n, into: &y, ldy: ldy,
      accumulate: accumulate)
    let xr = Self.rounded(x)
    let wr = Self.rounded(w)
    var worst = 0.0
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        var mag = 0.0
        for p in 0..<k {
          s += Double(xr[i * ldx + p]) * Double(wr[j * k + p])
          mag += abs(Double(xr[i * ldx + p]) * Double(wr[j * k + p]))
        }
        let ref = s + Double(bias[j]) + (accumulate ? Double(y0[i * ldy + j]) : 0)
        worst = max(worst, abs(Double(y[i * ldy + j]) - ref) / (mag * 1e-6 + 1e-6))
      }
      // Padding between rows is untouched.
      for j in n..<ldy { #expect(y[i * ldy + j] == y0[i * ldy + j]) }
    }
    #expect(worst <= 1, "worst error / tolerance = \(worst)")
  }

  @Test("bf16 rounding is to nearest even, and the description-embedding dot/axpy use the rounded rows")
  func rounding() {
    #expect(Self.rounded([1.0, 1.00390625, 1.01171875, -2.5]) == [1.0, 1.0, 1.015625, -2.5])
    let src = Self.values(3 * 40, seed: 9)
    let rows = BF16Rows(converting: src, rows: 3, cols: 40)
    let xr = Self.values(40, seed: 10)
    let r = Self.rounded(src)
    let ref = (0..<40).reduce(0.0) { $0 + Double(xr[$1]) * Double(r[40 + $1]) }
    #expect(abs(Double(rows.dot(xr, row: 1)) - ref) < 1e-5)
    var y = [Float](repeating: 1, count: 40)
    rows.axpy(0.5, row: 2, into: &y)
    for i in 0..<40 { #expect(y[i] == 1 + 0.5 * r[80 + i]) }
  }

  @Test("--precision resolution: auto is fp32; bf16 without AVX512-BF16 names the missing feature")
  func resolution() throws {
    #expect(try Precision.auto.resolved() == .fp32)
    #expect(try Precision.bf16.resolved() == .bf16)
    let avx2: CPUFeatures = [.sse3, .avx, .fma, .avx2]
    #expect(throws: PrecisionError.self) { try Precision.bf16.resolved(features: avx2, cpu: "Old CPU") }
    do {
      _ = try Precision.bf16.resolved(features: avx2.union(CPUFeatures.avx512Kernels), cpu: "Skylake")
      Issue.record("bf16 resolved on a CPU without avx512_bf16")
    } catch {
      #expect("\(error)".contains("avx512_bf16"))
      #expect("\(error)".contains("--precision fp32"))
    }
  }
}
