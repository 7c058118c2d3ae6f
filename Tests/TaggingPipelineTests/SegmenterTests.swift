import Testing

@testable import TaggingPipeline

let abc = TagVocabulary(tags: ["a", "b", "c"], tagsChinese: ["甲 ", "乙", "丙"])

/// Feeds samples at t = 0, 1, 2, … (or `times`) with the given active sets (score 0.8 unless `scores`)
/// and returns every segment with the sample index at which it was reported (`count` = at finish).
func segment(
  _ active: [[Int]], times: [Double]? = nil, cuts: Set<Int> = [], scores: [[Float]]? = nil,
  settings: SegmentSettings = SegmentSettings(minDuration: 1, fillGap: 1), interval: Double = 1,
  streamEnd: Double? = nil
) -> (segments: [TagSegment], reportedAt: [Int], watermarks: [Double], segmenter: Segmenter) {
  var s = Segmenter(settings: settings, sampleInterval: interval, vocabulary: abc)
  var segments: [TagSegment] = []
  var at: [Int] = []
  var marks: [Double] = []
  for (i, set) in active.enumerated() {
    let out = s.add(
      t: times?[i] ?? Double(i), active: set, scores: scores?[i] ?? [0.8, 0.8, 0.8], isSceneCut: cuts.contains(i))
    segments += out.closed
    at += out.closed.map { _ in i }
    marks.append(out.settledUntil)
  }
  let rest = s.finish(streamEnd: streamEnd)
  segments += rest
  at += rest.map { _ in active.count }
  return (segments, at, marks, s)
}

func spans(_ segments: [TagSegment]) -> [String] {
  segments.map { "\($0.tag) \($0.start)-\($0.end) n=\($0.samples)" }
}

@Suite struct SegmenterTests {
  @Test func runIsPaddedByHalfAnIntervalAndReportedWhenItCanNoLongerGrow() {
    let r = segment([[], [], [0], [0], [0], [0], [], [], [], []])
    #expect(spans(r.segments) == ["a 1.5-5.5 n=4"])
    // Off at t = 6 (a run starting at 7 would still merge: gap 1 s); reported at t = 7.
    #expect(r.reportedAt == [7])
    #expect(r.segments[0].tagZh == "甲")
  }

  @Test func gapsAreFilled() {
    // One missed sample at 1 fps: gap between 3.5 and 4.5 is 1 s → merged.
    let r = segment([[], [], [0], [0], [], [0], [0], [], [], []])
    #expect(spans(r.segments) == ["a 1.5-6.5 n=4"])
  }

  @Test func longerGapsAreNotFilled() {
    let r = segment([[], [], [0], [0], [], [], [0], [0], [], [], []])
    #expect(spans(r.segments) == ["a 1.5-3.5 n=2", "a 5.5-7.5 n=2"])
    #expect(r.reportedAt == [5, 9])
  }

  @Test func shortBlipsAreDropped() {
    let settings = SegmentSettings(minDuration: 1.5, fillGap: 1)
    let r = segment([[], [1], [], [], [0, 1], [0, 1], [0], [], [], [1], [], []], settings: settings)
    // b at t=1 alone (1 s) and at t=9 alone: dropped; b at 4–5 (2 s) kept; a at 4–6 kept.
    #expect(spans(r.segments) == ["b 3.5-5.5 n=2", "a 3.5-6.5 n=3"])
    #expect(r.segmenter.droppedShort == 2)
    // The default minimum (1.5 s) drops single-sample blips at 1 fps.
    #expect(SegmentSettings().minDuration == 1.5)
  }

  @Test func paddingIsClampedToTheStreamStartAndEnd() {
    let r = segment([[0], [0], [], [], [], [], [], [], [2], [2]], streamEnd: 9.2)
    #expect(spans(r.segments) == ["a 0.0-1.5 n=2", "c 7.5-9.2 n=2"])
  }

  @Test func withoutAStreamEndTheLastSegmentIsPadded() {
    let r = segment([[], [2], [2]])
    #expect(spans(r.segments) == ["c 0.5-2.5 n=2"])
    #expect(r.segmenter.timelineEnd(streamEnd: nil) == 2.5)
  }

  @Test func sceneCutsCloseSegmentsAndBoundPadding() {
    // a on from 2 to 5; a cut at the sample t = 4 closes the first segment (padded to 3.5), the new
    // shot's segment starts exactly at the cut (no padding across it), and no gap filling joins them.
    let r = segment([[], [], [0], [0], [0], [0], [], [], [], []], cuts: [4])
    #expect(spans(r.segments) == ["a 1.5-3.5 n=2", "a 4.0-5.5 n=2"])
    #expect(r.reportedAt == [4, 7])
  }

  @Test func anExtraSampleAtACutBetweenScheduledSamples() {
    // Samples at 0, 1, 2, 3, 3.3 (cut), 4, 5: a seen at 2 and 3 then not after the cut.
    let times = [0, 1, 2, 3, 3.3, 4, 5, 6, 7]
    let r = segment([[], [], [0], [0], [1], [1], [1], [], []], times: times, cuts: [4])
    #expect(spans(r.segments) == ["a 1.5-3.3 n=2", "b 3.3-5.5 n=3"])
  }

  @Test func scoreStatistics() {
    let scores: [[Float]] = [[0.7, 0, 0], [0.9, 0, 0], [0.8, 0, 0], [0, 0, 0], [0, 0, 0]]
    let r = segment([[0], [0], [0], [], []], scores: scores)
    #expect(r.segments.count == 1)
    #expect(r.segments[0].scoreMax == 0.9)
    #expect(abs(r.segments[0].scoreMean - 0.8) < 1e-6)
    #expect(r.segments[0].samples == 3)
  }

  @Test func settledTimeIsMonotonicAndBoundsOpenSegments() {
    let r = segment([[], [0], [0], [0], [], [], [1], [], [], []])
    for (a, b) in zip(r.watermarks, r.watermarks.dropFirst()) { #expect(a <= b) }
    // While a is open (from 0.5) nothing after 0.5 is settled.
    #expect(r.watermarks[1...4].allSatisfy { $0 <= 0.5 })
    // Every segment starting before a sample's settled time has been reported by that sample.
    for (i, mark) in r.watermarks.enumerated() {
      for (segment, at) in zip(r.segments, r.reportedAt) where segment.start < mark { #expect(at <= i) }
    }
  }

  @Test func segmentsOfSeveralTagsAreOrderedByStartThenIndex() {
    let r = segment([[1, 2], [0, 1, 2], [0, 1, 2], [], [], [], []])
    #expect(spans(r.segments) == ["b 0.0-2.5 n=3", "c 0.0-2.5 n=3", "a 0.5-2.5 n=2"])
  }

  @Test func explicitPadding() {
    let r = segment(
      [[], [], [0], [0], [], [], [], []], settings: SegmentSettings(minDuration: 0, fillGap: 0, padding: 0))
    #expect(spans(r.segments) == ["a 2.0-3.0 n=2"])
  }
}
