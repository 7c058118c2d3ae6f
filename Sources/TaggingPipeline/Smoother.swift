import Foundation

/// The smoother's output for one sample.
public struct SmoothedSample: Sendable, Equatable {
  public var t: Double
  /// The model's scores, class-index order.
  public var raw: [Float]
  /// The smoothed scores, class-index order.
  public var smoothed: [Float]
  /// Classes on after hysteresis, ascending class index.
  public var active: [Int]
  /// The smoother was reset at this sample (a scene cut).
  public var isSceneCut: Bool
}

/// Per-tag smoothing (EMA, median or none) followed by hysteresis: a tag turns on when its smoothed
/// score is strictly above its class threshold and turns off when it falls strictly below its exit
/// threshold (`threshold − exitOffset`). Pure value type: feed samples in time order.
public struct Smoother: Sendable {
  public let settings: SmoothingSettings
  /// On-thresholds per class (`Float.infinity` disables a class, e.g. Tag2Text's deleted tags).
  public let thresholds: [Float]
  /// Off-thresholds per class.
  public let exitThresholds: [Float]
  private var ema: [Float] = []
  private var history: [[Float]] = []  // ring of the last `window` raw score vectors
  private var historyNext = 0
  private var on: [Bool]
  private var started = false

  /// `disabled` classes never turn on (their thresholds become +∞).
  public init(settings: SmoothingSettings = SmoothingSettings(), thresholds: [Float], disabled: Set<Int> = []) {
    self.settings = settings
    var thr = thresholds
    for i in disabled where i >= 0 && i < thr.count { thr[i] = .infinity }
    self.thresholds = thr
    exitThresholds = thr.map { $0 - settings.exitOffset }
    on = [Bool](repeating: false, count: thr.count)
  }

  public var classCount: Int { thresholds.count }

  /// Forgets every tag's history and turns every tag off.
  public mutating func reset() {
    started = false
    ema = []
    history = []
    historyNext = 0
    for i in on.indices { on[i] = false }
  }

  /// Smooths one sample. `isSceneCut` resets first (when the settings say so).
  public mutating func add(t: Double, scores: [Float], isSceneCut: Bool = false) -> SmoothedSample {
    precondition(scores.count == thresholds.count, "got \(scores.count) scores for \(thresholds.count) classes")
    if isSceneCut && settings.resetAtSceneCuts { reset() }
    let smoothed: [Float]
    switch settings.method {
    case .none:
      smoothed = scores
    case .ema(let alpha):
      if !started {
        ema = scores
      } else {
        for i in ema.indices { ema[i] = alpha * scores[i] + (1 - alpha) * ema[i] }
      }
      smoothed = ema
    case .median(let window):
      let w = max(window, 1)
      if history.count < w {
        history.append(scores)
      } else {
        history[historyNext] = scores
      }
      historyNext = (historyNext + 1) % w
      smoothed = Self.median(history, count: scores.count)
    }
    started = true
    var active: [Int] = []
    for i in 0..<smoothed.count {
      if on[i] {
        if smoothed[i] < exitThresholds[i] { on[i] = false }
      } else if smoothed[i] > thresholds[i] {
        on[i] = true
      }
      if on[i] { active.append(i) }
    }
    return SmoothedSample(t: t, raw: scores, smoothed: smoothed, active: active, isSceneCut: isSceneCut)
  }

  static func median(_ rows: [[Float]], count: Int) -> [Float] {
    if rows.count == 1 { return rows[0] }
    var out = [Float](repeating: 0, count: count)
    var column = [Float](repeating: 0, count: rows.count)
    let mid = rows.count / 2
    for i in 0..<count {
      for r in 0..<rows.count { column[r] = rows[r][i] }
      column.sort()
      out[i] = rows.count % 2 == 1 ? column[mid] : (column[mid - 1] + column[mid]) / 2
    }
    return out
  }
}
