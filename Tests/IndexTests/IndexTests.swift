import Foundation
import GRDB
import Index
import TaggingPipeline
import Testing
import VTagTestSupport

@Suite struct QueryParserTests {
  @Test func precedence() throws {
    #expect(try QueryParser.parse("!a & b | c").description == #"((!"a" & "b") | "c")"#)
    #expect(try QueryParser.parse("a or b and not c").description == #"("a" | ("b" & !"c"))"#)
    #expect(try QueryParser.parse(#""living room" & zh:狗"#).description == #"("living room" & zh:"狗")"#)
    #expect(
      try QueryParser.parse("score(dog) > 0.8 & near(dog, caption:\"man running\", 10s)").description
        == #"(score("dog") > 0.8 & near("dog", caption:"man running", 10.0s))"#)
    #expect(try QueryParser.parse("near(a, b, 500ms)") == .near(.tag("a"), .tag("b"), window: 0.5))
  }

  @Test(arguments: [
    ("dog & (cat", 10, "expected ')'"), ("dog cat", 4, "quote names"), ("", 0, "empty query"),
    ("dog &", 5, "unexpected end"), ("near(a, b)", 9, "','"), ("score(a) > x", 11, "number"),
    ("foo:bar", 0, "unknown prefix"), ("\"open", 0, "unterminated"),
  ])
  func syntaxErrors(text: String, column: Int, message: String) {
    do {
      _ = try QueryParser.parse(text)
      Issue.record("\(text) parsed")
    } catch let e as QuerySyntaxError {
      #expect(e.position == column, "\(text): \(e)")
      #expect(e.description.contains(message), "\(e)")
      // The caret sits under the column.
      let lines = e.description.split(separator: "\n", omittingEmptySubsequences: false)
      #expect(lines.last == Substring("  " + String(repeating: " ", count: column) + "^"))
    } catch {
      Issue.record("\(error)")
    }
  }
}

@Suite struct IntervalSetTests {
  @Test func operations() {
    let a = IntervalSet(unionOf: [.init(0, 2), .init(1, 3), .init(5, 6)])
    #expect(a.intervals == [.init(0, 3), .init(5, 6)])
    #expect(a.complement(within: 7).intervals == [.init(3, 5), .init(6, 7)])
    #expect(a.dilated(by: 1).intervals == [.init(-1, 7)])
    let b = IntervalSet(unionOf: [.init(2, 5.5)])
    #expect(a.intersection(b).intervals == [.init(2, 3), .init(5, 5.5)])
    #expect(a.union(b).intervals == [.init(0, 6)])
    #expect(a.moments(minimumDuration: 2, pad: 1, duration: 3.5).intervals == [.init(0, 3.5)])
  }
}

@Suite struct IndexFileTests {
  static let golden = Fixtures.repositoryRoot.appendingPathComponent("Tests/TaggingPipelineTests/Golden/run.jsonl")

  func tmp() throws -> URL { try Fixtures.temporaryDirectory("vtag-index") }

  @Test func addTwiceAndReplace() throws {
    let dir = try tmp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let index = try SQLiteIndex(path: dir.appendingPathComponent("i.sqlite").path)
    let copy = dir.appendingPathComponent("run.jsonl")
    try FileManager.default.copyItem(at: Self.golden, to: copy)
    #expect(try index.add(try TimelineFile.read(path: copy.path)) == .added)
    #expect(try index.add(try TimelineFile.read(path: copy.path)) == .unchanged)
    let list = try index.list()
    #expect(list.count == 1 && list[0].segments == 4 && list[0].cues == 3 && !list[0].incomplete)
    // Drop the last segment line: different content, same source → replaced.
    var lines = try String(contentsOf: copy, encoding: .utf8).split(separator: "\n").map(String.init)
    let last = lines.lastIndex { $0.contains("\"type\":\"segment\"") }!
    lines.remove(at: last)
    try (lines.joined(separator: "\n") + "\n").write(to: copy, atomically: true, encoding: .utf8)
    #expect(try index.add(try TimelineFile.read(path: copy.path)) == .replaced)
    #expect(try index.list()[0].segments == 3)
    #expect(try index.remove([copy.path]) == ["synthetic.mp4"])
    #expect(try index.list().isEmpty)
    try index.vacuum()
  }

  @Test func truncatedTimelineIsIndexedAndFlagged() throws {
    let dir = try tmp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = try String(contentsOf: Self.golden, encoding: .utf8)
    // Cut in the middle of the summary line: no summary, last line partial.
    let cut = text.range(of: "{\"type\":\"summary\"")!.lowerBound
    let partial = String(text[..<cut]) + "{\"type\":\"summ"
    let f = dir.appendingPathComponent("cut.jsonl")
    try partial.write(to: f, atomically: true, encoding: .utf8)
    let t = try TimelineFile.read(path: f.path)
    #expect(t.incomplete)
    #expect(t.segments.count == 4)
    #expect(t.summaryJSON == nil)
    #expect(t.duration >= 9.5)
  }

  @Test func notATimelineNamesFileAndLine() throws {
    let dir = try tmp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let f = dir.appendingPathComponent("other.jsonl")
    try "{\"a\":1}\n{\"b\":2}\n".write(to: f, atomically: true, encoding: .utf8)
    #expect {
      try TimelineFile.read(path: f.path)
    } throws: { e in
      guard case IndexError.notATimeline(let p, let line, _) = e else { return false }
      return p == f.path && line == 1 && "\(e)".contains("other.jsonl:1")
    }
    // A bad line in the middle of a real timeline (not the last one) is an error with its line number.
    var lines = try String(contentsOf: Self.golden, encoding: .utf8).split(separator: "\n").map(String.init)
    lines[3] = "{\"type\":\"frame\",\"t\":"
    let g = dir.appendingPathComponent("bad.jsonl")
    try (lines.joined(separator: "\n") + "\n").write(to: g, atomically: true, encoding: .utf8)
    #expect {
      try TimelineFile.read(path: g.path)
    } throws: { e in
      guard case IndexError.notATimeline(_, let line, _) = e else { return false }
      return line == 4
    }
  }

  @Test func corruptDatabaseFile() throws {
    let dir = try tmp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let f = dir.appendingPathComponent("broken.sqlite")
    try Data(repeating: 0x5A, count: 8192).write(to: f)
    #expect {
      try SQLiteIndex(path: f.path)
    } throws: { e in
      guard case IndexError.corrupt(let p, _) = e else { return false }
      return p == f.path && "\(e)".contains("move it away")
    }
  }

  @Test func lockedDatabaseWaitsThenFails() throws {
    let dir = try tmp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("i.sqlite").path
    let index = try SQLiteIndex(path: path, busyTimeout: 0.3)
    // Another connection (as another process would) holds the write lock.
    var config = Configuration()
    config.allowsUnsafeTransactions = true
    let other = try DatabaseQueue(path: path, configuration: config)
    try other.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
    defer { try? other.inDatabase { db in try db.execute(sql: "ROLLBACK") } }
    let t = try TimelineFile.read(path: Self.golden.path)
    #expect {
      try index.add(t)
    } throws: { e in
      guard case IndexError.locked(let p, _) = e else { return false }
      return p == path
    }
    // Reads still work while a writer holds the lock (WAL).
    #expect(try index.list().isEmpty)
  }

  @Test func unknownTagSuggestsNearestNames() throws {
    let dir = try tmp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let index = try SQLiteIndex(path: dir.appendingPathComponent("i.sqlite").path)
    _ = try index.add(try TimelineFile.read(path: Self.golden.path))
    let engine = SearchEngine(index: index)
    #expect(throws: IndexError.unknownTag(name: "dgo", suggestions: ["dog"])) {
      try engine.search(try QueryParser.parse("dgo & grass"))
    }
    // Known names work in any case, Chinese names with zh:.
    let m = try engine.search(try QueryParser.parse("DOG & zh:草"))
    #expect(m.map { [$0.start, $0.end] } == [[1.5, 4.5]])
    #expect(m[0].tags == ["dog", "grass"])
  }

  @Test func liveSinkMakesClosedSegmentsSearchable() throws {
    let dir = try tmp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let index = try SQLiteIndex(path: dir.appendingPathComponent("i.sqlite").path)
    let records = try String(contentsOf: Self.golden, encoding: .utf8).split(separator: "\n").map {
      try TimelineRecord(jsonLine: String($0))
    }
    let sink = IndexSink(index: index)
    let engine = SearchEngine(index: index)
    var sawDogBeforeEnd = false
    for r in records {
      try sink.write(r)
      if case .frame(let f) = r, f.t >= 7 {
        // The dog segment (0–5.5) closed before this frame: searchable now.
        let n = try engine.search(try QueryParser.parse("dog")).count
        sawDogBeforeEnd = sawDogBeforeEnd || n == 1
      }
    }
    try sink.finish()
    #expect(sawDogBeforeEnd)
    let list = try index.list()
    #expect(list.count == 1 && !list[0].live && list[0].segments == 4 && list[0].cues == 3)
    // The live entry answers like the file added afterwards.
    let live = try engine.search(try QueryParser.parse("grass | caption:dog"))
    _ = try index.add(try TimelineFile.read(path: Self.golden.path))
    #expect(try engine.search(try QueryParser.parse("grass | caption:dog")) == live)
  }
}
