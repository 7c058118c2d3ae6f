import Testing

@testable import TaggingPipeline

/// Offers frames at `times` (index = position) and returns the sampled (index, reasons) pairs.
func run(_ sampler: inout Sampler, times: [Double], keys: Set<Int> = [], thumbnails: [Thumbnail]? = nil)
  -> [SampledFrame]
{
  var out: [SampledFrame] = []
  for (i, t) in times.enumerated() {
    out += sampler.offer(index: i, t: t, isKey: keys.contains(i), thumbnail: thumbnails?[i])
  }
  return out
}

func flat(_ value: UInt8, count: Int = 32 * 18) -> Thumbnail {
  Thumbnail(width: 32, height: 18, channels: 1, pixels: [UInt8](repeating: value, count: count))
}

@Suite struct SamplerTests {
  @Test func everySecondPicksTheNearestFrame() throws {
    // 30 fps would be too many lines; 0.4 s spacing: 0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8, 3.2
    var s = try Sampler(settings: SamplingSettings(mode: .every(seconds: 1)))
    let times = (0..<9).map { Double($0) * 0.4 }
    let picked = run(&s, times: times)
    // targets 0 → frame 0 (0.0); 1 → 0.8 (|0.2|) vs 1.2 (|0.2|): tie → earlier 0.8 (frame 2);
    // 2 → frame 5 (2.0); 3 → 2.8 (0.2) vs 3.2 (0.2) → earlier (frame 7)
    #expect(picked.map(\.index) == [0, 2, 5, 7])
    #expect(picked.allSatisfy { $0.reasons == .scheduled })
    #expect(s.framesOffered == 9 && s.framesSampled == 4)
  }

  @Test func nearestFrameMayBeTheFollowingOne() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .every(seconds: 1)))
    // frames at 0.1, 0.7, 1.05, 1.9, 2.6: target 0 → 0.1; 1 → 1.05; 2 → 1.9
    let picked = run(&s, times: [0.1, 0.7, 1.05, 1.9, 2.6])
    #expect(picked.map(\.index) == [0, 2, 3])
  }

  @Test func negativeTimesAreNeverSampled() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .every(seconds: 1)))
    let picked = run(&s, times: [-0.5, -0.1, 0.2, 0.9, 1.3])
    #expect(picked.map(\.index) == [2, 3])
  }

  @Test func lateStartServesEarlierTargetsOnce() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .every(seconds: 1)))
    let picked = run(&s, times: [5.0, 5.5, 6.0])
    #expect(picked.map(\.index) == [0, 2])
  }

  @Test func uniformCountOverDuration() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .uniform(count: 5)), duration: 10)
    let times = (0..<100).map { Double($0) * 0.1 }  // 10 fps, 10 s
    let picked = run(&s, times: times)
    // Slice centres 1, 3, 5, 7, 9 s.
    #expect(picked.map(\.index) == [10, 30, 50, 70, 90])
    #expect(picked.count == 5)
    #expect(throws: SamplingError.uniformNeedsDuration) {
      try Sampler(settings: SamplingSettings(mode: .uniform(count: 4)))
    }
  }

  @Test func keyframesOnly() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .keyframes))
    let picked = run(&s, times: (0..<10).map(Double.init), keys: [0, 4, 8])
    #expect(picked.map(\.index) == [0, 4, 8])
    #expect(picked.allSatisfy { $0.reasons == .keyframe })
  }

  @Test func allFrames() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .allFrames))
    #expect(run(&s, times: [0, 0.5, 1]).map(\.index) == [0, 1, 2])
  }

  @Test func badSettingsAreRejected() {
    #expect(throws: SamplingError.self) { try Sampler(settings: SamplingSettings(mode: .every(seconds: 0))) }
    #expect(throws: SamplingError.self) {
      try Sampler(settings: SamplingSettings(mode: .uniform(count: 0)), duration: 5)
    }
    #expect(throws: SamplingError.self) {
      try Sampler(settings: SamplingSettings(mode: .every(seconds: 1), sceneThreshold: -1))
    }
  }

  @Test func sceneCutAddsAnExtraSample() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .every(seconds: 1), sceneThreshold: 30))
    #expect(s.needsThumbnails)
    // 4 fps for 3 s; the picture changes from dark (20) to bright (200) at t = 1.25 (frame 5).
    let times = (0..<12).map { Double($0) * 0.25 }
    let thumbs = times.map { flat($0 < 1.25 ? 20 : 200) }
    let picked = run(&s, times: times, thumbnails: thumbs)
    #expect(picked.map(\.index) == [0, 4, 5, 8])
    #expect(picked.map(\.isSceneCut) == [false, false, true, false])
    #expect(picked[2].reasons == .sceneCut)
  }

  @Test func cutOnAScheduledFrameCarriesBothReasons() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .every(seconds: 1), sceneThreshold: 30))
    let times = (0..<8).map { Double($0) * 0.25 }
    let picked = run(&s, times: times, thumbnails: times.map { flat($0 < 1 ? 0 : 255) })
    #expect(picked.map(\.index) == [0, 4])
    #expect(picked[1].reasons == [.scheduled, .sceneCut])
  }

  @Test func smallChangesAndFlashesWithinTheMinimumSceneAreNotCuts() throws {
    var s = try Sampler(settings: SamplingSettings(mode: .allFrames, sceneThreshold: 30, minSceneDuration: 0.5))
    let times = [0, 0.6, 0.7, 0.8, 0.9, 1.5, 1.6]
    // small change (10 < 30) at 0.6; cut at 0.7; flash back at 0.8 (within 0.5 s: ignored); cut at 1.5
    let values: [UInt8] = [0, 10, 200, 0, 0, 200, 200]
    let picked = run(&s, times: times, thumbnails: values.map { flat($0) })
    #expect(picked.filter(\.isSceneCut).map(\.index) == [2, 5])
  }

  @Test func metrics() {
    let a = Thumbnail(width: 2, height: 1, channels: 1, pixels: [0, 100])
    let b = Thumbnail(width: 2, height: 1, channels: 1, pixels: [10, 50])
    #expect(SceneCutDetector.distance(a, b, metric: .meanAbsoluteDifference) == 30)
    // Histograms: a = {bin 0, bin 12}, b = {bin 1, bin 6}: disjoint → 1
    #expect(SceneCutDetector.distance(a, b, metric: .histogram) == 1)
    #expect(SceneCutDetector.distance(a, a, metric: .histogram) == 0)
    let rgb1 = Thumbnail(width: 1, height: 2, channels: 3, pixels: [0, 0, 0, 255, 255, 255])
    let rgb2 = Thumbnail(width: 1, height: 2, channels: 3, pixels: [0, 0, 0, 0, 0, 0])
    #expect(SceneCutDetector.distance(rgb1, rgb2, metric: .histogram) == 0.5)
    #expect(SceneCutDetector.distance(rgb1, rgb2, metric: .meanAbsoluteDifference) == 127.5)
  }
}
