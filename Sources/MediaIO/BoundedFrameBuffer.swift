import Foundation

/// A bounded single-consumer hand-off from a producer thread (decoder, camera) to an async consumer.
///
/// - ``Policy/blockProducer``: a full buffer makes ``push(_:)`` wait (back-pressure; nothing is lost).
/// - ``Policy/dropOldest``: a full buffer discards its oldest element and counts it (live sources: the newest
///   frames win and the producer never waits).
///
/// The consumer side is ``next()``; cancelling the consuming task (or calling ``cancel()``) wakes a waiting producer,
/// whose next ``push(_:)`` returns `false` so it can stop.
final class BoundedFrameBuffer<Element: Sendable>: @unchecked Sendable {
  enum Policy: Sendable { case blockProducer, dropOldest }

  let capacity: Int
  let policy: Policy
  private let condition = NSCondition()
  private var items: [Element] = []
  private var head = 0
  private var waiter: CheckedContinuation<Element?, any Error>?
  private var ending: (any Error)?? = nil  // .some(nil): finished cleanly; .some(e): failed
  private var cancelled = false
  private var dropped = 0
  private var onCancel: (@Sendable () -> Void)?

  /// Registers a callback run once when the buffer is cancelled (e.g. to interrupt blocking I/O).
  func setOnCancel(_ body: @escaping @Sendable () -> Void) {
    condition.lock()
    onCancel = body
    condition.unlock()
  }

  init(capacity: Int, policy: Policy) {
    precondition(capacity >= 1)
    self.capacity = capacity
    self.policy = policy
  }

  private var count: Int { items.count - head }

  private func popFirst() -> Element {
    let e = items[head]
    head += 1
    if head > 64 && head * 2 > items.count {
      items.removeFirst(head)
      head = 0
    }
    return e
  }

  /// Producer: hands over one element. Returns `false` when the consumer has gone (cancelled): stop producing.
  @discardableResult
  func push(_ element: Element) -> Bool {
    condition.lock()
    if cancelled {
      condition.unlock()
      return false
    }
    if let w = waiter {
      waiter = nil
      condition.unlock()
      w.resume(returning: element)
      return true
    }
    while count >= capacity {
      switch policy {
      case .dropOldest:
        _ = popFirst()
        dropped += 1
      case .blockProducer:
        condition.wait()
        if cancelled {
          condition.unlock()
          return false
        }
        if let w = waiter {
          waiter = nil
          condition.unlock()
          w.resume(returning: element)
          return true
        }
      }
    }
    items.append(element)
    condition.unlock()
    return true
  }

  /// Producer: no more elements; `error` ends the consumer's iteration with that error after the buffered ones.
  func finish(throwing error: (any Error)? = nil) {
    condition.lock()
    if ending == nil { ending = .some(error) }
    let w = count == 0 ? waiter : nil
    if w != nil {
      waiter = nil
      ending = .some(nil)  // the error is delivered once
    }
    condition.broadcast()
    condition.unlock()
    if let w {
      if let error { w.resume(throwing: error) } else { w.resume(returning: nil) }
    }
  }

  /// Consumer (or anyone): stop; wakes a blocked producer. A waiting ``next()`` returns `nil`.
  func cancel() {
    condition.lock()
    let first = !cancelled
    cancelled = true
    items.removeAll()
    head = 0
    let w = waiter
    waiter = nil
    let callback = first ? onCancel : nil
    onCancel = nil
    condition.broadcast()
    condition.unlock()
    callback?()
    w?.resume(returning: nil)
  }

  /// True once ``cancel()`` was called.
  var isCancelled: Bool {
    condition.lock()
    defer { condition.unlock() }
    return cancelled
  }

  /// Elements dropped by ``Policy/dropOldest`` so far.
  var droppedCount: Int {
    condition.lock()
    defer { condition.unlock() }
    return dropped
  }

  /// Consumer: the next element, `nil` at the end (or after cancellation); rethrows the producer's error.
  func next() async throws -> Element? {
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (c: CheckedContinuation<Element?, any Error>) in
        condition.lock()
        if count > 0 {
          let e = popFirst()
          condition.signal()
          condition.unlock()
          c.resume(returning: e)
          return
        }
        if cancelled {
          condition.unlock()
          c.resume(returning: nil)
          return
        }
        if let end = ending {
          ending = .some(nil)  // the error is delivered once
          condition.unlock()
          if let error = end { c.resume(throwing: error) } else { c.resume(returning: nil) }
          return
        }
        precondition(waiter == nil, "a frame sequence may only be iterated by one task at a time")
        waiter = c
        condition.unlock()
      }
    } onCancel: {
      self.cancel()
    }
  }
}
