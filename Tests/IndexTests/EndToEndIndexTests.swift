import Foundation
import Index
import TaggingPipeline
import Testing
import VTagTestSupport

/// `vtag tag` on a shared video, `vtag index add`, `vtag search --json --clips`, clips read by ffprobe.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(if: Fixtures.exists(Fixtures.media), Comment(rawValue: Fixtures.missing(Fixtures.media))),
  .enabled(if: VTagProcess.available, "needs the built vtag binary"),
  .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ffprobe"), "needs /usr/bin/ffprobe"))
struct EndToEndIndexTests {
  static let ramPlus = Fixtures.ramParity.appendingPathComponent("ram_plus").path
  static let tag2text = Fixtures.ramParity.appendingPathComponent("tag2text").path
  static let bunny = Fixtures.media.appendingPathComponent("bigbuckbunny.mp4").path

  static func ffprobeDuration(_ path: String) throws -> Double? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
    p.arguments = ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
  }

  @Test func tagIndexSearchClips() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-index-e2e")
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = dir.appendingPathComponent("bunny").path
    let tag = try VTagProcess.run([
      "tag", Self.bunny, "--model", Self.ramPlus, "--caption-model", Self.tag2text, "--caption-every", "2s", "-o",
      base, "--format", "jsonl",
    ])
    #expect(tag.status == 0, "stderr: \(tag.stderr)")
    let db = dir.appendingPathComponent("index.sqlite").path
    let add = try VTagProcess.run(["index", "add", "--index", db, dir.path, "--json"])
    #expect(add.status == 0, "stderr: \(add.stderr)")
    #expect(add.stdout.contains("\"result\":\"added\""))
    let again = try VTagProcess.run(["index", "add", "--index", db, base + ".jsonl"])
    #expect(again.stdout.hasPrefix("unchanged"))

    // The longest tag of the timeline, searched by name: its segments are the moments.
    let t = try TimelineFile.read(path: base + ".jsonl")
    let top = try #require(t.segments.max { $0.end - $0.start < $1.end - $1.start })
    let want = IntervalSet(unionOf: t.segments.filter { $0.tag == top.tag }.map { .init($0.start, $0.end) })
    let clips = dir.appendingPathComponent("clips").path
    let search = try VTagProcess.run([
      "search", "--index", db, "\"\(top.tag)\"", "--json", "--clips", clips,
    ])
    #expect(search.status == 0, "stderr: \(search.stderr)")
    let moments = try search.stdout.split(separator: "\n").map { try JSONValue.parse(String($0)) }
    #expect(moments.count == want.intervals.count)
    for (m, w) in zip(moments, want.intervals) {
      #expect(m["video"]?.stringValue == Self.bunny)
      #expect(abs((m["start"]?.doubleValue ?? -1) - w.start) < 1e-6)
      #expect(abs((m["end"]?.doubleValue ?? -1) - w.end) < 1e-6)
      #expect(m["tags"]?.arrayValue?.contains(.string(top.tag)) == true)
      let clip = try #require(m["clip"])
      let path = try #require(clip["path"]?.stringValue)
      #expect(path.hasSuffix(".mp4"))
      let clipStart = try #require(clip["start"]?.doubleValue)
      #expect(clipStart <= w.start + 1e-6)
      // ffprobe reads it, and it lasts the moment plus at most the stretch back to the key frame (a GOP).
      let d = try #require(try Self.ffprobeDuration(path))
      #expect(d > 0)
      #expect(d <= (w.end - clipStart) + 0.2)
      #expect(d >= (w.end - w.start) - 0.2)
    }
    // A syntax error exits 2 with a caret; an unknown tag exits 1 naming it.
    let bad = try VTagProcess.run(["search", "--index", db, "dog & (cat"])
    #expect(bad.status == 2 && bad.stderr.contains("^"))
    let unknown = try VTagProcess.run(["search", "--index", db, "zzqx"])
    #expect(unknown.status == 1 && unknown.stderr.contains("'zzqx'"))
    let list = try VTagProcess.run(["index", "list", "--index", db, "--json"])
    #expect(list.stdout.contains("\"media\":\"\(Self.bunny)\""))
  }
}
