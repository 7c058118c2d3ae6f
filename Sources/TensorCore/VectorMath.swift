import Foundation

/// Vectorised elementary functions on `SIMD16<Float>`, accurate to a few ulp (well inside the
/// models' float32 tolerances), used by the element-wise kernels.
public enum VectorMath {
  public typealias V = SIMD16<Float>

  /// `exp(x)`: range reduction `x = n·ln2 + r` with |r| ≤ ln2/2 (ln2 split in two parts), a degree-6
  /// polynomial for `e^r`, then scaling by `2^n` through the exponent bits. Inputs below −87.3 give 0,
  /// above 88.7 are clamped there (≈ 3.4e38).
  @inline(__always)
  public static func exp(_ x: V) -> V {
    let xc = x.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.7))
    // n = round(x / ln2) via the 1.5·2^23 trick.
    let magic = V(repeating: 12_582_912)
    let t = xc * V(repeating: 1.442_695_04) + magic
    let n = t - magic
    var r = xc - n * V(repeating: 0.693_359_375)
    r = r - n * V(repeating: -2.121_944_4e-4)
    // e^r ≈ 1 + r + r²·P(r)
    var p = V(repeating: 1.987_569_15e-4)
    p = p * r + V(repeating: 1.398_199_95e-3)
    p = p * r + V(repeating: 8.333_451_9e-3)
    p = p * r + V(repeating: 4.166_579_59e-2)
    p = p * r + V(repeating: 1.666_666_55e-1)
    p = p * r + V(repeating: 5.000_000_12e-1)
    let e = (p * r * r + r) + V(repeating: 1)
    // 2^n: the integer n sits in the low mantissa bits of t.
    let bits = unsafeBitCast(t, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
    let scale = unsafeBitCast((bits &+ SIMD16<Int32>(repeating: 127)) &<< SIMD16<Int32>(repeating: 23), to: V.self)
    return (e * scale).replacing(with: 0, where: x .< V(repeating: -87.3))
  }

  /// `erf(x)`: an odd/even rational approximation on [−4, 4] (|error| < 4e-7; erf is ±1 in float32
  /// outside that range).
  @inline(__always)
  public static func erf(_ a: V) -> V {
    let x = a.clamped(lowerBound: V(repeating: -4), upperBound: V(repeating: 4))
    let x2 = x * x
    var p = V(repeating: -2.726_142_258_013_06e-10)
    p = p * x2 + V(repeating: 2.770_681_424_959_02e-08)
    p = p * x2 + V(repeating: -2.101_024_020_825_08e-06)
    p = p * x2 + V(repeating: -5.692_506_394_623_46e-05)
    p = p * x2 + V(repeating: -7.349_906_303_268_55e-04)
    p = p * x2 + V(repeating: -2.954_599_808_540_25e-03)
    p = p * x2 + V(repeating: -1.609_603_332_624_15e-02)
    p = p * x
    var q = V(repeating: -1.456_607_184_649_96e-05)
    q = q * x2 + V(repeating: -2.133_740_552_789_05e-04)
    q = q * x2 + V(repeating: -1.682_826_974_382_03e-03)
    q = q * x2 + V(repeating: -7.373_329_167_204_68e-03)
    q = q * x2 + V(repeating: -1.426_473_905_141_89e-02)
    return p / q
  }

  /// Exact-form GELU, `0.5·x·(1 + erf(x/√2))`.
  @inline(__always)
  public static func gelu(_ x: V) -> V {
    V(repeating: 0.5) * x * (V(repeating: 1) + erf(x * V(repeating: 0.707_106_781_186_547_5)))
  }
}

/// Splits work over the inference thread and helpers (as many as OpenBLAS uses).
public enum Parallel {
  /// Number of workers for element-wise kernels (set with `BLAS.setThreads`).
  nonisolated(unsafe) public static var workers = 1

  /// Runs `body(start, end)` over `0..<count` in up to `workers` contiguous chunks of at least `grain`.
  @inline(__always)
  public static func forRange(_ count: Int, grain: Int = 1 << 15, _ body: (Int, Int) -> Void) {
    let chunks = min(workers, max(1, count / max(grain, 1)))
    if chunks <= 1 {
      body(0, count)
      return
    }
    let per = (count + chunks - 1) / chunks
    withoutActuallyEscaping(body) { body in
      let box = UncheckedBox(body)
      DispatchQueue.concurrentPerform(iterations: chunks) { i in
        let s = i * per
        let e = min(count, s + per)
        if s < e { box.value(s, e) }
      }
    }
  }
}

/// Carries a non-Sendable value into `concurrentPerform`; the callers split the work so that the
/// chunks touch disjoint memory.
struct UncheckedBox<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
