import Foundation
import Testing
import VTagTestSupport

@testable import TaggingPipeline

enum Schema {
  static let url = Fixtures.repositoryRoot.appendingPathComponent("schemas/timeline.schema.json")
  static func validator() throws -> SchemaValidator {
    SchemaValidator(schema: try JSONValue.parse(String(contentsOf: url, encoding: .utf8)))
  }
}

/// All the timelines the tests validate: default smoothing, median, no smoothing, an interrupted run.
func sampleTimelines() -> [String: [TimelineRecord]] {
  [
    "none": SyntheticRun.records(),
    "ema": SyntheticRun.records(smoothing: SmoothingSettings()),
    "median": SyntheticRun.records(smoothing: SmoothingSettings(method: .median(window: 3))),
    "interrupted": SyntheticRun.records(interruptedAfter: 4),
  ]
}

@Suite struct TimelineSchemaTests {
  @Test func everyRecordValidatesAgainstTheSchema() throws {
    let validator = try Schema.validator()
    for (name, records) in sampleTimelines() {
      for line in SyntheticRun.text(JSONLinesFormatter(), records).split(separator: "\n") {
        let problems = validator.validate(try JSONValue.parse(String(line)))
        #expect(problems.isEmpty, "\(name): \(problems) in \(line)")
      }
    }
  }

  @Test func theValidatorRejectsBadRecords() throws {
    let validator = try Schema.validator()
    let good = SyntheticRun.records()
    let segmentLine = good.first { $0.type == "segment" }!.jsonLine
    #expect(validator.validate(try JSONValue.parse(segmentLine)).isEmpty)
    for bad in [
      segmentLine.replacingOccurrences(of: #""samples":6"#, with: #""samples":"6""#),  // wrong type
      segmentLine.replacingOccurrences(of: #","samples":6"#, with: ""),  // missing field
      segmentLine.replacingOccurrences(of: #""type":"segment""#, with: #""type":"segmant""#),  // unknown type
      segmentLine.replacingOccurrences(of: #""samples":6"#, with: #""samples":6,"extra":1"#),  // unknown key
      segmentLine.replacingOccurrences(of: #""score_max":0.9"#, with: #""score_max":1.5"#),  // out of range
    ] {
      #expect(!validator.validate(try JSONValue.parse(bad)).isEmpty, "accepted \(bad)")
    }
  }

  @Test func pythonJSONSchemaAgrees() throws {
    guard VTagProcess.hasTool("python3"), (try? VTagProcess.shell("python3 -c 'import jsonschema'")) == 0 else {
      print(
        "skipped: python3 with the jsonschema package is not available (pip install jsonschema); the Swift-side schema check ran instead"
      )
      return
    }
    let dir = try Fixtures.temporaryDirectory("vtag-schema")
    defer { try? FileManager.default.removeItem(at: dir) }
    var files: [String] = []
    for (name, records) in sampleTimelines() {
      let path = dir.appendingPathComponent("\(name).jsonl").path
      try SyntheticRun.text(JSONLinesFormatter(), records).write(toFile: path, atomically: true, encoding: .utf8)
      files.append(path)
    }
    let script = """
      import json, sys, jsonschema
      schema = json.load(open(sys.argv[1]))
      jsonschema.Draft202012Validator.check_schema(schema)
      v = jsonschema.Draft202012Validator(schema)
      n = 0
      for path in sys.argv[2:]:
          for line in open(path, encoding='utf-8'):
              v.validate(json.loads(line)); n += 1
      bad = dict(json.loads(open(sys.argv[2]).readline()))
      bad['format_version'] = 2
      assert not v.is_valid(bad)
      print(n)
      """
    let scriptPath = dir.appendingPathComponent("check.py").path
    try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    let status = try VTagProcess.shell(
      "python3 \(scriptPath) \(Schema.url.path) \(files.joined(separator: " ")) > \(dir.path)/out.txt 2>&1")
    let output = (try? String(contentsOfFile: dir.path + "/out.txt", encoding: .utf8)) ?? ""
    #expect(status == 0, "python jsonschema: \(output)")
  }

  @Test func recordsRoundTripThroughJSON() throws {
    for (_, records) in sampleTimelines() {
      for r in records {
        let line = r.jsonLine
        let back = try TimelineRecord(jsonLine: line)
        #expect(back.jsonLine == line)
      }
    }
    #expect(throws: TimelineDecodingError.unknownType("nope")) { try TimelineRecord(jsonLine: #"{"type":"nope"}"#) }
    #expect(throws: TimelineDecodingError.self) { try TimelineRecord(jsonLine: #"{"type":"segment","tag":"x"}"#) }
  }

  /// The segment records follow from the frame records under the documented rules: re-running the
  /// segmenter on the frames' active tags, scores and cuts, with the header's settings, gives them back.
  @Test func segmentsAgreeWithFrameRecords() throws {
    for (name, records) in sampleTimelines() {
      let decoded = try SyntheticRun.text(JSONLinesFormatter(), records).split(separator: "\n").map {
        try TimelineRecord(jsonLine: String($0))
      }
      guard case .header(let header) = decoded.first, case .summary(let summary) = decoded.last else {
        Issue.record("\(name): no header/summary")
        continue
      }
      var segmenter = Segmenter(
        settings: header.segments, sampleInterval: header.sampleInterval, vocabulary: SyntheticRun.vocabulary)
      var expected: [TagSegment] = []
      for case .frame(let f) in decoded {
        var scores = [Float](repeating: 0, count: SyntheticRun.vocabulary.count)
        for t in f.tags { scores[t.index] = t.score }
        let out = segmenter.add(t: f.t, active: f.tags.map(\.index), scores: scores, isSceneCut: f.sceneCut)
        expected += out.closed
        #expect(out.settledUntil == f.settled, "\(name) t=\(f.t)")
      }
      expected += segmenter.finish(streamEnd: summary.interrupted ? nil : summary.duration)
      let actual = decoded.compactMap { r -> TagSegment? in if case .segment(let s) = r { return s } else { return nil }
      }
      #expect(actual == expected, "\(name)")
      #expect(summary.segments == actual.count)
    }
  }

  @Test func jsonReader() throws {
    let text = #"{"b":1,"a":[true,false,null,-2.5e3,"x\u00e9\ud83d\ude00\n"],"c":{}}"#
    let v = try JSONValue.parse(text)
    #expect(v["b"]?.intValue == 1)
    #expect(v["a"]?.arrayValue?[3].doubleValue == -2500)
    #expect(v["a"]?.arrayValue?[4].stringValue == "xé😀\n")
    #expect(v.objectValue?.map(\.0) == ["b", "a", "c"])
    for bad in ["", "{", "[1,]", "01", "\"a", "{\"a\" 1}", "tru", "1 2", "\"\\ud800\""] {
      #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(bad) }
    }
  }
}
