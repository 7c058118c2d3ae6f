/// A set of times: sorted, disjoint, non-empty half-open intervals `[start, end)` that do not touch.
///
/// The query evaluator works on these: a tag's presence is the union of its segments, `&` is
/// ``intersection(_:)``, `|` ``union(_:)``, `!` ``complement(within:)``, `near` ``dilated(by:within:)``.
public struct IntervalSet: Sendable, Equatable, CustomStringConvertible {
  /// One interval `[start, end)`, `start < end`.
  public struct Interval: Sendable, Equatable, Hashable {
    public var start: Double
    public var end: Double
    public init(_ start: Double, _ end: Double) {
      self.start = start
      self.end = end
    }
    public var duration: Double { end - start }
  }

  /// The intervals, ascending, disjoint and not touching.
  public private(set) var intervals: [Interval]

  /// The empty set.
  public init() { intervals = [] }

  /// The union of any intervals (empty and reversed ones are ignored).
  public init<S: Sequence>(unionOf items: S) where S.Element == Interval {
    let sorted = items.filter { $0.end > $0.start }.sorted { $0.start < $1.start }
    var out: [Interval] = []
    out.reserveCapacity(sorted.count)
    for i in sorted {
      if let last = out.last, i.start <= last.end {
        if i.end > last.end { out[out.count - 1].end = i.end }
      } else {
        out.append(i)
      }
    }
    intervals = out
  }

  /// From already normalised intervals (ascending, disjoint, not touching).
  init(normalized: [Interval]) { intervals = normalized }

  public var isEmpty: Bool { intervals.isEmpty }
  public var description: String { intervals.map { "[\($0.start), \($0.end))" }.joined(separator: " ") }

  /// Times in either set.
  public func union(_ other: IntervalSet) -> IntervalSet {
    if other.isEmpty { return self }
    if isEmpty { return other }
    // Merge two sorted lists then coalesce.
    var merged: [Interval] = []
    merged.reserveCapacity(intervals.count + other.intervals.count)
    var i = 0
    var j = 0
    let a = intervals
    let b = other.intervals
    while i < a.count || j < b.count {
      let next: Interval
      if j >= b.count || (i < a.count && a[i].start <= b[j].start) {
        next = a[i]
        i += 1
      } else {
        next = b[j]
        j += 1
      }
      if let last = merged.last, next.start <= last.end {
        if next.end > last.end { merged[merged.count - 1].end = next.end }
      } else {
        merged.append(next)
      }
    }
    return IntervalSet(normalized: merged)
  }

  /// Times in both sets.
  public func intersection(_ other: IntervalSet) -> IntervalSet {
    var out: [Interval] = []
    var i = 0
    var j = 0
    let a = intervals
    let b = other.intervals
    while i < a.count && j < b.count {
      let s = max(a[i].start, b[j].start)
      let e = min(a[i].end, b[j].end)
      if s < e { out.append(Interval(s, e)) }
      if a[i].end < b[j].end { i += 1 } else { j += 1 }
    }
    return IntervalSet(normalized: out)
  }

  /// The times of `[0, duration)` not in the set.
  public func complement(within duration: Double) -> IntervalSet {
    var out: [Interval] = []
    var t = 0.0
    for i in intervals {
      if i.start >= duration { break }
      if i.start > t { out.append(Interval(t, i.start)) }
      t = max(t, i.end)
    }
    if t < duration { out.append(Interval(t, duration)) }
    return IntervalSet(normalized: out)
  }

  /// Each interval widened by `w` on both sides (`[s − w, e + w)`), then merged.
  public func dilated(by w: Double) -> IntervalSet {
    IntervalSet(unionOf: intervals.map { Interval($0.start - w, $0.end + w) })
  }

  /// Keeps the intervals of at least `minimum` seconds, pads each by `pad` (clamped to `[0, duration)`)
  /// and merges those that touch afterwards.
  public func moments(minimumDuration minimum: Double, pad: Double, duration: Double) -> IntervalSet {
    let kept = intervals.filter { $0.duration >= minimum }
    if pad == 0 { return IntervalSet(normalized: kept) }
    return IntervalSet(unionOf: kept.map { Interval(max(0, $0.start - pad), min(duration, $0.end + pad)) })
  }
}
