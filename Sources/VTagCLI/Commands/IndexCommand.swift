import ArgumentParser
import Foundation
import Index

/// `--index PATH` shared by the index and search commands.
struct IndexLocation: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp("The index file (default $XDG_DATA_HOME/vtag/index.sqlite).", valueName: "PATH"))
  var index: String?

  @Option(name: .long, help: "Seconds to wait for another vtag writing to the index before failing.")
  var lockTimeout: Double = 10

  var path: String { index ?? SQLiteIndex.defaultPath }

  func open() throws -> SQLiteIndex { try SQLiteIndex(path: path, busyTimeout: lockTimeout) }
}

/// `vtag index`: the searchable index of timelines.
struct IndexCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "index",
    abstract: "Keep a searchable index of timelines (vtag search queries it).",
    subcommands: [
      IndexAddCommand.self, IndexListCommand.self, IndexRemoveCommand.self, IndexVacuumCommand.self,
      IndexBenchCommand.self,
    ])
}

struct IndexAddCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "add",
    abstract: "Add timelines (JSON Lines from vtag tag/live); folders are searched for *.jsonl recursively.",
    discussion: """
      A video is keyed by its source URI: adding the same timeline again changes nothing, a changed \
      timeline replaces the old entry. A timeline without a summary (interrupted, or cut off) is indexed \
      up to its last complete record and flagged incomplete.
      """)

  @OptionGroup var location: IndexLocation
  @Flag(name: .long, help: "One JSON line per timeline instead of text.") var json = false
  @Argument(help: "Timeline files or folders.") var paths: [String]

  func run() async throws {
    let files = try TimelineFile.expand(paths)
    guard !files.isEmpty else { throw ValidationError("no .jsonl timelines found in \(paths.joined(separator: " "))") }
    let index = try location.open()
    var failures = 0
    for f in files {
      do {
        let t = try TimelineFile.read(path: f)
        let outcome = try index.add(t)
        if json {
          Output.line(
            JSONValue.object([
              ("timeline", .string(f)), ("video", .string(t.uri)), ("result", .string(outcome.rawValue)),
              ("segments", .int(t.segments.count)), ("captions", .int(t.cues.count)),
              ("incomplete", .bool(t.incomplete)),
            ]).serialized)
        } else {
          let flag = t.incomplete ? " (incomplete: no summary record)" : ""
          Output.line("\(outcome.rawValue) \(f): \(t.segments.count) segments, \(t.cues.count) captions\(flag)")
        }
      } catch let e as IndexError {
        if case .notATimeline = e {
          Output.error("error: \(e)")
          failures += 1
          continue
        }
        if case .unreadable = e {
          Output.error("error: \(e)")
          failures += 1
          continue
        }
        throw e
      }
    }
    if failures > 0 { throw ExitCode(1) }
  }
}

struct IndexListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "list", abstract: "List the indexed videos.")
  @OptionGroup var location: IndexLocation
  @Flag(name: .long, help: "One JSON line per video.") var json = false

  func run() async throws {
    let entries = try location.open().list()
    for e in entries {
      if json {
        Output.line(
          JSONValue.object([
            ("video", .string(e.uri)), ("media", e.mediaPath.map { .string($0) } ?? .null),
            ("timeline", e.timelinePath.map { .string($0) } ?? .null), ("sha256", .string(e.contentHash)),
            ("duration", .double(e.duration)), ("segments", .int(e.segments)), ("captions", .int(e.cues)),
            ("incomplete", .bool(e.incomplete)), ("interrupted", .bool(e.interrupted)), ("live", .bool(e.live)),
            ("models", .array(e.models.map { .string($0) })), ("added", .string(e.added)),
          ]).serialized)
      } else {
        var flags: [String] = []
        if e.live { flags.append("live") }
        if e.incomplete { flags.append("incomplete") }
        if e.interrupted { flags.append("interrupted") }
        let f = flags.isEmpty ? "" : " [" + flags.joined(separator: ", ") + "]"
        Output.line(
          "\(e.uri)  \(SearchCommand.clock(e.duration))  \(e.segments) segments  \(e.cues) captions\(f)")
      }
    }
    if !json { Output.line("\(entries.count) video(s) in \(location.path)") }
  }
}

struct IndexRemoveCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "remove", abstract: "Remove videos, named by source URI or timeline file.")
  @OptionGroup var location: IndexLocation
  @Flag(name: .long, help: "One JSON line per removed video.") var json = false
  @Argument(help: "Source URIs or timeline paths, as `vtag index list` shows them.") var keys: [String]

  func run() async throws {
    for uri in try location.open().remove(keys) {
      Output.line(json ? JSONValue.object([("removed", .string(uri))]).serialized : "removed \(uri)")
    }
  }
}

struct IndexVacuumCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vacuum", abstract: "Compact the index file (after removals or replacements).")
  @OptionGroup var location: IndexLocation
  @Flag(name: .long, help: "Print the sizes as JSON.") var json = false

  func run() async throws {
    let index = try location.open()
    let before = IndexBench.fileSize(location.path)
    try index.vacuum()
    let after = IndexBench.fileSize(location.path)
    if json {
      Output.line(
        JSONValue.object([("bytes_before", .int(Int(before))), ("bytes_after", .int(Int(after)))]).serialized)
    } else {
      Output.line("vacuumed \(location.path): \(before) → \(after) bytes")
    }
  }
}

struct IndexBenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Benchmark: index synthetic 1-hour timelines in steps and time a fixed query mix (p50/p95).",
    discussion: """
      Synthetic timelines: 1 sample/s, 15 tags a video from a skewed vocabulary, 20–200 segments per \
      tag-hour, a caption every 5 s. The index file grows across steps (an existing one is continued).
      """)

  @Option(name: .long, help: "The benchmark index file (not your real index).") var index: String
  @Option(name: .long, help: "Comma-separated sizes in hours, ascending.") var hours: String = "100,1000,10000"
  @Option(name: .long, help: "Runs of each query per size.") var repeats: Int = 20

  func run() async throws {
    let steps = hours.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !steps.isEmpty, steps == steps.sorted(), steps.allSatisfy({ $0 > 0 }) else {
      throw ValidationError("--hours '\(hours)' must be ascending positive integers, e.g. 100,1000,10000")
    }
    guard repeats > 0 else { throw ValidationError("--repeats must be at least 1") }
    try IndexBench.run(path: index, steps: steps, repeats: repeats) { Output.line($0) }
  }
}
