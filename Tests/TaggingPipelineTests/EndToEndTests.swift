import Foundation
import RecognizeAnything
import Testing
import VTagTestSupport

@testable import TaggingPipeline

/// `vtag tag` and `vtag run pipelines/*.yaml` end to end through the real binary, on the real videos
/// in ../shared/media with the tiny parity bundles.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(if: Fixtures.exists(Fixtures.media), Comment(rawValue: Fixtures.missing(Fixtures.media))),
  .enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct EndToEndTests {
  static let ramPlus = Fixtures.ramParity.appendingPathComponent("ram_plus").path
  static let ram = Fixtures.ramParity.appendingPathComponent("ram").path
  static let tag2text = Fixtures.ramParity.appendingPathComponent("tag2text").path
  static let bunny = Fixtures.media.appendingPathComponent("bigbuckbunny.mp4").path
  static let carphone = Fixtures.media.appendingPathComponent("carphone_pristine.mp4").path

  /// Checks a written timeline: every line validates against the schema, header first, summary last,
  /// segments equal what the documented segmenter makes of the frame records.
  func checkTimeline(_ path: String, vocabulary: TagVocabulary) throws -> [TimelineRecord] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.hasSuffix("\n"), "\(path) does not end with a complete line")
    let lines = text.split(separator: "\n").map(String.init)
    let validator = try Schema.validator()
    var records: [TimelineRecord] = []
    for (i, line) in lines.enumerated() {
      let problems = validator.validate(try JSONValue.parse(line))
      #expect(problems.isEmpty, "\(path):\(i + 1): \(problems)")
      records.append(try TimelineRecord(jsonLine: line))
    }
    guard case .header(let header) = records.first, case .summary(let summary) = records.last else {
      Issue.record("\(path): no header/summary")
      return records
    }
    var segmenter = Segmenter(settings: header.segments, sampleInterval: header.sampleInterval, vocabulary: vocabulary)
    var expected: [TagSegment] = []
    for case .frame(let f) in records {
      var scores = [Float](repeating: 0, count: vocabulary.count)
      for t in f.tags { scores[t.index] = t.score }
      expected += segmenter.add(t: f.t, active: f.tags.map(\.index), scores: scores, isSceneCut: f.sceneCut).closed
    }
    expected += segmenter.finish(streamEnd: summary.interrupted ? nil : summary.duration)
    let actual = records.compactMap { r -> TagSegment? in if case .segment(let s) = r { return s } else { return nil } }
    #expect(actual == expected, "\(path): segments do not follow from the frame records")
    return records
  }

  /// ffmpeg reads the track back with as many cues as it has.
  func checkWithFFmpeg(_ path: String) throws {
    guard VTagProcess.hasTool("ffmpeg") else { return }
    let out = path + ".ffmpeg.vtt"
    let status = try VTagProcess.shell("ffmpeg -nostdin -v error -y -i '\(path)' -map 0 -f webvtt '\(out)'")
    #expect(status == 0, "ffmpeg could not read \(path)")
    func cues(_ s: String) -> Int {
      s.components(separatedBy: "\n").filter { $0.prefixMatch(of: #/(\d+:)?\d\d:\d\d[.,]\d\d\d --> /#) != nil }.count
    }
    let original = try String(contentsOfFile: path, encoding: .utf8)
    #expect(cues(try String(contentsOfFile: out, encoding: .utf8)) == cues(original), "\(path): cue count")
    // WebVTT rules: no blank line inside a cue payload, no "-->" in a payload, & and < escaped.
    if path.hasSuffix(".vtt") {
      #expect(original.hasPrefix("WEBVTT"))
      for block in original.components(separatedBy: "\n\n").dropFirst() where !block.isEmpty {
        let payload = block.split(separator: "\n").dropFirst()
        #expect(!payload.contains { $0.contains("-->") }, "\(path): '-->' in a payload")
        #expect(!payload.contains { $0.contains("<") && !$0.contains("&lt;") }, "\(path): unescaped '<'")
      }
    }
  }

  @Test("vtag tag writes a valid timeline and tracks for a real video, with captions")
  func tagWithCaptions() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-e2e")
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = dir.appendingPathComponent("bunny").path
    let r = try VTagProcess.run([
      "tag", Self.bunny, "--model", Self.ramPlus, "--caption-model", Self.tag2text, "--caption-every", "2s", "-o", base,
      "--format", "jsonl,vtt,srt,videochat",
    ])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let bundle = try ModelBundle(directory: URL(fileURLWithPath: Self.ramPlus))
    let records = try checkTimeline(base + ".jsonl", vocabulary: TagVocabulary(bundle: bundle))
    let frames = records.compactMap { r -> FrameRecord? in if case .frame(let f) = r { return f } else { return nil } }
    // 5.28 s at 1 fps: the frames nearest 0, 1, ..., 5 s.
    #expect(frames.map { Int(($0.t).rounded()) } == [0, 1, 2, 3, 4, 5])
    // Captions at most every 2 s: t = 0, 2, 4.
    #expect(frames.filter { $0.caption != nil }.map { Int($0.t.rounded()) } == [0, 2, 4])
    for track in ["tags.vtt", "captions.vtt", "meta.vtt", "srt"] { try checkWithFFmpeg(base + "." + track) }
    let videochat = try String(contentsOfFile: base + ".videochat.txt", encoding: .utf8)
    #expect(videochat.contains("Second 1:"))
    #expect(videochat.contains("Second 3:"))
  }

  @Test("-o - streams JSONL on standard output")
  func stdoutStreaming() throws {
    let r = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ram, "-o", "-", "--format", "jsonl"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.first?.contains("\"type\":\"header\"") == true)
    #expect(lines.last?.contains("\"type\":\"summary\"") == true)
    #expect(lines.filter { $0.contains("\"type\":\"frame\"") }.count == 4)
  }

  @Test(
    "Every shipped offline pipeline file runs with the fixture models",
    arguments: [
      "offline-ram-plus.yaml", "captions-tag2text.yaml", "videoqa-export.yaml",
    ])
  func pipelineFiles(name: String) throws {
    let dir = try Fixtures.temporaryDirectory("vtag-pipeline")
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = Fixtures.repositoryRoot.appendingPathComponent("pipelines/\(name)").path
    let base = dir.appendingPathComponent("out").path
    let tagger = name == "videoqa-export.yaml" ? Self.tag2text : Self.ramPlus
    var args = [
      "run", file, "--set", "source=\(Self.carphone)", "--set", "models.tagger=\(tagger)", "--set",
      "output.base=\(base)",
    ]
    if name == "captions-tag2text.yaml" { args += ["--set", "models.captioner=\(Self.tag2text)"] }
    let r = try VTagProcess.run(args)
    #expect(r.status == 0, "\(name): \(r.stderr)")
    let bundle = try ModelBundle(directory: URL(fileURLWithPath: tagger))
    _ = try checkTimeline(base + ".jsonl", vocabulary: TagVocabulary(bundle: bundle))
    let written = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    for f in written where f.hasSuffix(".vtt") || f.hasSuffix(".srt") {
      try checkWithFFmpeg(dir.appendingPathComponent(f).path)
    }
    if name == "videoqa-export.yaml" {
      let text = try String(contentsOfFile: base + ".videochat.txt", encoding: .utf8)
      #expect(text.contains("Second 1:") && text.contains("Second 4:"))
    }
  }

  @Test("The live-webcam pipeline on a machine without a camera fails clearly")
  func liveWithoutCamera() throws {
    let file = Fixtures.repositoryRoot.appendingPathComponent("pipelines/live-webcam.yaml").path
    let dir = try Fixtures.temporaryDirectory("vtag-live")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try VTagProcess.run([
      "run", file, "--set", "source=/dev/video-nonexistent", "--set", "models.tagger=\(Self.ramPlus)", "--set",
      "output.base=\(dir.appendingPathComponent("cam").path)",
    ])
    #expect(r.status == 1)
    #expect(r.stderr.contains("/dev/video-nonexistent"))
  }

  @Test(
    "SIGINT during a run: exit 130, complete JSONL lines, well-formed WebVTT",
    .enabled(if: VTagProcess.hasTool("ffmpeg")))
  func interrupt() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-sigint")
    defer { try? FileManager.default.removeItem(at: dir) }
    let video = dir.appendingPathComponent("long.mp4").path
    try #require(
      try VTagProcess.shell(
        "ffmpeg -nostdin -v error -f lavfi -i testsrc=duration=60:size=160x120:rate=10 -c:v libx264 -pix_fmt yuv420p '\(video)'"
      )
        == 0)
    let base = dir.appendingPathComponent("long").path
    let p = Process()
    p.executableURL = VTagProcess.binary
    p.arguments = ["tag", video, "--model", Self.ramPlus, "--every", "0.1s", "-o", base, "--format", "jsonl,vtt"]
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_NUM_THREADS"] = "1"
    p.environment = env
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    // Wait until some frames are written, then interrupt.
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
      if let text = try? String(contentsOfFile: base + ".jsonl", encoding: .utf8),
        text.components(separatedBy: "\"type\":\"frame\"").count > 6
      {
        break
      }
      Thread.sleep(forTimeInterval: 0.05)
    }
    kill(p.processIdentifier, SIGINT)
    p.waitUntilExit()
    #expect(p.terminationStatus == 130)
    let bundle = try ModelBundle(directory: URL(fileURLWithPath: Self.ramPlus))
    let records = try checkTimeline(base + ".jsonl", vocabulary: TagVocabulary(bundle: bundle))
    guard case .summary(let summary) = records.last else {
      Issue.record("no summary after SIGINT")
      return
    }
    #expect(summary.interrupted)
    #expect(summary.duration < 59)
    try checkWithFFmpeg(base + ".tags.vtt")
    try checkWithFFmpeg(base + ".meta.vtt")
  }

  @Test("Bad input is refused before any work: unknown format, unwritable output, bad pipeline keys")
  func badInput() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    var r = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ram, "--format", "jsonl,docx"])
    #expect(r.status == 2)
    #expect(r.stderr.contains("docx"))
    r = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ram, "-o", "/nonexistent-dir/out"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("/nonexistent-dir"))
    let yaml = dir.appendingPathComponent("p.yaml")
    try "source: \(Self.carphone)\nsampling:\n  every: 1s\n  evry: 2s\n".write(
      to: yaml, atomically: true, encoding: .utf8)
    r = try VTagProcess.run(["run", yaml.path])
    #expect(r.status == 1)
    #expect(r.stderr.contains("p.yaml:4") && r.stderr.contains("sampling.evry"))
    try "source: \(Self.carphone)\nbatch: many\n".write(to: yaml, atomically: true, encoding: .utf8)
    r = try VTagProcess.run(["run", yaml.path])
    #expect(r.status == 1)
    #expect(r.stderr.contains("p.yaml:2") && r.stderr.contains("batch") && r.stderr.contains("integer"))
    let missing = try VTagProcess.run([
      "tag", "/nonexistent/movie.mp4", "--model", Self.ram, "-o", dir.appendingPathComponent("m").path,
    ])
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("/nonexistent/movie.mp4"))
  }

  @Test(
    "Static scenes: reused results equal recomputed ones, and forwards are saved",
    .enabled(if: VTagProcess.hasTool("ffmpeg")))
  func staticScene() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-static")
    defer { try? FileManager.default.removeItem(at: dir) }
    let video = dir.appendingPathComponent("still.mkv").path
    // A still picture for 4 s, then a different one: lossless, so decoded frames are identical.
    try #require(
      try VTagProcess.shell(
        "ffmpeg -nostdin -v error -f lavfi -i 'color=c=red:size=96x64:rate=5:duration=4' -f lavfi -i 'testsrc=size=96x64:rate=5:duration=3' -filter_complex '[0:v][1:v]concat=n=2:v=1[v]' -map '[v]' -c:v ffv1 '\(video)'"
      )
        == 0)
    var outputs: [[String]] = []
    var stderrs: [String] = []
    for flags in [[String](), ["--no-reuse-static"]] {
      let base = dir.appendingPathComponent(flags.isEmpty ? "reuse" : "recompute").path
      let r = try VTagProcess.run(["tag", video, "--model", Self.ramPlus, "-o", base, "--format", "jsonl"] + flags)
      #expect(r.status == 0, "\(r.stderr)")
      stderrs.append(r.stderr)
      let lines = try String(contentsOfFile: base + ".jsonl", encoding: .utf8).split(separator: "\n")
      outputs.append(
        lines.filter { $0.contains("\"type\":\"frame\"") || $0.contains("\"type\":\"segment\"") }.map(String.init))
    }
    #expect(outputs[0] == outputs[1], "reused results differ from recomputed ones")
    #expect(outputs[0].filter { $0.contains("\"type\":\"frame\"") }.count == 7)
    // Frames at 1, 2, 3 s repeat the one at 0 s.
    #expect(stderrs[0].contains("3 identical frames reused"))
    #expect(!stderrs[1].contains("reused"))
  }

  @Test("vtag live on a stream source writes valid outputs and reports its frames")
  func liveMode() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-live-file")
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = dir.appendingPathComponent("live").path
    // A file read as a live source: frames are never waited for, so some may be dropped and counted.
    let r = try VTagProcess.run(["live", Self.bunny, "--model", Self.ram, "-o", base, "--format", "jsonl,vtt"])
    #expect(r.status == 0, "\(r.stderr)")
    let bundle = try ModelBundle(directory: URL(fileURLWithPath: Self.ram))
    let records = try checkTimeline(base + ".jsonl", vocabulary: TagVocabulary(bundle: bundle))
    guard case .header(let header) = records.first, case .summary(let summary) = records.last else {
      Issue.record("no header/summary")
      return
    }
    #expect(header.created != nil)
    #expect(header.source.kind == "file")
    #expect(header.source.json.serialized.contains("\"live\":true"))
    #expect(summary.counters.framesSampled >= 1)
    #expect(summary.counters.framesSampled + summary.counters.framesDropped <= 132)
    try checkWithFFmpeg(base + ".tags.vtt")
  }

  @Test("vtag tag --only-tags reports those tags with the full run's scores")
  func onlyTags() throws {
    func frameTags(_ extra: [String]) throws -> [[String: Double]] {
      let r = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ram, "-o", "-", "--format", "jsonl"] + extra)
      #expect(r.status == 0, "\(r.stderr)")
      return try r.stdout.split(separator: "\n").compactMap { line -> [String: Double]? in
        guard case .frame(let f) = try TimelineRecord(jsonLine: String(line)) else { return nil }
        return Dictionary(uniqueKeysWithValues: f.tags.map { ($0.tag, Double($0.score)) })
      }
    }
    let full = try frameTags([])
    let names = Array(try #require(full.first).keys.sorted().prefix(2))
    let part = try frameTags(["--only-tags", names.joined(separator: ",")])
    #expect(part.count == full.count)
    for (p, f) in zip(part, full) {
      #expect(Set(p.keys) == Set(f.keys).intersection(names))
      for (k, v) in p { #expect(abs(v - f[k]!) <= 1e-6, "\(k)") }
    }
  }
}
