import Foundation
import Testing
import VTagTestSupport

@testable import TaggingPipeline

@Suite struct FileSinkTests {
  @Test func planRejectsBadInputBeforeAnyWork() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-plan")
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = dir.appendingPathComponent("movie").path
    #expect(throws: SinkError.unknownFormat(name: "webm", known: ["jsonl", "vtt", "srt", "videochat"])) {
      try SinkPlan(formats: "jsonl,webm", base: base, captions: true)
    }
    #expect(throws: SinkError.emptyFormatList) { try SinkPlan(formats: " , ", base: base, captions: true) }
    #expect(throws: SinkError.needsCaptions(format: "srt")) {
      try SinkPlan(formats: "srt", base: base, captions: false)
    }
    #expect(throws: SinkError.stdoutNeedsJSONL(formats: ["vtt"])) {
      try SinkPlan(formats: "jsonl,vtt", base: "-", captions: true)
    }
    #expect(throws: SinkError.directoryMissing(path: dir.path + "/nope")) {
      try SinkPlan(formats: "jsonl", base: dir.path + "/nope/movie", captions: false)
    }
    #expect(throws: SinkError.baseIsDirectory(path: dir.path)) {
      try SinkPlan(formats: "jsonl", base: dir.path, captions: false)
    }
    if getuid() != 0 {
      let ro = dir.appendingPathComponent("ro")
      try FileManager.default.createDirectory(
        at: ro, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o555])
      #expect(throws: SinkError.directoryNotWritable(path: ro.path)) {
        try SinkPlan(formats: "jsonl", base: ro.path + "/movie", captions: false)
      }
    }
    #expect("\(SinkError.unknownFormat(name: "webm", known: ["jsonl"]))".contains("unknown output format 'webm'"))
    // Nothing was created by planning.
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "ro" }.isEmpty)
  }

  @Test func planNamesTheFilesWhisperStyle() throws {
    let plan = try SinkPlan(
      formats: "JSONL, vtt,srt,videochat,jsonl", base: "out/movie", captions: true, checkDirectory: false)
    #expect(
      plan.outputs.map(\.path) == [
        "out/movie.jsonl", "out/movie.tags.vtt", "out/movie.captions.vtt", "out/movie.meta.vtt", "out/movie.srt",
        "out/movie.videochat.txt",
      ])
    let noCaptions = try SinkPlan(formats: "vtt", base: "movie", captions: false, checkDirectory: false)
    #expect(noCaptions.outputs.map(\.kind) == [.tagsVTT, .metaVTT])
    #expect(try SinkPlan(formats: "jsonl", base: "-", captions: false).outputs == [.init(kind: .jsonl, path: "-")])
  }

  /// Writes the synthetic run to real files through the sinks; `stopAfter`: leave without `finish()`
  /// after that many records (a killed process).
  func writeRun(_ dir: URL, records: [TimelineRecord], stopAfter: Int? = nil) throws -> SinkPlan {
    let plan = try SinkPlan(
      formats: "jsonl,vtt,srt,videochat", base: dir.appendingPathComponent("run").path, captions: true)
    let sinks = try plan.open()
    let all = MultiSink(sinks)
    for (i, r) in records.enumerated() {
      if let stopAfter, i == stopAfter { return plan }
      try all.write(r)
    }
    try all.finish()
    try all.finish()  // idempotent
    return plan
  }

  @Test func filesMatchTheGoldenOutputs() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-sinks")
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try writeRun(dir, records: SyntheticRun.records())
    for name in ["run.jsonl", "run.tags.vtt", "run.captions.vtt", "run.meta.vtt", "run.srt", "run.videochat.txt"] {
      #expect(
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8) == (try Golden.text(name)), "\(name)")
    }
  }

  @Test func aKilledRunLeavesCompleteLinesAndCues() throws {
    let records = SyntheticRun.records()
    let validator = try Schema.validator()
    for stop in [1, 5, 9, 12, records.count - 1] {
      let dir = try Fixtures.temporaryDirectory("vtag-killed")
      defer { try? FileManager.default.removeItem(at: dir) }
      _ = try writeRun(dir, records: records, stopAfter: stop)
      let jsonl = try String(contentsOf: dir.appendingPathComponent("run.jsonl"), encoding: .utf8)
      #expect(jsonl.hasSuffix("\n"))
      let lines = jsonl.split(separator: "\n")
      #expect(lines.count == stop)
      for line in lines { #expect(validator.validate(try JSONValue.parse(String(line))).isEmpty) }
      for track in ["tags", "captions", "meta"] {
        let vtt = try String(contentsOf: dir.appendingPathComponent("run.\(track).vtt"), encoding: .utf8)
        _ = checkWebVTT(vtt)
        #expect(vtt.hasSuffix("\n\n"))
      }
      // The VideoChat text is written whole at the end: a killed run leaves none.
      #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("run.videochat.txt").path))
    }
  }

  @Test func ffmpegReadsEveryTrackBackWithTheSameCues() throws {
    guard VTagProcess.hasTool("ffmpeg") else {
      print("skipped: ffmpeg is not on PATH")
      return
    }
    let dir = try Fixtures.temporaryDirectory("vtag-ffmpeg")
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try writeRun(dir, records: SyntheticRun.records())
    for name in ["run.tags.vtt", "run.captions.vtt", "run.meta.vtt", "run.srt"] {
      let input = dir.appendingPathComponent(name).path
      let out = dir.appendingPathComponent(name + ".ffmpeg.vtt").path
      let status = try VTagProcess.shell("ffmpeg -nostdin -v error -y -i '\(input)' -map 0 -f webvtt '\(out)'")
      #expect(status == 0, "ffmpeg could not read \(name)")
      let original = try String(contentsOfFile: input, encoding: .utf8)
      let back = try String(contentsOfFile: out, encoding: .utf8)
      // Timing lines only (ffmpeg writes the payload unescaped, so text may show "-->" again).
      func cues(_ s: String) -> [String] {
        s.components(separatedBy: "\n").filter { $0.prefixMatch(of: #/(\d+:)?\d\d:\d\d[.,]\d\d\d --> /#) != nil }
      }
      #expect(cues(back).count == cues(original).count, "\(name): ffmpeg read \(cues(back).count) cues")
      #expect(cues(back).count > 0)
    }
  }

  @Test func stdoutPlanWritesJSONL() throws {
    let output = MemoryOutput()
    let sink = try SinkPlan.makeSink(kind: .jsonl, output: output)
    for r in SyntheticRun.records() { try sink.write(r) }
    try sink.finish()
    #expect(output.isClosed)
    #expect(output.text == (try Golden.text("run.jsonl")))
    // One write per record: each line goes out whole.
    #expect(output.writes.allSatisfy { $0.hasSuffix("\n") && $0.filter { $0 == "\n" }.count == 1 })
    #expect(throws: SinkError.self) { try sink.write(SyntheticRun.records()[0]) }
  }
}
