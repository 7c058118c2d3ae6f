import CFFmpeg
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A stop request that any thread may raise (a signal handler's dispatch source, a UI, a test) and that every
/// source watching it honours: a ``VideoSource`` being opened fails with ``VideoSourceError/Reason/interrupted``,
/// a running one ends its frames cleanly within about 100 ms whatever its input is doing (blocked in a network read,
/// a FIFO with no writer, a stalled pipe), and a ``ReconnectingVideoSource`` stops waiting for its next attempt.
///
/// Raising is one-way and idempotent. One interrupt may be shared by several sources (e.g. "the run was asked to
/// stop"); ``VideoSource/stop()`` stops one source without raising anything shared.
public final class SourceInterrupt: @unchecked Sendable {
  private let lock = NSLock()
  private var raised = false
  private var handlers: [Int: @Sendable () -> Void] = [:]
  private var nextID = 0

  public init() {}

  /// Raises the interrupt: runs every registered handler once (on the calling thread).
  public func raise() {
    lock.lock()
    if raised {
      lock.unlock()
      return
    }
    raised = true
    let hs = handlers.values
    handlers = [:]
    lock.unlock()
    for h in hs { h() }
  }

  /// True once ``raise()`` was called.
  public var isRaised: Bool {
    lock.lock()
    defer { lock.unlock() }
    return raised
  }

  /// Registers `handler`, run once when the interrupt is raised (at once, on this thread, if it already was).
  /// Returns a token for ``removeHandler(_:)``.
  @discardableResult
  func addHandler(_ handler: @escaping @Sendable () -> Void) -> Int {
    lock.lock()
    if raised {
      lock.unlock()
      handler()
      return -1
    }
    nextID += 1
    let id = nextID
    handlers[id] = handler
    lock.unlock()
    return id
  }

  func removeHandler(_ id: Int) {
    lock.lock()
    handlers[id] = nil
    lock.unlock()
  }

  /// Sleeps for `seconds` on the calling thread, or less when the interrupt is raised. Returns false if raised.
  func sleep(seconds: Double) -> Bool {
    let condition = NSCondition()
    let woken = Box()
    let id = addHandler {
      condition.lock()
      woken.value = true
      condition.broadcast()
      condition.unlock()
    }
    defer { removeHandler(id) }
    let deadline = Date(timeIntervalSinceNow: seconds)
    condition.lock()
    while !woken.value && Date() < deadline { _ = condition.wait(until: deadline) }
    condition.unlock()
    return !isRaised
  }

  private final class Box: @unchecked Sendable { var value = false }
}

/// What the libavformat interrupt callback and the custom local-file reader consult before and during every
/// blocking call: a stop request (this source's own, or a shared ``SourceInterrupt``) and the idle timeout.
///
/// The idle clock runs only while a blocking FFmpeg call is in progress (``arm()`` … ``disarm()``), and restarts
/// whenever bytes arrive (the format context's `pb->pos` moves, or ``noteProgress()``), so time the consumer spends
/// not asking for frames (back-pressure, pacing) never counts as idle.
final class Watchdog: @unchecked Sendable {
  private let lock = NSLock()
  private var stopped = false
  private var expired = false
  private var armed = false
  private var lastProgress: UInt64 = 0
  private var lastPosition: Int64 = -1
  /// Idle timeout in seconds, or `nil` for none.
  let timeout: Double?
  private let external: SourceInterrupt?
  private var externalToken: Int?

  init(timeout: Double?, external: SourceInterrupt?) {
    self.timeout = timeout.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
    self.external = external
  }

  /// Also runs `body` when the shared interrupt is raised (once).
  func onExternalRaise(_ body: @escaping @Sendable () -> Void) {
    guard let external else { return }
    let token = external.addHandler(body)
    lock.lock()
    externalToken = token
    lock.unlock()
  }

  func detach() {
    lock.lock()
    let t = externalToken
    externalToken = nil
    lock.unlock()
    if let t { external?.removeHandler(t) }
  }

  static func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
  }

  /// Asks every blocking call to return as soon as it next checks (idempotent).
  func stop() {
    lock.lock()
    stopped = true
    lock.unlock()
  }

  /// True once stopped, here or through the shared interrupt.
  var isStopped: Bool {
    lock.lock()
    let s = stopped
    lock.unlock()
    return s || (external?.isRaised ?? false)
  }

  /// True once the idle timeout expired (the blocking call that noticed it returned an error).
  var hasExpired: Bool {
    lock.lock()
    defer { lock.unlock() }
    return expired
  }

  /// A blocking call starts: the idle clock starts now.
  func arm() {
    lock.lock()
    armed = true
    lastProgress = Self.now()
    lock.unlock()
  }

  /// The blocking call returned.
  func disarm() {
    lock.lock()
    armed = false
    lock.unlock()
  }

  /// Bytes arrived.
  func noteProgress() {
    lock.lock()
    lastProgress = Self.now()
    lock.unlock()
  }

  /// Whether the blocking call in progress should give up. `position` is the reader's byte position, if known
  /// (a change counts as progress).
  func shouldAbort(position: Int64? = nil) -> Bool {
    if isStopped { return true }
    guard let timeout else { return false }
    lock.lock()
    defer { lock.unlock() }
    if expired { return true }
    guard armed else { return false }
    let t = Self.now()
    if let position, position != lastPosition {
      lastPosition = position
      lastProgress = t
      return false
    }
    if Double(t &- lastProgress) / 1e9 > timeout {
      expired = true
      return true
    }
    return false
  }

  /// The format context whose reader position counts as progress. Set and cleared on the thread that makes the
  /// blocking calls, which is also the thread the interrupt callback runs on.
  var context: UnsafeMutablePointer<AVFormatContext>?

  /// The libavformat interrupt callback: stop requested, or no byte for longer than the idle timeout.
  func interruptRequested() -> Bool {
    shouldAbort(position: context?.pointee.pb?.pointee.pos)
  }

  /// Runs a blocking FFmpeg call with the idle clock running.
  func guarded<T>(_ body: () -> T) -> T {
    arm()
    defer { disarm() }
    return body()
  }
}
