import CKernels
import Foundation

/// Element-wise and row-wise kernels over contiguous fp32 rows: C kernels (AVX2+FMA when the CPU has
/// it) split over `Parallel.workers` threads. `Ops.Reference` keeps plain scalar Swift versions
/// (libm `erff`/`expf`, double-precision statistics) that tests and `vtag bench --kernels` compare against.
public enum Ops {
  /// True when the AVX2+FMA kernels are in use.
  public static var simd: Bool { vk_has_avx2() != 0 }
  /// Turns the AVX2 kernels off (portable C versions) or back on; for tests and benchmarks.
  public static func setSIMD(_ enabled: Bool) { vk_set_simd(enabled ? 1 : 0) }

  /// LayerNorm over the last dimension into `out` (may alias `x`). Biased variance, two passes.
  public static func layerNorm(
    _ x: UnsafePointer<Float>, rows: Int, dim: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    eps: Float, into out: UnsafeMutablePointer<Float>
  ) {
    Parallel.forRange(rows, grain: max(1, 16384 / max(dim, 1))) { start, end in
      vk_layernorm_rows(x + start * dim, end - start, dim, gamma, beta, eps, out + start * dim)
    }
  }

  /// Exact-form GELU, `0.5·x·(1 + erf(x/√2))`, in place.
  public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forRange(count) { start, end in vk_gelu(x + start, end - start) }
  }

  /// ReLU in place.
  public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count where x[i] < 0 { x[i] = 0 }
  }

  /// Softmax over each row of `[rows, cols]` (row stride `ld`), in place.
  public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int? = nil) {
    let ld = ld ?? cols
    Parallel.forRange(rows, grain: max(1, 32768 / max(cols, 1))) { start, end in
      vk_softmax_rows(x + start * ld, end - start, cols, ld)
    }
  }

  /// `y += x`, element-wise.
  @inline(__always)
  public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    vk_add(y, x, count)
  }

  /// `y = a + b`, element-wise.
  @inline(__always)
  public static func sum(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int
  ) {
    vk_add3(y, a, b, count)
  }

  /// `y += a·x`.
  @inline(__always)
  public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    vk_axpy(y, a, x, count)
  }

  /// `Σ x·y`.
  @inline(__always)
  public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
    vk_dot(x, y, count)
  }

  /// Logistic sigmoid, `1/(1+e^−x)`.
  @inline(__always)
  public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

  /// Plain scalar versions (libm `erff`/`expf`, double-precision LayerNorm statistics): the baseline
  /// the vectorised kernels are tested and benchmarked against.
  public enum Reference {
    public static func layerNorm(
      _ x: UnsafePointer<Float>, rows: Int, dim: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
      eps: Float, into out: UnsafeMutablePointer<Float>
    ) {
      for r in 0..<rows {
        let xr = x + r * dim
        let yr = out + r * dim
        var sum = 0.0
        for j in 0..<dim { sum += Double(xr[j]) }
        let mean = sum / Double(dim)
        var sq = 0.0
        for j in 0..<dim {
          let d = Double(xr[j]) - mean
          sq += d * d
        }
        let inv = Float(1.0 / (sq / Double(dim) + Double(eps)).squareRoot())
        let m = Float(mean)
        for j in 0..<dim { yr[j] = (xr[j] - m) * inv * gamma[j] + beta[j] }
      }
    }

    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
      for i in 0..<count {
        let v = x[i]
        x[i] = 0.5 * v * (1 + erff(v * 0.707_106_781_186_547_5))
      }
    }

    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
      for r in 0..<rows {
        let row = x + r * cols
        var mx = -Float.infinity
        for j in 0..<cols where row[j] > mx { mx = row[j] }
        var sum: Float = 0
        for j in 0..<cols {
          let e = expf(row[j] - mx)
          row[j] = e
          sum += e
        }
        for j in 0..<cols { row[j] /= sum }
      }
    }
  }
}
