import Foundation

/// A start-up check of the sgemm that OpenBLAS's chosen kernels compute: a few small products (both
/// transpose cases, odd sizes that hit the kernels' edge paths, one large enough to be threaded)
/// against a plain double-precision reference. Some OpenBLAS builds compute wrong results on some
/// processors; this catches that before a model runs.
public enum BLASSelfCheck {
  /// An sgemm with `BLAS.sgemm`'s row-major signature (`transA`, `transB`, m, n, k, alpha, a, lda, b,
  /// ldb, beta, c, ldc).
  public typealias Sgemm = @Sendable (
    Bool, Bool, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, Float,
    UnsafeMutablePointer<Float>, Int
  ) -> Void

  /// The outcome: `passed`, and the worst error relative to the tolerance (≤ 1 passes) with the
  /// product it was seen in.
  public struct Result: Sendable, Equatable {
    public var passed: Bool
    public var worstRatio: Double
    public var worstCase: String
  }

  /// OpenBLAS's own sgemm.
  public static let openBLAS: Sgemm = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
    BLAS.sgemm(
      transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
      ldc: ldc)
  }

  /// Runs the products through `gemm` and compares each element with the reference: an element fails
  /// when `|c − ref| > 1e-5·Σ|a·b| + 1e-6` (fp32 accumulation of k terms stays far inside that).
  public static func run(gemm: Sgemm = openBLAS) -> Result {
    let cases: [(m: Int, n: Int, k: Int, ta: Bool, tb: Bool)] = [
      (7, 5, 3, false, false), (33, 47, 65, false, true), (64, 48, 97, true, false), (17, 129, 31, true, true),
      (160, 144, 192, false, true),
    ]
    var worst = 0.0
    var worstCase = ""
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Float {
      seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
    }
    for t in cases {
      let a = (0..<(t.m * t.k)).map { _ in next() }
      let b = (0..<(t.k * t.n)).map { _ in next() }
      let c0 = (0..<(t.m * t.n)).map { _ in next() }
      var c = c0
      let alpha: Float = 0.75
      let beta: Float = 0.5
      // Stored layouts: A is [m, k] or (transA) [k, m]; B is [k, n] or (transB) [n, k].
      let lda = t.ta ? t.m : t.k
      let ldb = t.tb ? t.k : t.n
      a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
          c.withUnsafeMutableBufferPointer { cp in
            gemm(
              t.ta, t.tb, t.m, t.n, t.k, alpha, ap.baseAddress!, lda, bp.baseAddress!, ldb, beta, cp.baseAddress!,
              t.n)
          }
        }
      }
      for i in 0..<t.m {
        for j in 0..<t.n {
          var sum = 0.0
          var magnitude = 0.0
          for p in 0..<t.k {
            let av = Double(t.ta ? a[p * lda + i] : a[i * lda + p])
            let bv = Double(t.tb ? b[j * ldb + p] : b[p * ldb + j])
            sum += av * bv
            magnitude += abs(av * bv)
          }
          let ref = Double(alpha) * sum + Double(beta) * Double(c0[i * t.n + j])
          let tolerance = 1e-5 * (Double(alpha) * magnitude + abs(Double(beta) * Double(c0[i * t.n + j]))) + 1e-6
          let got = Double(c[i * t.n + j])
          let ratio = got.isFinite ? abs(got - ref) / tolerance : .infinity
          if ratio > worst {
            worst = ratio
            worstCase =
              "\(t.m)×\(t.n)×\(t.k)\(t.ta ? " Aᵀ" : "")\(t.tb ? " Bᵀ" : "") at [\(i), \(j)]: \(got) instead of \(ref)"
          }
        }
      }
    }
    return Result(passed: worst <= 1, worstRatio: worst, worstCase: worstCase)
  }
}
