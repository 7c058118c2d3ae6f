import Testing

@testable import TaggingPipeline

func approx(_ a: [Float], _ b: [Double], tolerance: Float = 1e-6) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { abs($0 - Float($1)) <= tolerance }
}

@Suite struct SmootherTests {
  @Test func emaValues() {
    var s = Smoother(settings: SmoothingSettings(method: .ema(alpha: 0.5)), thresholds: [0.5])
    let out = [0.8, 0.4, 0.0, 1.0].map { s.add(t: 0, scores: [Float($0)]).smoothed[0] }
    #expect(approx(out, [0.8, 0.6, 0.3, 0.65]))
  }

  @Test func medianValues() {
    var s = Smoother(settings: SmoothingSettings(method: .median(window: 3)), thresholds: [0.5])
    let out = [0.9, 0.1, 0.5, 0.2, 0.8, 0.7].map { s.add(t: 0, scores: [Float($0)]).smoothed[0] }
    // windows: [.9] [.9,.1]→.5 [.9,.1,.5]→.5 [.1,.5,.2]→.2 [.5,.2,.8]→.5 [.2,.8,.7]→.7
    #expect(approx(out, [0.9, 0.5, 0.5, 0.2, 0.5, 0.7]))
  }

  @Test func medianSuppressesASingleSpike() {
    var s = Smoother(settings: SmoothingSettings(method: .median(window: 3)), thresholds: [0.5])
    let active = [0.1, 0.1, 0.9, 0.1, 0.1].map { s.add(t: 0, scores: [Float($0)]).active }
    #expect(active.allSatisfy { $0.isEmpty })
  }

  @Test func hysteresisSuppressesFlicker() {
    // Scores chatter around the threshold 0.6 (exit 0.5): without hysteresis the tag would flip 5 times.
    let scores: [Float] = [0.3, 0.65, 0.58, 0.62, 0.55, 0.61, 0.52, 0.45, 0.3]
    var s = Smoother(settings: SmoothingSettings(method: .none), thresholds: [0.6])
    let on = scores.map { !s.add(t: 0, scores: [$0]).active.isEmpty }
    #expect(on == [false, true, true, true, true, true, true, false, false])
    // Without hysteresis (exit = threshold) the same scores flicker.
    var plain = Smoother(settings: SmoothingSettings(method: .none, exitOffset: 0), thresholds: [0.6])
    let flicker = scores.map { !plain.add(t: 0, scores: [$0]).active.isEmpty }
    #expect(flicker == [false, true, false, true, false, true, false, false, false])
  }

  @Test func onIsStrictlyAboveAndOffStrictlyBelow() {
    var s = Smoother(settings: SmoothingSettings(method: .none, exitOffset: 0.25), thresholds: [0.5])
    #expect(s.add(t: 0, scores: [0.5]).active == [])  // not above
    #expect(s.add(t: 1, scores: [0.75]).active == [0])
    #expect(s.add(t: 2, scores: [0.25]).active == [0])  // not below the exit 0.25
    #expect(s.add(t: 3, scores: [0.2]).active == [])
  }

  @Test func sceneCutResetsHistoryAndState() {
    var s = Smoother(settings: SmoothingSettings(method: .ema(alpha: 0.5)), thresholds: [0.5, 0.5])
    _ = s.add(t: 0, scores: [0.9, 0.1])
    let before = s.add(t: 1, scores: [0.9, 0.1])
    #expect(before.active == [0])
    let cut = s.add(t: 2, scores: [0.2, 0.8], isSceneCut: true)
    // No memory of the previous shot: the smoothed value is the raw one and tag 0 is off at once.
    #expect(approx(cut.smoothed, [0.2, 0.8]))
    #expect(cut.active == [1])
    #expect(cut.isSceneCut)
    // Without the reset, the EMA keeps tag 0 on (0.55 ≥ exit 0.4) and tag 1 off (0.45).
    var noReset = Smoother(
      settings: SmoothingSettings(method: .ema(alpha: 0.5), resetAtSceneCuts: false), thresholds: [0.5, 0.5])
    _ = noReset.add(t: 0, scores: [0.9, 0.1])
    _ = noReset.add(t: 1, scores: [0.9, 0.1])
    #expect(noReset.add(t: 2, scores: [0.2, 0.8], isSceneCut: true).active == [0])
  }

  @Test func medianResetAtCut() {
    var s = Smoother(settings: SmoothingSettings(method: .median(window: 3)), thresholds: [0.5])
    _ = s.add(t: 0, scores: [0.9])
    _ = s.add(t: 1, scores: [0.9])
    #expect(approx(s.add(t: 2, scores: [0.1], isSceneCut: true).smoothed, [0.1]))
  }

  @Test func disabledClassesNeverTurnOn() {
    var s = Smoother(settings: SmoothingSettings(method: .none), thresholds: [0.5, 0.5], disabled: [1])
    #expect(s.add(t: 0, scores: [0.9, 0.99]).active == [0])
  }
}
