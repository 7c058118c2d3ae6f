import CKernels
import Foundation

/// Multi-head scaled dot-product attention over row-major activations, with every product in
/// `cblas_sgemm`.
public enum Attention {

  /// For each head `h`: `out_h = softmax(scale · Q_h·K_hᵀ + bias_h) · V_h`.
  ///
  /// - `q`: `[nq, heads·dh]` rows with stride `ldq`; `k`, `v`: `[nk, heads·dh]` with strides `ldk`, `ldv`.
  /// - `bias`: optional additive scores per head, `[heads, nq, nk]` contiguous (relative position
  ///   bias, masks); `sharedBias`: additive `[nq, nk]` scores for every head (causal masks);
  ///   `biasPerKey`: an additive `[nk]` row shared by all heads and queries (padding masks).
  /// - `out`: `[nq, heads·dh]` with stride `ldo`, heads concatenated head-major.
  /// - `scratch`: at least `nq·nk` floats.
  public static func multiHead(
    q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
    nq: Int, nk: Int, heads: Int, headDim dh: Int, scale: Float,
    bias: UnsafePointer<Float>? = nil, sharedBias: UnsafePointer<Float>? = nil,
    biasPerKey: UnsafePointer<Float>? = nil,
    out: UnsafeMutablePointer<Float>, ldo: Int, scratch: UnsafeMutablePointer<Float>
  ) {
    for h in 0..<heads {
      // scores = scale · Q_h · K_hᵀ
      BLAS.sgemm(
        transB: true, m: nq, n: nk, k: dh, alpha: scale, a: q + h * dh, lda: ldq, b: k + h * dh, ldb: ldk,
        beta: 0, c: scratch, ldc: nk)
      if let bias { Ops.add(bias + h * nq * nk, into: scratch, count: nq * nk) }
      if let sharedBias { Ops.add(sharedBias, into: scratch, count: nq * nk) }
      if let biasPerKey {
        for i in 0..<nq { Ops.add(biasPerKey, into: scratch + i * nk, count: nk) }
      }
      Ops.softmaxRows(scratch, rows: nq, cols: nk)
      BLAS.sgemm(
        m: nq, n: dh, k: nk, a: scratch, lda: nk, b: v + h * dh, ldb: ldv, beta: 0, c: out + h * dh, ldc: ldo)
    }
  }
}
