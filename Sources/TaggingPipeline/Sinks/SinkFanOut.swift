import Foundation

/// A bounded single-consumer FIFO between tasks: `send` suspends while the channel is full
/// (back-pressure), `receive` suspends while it is empty and returns nil once it is closed and drained.
/// Neither reacts to task cancellation: a pipeline that stops closes the channel and lets it drain.
public final class BoundedChannel<Element: Sendable>: @unchecked Sendable {
  public let capacity: Int
  private let lock = NSLock()
  private var buffer: [Element] = []
  private var head = 0
  private var waitingSenders: [(Element, CheckedContinuation<Void, Never>)] = []
  private var waitingReceiver: CheckedContinuation<Element?, Never>?
  private var closed = false

  public init(capacity: Int) {
    precondition(capacity > 0, "a channel holds at least one element")
    self.capacity = capacity
  }

  private var bufferedCount: Int { buffer.count - head }

  private func takeFirst() -> Element {
    let e = buffer[head]
    head += 1
    if head > 64 && head * 2 > buffer.count {
      buffer.removeFirst(head)
      head = 0
    }
    return e
  }

  /// Appends `element`, waiting for room. Sending on a closed channel drops the element.
  public func send(_ element: Element) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      var receiver: CheckedContinuation<Element?, Never>?
      var resumeNow = true
      lock.withLock {
        if closed { return }
        if let r = waitingReceiver {
          waitingReceiver = nil
          receiver = r
        } else if bufferedCount < capacity {
          buffer.append(element)
        } else {
          waitingSenders.append((element, continuation))
          resumeNow = false
        }
      }
      receiver?.resume(returning: element)
      if resumeNow { continuation.resume() }
    }
  }

  /// The next element, or nil when the channel is closed and empty.
  public func receive() async -> Element? {
    await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
      var result: Element??
      var sender: CheckedContinuation<Void, Never>?
      lock.withLock {
        if bufferedCount > 0 {
          result = .some(takeFirst())
          if !waitingSenders.isEmpty {
            let (e, c) = waitingSenders.removeFirst()
            buffer.append(e)
            sender = c
          }
        } else if !waitingSenders.isEmpty {
          let (e, c) = waitingSenders.removeFirst()
          result = .some(e)
          sender = c
        } else if closed {
          result = .some(nil)
        } else {
          precondition(waitingReceiver == nil, "BoundedChannel has a single consumer")
          waitingReceiver = continuation
        }
      }
      sender?.resume()
      if let result { continuation.resume(returning: result) }
    }
  }

  /// No more elements will be sent; the consumer gets the buffered ones, then nil.
  public func close() {
    let receiver: CheckedContinuation<Element?, Never>? = lock.withLock {
      closed = true
      defer { waitingReceiver = nil }
      return bufferedCount == 0 && waitingSenders.isEmpty ? waitingReceiver : nil
    }
    receiver?.resume(returning: nil)
  }
}

/// Fans the timeline out to several sinks, each behind its own bounded channel and task, so a slow
/// sink delays the producer (back-pressure) instead of losing records. After a sink fails it receives
/// nothing more (but its channel keeps draining); `finish()` still finishes it and throws the first error.
public final class SinkFanOut: Sendable {
  private let channels: [BoundedChannel<TimelineRecord>]
  private let consumers: [Task<(any Error)?, Never>]
  public let sinks: [any TimelineSink]

  /// Starts one consumer task per sink; `capacity`: records buffered per sink (default 64).
  public init(sinks: [any TimelineSink], capacity: Int = 64) {
    self.sinks = sinks
    let channels = sinks.map { _ in BoundedChannel<TimelineRecord>(capacity: capacity) }
    self.channels = channels
    consumers = zip(sinks, channels).map { sink, channel in
      Task.detached {
        var failure: (any Error)?
        while let record = await channel.receive() {
          if failure != nil { continue }
          do { try sink.write(record) } catch { failure = error }
        }
        do { try sink.finish() } catch { failure = failure ?? error }
        return failure
      }
    }
  }

  /// Queues `record` for every sink, waiting while a sink's channel is full.
  public func send(_ record: TimelineRecord) async {
    for c in channels { await c.send(record) }
  }

  /// Queues several records in order.
  public func send(_ records: [TimelineRecord]) async {
    for r in records { await send(r) }
  }

  /// Closes the channels, waits until every sink has written everything and finished, and throws the
  /// first sink error, if any. Call it also after a cancellation or an interrupt: files end valid.
  public func finish() async throws {
    for c in channels { c.close() }
    var firstError: (any Error)?
    for t in consumers {
      if let e = await t.value { firstError = firstError ?? e }
    }
    if let firstError { throw firstError }
  }
}
