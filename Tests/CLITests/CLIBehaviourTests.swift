import ArgumentParser
import Foundation
import Testing
import TaggingPipeline
import VTagTestSupport

@testable import VTagCLI

/// What a new user meets first, through the built binary: help, usage errors, exit codes, `-o`.
@Suite(.serialized, .enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct CLIBehaviourTests {
  /// Every command path below the root (`tag`, `models`, `models list`, …).
  static func commandPaths(_ type: any ParsableCommand.Type = VTag.self, prefix: [String] = []) -> [[String]] {
    var paths: [[String]] = []
    for sub in type.configuration.subcommands {
      let name = sub._commandName
      paths.append(prefix + [name])
      paths += commandPaths(sub, prefix: prefix + [name])
    }
    return paths
  }

  @Test("--help, -h and help print the real help on stdout and exit 0, for the root and every subcommand")
  func helpEverywhere() throws {
    let paths = Self.commandPaths()
    #expect(paths.contains(["tag"]) && paths.contains(["models", "list"]), "\(paths)")
    for args in [["--help"], ["-h"], ["help"]] {
      let r = try VTagProcess.run(args)
      #expect(r.status == 0, "vtag \(args): \(r.status) \(r.stderr)")
      #expect(r.stdout.contains("USAGE: vtag <subcommand>"), "vtag \(args): \(r.stdout)")
      #expect(r.stderr.isEmpty, "vtag \(args): \(r.stderr)")
    }
    for path in paths {
      for args in [path + ["--help"], ["help"] + path] {
        let r = try VTagProcess.run(args)
        #expect(r.status == 0, "vtag \(args.joined(separator: " ")): status \(r.status), \(r.stderr)")
        #expect(
          r.stdout.contains("USAGE: vtag \(path.joined(separator: " "))"),
          "vtag \(args.joined(separator: " ")): \(r.stdout.prefix(200))")
        #expect(!r.stderr.contains("error"), "vtag \(args.joined(separator: " ")): \(r.stderr)")
      }
    }
  }

  @Test("vtag alone (and a group alone) prints its help on stderr and exits 2")
  func bareCommand() throws {
    let r = try VTagProcess.run([])
    #expect(r.status == 2)
    #expect(r.stderr.contains("USAGE: vtag <subcommand>"))
    #expect(!r.stderr.contains("error: --help"))
    let models = try VTagProcess.run(["models"])
    #expect(models.status == 2)
    #expect(models.stderr.contains("USAGE: vtag models"))
  }

  @Test("Usage errors exit 2")
  func usageErrors() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-usage")
    defer { try? FileManager.default.removeItem(at: dir) }
    for args in [
      ["tag", "x.mp4", "--bogus"], ["tag", "x.mp4", "--every", "soon"], ["tag", "x.mp4", "--quiet", "--verbose"],
      ["tag", "x.mp4", "--frames", "3", "--every", "1s"], ["image"],
    ] {
      let r = try VTagProcess.run(args)
      #expect(r.status == 2, "vtag \(args.joined(separator: " ")): \(r.status) \(r.stderr)")
    }
    let yaml = dir.appendingPathComponent("p.yaml")
    try "source: x.mp4\n".write(to: yaml, atomically: true, encoding: .utf8)
    let set = try VTagProcess.run(["run", yaml.path, "--set", "sampling.evry=2s"])
    #expect(set.status == 2, "\(set.stderr)")
    #expect(set.stderr.contains("sampling.evry"))
  }

  @Test("devices --json and models list --json print [] when there is nothing")
  func emptyJSON() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-empty")
    defer { try? FileManager.default.removeItem(at: dir) }
    let devices = try VTagProcess.run(["devices", "--json", "--directory", dir.path])
    #expect(devices.status == 0)
    #expect(devices.stdout == "[]\n")
    let models = try VTagProcess.run(["models", "list", "--json", "--dir", dir.path])
    #expect(models.status == 0)
    #expect(models.stdout == "[]\n")
  }

  @Test("vtag image checks its files before resolving (and perhaps fetching) a model")
  func imageMissingBeforeFetch() throws {
    let dir = try Fixtures.temporaryDirectory("vtag-nomodel")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try VTagProcess.run(
      ["image", "/nonexistent/photo.jpg"], environment: ["VTAG_MODELS": dir.path, "VTAG_AUTO_FETCH": "1"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("/nonexistent/photo.jpg"))
    #expect(!r.stderr.contains("fetch"), "\(r.stderr)")
  }

  @Test("The live display fits the terminal width and shows latency and drops")
  func liveDisplay() {
    var p = TagRunProgress(
      t: 12, duration: nil, framesSampled: 10, forwards: 10, framesDropped: 3, elapsed: 12,
      activeTags: (0..<40).map { "tag\($0)" }, caption: String(repeating: "a dog runs ", count: 20))
    p.latency = 0.42
    for columns in [20, 40, 80] {
      let text = LiveDisplay.render(p, columns: columns)
      let visible = text.replacingOccurrences(of: "\u{1B}[2K", with: "").replacingOccurrences(of: "\u{1B}[1A", with: "")
      for line in visible.split(separator: "\n") {
        let shown = line.replacingOccurrences(of: "\r", with: "")
        #expect(shown.count <= columns, "\(columns): \(shown)")
        #expect(shown.hasSuffix("…"), "\(columns): \(shown)")
      }
    }
    let status = LiveDisplay.statusLine(p)
    #expect(status.contains("+0.42s") && status.contains("3 dropped"))
    #expect(LiveDisplay.fit("short", columns: 80) == "short")
  }
}
