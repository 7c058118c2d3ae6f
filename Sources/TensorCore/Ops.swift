import Foundation

/// Element-wise and row-wise kernels over contiguous fp32 rows.
public enum Ops {
  /// LayerNorm over the last dimension, in place or into `out` (may alias `x`).
  /// Mean and variance are accumulated in double precision (biased variance, as PyTorch).
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
      let variance = sq / Double(dim)
      let inv = Float(1.0 / (variance + Double(eps)).squareRoot())
      let m = Float(mean)
      for j in 0..<dim {
        yr[j] = (xr[j] - m) * inv * gamma[j] + beta[j]
      }
    }
  }

  /// Exact GELU, `0.5·x·(1 + erf(x/√2))`, in place.
  public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let invSqrt2: Float = 0.70710678118654752440
    for i in 0..<count {
      let v = x[i]
      x[i] = 0.5 * v * (1 + erff(v * invSqrt2))
    }
  }

  /// ReLU in place.
  public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count where x[i] < 0 { x[i] = 0 }
  }

  /// Softmax over each row of `[rows, cols]` (row stride `ld`), in place.
  public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int? = nil) {
    let ld = ld ?? cols
    for r in 0..<rows {
      let row = x + r * ld
      var mx = -Float.infinity
      for j in 0..<cols where row[j] > mx { mx = row[j] }
      var sum: Float = 0
      for j in 0..<cols {
        let e = expf(row[j] - mx)
        row[j] = e
        sum += e
      }
      let inv = 1 / sum
      for j in 0..<cols { row[j] *= inv }
    }
  }

  /// `y += x`, element-wise.
  public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] += x[i] }
  }

  /// Logistic sigmoid, `1/(1+e^−x)`.
  @inline(__always)
  public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
}
