import Foundation

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
