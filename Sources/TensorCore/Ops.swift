import Foundation

/// Element-wise and row-wise kernels over contiguous fp32 rows: SIMD (16 lanes) and split over
/// `Parallel.workers` threads. `Ops.Reference` keeps plain scalar versions for tests and benchmarks.
public enum Ops {
  public typealias V = SIMD16<Float>

  /// LayerNorm over the last dimension into `out` (may alias `x`). Biased variance, two passes.
  public static func layerNorm(
    _ x: UnsafePointer<Float>, rows: Int, dim: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    eps: Float, into out: UnsafeMutablePointer<Float>
  ) {
    Parallel.forRange(rows, grain: max(1, 8192 / max(dim, 1))) { start, end in
      for r in start..<end { layerNormRow(x + r * dim, dim: dim, gamma: gamma, beta: beta, eps: eps, out: out + r * dim) }
    }
  }

  @inline(__always)
  static func layerNormRow(
    _ x: UnsafePointer<Float>, dim: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
    out: UnsafeMutablePointer<Float>
  ) {
    let vec = dim / 16 * 16
    let xr = UnsafeRawPointer(x)
    var acc = V()
    var j = 0
    while j < vec {
      acc += xr.loadUnaligned(fromByteOffset: j * 4, as: V.self)
      j += 16
    }
    var sum = acc.sum()
    while j < dim {
      sum += x[j]
      j += 1
    }
    let mean = sum / Float(dim)
    let m = V(repeating: mean)
    var sq = V()
    j = 0
    while j < vec {
      let d = xr.loadUnaligned(fromByteOffset: j * 4, as: V.self) - m
      sq += d * d
      j += 16
    }
    var variance = sq.sum()
    while j < dim {
      let d = x[j] - mean
      variance += d * d
      j += 1
    }
    variance /= Float(dim)
    let inv = 1 / (variance + eps).squareRoot()
    let iv = V(repeating: inv)
    let g = UnsafeRawPointer(gamma)
    let b = UnsafeRawPointer(beta)
    let o = UnsafeMutableRawPointer(out)
    j = 0
    while j < vec {
      let v = (xr.loadUnaligned(fromByteOffset: j * 4, as: V.self) - m) * iv
      o.storeBytes(
        of: v * g.loadUnaligned(fromByteOffset: j * 4, as: V.self) + b.loadUnaligned(fromByteOffset: j * 4, as: V.self),
        toByteOffset: j * 4, as: V.self)
      j += 16
    }
    while j < dim {
      out[j] = (x[j] - mean) * inv * gamma[j] + beta[j]
      j += 1
    }
  }

  /// Exact-form GELU, `0.5·x·(1 + erf(x/√2))`, in place.
  public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forRange(count) { start, end in
      let raw = UnsafeMutableRawPointer(x)
      var i = start
      while i + 16 <= end {
        raw.storeBytes(
          of: VectorMath.gelu(raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)), toByteOffset: i * 4, as: V.self)
        i += 16
      }
      if i < end {
        var tail = V()
        for k in 0..<(end - i) { tail[k] = x[i + k] }
        let g = VectorMath.gelu(tail)
        for k in 0..<(end - i) { x[i + k] = g[k] }
      }
    }
  }

  /// ReLU in place.
  public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count where x[i] < 0 { x[i] = 0 }
  }

  /// Softmax over each row of `[rows, cols]` (row stride `ld`), in place.
  public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int? = nil) {
    let ld = ld ?? cols
    Parallel.forRange(rows, grain: max(1, 32768 / max(cols, 1))) { start, end in
      for r in start..<end { softmaxRow(x + r * ld, cols: cols) }
    }
  }

  @inline(__always)
  static func softmaxRow(_ row: UnsafeMutablePointer<Float>, cols: Int) {
    let vec = cols / 16 * 16
    let raw = UnsafeMutableRawPointer(row)
    var mv = V(repeating: -.infinity)
    var j = 0
    while j < vec {
      mv = pointwiseMax(mv, raw.loadUnaligned(fromByteOffset: j * 4, as: V.self))
      j += 16
    }
    var mx = mv.max()
    while j < cols {
      mx = max(mx, row[j])
      j += 1
    }
    let m = V(repeating: mx)
    var acc = V()
    j = 0
    while j < vec {
      let e = VectorMath.exp(raw.loadUnaligned(fromByteOffset: j * 4, as: V.self) - m)
      raw.storeBytes(of: e, toByteOffset: j * 4, as: V.self)
      acc += e
      j += 16
    }
    var sum = acc.sum()
    if j < cols {
      var tail = V(repeating: -.infinity)
      for k in 0..<(cols - j) { tail[k] = row[j + k] - mx }
      let e = VectorMath.exp(tail)
      for k in 0..<(cols - j) {
        row[j + k] = e[k]
        sum += e[k]
      }
    }
    let inv = 1 / sum
    let iv = V(repeating: inv)
    j = 0
    while j < vec {
      raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: j * 4, as: V.self) * iv, toByteOffset: j * 4, as: V.self)
      j += 16
    }
    while j < cols {
      row[j] *= inv
      j += 1
    }
  }

  /// `y += x`, element-wise.
  public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    let xr = UnsafeRawPointer(x)
    let yr = UnsafeMutableRawPointer(y)
    var i = 0
    while i + 16 <= count {
      yr.storeBytes(
        of: yr.loadUnaligned(fromByteOffset: i * 4, as: V.self) + xr.loadUnaligned(fromByteOffset: i * 4, as: V.self),
        toByteOffset: i * 4, as: V.self)
      i += 16
    }
    while i < count {
      y[i] += x[i]
      i += 1
    }
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
