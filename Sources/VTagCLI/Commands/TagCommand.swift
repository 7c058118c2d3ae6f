import ArgumentParser
import Foundation
import MediaIO
import RecognizeAnything
import TaggingPipeline

/// Sampling, smoothing, batching and output options shared by `vtag tag` and `vtag live`.
struct PipelineOptions: ParsableArguments {
  @Option(name: .long, help: "Tagging model bundle (default: the installed RAM++ bundle).")
  var model: String?

  @Flag(name: .long, help: "With no --model and no RAM++ bundle installed, fetch it without asking.")
  var yes = false

  @Option(name: .long, help: "A Tag2Text bundle whose captions go into the timeline and caption tracks.")
  var captionModel: String?

  @Option(name: .long, help: "Sample one frame every DURATION (1s, 500ms, 2m). Default 1s.")
  var every: String?

  @Option(name: .long, help: "Sample N frames spread uniformly over a file.")
  var frames: Int?

  @Flag(name: .long, help: "Sample key frames only.")
  var keyframes = false

  @Option(
    name: .long,
    help:
      "Add a sample at each scene cut whose thumbnail difference exceeds X (mean absolute difference, 0–255; 30 is a good start)."
  )
  var sceneThreshold: Double?

  @Option(name: .long, help: "Smoothing: ema (default), median or none.")
  var smoothing: String = "ema"

  @Option(name: .long, help: "EMA weight of the newest sample (0–1].")
  var emaAlpha: Float = SmoothingSettings.defaultAlpha

  @Option(name: .long, help: "Median window in samples.")
  var medianWindow: Int = SmoothingSettings.defaultWindow

  @Option(name: .long, help: "A tag turns off below its threshold minus this (hysteresis).")
  var exitOffset: Float = 0.1

  @Option(name: .long, help: "Drop segments shorter than this many seconds.")
  var minDuration: Double = 1.5

  @Option(name: .long, help: "Merge segments separated by gaps up to this many seconds.")
  var fillGap: Double = 1

  @Option(name: .long, help: "Pad segments by this many seconds (default: half the sample interval).")
  var padding: Double?

  @Option(name: .long, help: "Compute only these tags (comma-separated names); their scores equal a full run's.")
  var onlyTags: String?

  @Option(name: .long, help: "Frames per forward pass.")
  var batch: Int = 1

  @Option(name: .long, help: "OpenBLAS threads (default: the number of cores).")
  var threads: Int?

  @Option(name: .long, help: "Caption at most every DURATION (and at scene cuts). Default 5s.")
  var captionEvery: String = "5s"

  @Option(name: .long, help: "Caption guide: own (Tag2Text's own tags) or tags (the tagger's current smoothed tags).")
  var captionGuide: String = "own"

  @Flag(name: .long, help: "Resize video frames exactly as PIL does (slower) instead of with swscale.")
  var pilExact = false

  @Flag(name: .long, help: "Recompute frames identical to the previous sample instead of reusing its result.")
  var noReuseStatic = false

  @Option(
    name: [.short, .long], help: "Output base path (files BASE.jsonl, BASE.tags.vtt, ...), or - for JSONL on stdout.")
  var output: String?

  @Option(
    name: .long,
    help: "Output formats, comma-separated: jsonl, vtt, srt, videochat (default jsonl,vtt; with -o -, jsonl).")
  var format: String?

  @Flag(name: .long, help: "Leave the Chinese tag names out of the tag cues.")
  var noZh = false

  @Flag(name: [.short, .long], help: "Print only errors (no progress, no summary).")
  var quiet = false

  @Flag(name: [.short, .long], help: "Also print the source, the models and the outputs before the run.")
  var verbose = false

  /// How much the run prints on standard error.
  var verbosity: PipelineCLI.Verbosity { quiet ? .quiet : (verbose ? .verbose : .normal) }

  /// Parses `1s`, `500ms`, `2m`, `1.5` (seconds).
  static func seconds(_ text: String, option: String) throws -> Double {
    let s = text.trimmingCharacters(in: .whitespaces).lowercased()
    var value: Double?
    if s.hasSuffix("ms") {
      value = Double(s.dropLast(2)).map { $0 / 1000 }
    } else if s.hasSuffix("s") {
      value = Double(s.dropLast())
    } else if s.hasSuffix("m") {
      value = Double(s.dropLast()).map { $0 * 60 }
    } else if s.hasSuffix("h") {
      value = Double(s.dropLast()).map { $0 * 3600 }
    } else {
      value = Double(s)
    }
    guard let v = value, v > 0, v.isFinite else {
      throw ValidationError("\(option) \(text): expected a positive duration such as 1s, 500ms or 2m")
    }
    return v
  }

  func timelineSettings() throws -> TimelineSettings {
    let chosen = [every != nil, frames != nil, keyframes].filter { $0 }.count
    if chosen > 1 { throw ValidationError("use only one of --every, --frames and --keyframes") }
    var mode = SamplingMode.every(seconds: 1)
    if let every { mode = .every(seconds: try Self.seconds(every, option: "--every")) }
    if let frames {
      guard frames > 0 else { throw ValidationError("--frames must be at least 1") }
      mode = .uniform(count: frames)
    }
    if keyframes { mode = .keyframes }
    if let x = sceneThreshold, !(x >= 0) { throw ValidationError("--scene-threshold must be ≥ 0") }
    let method: SmoothingMethod
    switch smoothing {
    case "ema":
      guard emaAlpha > 0 && emaAlpha <= 1 else { throw ValidationError("--ema-alpha must be in (0, 1]") }
      method = .ema(alpha: emaAlpha)
    case "median":
      guard medianWindow >= 1 else { throw ValidationError("--median-window must be at least 1") }
      method = .median(window: medianWindow)
    case "none": method = .none
    default: throw ValidationError("--smoothing \(smoothing): expected ema, median or none")
    }
    guard minDuration >= 0, fillGap >= 0, (padding ?? 0) >= 0 else {
      throw ValidationError("--min-duration, --fill-gap and --padding must be ≥ 0")
    }
    return TimelineSettings(
      sampling: SamplingSettings(mode: mode, sceneThreshold: sceneThreshold),
      smoothing: SmoothingSettings(method: method, exitOffset: exitOffset),
      segments: SegmentSettings(minDuration: minDuration, fillGap: fillGap, padding: padding))
  }

  func configuration(input: String, defaultOutput: String) async throws -> TagRunConfiguration {
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    guard let guide = TagRunConfiguration.CaptionGuide(rawValue: captionGuide) else {
      throw ValidationError("--caption-guide \(captionGuide): expected own or tags")
    }
    if quiet && verbose { throw ValidationError("use only one of --quiet and --verbose") }
    let base = output ?? defaultOutput
    // `-o -` is JSON Lines on stdout: the default formats shrink to jsonl; others named explicitly need a base.
    let formatList = format ?? (base == "-" ? "jsonl" : "jsonl,vtt")
    let formats: [SinkFormat]
    do { formats = try SinkPlan.parseFormats(formatList) } catch { throw ValidationError("\(error)") }
    _ = try timelineSettings()  // usage errors first, before any fetch
    let modelURL = try await ModelResolver.resolve(model: model, yes: yes)
    var config = TagRunConfiguration(
      input: input, model: modelURL, captionModel: captionModel.map { URL(fileURLWithPath: $0) },
      timeline: try timelineSettings(), batch: batch,
      threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, formats: formats,
      outputBase: base, sinkOptions: SinkOptions(chineseTags: !noZh), captionEvery: try Self.seconds(captionEvery, option: "--caption-every"),
      captionGuide: guide, resize: pilExact ? .pilExact : .swscale)
    config.reuseStaticFrames = !noReuseStatic
    config.onlyTags = onlyTags.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    return config
  }
}

/// `vtag tag`: tag a video file or stream into a timeline and caption tracks.
struct TagCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tag",
    abstract: "Tag a video file, stream or URL: JSONL timeline, WebVTT tracks, SRT, VideoChat text.",
    discussion: """
      Writes BASE.jsonl (header, frame, segment and summary records; see docs/timeline.md),
      BASE.tags.vtt, BASE.meta.vtt, and with a caption model BASE.captions.vtt, BASE.srt; BASE.videochat.txt
      for video question answering. BASE defaults to the input's name without its extension;
      -o - streams JSONL to standard output. SIGINT/SIGTERM stop cleanly: every file stays valid (exit 130).
      """)

  @Argument(help: "A video file, - for standard input, or a URL (http, https, HLS, RTSP).")
  var input: String

  @OptionGroup var options: PipelineOptions

  func run() async throws {
    let base = URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
    let config = try await options.configuration(input: input, defaultOutput: input == "-" ? "-" : base)
    try await PipelineCLI.execute(config, display: .progressBar, verbosity: options.verbosity)
  }
}

/// Runs a `TagRun` from the command line: signals, progress display, summary, exit codes.
enum PipelineCLI {
  enum Display {
    case progressBar
    case live
  }

  /// How much a run prints on standard error.
  enum Verbosity {
    case quiet, normal, verbose
  }

  static func execute(_ config: TagRunConfiguration, display: Display, verbosity: Verbosity = .normal) async throws {
    let run = try TagRun(config)
    let stop = StopFlag()
    let signals = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler { stop.set(signal: sig) }
      source.resume()
      return source
    }
    defer { signals.forEach { $0.cancel() } }
    let terminal = isatty(STDERR_FILENO) != 0
    if verbosity == .verbose {
      Output.error("input \(config.input); model \(config.model.path)"
        + (config.captionModel.map { "; captions \($0.path)" } ?? "")
        + "; batch \(config.batch), \(config.threads) threads; writing \(run.outputs.joined(separator: ", "))")
    }
    let lines = ProgressLines()
    let report = try await run.run(shouldStop: { stop.isSet }) { p in
      guard verbosity != .quiet else { return }
      guard terminal else {
        // Not a terminal (a log, CI): one line every 10 % of a file of known duration.
        if display == .progressBar, let d = p.duration, d > 0, let step = lines.crossed(fraction: p.t / d) {
          Output.error(String(format: "%3d%%: %.1f s of %.1f s, %d frames", step, p.t, d, p.framesSampled))
        }
        return
      }
      switch display {
      case .progressBar:
        var line = String(format: "\r%7.1fs", p.t)
        if let d = p.duration, d > 0 {
          let frac = min(1, p.t / d)
          let width = 24
          let filled = Int(frac * Double(width))
          line += " [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
          line += String(format: " %3.0f%%", frac * 100)
          let rate = p.t / max(p.elapsed, 1e-9)
          if rate > 0 { line += String(format: " %.2f× real time, ETA %.0fs", rate, (d - p.t) / rate) }
        }
        line += " \(p.framesSampled) frames"
        FileHandle.standardError.write(Data((line + "   ").utf8))
      case .live:
        FileHandle.standardError.write(Data(LiveDisplay.render(p, columns: LiveDisplay.terminalColumns()).utf8))
      }
    }
    if terminal && verbosity != .quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    if !terminal, verbosity != .quiet, display == .progressBar, !report.interrupted, report.duration > 0,
      let step = lines.crossed(fraction: 1)
    {
      Output.error(
        String(format: "%3d%%: %.1f s of %.1f s, %d frames", step, report.duration, report.duration,
          report.counters.framesSampled))
    }
    let c = report.counters
    var summary =
      "vtag: \(report.interrupted ? "interrupted" : "done"): \(c.framesSampled) frames tagged in \(c.forwards) forward passes"
    if let d = c.framesDecoded, d > 0 { summary += ", \(d) decoded" }
    if c.framesDropped > 0 { summary += ", \(c.framesDropped) dropped" }
    if report.damagedFrames > 0 { summary += ", \(report.damagedFrames) damaged frames" }
    if report.reusedFrames > 0 { summary += ", \(report.reusedFrames) identical frames reused (forwards saved)" }
    summary += String(
      format: "; %.1f s wall, %.1f s in forward passes (%.1f%% overhead)", report.wallSeconds, report.forwardSeconds,
      report.forwardSeconds > 0 ? 100 * (report.wallSeconds - report.forwardSeconds) / report.forwardSeconds : 0)
    if report.outputs != ["-"] { summary += "\n  wrote " + report.outputs.joined(separator: ", ") }
    if verbosity != .quiet { FileHandle.standardError.write(Data((summary + "\n").utf8)) }
    // 128 + the signal, as shells report it: SIGINT 130, SIGTERM 143.
    if report.interrupted { throw ExitCode(128 + (stop.signal ?? SIGINT)) }
  }
}

/// Which 10 % steps a run has passed (for progress lines when standard error is not a terminal).
final class ProgressLines: @unchecked Sendable {
  private let lock = NSLock()
  private var printed = 0

  /// The highest newly crossed multiple of 10 (10…100), or nil when none was crossed.
  func crossed(fraction: Double) -> Int? {
    let step = Int(min(1, max(0, fraction)) * 10 + 1e-9) * 10
    return lock.withLock {
      guard step > printed else { return nil }
      printed = step
      return step
    }
  }
}

/// The `vtag live` status: two lines (time, latency, drops, tags; the latest caption) redrawn in
/// place, each cut to the terminal width with "…" so that nothing wraps into a scrolling log.
enum LiveDisplay {
  /// The width of the terminal on standard error (80 when unknown).
  static func terminalColumns() -> Int {
    var size = winsize()
    if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
    return 80
  }

  /// `text` cut to at most `columns` characters, ending with "…" when cut.
  static func fit(_ text: String, columns: Int) -> String {
    guard columns > 0 else { return "" }
    guard text.count > columns else { return text }
    return String(text.prefix(max(0, columns - 1))) + "…"
  }

  /// The status line: `   12.0s  +0.42s  3 dropped  tag | tag | …`.
  static func statusLine(_ p: TagRunProgress) -> String {
    var text = String(format: "%7.1fs", p.t)
    if let l = p.latency { text += String(format: "  +%.2fs", l) }
    if p.framesDropped > 0 { text += "  \(p.framesDropped) dropped" }
    text += "  " + (p.activeTags.isEmpty ? "(no tags)" : p.activeTags.joined(separator: " | "))
    return text
  }

  /// The escape sequence that redraws the status (and caption) lines, cursor left on the status line.
  static func render(_ p: TagRunProgress, columns: Int) -> String {
    var text = "\u{1B}[2K\r" + fit(statusLine(p), columns: columns)
    if let cap = p.caption { text += "\n\u{1B}[2K\r" + fit("  “\(cap)”", columns: columns) + "\u{1B}[1A\r" }
    return text
  }
}

/// Set from a signal handler, read by the run loop; remembers the first signal.
final class StopFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  private var first: Int32?
  func set(signal: Int32? = nil) {
    lock.withLock {
      value = true
      if first == nil { first = signal }
    }
  }
  var isSet: Bool { lock.withLock { value } }
  /// The first signal that stopped the run.
  var signal: Int32? { lock.withLock { first } }
}
