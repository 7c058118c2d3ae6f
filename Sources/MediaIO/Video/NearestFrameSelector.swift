/// Decides which frames to keep when sampling "the frame nearest to each target time", seeing each frame once, in
/// presentation order, and holding at most one frame back. Pure: no FFmpeg, no clocks, no threads.
///
/// Targets are either every `interval` seconds from 0 (`0, s, 2s, …`) or an explicit ascending list. A target is
/// served once a frame at or after it has been seen, by whichever of that frame and the frame before it is nearer
/// (ties go to the earlier frame). A frame nearest to several targets is kept once. Targets after the last frame are
/// never served, so the frame held at the end of the stream is dropped.
///
/// The caller feeds frame times to ``offer(_:)`` and follows the returned ``Decision``: deliver the frame it holds
/// (if ``Decision/emitHeld``), then keep, hold or discard the current frame. Only kept frames need conversion.
public struct NearestFrameSelector: Sendable, Equatable {
  /// Where the targets come from.
  public enum Targets: Sendable, Equatable {
    /// `0, interval, 2·interval, …` (unbounded).
    case every(Double)
    /// These times, ascending.
    case list([Double])
  }

  /// What to do with the current frame.
  public enum Action: Sendable, Equatable {
    /// Deliver it now.
    case keep
    /// Keep it aside (replacing any frame held before): it is the candidate for the next target.
    case hold
    /// Drop it.
    case discard
  }

  /// The verdict on one offered frame.
  public struct Decision: Sendable, Equatable {
    /// Deliver the previously held frame first.
    public var emitHeld: Bool
    /// What to do with the current frame.
    public var current: Action

    public init(emitHeld: Bool, current: Action) {
      self.emitHeld = emitHeld
      self.current = current
    }
  }

  /// The target list or interval.
  public let targets: Targets
  private var targetIndex = 0
  private var candidate: (t: Double, delivered: Bool)?

  /// A selector for `targets`. An interval must be positive; list entries are sorted.
  public init(targets: Targets) {
    switch targets {
    case .every(let s):
      precondition(s > 0 && s.isFinite, "sampling interval must be positive, got \(s)")
      self.targets = targets
    case .list(let l):
      self.targets = .list(l.sorted())
    }
  }

  public static func == (a: NearestFrameSelector, b: NearestFrameSelector) -> Bool {
    a.targets == b.targets && a.targetIndex == b.targetIndex && a.candidate?.t == b.candidate?.t
      && a.candidate?.delivered == b.candidate?.delivered
  }

  /// The next target not yet served, or `nil` when the list is exhausted.
  public var nextTarget: Double? {
    switch targets {
    case .every(let s): return Double(targetIndex) * s
    case .list(let l): return targetIndex < l.count ? l[targetIndex] : nil
    }
  }

  /// True when no target is left (list exhausted): the caller may stop decoding.
  public var isFinished: Bool { nextTarget == nil }

  /// Offers the next frame's time (seconds). Returns what to do with the held frame and this one.
  public mutating func offer(_ t: Double) -> Decision {
    var emitHeld = false
    var currentDelivered = false
    while let target = nextTarget, t >= target {
      if let c = candidate, target - c.t <= t - target {
        if !c.delivered {
          emitHeld = true
          candidate = (c.t, true)
        }
      } else {
        currentDelivered = true
      }
      targetIndex += 1
    }
    if nextTarget == nil {
      candidate = nil
      return Decision(emitHeld: emitHeld, current: currentDelivered ? .keep : .discard)
    }
    candidate = (t, currentDelivered)
    return Decision(emitHeld: emitHeld, current: currentDelivered ? .keep : .hold)
  }

  /// Forgets the held candidate (after a seek, when the frames between it and the next target were skipped).
  public mutating func forgetHeld() {
    candidate = nil
  }

  /// Runs the selector over a whole list of frame times: the indices of the frames it keeps, in order.
  public static func select(times: [Double], targets: Targets) -> [Int] {
    var s = NearestFrameSelector(targets: targets)
    var held: Int?
    var kept: [Int] = []
    for (i, t) in times.enumerated() {
      let d = s.offer(t)
      if d.emitHeld, let h = held { kept.append(h) }
      held = nil
      switch d.current {
      case .keep: kept.append(i)
      case .hold: held = i
      case .discard: break
      }
    }
    return kept
  }
}

/// The uniform-N target times: the centres of `count` equal slices of `duration`, `duration · (i + 0.5) / count`.
public func uniformTargets(count: Int, duration: Double) -> [Double] {
  guard count > 0, duration > 0, duration.isFinite else { return count > 0 ? [0] : [] }
  return (0..<count).map { duration * (Double($0) + 0.5) / Double(count) }
}
