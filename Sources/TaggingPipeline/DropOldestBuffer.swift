/// A bounded FIFO that, when full, drops its oldest element to make room and counts the drops: the
/// live-source policy (latency stays bounded; the timeline reports how many frames were lost).
/// Pure value type; wrap it in a lock or an actor to share it between threads.
public struct DropOldestBuffer<Element>: Sendable where Element: Sendable {
  public let capacity: Int
  private var storage: [Element?]
  private var head = 0
  public private(set) var count = 0
  /// Elements dropped because the buffer was full.
  public private(set) var dropped = 0
  /// Elements ever pushed.
  public private(set) var pushed = 0

  public init(capacity: Int) {
    precondition(capacity > 0, "a buffer holds at least one element")
    self.capacity = capacity
    storage = Array(repeating: nil, count: capacity)
  }

  public var isEmpty: Bool { count == 0 }
  public var isFull: Bool { count == capacity }

  /// Appends `element`; when the buffer was full, the oldest element is removed and returned.
  @discardableResult
  public mutating func push(_ element: Element) -> Element? {
    pushed += 1
    var evicted: Element?
    if count == capacity {
      evicted = storage[head]
      storage[head] = nil
      head = (head + 1) % capacity
      count -= 1
      dropped += 1
    }
    storage[(head + count) % capacity] = element
    count += 1
    return evicted
  }

  /// Removes and returns the oldest element.
  public mutating func popFirst() -> Element? {
    guard count > 0 else { return nil }
    let e = storage[head]
    storage[head] = nil
    head = (head + 1) % capacity
    count -= 1
    return e
  }

  /// Removes and returns everything, oldest first.
  public mutating func drain() -> [Element] {
    var out: [Element] = []
    out.reserveCapacity(count)
    while let e = popFirst() { out.append(e) }
    return out
  }
}
