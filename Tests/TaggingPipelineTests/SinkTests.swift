import Foundation
import Testing
import VTagTestSupport

@testable import TaggingPipeline

enum Golden {
  static let directory = Fixtures.repositoryRoot.appendingPathComponent("Tests/TaggingPipelineTests/Golden")
  static func text(_ name: String) throws -> String {
    try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
  }
}

/// Structural WebVTT checks (the rules of docs/timeline.md); returns the cues' (start ms, end ms, payload lines).
func checkWebVTT(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [(Int, Int, [String])] {
  #expect(text.hasPrefix("WEBVTT"), sourceLocation: sourceLocation)
  let blocks = text.components(separatedBy: "\n\n").dropFirst().filter { !$0.isEmpty }
  var cues: [(Int, Int, [String])] = []
  func ms(_ s: Substring) -> Int? {
    let parts = s.split(separator: ":")
    guard parts.count == 3, parts[0].count >= 2, parts[1].count == 2 else { return nil }
    let sec = parts[2].split(separator: ".")
    guard sec.count == 2, sec[0].count == 2, sec[1].count == 3, let h = Int(parts[0]), let m = Int(parts[1]),
      let s = Int(sec[0]), let f = Int(sec[1]), m < 60, s < 60
    else { return nil }
    return ((h * 60 + m) * 60 + s) * 1000 + f
  }
  for block in blocks {
    let lines = block.split(separator: "\n", omittingEmptySubsequences: false)
    let timing = lines[0].components(separatedBy: " --> ")
    #expect(timing.count == 2, "bad timing line \(lines[0])", sourceLocation: sourceLocation)
    guard timing.count == 2, let s = ms(Substring(timing[0])), let e = ms(Substring(timing[1])) else {
      Issue.record("bad timestamps in \(lines[0])", sourceLocation: sourceLocation)
      continue
    }
    #expect(e > s, sourceLocation: sourceLocation)
    let payload = lines.dropFirst().map(String.init)
    #expect(!payload.isEmpty, sourceLocation: sourceLocation)
    for line in payload {
      #expect(!line.isEmpty, "blank line inside a cue", sourceLocation: sourceLocation)
      #expect(!line.contains("-->"), "'-->' inside a payload: \(line)", sourceLocation: sourceLocation)
      #expect(!line.contains("<"), "raw '<' inside a payload: \(line)", sourceLocation: sourceLocation)
      // Every & starts a character reference.
      var rest = Substring(line)
      while let r = rest.firstIndex(of: "&") {
        let after = rest[r...]
        #expect(
          after.hasPrefix("&amp;") || after.hasPrefix("&lt;") || after.hasPrefix("&gt;"), "raw '&' in \(line)",
          sourceLocation: sourceLocation)
        rest = rest[rest.index(after: r)...]
      }
    }
    if let last = cues.last { #expect(s >= last.0, "cues out of order", sourceLocation: sourceLocation) }
    cues.append((s, e, payload))
  }
  #expect(text.hasSuffix("\n\n") || blocks.isEmpty, sourceLocation: sourceLocation)
  return cues
}

@Suite struct SinkTests {
  let records = SyntheticRun.records()

  @Test func goldenOutputs() throws {
    #expect(SyntheticRun.text(JSONLinesFormatter(), records) == (try Golden.text("run.jsonl")))
    #expect(SyntheticRun.text(WebVTTTagsFormatter(), records) == (try Golden.text("run.tags.vtt")))
    #expect(SyntheticRun.text(WebVTTCaptionsFormatter(), records) == (try Golden.text("run.captions.vtt")))
    #expect(SyntheticRun.text(WebVTTMetadataFormatter(), records) == (try Golden.text("run.meta.vtt")))
    #expect(SyntheticRun.text(SRTCaptionsFormatter(), records) == (try Golden.text("run.srt")))
    #expect(SyntheticRun.text(VideoChatFormatter(), records) == (try Golden.text("run.videochat.txt")))
  }

  @Test func webVTTRulesHoldForEveryTrack() {
    let tags = checkWebVTT(SyntheticRun.text(WebVTTTagsFormatter(), records))
    #expect(tags.count == 6)
    #expect(tags[4].2 == ["grass | rock &amp; roll &lt;live&gt;", "草 | 摇滚"])
    let captions = checkWebVTT(SyntheticRun.text(WebVTTCaptionsFormatter(), records))
    #expect(captions.map(\.2) == [["a dog on the grass"], ["a dog &amp; a &lt;cat&gt; --&gt; here"], ["rock band"]])
    let meta = checkWebVTT(SyntheticRun.text(WebVTTMetadataFormatter(), records))
    #expect(meta.count == 10)
    for cue in meta {
      #expect(cue.2.count == 1)
      let record = try? TimelineRecord(jsonLine: cue.2[0])
      #expect(record?.type == "frame")
    }
  }

  @Test func escaping() {
    #expect(CueText.webVTTEscaped("a & b <c> --> d") == "a &amp; b &lt;c&gt; --&gt; d")
    #expect(CueText.webVTTEscaped("line one\n\nline two\r\n") == "line one line two")
    #expect(CueText.webVTTEscaped("  ") == "")
    #expect(CueText.srtText("a ---> b\nc") == "a -> b c")
    #expect(CueText.webVTTCue(start: 1, end: 2, lines: [""]) == nil)
    #expect(CueText.webVTTCue(start: 1, end: 1, lines: ["x"]) == "00:00:01.000 --> 00:00:01.001\nx\n\n")
    #expect(JSONValue.string("<a> & -->").serializedForMarkup == #""\u003ca\u003e \u0026 --\u003e""#)
  }

  @Test func timestamps() {
    #expect(CueText.timestamp(milliseconds: 0) == "00:00:00.000")
    #expect(CueText.timestamp(milliseconds: CueText.milliseconds(3661.0005)) == "01:01:01.001")
    #expect(CueText.timestamp(milliseconds: 360_000_000 + 5, separator: ",") == "100:00:00,005")
    #expect(CueText.milliseconds(-3) == 0)
  }

  @Test func srtNumbering() throws {
    let text = SyntheticRun.text(SRTCaptionsFormatter(), records)
    let blocks = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
    #expect(blocks.map { $0.split(separator: "\n")[0] } == ["1", "2", "3"])
    for b in blocks {
      let timing = b.split(separator: "\n")[1]
      #expect(timing.wholeMatch(of: /\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d/) != nil)
    }
  }

  @Test func captionCuesEndAtTheNextCaptionOrTheMaximum() {
    var b = CaptionCueBuilder(maxDuration: 3)
    func frame(_ t: Double, _ c: String?) -> TimelineRecord {
      .frame(FrameRecord(t: t, frameIndex: nil, sceneCut: false, tags: [], caption: c, settled: 0))
    }
    var cues: [CaptionCueBuilder.Cue] = []
    cues += b.consume(frame(0, "one"))
    cues += b.consume(frame(1, nil))
    cues += b.consume(frame(2, "two"))
    cues += b.consume(frame(6, nil))  // two ends at 5 (max 3 s), written now
    cues += b.consume(frame(7, "three"))
    cues += b.consume(
      .summary(
        TimelineSummary(duration: 8, counters: RunCounters(), captions: 3, segments: 0, interrupted: false, tags: [])))
    cues += b.finish()
    #expect(cues.map { "\($0.start)-\($0.end) \($0.text)" } == ["0.0-2.0 one", "2.0-5.0 two", "7.0-8.0 three"])
  }

  @Test func videoChatLayout() {
    let text = SyntheticRun.text(VideoChatFormatter(), records)
    let lines = text.components(separatedBy: "\n")
    #expect(lines[0] == "Video tags are: dog | grass | rock & roll <live>")
    #expect(lines[1] == "Tag times are: dog 0.0-5.5s | grass 1.5-4.5s, 6.0-8.5s | rock & roll <live> 6.5-9.5s")
    // Ask-Anything: "Second N:caption.\n" joined with " ".
    #expect(
      text.hasSuffix(
        "The second description of the video is: Second 1:a dog on the grass.\n Second 5:a dog & a <cat> --> here.\n Second 9:rock band.\n"
      ))
    #expect(
      VideoChatFormatter.secondDescriptions([(0.0, "a"), (1.0, "b"), (2.9, "c")])
        == "Second 1:a.\n Second 2:b.\n Second 3:c.\n")
    #expect(SyntheticRun.text(VideoChatFormatter(), []) == "")
  }

  @Test func tagCuesWaitUntilTheTimelineHasSettled() {
    // A long segment closes late; the cue for an earlier span must not be written before it is known.
    var f = WebVTTTagsFormatter(chinese: false)
    func frame(_ t: Double, settled: Double) -> TimelineRecord {
      .frame(FrameRecord(t: t, frameIndex: nil, sceneCut: false, tags: [], caption: nil, settled: settled))
    }
    func seg(_ i: Int, _ s: Double, _ e: Double) -> TimelineRecord {
      .segment(
        TagSegment(
          tagIndex: i, tag: ["a", "b"][i], tagZh: nil, start: s, end: e, scoreMax: 1, scoreMean: 1, samples: 1))
    }
    #expect(f.format(seg(1, 2, 3)) == [])
    #expect(f.format(frame(5, settled: 0.5)) == [])  // a (from 0.5) still open
    #expect(f.format(seg(0, 0.5, 6)) == [])
    let cues = f.format(frame(9, settled: 4)).joined()  // spans ending before 4 are final
    #expect(cues == "00:00:00.500 --> 00:00:02.000\na\n\n00:00:02.000 --> 00:00:03.000\na | b\n\n")
    #expect(f.finish().joined() == "00:00:03.000 --> 00:00:06.000\na\n\n")
  }

  @Test func interruptedRunStillEndsWithASummary() {
    let r = SyntheticRun.records(interruptedAfter: 6)
    guard case .summary(let s) = r.last else {
      Issue.record("no summary")
      return
    }
    #expect(s.interrupted)
    #expect(s.duration == 6.5)
    _ = checkWebVTT(SyntheticRun.text(WebVTTTagsFormatter(), r))
  }
}
