import Foundation
import TensorCore

/// The one thread that owns OpenBLAS: every model load and forward pass of a run executes here, in
/// submission order, never in the cooperative thread pool. The thread keeps this object alive until
/// `stop()` lets it finish.
public final class InferenceThread: @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [() -> Void] = []
  private var stopping = false
  private var thread: Thread?

  /// Starts the thread; OpenBLAS (and the element-wise kernels) use `threads` threads.
  public init(threads: Int, name: String = "vtag.inference") {
    let t = Thread { self.loop() }
    t.name = name
    t.stackSize = 8 << 20
    thread = t
    t.start()
    submit { BLAS.setThreads(threads) }
  }

  private func submit(_ job: @escaping () -> Void) {
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  private func loop() {
    while true {
      condition.lock()
      while jobs.isEmpty && !stopping { condition.wait() }
      if jobs.isEmpty && stopping {
        condition.unlock()
        return
      }
      let job = jobs.removeFirst()
      condition.unlock()
      job()
    }
  }

  /// Runs `body` on the inference thread and returns its result.
  public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
      submit {
        do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
      }
    }
  }

  /// Lets queued jobs finish, then ends the thread.
  public func stop() {
    condition.lock()
    stopping = true
    condition.signal()
    condition.unlock()
  }
}
