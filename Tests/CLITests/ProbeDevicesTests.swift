import Foundation
import Testing
import VTagTestSupport

/// `vtag probe` and `vtag devices` through the built binary.
@Suite(.enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct ProbeDevicesTests {
  static let carphone = Fixtures.media.appendingPathComponent("carphone_pristine.mp4")

  func json(_ line: Substring) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
  }

  @Test(
    "probe prints one JSON object",
    .enabled(if: Fixtures.exists(carphone), Comment(rawValue: Fixtures.missing(carphone))))
  func probe() throws {
    let r = try VTagProcess.run(["probe", Self.carphone.path])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.count == 1)
    let o = try json(lines[0])
    #expect(o["width"] as? Int == 176 && o["height"] as? Int == 144)
    #expect(o["codec"] as? String == "h264" && o["rotation"] as? Int == 0)
    #expect(abs((o["frame_rate"] as? Double ?? 0) - 29.97) < 0.01)
    #expect(abs((o["duration"] as? Double ?? 0) - 4.004) < 0.01)
  }

  @Test(
    "probe --frames with each sampling option",
    .enabled(if: Fixtures.exists(carphone), Comment(rawValue: Fixtures.missing(carphone))))
  func frames() throws {
    let all = try VTagProcess.run(["probe", "--frames", Self.carphone.path])
    #expect(all.status == 0)
    let allLines = all.stdout.split(separator: "\n").dropFirst()
    #expect(allLines.count == 120)
    let first = try json(allLines.first!)
    #expect(first["index"] as? Int == 0 && first["t"] as? Double == 0 && first["key"] as? Bool == true)

    let every = try VTagProcess.run(["probe", "--frames", "--every", "1s", Self.carphone.path])
    let idx = try every.stdout.split(separator: "\n").dropFirst().map { try json($0)["index"] as? Int }
    #expect(idx == [0, 30, 60, 90])

    let half = try VTagProcess.run(["probe", "--frames", "--every", "500ms", Self.carphone.path])
    #expect(half.stdout.split(separator: "\n").count == 1 + 8)

    let keys = try VTagProcess.run(["probe", "--frames", "--keyframes", Self.carphone.path])
    let keyLines = try keys.stdout.split(separator: "\n").dropFirst().map { try json($0) }
    #expect(!keyLines.isEmpty && keyLines.allSatisfy { $0["key"] as? Bool == true })

    let uniform = try VTagProcess.run(["probe", "--frames", "--frames-uniform", "3", Self.carphone.path])
    #expect(uniform.stdout.split(separator: "\n").count == 1 + 3)
  }

  @Test("probe usage errors exit 2")
  func usage() throws {
    for args in [
      ["probe", "--frames", "--every", "1s", "--keyframes", "x.mp4"],
      ["probe", "--frames", "--every", "soon", "x.mp4"],
      ["probe", "--frames", "--frames-uniform", "0", "x.mp4"], ["probe"],
    ] {
      let r = try VTagProcess.run(args)
      #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
      #expect(!r.crashed)
    }
  }

  @Test("probe runtime errors exit 1 and name the input")
  func errors() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = dir.appendingPathComponent("readme.txt")
    try "hello".write(to: text, atomically: true, encoding: .utf8)
    for (path, words) in [("/nonexistent/movie.mp4", "no such file"), (text.path, "readme.txt")] {
      let r = try VTagProcess.run(["probe", path])
      #expect(r.status == 1 && !r.crashed)
      #expect(r.stderr.contains(path) && r.stderr.contains(words), "\(r.stderr)")
      #expect(r.stdout.isEmpty)
    }
  }

  @Test("devices: none is fine; a missing path or a non-camera is an error")
  func devices() throws {
    let empty = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: empty) }
    let none = try VTagProcess.run(["devices", "--directory", empty.path])
    #expect(none.status == 0 && none.stdout.contains("no cameras"))
    let missing = try VTagProcess.run(["devices", "/dev/video-nonexistent-42"])
    #expect(
      missing.status == 1 && missing.stderr.contains("/dev/video-nonexistent-42")
        && missing.stderr.contains("no such device"))
    let null = try VTagProcess.run(["devices", "/dev/null"])
    #expect(null.status == 1 && null.stderr.contains("not a camera"), "\(null.stderr)")
    let file = try VTagProcess.run(["devices", "/etc/hostname"])
    #expect(file.status == 1 && file.stderr.contains("not a camera"))
  }
}
