import Foundation
import Testing
import VTagTestSupport

@testable import TaggingPipeline

/// `vtag tag` as a new user runs it: `-o`, stdin, signals, quiet/verbose, progress lines, failed inputs.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(if: Fixtures.exists(Fixtures.media), Comment(rawValue: Fixtures.missing(Fixtures.media))),
  .enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct CLIRunTests {
  static let ramPlus = Fixtures.ramParity.appendingPathComponent("ram_plus").path
  static let carphone = Fixtures.media.appendingPathComponent("carphone_pristine.mp4").path

  static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

  /// Starts `vtag args` with stdout and stderr into files in `dir`.
  static func start(_ args: [String], dir: URL) throws -> Process {
    let p = Process()
    p.executableURL = VTagProcess.binary
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_NUM_THREADS"] = "1"
    p.environment = env
    FileManager.default.createFile(atPath: dir.appendingPathComponent("stdout").path, contents: nil)
    FileManager.default.createFile(atPath: dir.appendingPathComponent("stderr").path, contents: nil)
    p.standardOutput = try FileHandle(forWritingTo: dir.appendingPathComponent("stdout"))
    p.standardError = try FileHandle(forWritingTo: dir.appendingPathComponent("stderr"))
    try p.run()
    return p
  }

  /// Waits (up to a generous deadline, never asserted) until `condition` holds.
  static func wait(_ condition: () -> Bool) {
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline && !condition() { Thread.sleep(forTimeInterval: 0.05) }
  }

  static func frameCount(_ path: String) -> Int {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").components(separatedBy: "\"type\":\"frame\"").count - 1
  }

  @Test("-o - streams JSON Lines on stdout with the default formats; a named non-JSONL format needs a base")
  func stdoutJSONL() throws {
    let r = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ramPlus, "-o", "-", "-q"])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = Self.lines(r.stdout)
    #expect(lines.first?.contains("\"type\":\"header\"") == true)
    #expect(lines.last?.contains("\"type\":\"summary\"") == true)
    let vtt = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ramPlus, "-o", "-", "--format", "jsonl,vtt"])
    #expect(vtt.status == 2)
    #expect(vtt.stderr.contains("vtt") && vtt.stderr.contains("-o BASE"))
  }

  @Test("cat f.mp4 | vtag tag - -o - (and with no -o) reads standard input", .enabled(if: VTagProcess.hasTool("ffmpeg")))
  func standardInput() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-stdin")
    defer { try? FileManager.default.removeItem(at: dir) }
    // A stream format readable from a pipe (an mp4's index may sit at its end).
    let ts = dir.appendingPathComponent("clip.ts").path
    try #require(
      try VTagProcess.shell("ffmpeg -nostdin -v error -i '\(Self.carphone)' -t 3 -c:v libx264 -f mpegts '\(ts)'") == 0)
    for extra in [["-o", "-"], []] {
      let out = dir.appendingPathComponent("out.jsonl").path
      let status = try VTagProcess.shell(
        "cat '\(ts)' | OPENBLAS_NUM_THREADS=1 '\(VTagProcess.binary.path)' tag - --model '\(Self.ramPlus)' -q \(extra.joined(separator: " ")) > '\(out)'"
      )
      #expect(status == 0)
      let lines = Self.lines(try String(contentsOfFile: out, encoding: .utf8))
      #expect(lines.first?.contains("\"kind\":\"stdin\"") == true, "\(lines.first ?? "")")
      #expect(Self.frameCount(out) >= 2)
    }
  }

  @Test("-o x.jsonl writes x.jsonl (and x.tags.vtt), not x.jsonl.jsonl")
  func outputSuffix() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-suffix")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try VTagProcess.run([
      "tag", Self.carphone, "--model", Self.ramPlus, "-o", dir.appendingPathComponent("x.jsonl").path,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
    #expect(names == ["x.jsonl", "x.tags.vtt", "x.meta.vtt"], "\(names)")
  }

  @Test("--no-zh leaves the Chinese names out of the tag cues")
  func noChinese() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-nozh")
    defer { try? FileManager.default.removeItem(at: dir) }
    func hasCJK(_ path: String) throws -> Bool {
      try String(contentsOfFile: path, encoding: .utf8).unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }
    }
    let with = dir.appendingPathComponent("zh").path
    let without = dir.appendingPathComponent("en").path
    #expect(try VTagProcess.run(["tag", Self.carphone, "--model", Self.ramPlus, "-o", with]).status == 0)
    #expect(try VTagProcess.run(["tag", Self.carphone, "--model", Self.ramPlus, "-o", without, "--no-zh"]).status == 0)
    #expect(try hasCJK(with + ".tags.vtt"))
    #expect(try !hasCJK(without + ".tags.vtt"))
  }

  @Test("-q prints nothing on success; -v names the input and the outputs; progress lines every 10 % off a terminal")
  func verbosity() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-verbosity")
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = dir.appendingPathComponent("c").path
    let quiet = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ramPlus, "-o", base, "-q"])
    #expect(quiet.status == 0)
    #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
    let verbose = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ramPlus, "-o", base, "-v"])
    #expect(verbose.status == 0)
    #expect(verbose.stderr.contains("input \(Self.carphone)") && verbose.stderr.contains(base + ".jsonl"))
    let normal = try VTagProcess.run(["tag", Self.carphone, "--model", Self.ramPlus, "-o", base, "--every", "200ms"])
    let steps = Self.lines(normal.stderr).compactMap { $0.firstMatch(of: #/vtag: +(\d+)%:/#).map { Int($0.1)! } }
    #expect(steps.count >= 5 && steps.count <= 10, "\(normal.stderr)")
    #expect(steps == steps.sorted() && Set(steps).count == steps.count && steps.allSatisfy { $0 % 10 == 0 })
    #expect(steps.last == 100, "\(normal.stderr)")
  }

  @Test("A run that fails on its input before tagging a frame removes the files it began", .enabled(if: VTagProcess.hasTool("ffmpeg")))
  func failedInputLeavesNothing() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-failed")
    defer { try? FileManager.default.removeItem(at: dir) }
    // Valid container headers, every sample zeroed: opens, but no frame decodes.
    let good = dir.appendingPathComponent("good.mp4").path
    try #require(
      try VTagProcess.shell(
        "ffmpeg -nostdin -v error -f lavfi -i testsrc=size=64x64:rate=5 -t 2 -c:v libx264 -movflags +faststart '\(good)'")
        == 0)
    var data = try Data(contentsOf: URL(fileURLWithPath: good))
    let mdat = try #require(data.range(of: Data("mdat".utf8)))
    data.replaceSubrange(mdat.upperBound..<data.endIndex, with: Data(count: data.count - mdat.upperBound))
    let bad = dir.appendingPathComponent("bad.mp4")
    try data.write(to: bad)
    let base = dir.appendingPathComponent("out").path
    let r = try VTagProcess.run([
      "tag", bad.path, "--model", Self.ramPlus, "-o", base, "--format", "jsonl,vtt,videochat",
    ])
    #expect(r.status == 1)
    #expect(r.stderr.contains("bad.mp4") && r.stderr.contains("no frame was tagged"), "\(r.stderr)")
    let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("out") }
    #expect(left.isEmpty, "left behind: \(left)")
  }

  @Test("SIGTERM stops a run cleanly with exit 143", .enabled(if: VTagProcess.hasTool("ffmpeg")))
  func sigterm() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-sigterm")
    defer { try? FileManager.default.removeItem(at: dir) }
    let video = dir.appendingPathComponent("long.mp4").path
    try #require(
      try VTagProcess.shell(
        "ffmpeg -nostdin -v error -f lavfi -i testsrc=duration=60:size=160x120:rate=10 -c:v libx264 -pix_fmt yuv420p '\(video)'"
      ) == 0)
    let base = dir.appendingPathComponent("long").path
    let p = try Self.start(["tag", video, "--model", Self.ramPlus, "--every", "0.1s", "-o", base], dir: dir)
    Self.wait { Self.frameCount(base + ".jsonl") > 3 }
    kill(p.processIdentifier, SIGTERM)
    p.waitUntilExit()
    #expect(p.terminationReason == .exit)
    #expect(p.terminationStatus == 143)
    let last = Self.lines(try String(contentsOfFile: base + ".jsonl", encoding: .utf8)).last ?? ""
    #expect(last.contains("\"type\":\"summary\"") && last.contains("\"interrupted\":true"))
  }

  @Test(
    "A live source (a FIFO) never waits for a full batch, without --live",
    .enabled(if: VTagProcess.hasTool("ffmpeg") && VTagProcess.hasTool("mkfifo")))
  func liveSourceBatchTimeout() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-fifo")
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("in.ts").path
    try #require(try VTagProcess.shell("mkfifo '\(fifo)'") == 0)
    // A real-time sender: one sample a second reaches vtag, far fewer than --batch 8 in the first seconds.
    let sender = Process()
    sender.executableURL = URL(fileURLWithPath: "/bin/sh")
    sender.arguments = [
      "-c",
      "exec ffmpeg -nostdin -v error -re -f lavfi -i testsrc=duration=40:size=160x120:rate=10 -c:v libx264 -g 10 -f mpegts -y '\(fifo)'",
    ]
    sender.standardOutput = FileHandle.nullDevice
    sender.standardError = FileHandle.nullDevice
    try sender.run()
    defer {
      if sender.isRunning { sender.terminate() }
      sender.waitUntilExit()
    }
    let base = dir.appendingPathComponent("out").path
    let p = try Self.start(["tag", fifo, "--model", Self.ramPlus, "--batch", "8", "-o", base, "-q"], dir: dir)
    defer {
      // Stop the run, then end its input too (an EOF ends the run whatever it waits on).
      if p.isRunning { kill(p.processIdentifier, SIGINT) }
      if sender.isRunning { sender.terminate() }
      p.waitUntilExit()
    }
    Self.wait { Self.frameCount(base + ".jsonl") > 0 || !p.isRunning }
    let first = Self.frameCount(base + ".jsonl")
    #expect(first > 0 && first < 8, "frames first seen: \(first) (a full batch of 8 means it waited)")
    let header = Self.lines(try String(contentsOfFile: base + ".jsonl", encoding: .utf8)).first ?? ""
    #expect(header.contains("\"live\":true"))
  }
}
