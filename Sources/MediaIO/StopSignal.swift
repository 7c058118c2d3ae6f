import Foundation

/// A one-shot "the producer thread has ended" signal that async code can await (no polling, no time limit).
final class StopSignal: @unchecked Sendable {
  private let lock = NSLock()
  private var done = false
  private var waiters: [CheckedContinuation<Void, Never>] = []

  /// Marks the end (idempotent) and wakes every waiter.
  func signal() {
    lock.lock()
    done = true
    let w = waiters
    waiters = []
    lock.unlock()
    for c in w { c.resume() }
  }

  /// True once ``signal()`` was called.
  var isSignalled: Bool {
    lock.lock()
    defer { lock.unlock() }
    return done
  }

  /// Returns once ``signal()`` has been called.
  func wait() async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      lock.lock()
      if done {
        lock.unlock()
        c.resume()
        return
      }
      waiters.append(c)
      lock.unlock()
    }
  }
}
