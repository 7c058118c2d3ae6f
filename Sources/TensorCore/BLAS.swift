import CKernels
import COpenBLAS
import Foundation

/// Access to OpenBLAS. OpenBLAS keeps one global thread pool: call these from the one thread
/// that owns inference.
public enum BLAS {
  /// Sets the number of OpenBLAS threads (global to the process).
  public static func setThreads(_ n: Int) {
    openblas_set_num_threads(Int32(max(1, n)))
    Parallel.workers = max(1, n)
  }
  /// Runs `body` with OpenBLAS single-threaded (for regions where the caller splits small products
  /// over its own threads), then restores the thread count. Call from the BLAS-owning thread.
  public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
    let n = Int(openblas_get_num_threads())
    if n == 1 { return try body() }
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(Int32(n)) }
    return try body()
  }

  /// The number of OpenBLAS threads in use.
  public static var threads: Int { Int(openblas_get_num_threads()) }
  /// OpenBLAS's build configuration string.
  public static var configuration: String { String(cString: openblas_get_config()) }
  /// The CPU kernel OpenBLAS selected.
  public static var coreName: String { String(cString: openblas_get_corename()) }

  /// `C[m×n] = alpha · op(A) · op(B) + beta · C`, row-major, with leading dimensions.
  @inline(__always)
  public static func sgemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// `y = x · Wᵀ + b` for a PyTorch `Linear` with weight `[out, in]`: `x` is `[rows, in]` with
  /// leading dimension `ldx`, `y` is `[rows, out]` with leading dimension `ldy`.
  public static func linear(
    _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, ldx: Int? = nil,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
    into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false
  ) {
    let ldy = ldy ?? outFeatures
    if rows <= 4 && Ops.simd {
      // Very few rows (decoder steps): stream each weight row once; packing the weight for sgemm
      // would cost as much as the product.
      let ldx = ldx ?? inFeatures
      Parallel.forRange(outFeatures, grain: 256) { start, end in
        vk_gemm_nt_small(x, rows, inFeatures, ldx, weight, start, end, y, ldy, accumulate ? 1 : 0)
      }
      if let bias {
        for r in 0..<rows { Ops.add(bias, into: y + r * ldy, count: outFeatures) }
      }
      return
    }
    var beta: Float = accumulate ? 1 : 0
    if let bias, !accumulate {
      for r in 0..<rows {
        (y + r * ldy).update(from: bias, count: outFeatures)
      }
      beta = 1
    }
    sgemm(
      transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: ldx ?? inFeatures,
      b: weight, ldb: inFeatures, beta: beta, c: y, ldc: ldy)
    if let bias, accumulate {
      for r in 0..<rows {
        let row = y + r * ldy
        for j in 0..<outFeatures { row[j] += bias[j] }
      }
    }
  }
}
