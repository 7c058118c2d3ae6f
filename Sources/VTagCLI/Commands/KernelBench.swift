import Foundation
import TensorCore

/// `vtag bench --kernels`: each hand-written kernel next to the code it replaced, timed in
/// alternation in the same run (so machine load affects both sides alike).
enum KernelBench {
  struct Result {
    var name: String
    var baseline: String
    var baselineSeconds: Double
    var kernelSeconds: Double
  }

  static func time(_ reps: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<reps {
      let t0 = DispatchTime.now().uptimeNanoseconds
      body()
      best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return best
  }

  static func run(reps: Int = 5) -> [Result] {
    var results: [Result] = []
    let n = 4585 * 3072
    let x = Tensor(uninitialized: [n])
    for i in 0..<n { x.data[i] = Float(i % 2001) / 200 - 5 }
    let y = Tensor(uninitialized: [n])
    func reset() { y.data.update(from: x.data, count: n) }
    // GELU over the tagging head's FFN activations.
    let geluRef = time(reps) {
      reset()
      Ops.Reference.gelu(y.data, count: n)
    }
    Ops.setSIMD(false)
    let geluPortable = time(reps) {
      reset()
      Ops.gelu(y.data, count: n)
    }
    Ops.setSIMD(true)
    let geluSIMD = time(reps) {
      reset()
      Ops.gelu(y.data, count: n)
    }
    results.append(
      Result(
        name: "GELU 4585×3072 (C, AVX2+FMA, threaded)", baseline: "libm erff, scalar", baselineSeconds: geluRef,
        kernelSeconds: geluSIMD))
    results.append(
      Result(
        name: "GELU 4585×3072 (C, portable, threaded)", baseline: "libm erff, scalar", baselineSeconds: geluRef,
        kernelSeconds: geluPortable))
    // Softmax over window attention scores (stage 1: 64 windows × 6 heads × 144 rows).
    let rows = 64 * 6 * 144
    let cols = 144
    let softRef = time(reps) {
      reset()
      Ops.Reference.softmaxRows(y.data, rows: rows, cols: cols)
    }
    let softSIMD = time(reps) {
      reset()
      Ops.softmaxRows(y.data, rows: rows, cols: cols)
    }
    results.append(
      Result(
        name: "softmax 55296×144 (C, AVX2 exp, threaded)", baseline: "libm expf, scalar", baselineSeconds: softRef,
        kernelSeconds: softSIMD))
    // LayerNorm over stage-1 tokens.
    let g = [Float](repeating: 1.1, count: 192)
    let b = [Float](repeating: 0.1, count: 192)
    let lnRef = time(reps) {
      Ops.Reference.layerNorm(x.data, rows: 9216, dim: 192, gamma: g, beta: b, eps: 1e-5, into: y.data)
    }
    let lnSIMD = time(reps) { Ops.layerNorm(x.data, rows: 9216, dim: 192, gamma: g, beta: b, eps: 1e-5, into: y.data) }
    results.append(
      Result(
        name: "LayerNorm 9216×192 (C, AVX2, threaded)", baseline: "double statistics, scalar", baselineSeconds: lnRef,
        kernelSeconds: lnSIMD))
    // Window attention of one Swin-L stage-1 block: 64 windows × 6 heads, 144 tokens, head dim 32.
    let w = 64
    let heads = 6
    let c = heads * 32
    let nTok = 144
    let qkv = Tensor(uninitialized: [w * nTok, 3 * c])
    for i in 0..<qkv.count { qkv.data[i] = Float(i % 97) / 97 - 0.5 }
    let out = Tensor(uninitialized: [w * nTok, c])
    let bias = Tensor(zeros: [heads, nTok, nTok])
    func attention(parallel: Bool) {
      let qkvData = qkv.data
      let outData = out.data
      let biasData = UnsafePointer(bias.data)
      let body: (Int, Int) -> Void = { start, end in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: nTok * nTok)
        defer { scratch.deallocate() }
        for win in start..<end {
          let base = qkvData + win * nTok * 3 * c
          Attention.multiHead(
            q: base, ldq: 3 * c, k: base + c, ldk: 3 * c, v: base + 2 * c, ldv: 3 * c, nq: nTok, nk: nTok, heads: heads,
            headDim: 32, scale: 0.177, bias: biasData, out: outData + win * nTok * c, ldo: c, scratch: scratch)
        }
      }
      if parallel { Parallel.forRange(w, grain: 1, body) } else { body(0, w) }
    }
    let attBLAS = time(reps) { attention(parallel: false) }
    let attBLASThreaded = time(reps) { BLAS.singleThreaded { attention(parallel: true) } }
    results.append(
      Result(
        name: "window attention, stage-1 block (single-threaded sgemm per window, windows split over threads)",
        baseline: "OpenBLAS-threaded sgemm per window and head", baselineSeconds: attBLAS,
        kernelSeconds: attBLASThreaded))
    return results
  }
}
