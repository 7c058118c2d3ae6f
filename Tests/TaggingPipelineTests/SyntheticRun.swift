import Foundation

@testable import TaggingPipeline

/// A small synthetic run: 3 tags (one with `&`, `<`, `>` in its name), 10 samples at 1 fps, a scene
/// cut at t = 6, three captions (one with markup-like text, one with a line break).
enum SyntheticRun {
  static let vocabulary = TagVocabulary(tags: ["dog", "grass", "rock & roll <live>"], tagsChinese: ["狗", "草", "摇滚"])
  static let thresholds: [Float] = [0.5, 0.5, 0.5]

  static func scores(_ t: Int) -> [Float] {
    let dog: Float = t <= 5 ? 0.9 : 0.1
    let grass: Float = (2...8).contains(t) && t != 5 ? 0.75 : 0.2
    let rock: Float = t >= 7 ? 0.625 : 0.0
    return [dog, grass, rock]
  }

  static let captions: [Int: String] = [
    0: "a dog on the grass", 4: "a dog & a <cat> --> here", 8: "rock\nband",
  ]

  static func settings(smoothing: SmoothingSettings = SmoothingSettings(method: .none)) -> TimelineSettings {
    TimelineSettings(
      sampling: SamplingSettings(mode: .every(seconds: 1), sceneThreshold: 30), smoothing: smoothing,
      segments: SegmentSettings())
  }

  /// Every record of the run, header to summary.
  static func records(
    smoothing: SmoothingSettings = SmoothingSettings(method: .none), interruptedAfter: Int? = nil
  ) -> [TimelineRecord] {
    var builder = TimelineBuilder(
      settings: settings(smoothing: smoothing), vocabulary: vocabulary, thresholds: thresholds)
    var records = [
      builder.header(
        vtagVersion: "0.0.0-test",
        source: SourceInfo(
          uri: "synthetic.mp4", kind: "file",
          properties: [("duration", .double(10)), ("fps", .double(30)), ("width", .int(640)), ("height", .int(360))]),
        models: [
          ModelInfo(
            role: "tagger", architecture: "ram_plus", name: "tiny", weights: "model.safetensors",
            checkpoint: "ram_plus_swin_large_14m.pth", sha256: String(repeating: "ab", count: 32), classes: 3)
        ])
    ]
    let last = interruptedAfter ?? 9
    for t in 0...last {
      records += builder.add(
        FrameTags(t: Double(t), frameIndex: t * 30, scores: scores(t), caption: captions[t], isSceneCut: t == 6))
    }
    records += builder.finish(
      streamEnd: interruptedAfter == nil ? 10 : nil,
      counters: RunCounters(
        framesDecoded: (last + 1) * 30, framesSampled: last + 1, forwards: (last + 4) / 4, framesDropped: 0),
      interrupted: interruptedAfter != nil)
    return records
  }

  /// Runs `records` through a formatter and returns the text.
  static func text<F: TimelineFormatter>(_ formatter: F, _ records: [TimelineRecord], finish: Bool = true) -> String {
    var f = formatter
    var out = f.preamble
    for r in records { out += f.format(r).joined() }
    if finish { out += f.finish().joined() }
    return out
  }
}
