import ArgumentParser
import Foundation
import MediaIO
import RecognizeAnything
import TaggingPipeline
import Yams

/// A problem in a pipeline file, naming the file, the key and the line.
struct PipelineFileError: Error, CustomStringConvertible {
  var path: String
  var line: Int?
  var key: String
  var problem: String

  var description: String {
    "\(path)\(line.map { ":\($0)" } ?? ""): \(key.isEmpty ? "" : "'\(key)': ")\(problem)"
  }
}

/// A declarative pipeline file (YAML): source, sampling, models, smoothing, segments, outputs.
/// Every key is checked: an unknown key or a wrong type is an error naming the key and its line.
struct PipelineFile {
  static let sections: [String: Set<String>] = [
    "": [
      "source", "live", "models", "sampling", "smoothing", "segments", "batch", "threads", "captions", "output",
      "resize",
    ],
    "models": ["tagger", "captioner"],
    "sampling": ["every", "frames", "keyframes", "scene_threshold"],
    "smoothing": ["method", "alpha", "window", "exit_offset", "reset_at_scene_cuts"],
    "segments": ["min_duration", "fill_gap", "padding"],
    "captions": ["every", "guide"],
    "output": ["base", "formats"],
  ]

  let path: String
  var root: [String: (Node, Int?)] = [:]  // flattened "section.key" → value node, line

  /// Parses the file and applies `--set key=value` overrides (dotted keys, YAML values).
  init(path: String, overrides: [String]) throws {
    self.path = path
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw PipelineFileError(path: path, line: nil, key: "", problem: "cannot read the pipeline file")
    }
    let node: Node?
    do {
      node = try Yams.compose(yaml: text)
    } catch let e as YamlError {
      throw PipelineFileError(path: path, line: Self.line(of: e), key: "", problem: "not valid YAML: \(e)")
    }
    guard let top = node?.mapping else {
      throw PipelineFileError(
        path: path, line: node.map { $0.mark.map { $0.line } } ?? nil, key: "",
        problem: "expected a mapping of settings at the top level")
    }
    try flatten(top, section: "")
    for o in overrides {
      guard let eq = o.firstIndex(of: "=") else {
        throw PipelineFileError(path: "--set", line: nil, key: o, problem: "expected key=value")
      }
      let key = String(o[..<eq])
      let valueText = String(o[o.index(after: eq)...])
      let parts = key.split(separator: ".").map(String.init)
      let section = parts.count > 1 ? parts[0] : ""
      let name = parts.last ?? ""
      guard parts.count <= 2, let allowed = Self.sections[section], allowed.contains(name) else {
        throw PipelineFileError(path: "--set", line: nil, key: key, problem: "unknown setting")
      }
      let value = (try? Yams.compose(yaml: valueText)) ?? nil
      root[key] = (value ?? Node(valueText), nil)
    }
  }

  static func line(of error: YamlError) -> Int? {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
    default: return nil
    }
  }

  private mutating func flatten(_ mapping: Node.Mapping, section: String) throws {
    for (k, v) in mapping {
      guard let name = k.string else {
        throw PipelineFileError(path: path, line: k.mark?.line, key: "\(k)", problem: "keys must be strings")
      }
      let full = section.isEmpty ? name : "\(section).\(name)"
      guard Self.sections[section]?.contains(name) == true else {
        let known = Self.sections[section]!.sorted().joined(separator: ", ")
        throw PipelineFileError(path: path, line: k.mark?.line, key: full, problem: "unknown key (known: \(known))")
      }
      if section.isEmpty, Self.sections[name] != nil {
        guard let sub = v.mapping else {
          throw PipelineFileError(path: path, line: v.mark?.line, key: full, problem: "expected a mapping")
        }
        try flatten(sub, section: name)
      } else {
        root[full] = (v, v.mark?.line)
      }
    }
  }

  func string(_ key: String) throws -> String? {
    guard let (node, line) = root[key] else { return nil }
    guard let s = node.scalar?.string else {
      throw PipelineFileError(path: path, line: line, key: key, problem: "expected a string")
    }
    return s
  }

  func double(_ key: String) throws -> Double? {
    guard let (node, line) = root[key] else { return nil }
    guard let s = node.scalar?.string, let v = Double(s) else {
      throw PipelineFileError(path: path, line: line, key: key, problem: "expected a number")
    }
    return v
  }

  func int(_ key: String) throws -> Int? {
    guard let (node, line) = root[key] else { return nil }
    guard let s = node.scalar?.string, let v = Int(s) else {
      throw PipelineFileError(path: path, line: line, key: key, problem: "expected an integer")
    }
    return v
  }

  func bool(_ key: String) throws -> Bool? {
    guard let (node, line) = root[key] else { return nil }
    guard let s = node.scalar?.string, let v = ["true": true, "yes": true, "false": false, "no": false][s.lowercased()]
    else {
      throw PipelineFileError(path: path, line: line, key: key, problem: "expected true or false")
    }
    return v
  }

  func seconds(_ key: String) throws -> Double? {
    guard let text = try string(key) else { return nil }
    do { return try PipelineOptions.seconds(text, option: key) } catch {
      throw PipelineFileError(
        path: path, line: root[key]?.1, key: key, problem: "expected a duration such as 1s, 500ms or 2m")
    }
  }

  func list(_ key: String) throws -> [String]? {
    guard let (node, line) = root[key] else { return nil }
    if let s = node.scalar?.string { return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    guard let seq = node.sequence else {
      throw PipelineFileError(path: path, line: line, key: key, problem: "expected a list")
    }
    return try seq.map {
      guard let s = $0.scalar?.string else {
        throw PipelineFileError(
          path: path, line: $0.mark?.line ?? line, key: key, problem: "expected a list of strings")
      }
      return s
    }
  }

  /// Relative paths in a pipeline file are relative to the current directory; `~` is expanded.
  static func expand(_ p: String) -> String { (p as NSString).expandingTildeInPath }

  /// The run configuration this file describes.
  func configuration() throws -> TagRunConfiguration {
    func bad(_ key: String, _ problem: String) -> PipelineFileError {
      PipelineFileError(path: path, line: root[key]?.1, key: key, problem: problem)
    }
    guard let source = try string("source") else { throw bad("source", "missing: the input file, URL or /dev/videoN") }
    // Sampling.
    var mode = SamplingMode.every(seconds: 1)
    let chosen = ["sampling.every", "sampling.frames", "sampling.keyframes"].filter { root[$0] != nil }
    if chosen.count > 1 { throw bad(chosen[1], "use only one of every, frames and keyframes") }
    if let s = try seconds("sampling.every") { mode = .every(seconds: s) }
    if let n = try int("sampling.frames") {
      guard n > 0 else { throw bad("sampling.frames", "must be at least 1") }
      mode = .uniform(count: n)
    }
    if try bool("sampling.keyframes") == true { mode = .keyframes }
    let scene = try double("sampling.scene_threshold")
    if let scene, !(scene >= 0) { throw bad("sampling.scene_threshold", "must be ≥ 0") }
    // Smoothing.
    let method: SmoothingMethod
    switch try string("smoothing.method") ?? "ema" {
    case "ema":
      let a = try double("smoothing.alpha") ?? Double(SmoothingSettings.defaultAlpha)
      guard a > 0 && a <= 1 else { throw bad("smoothing.alpha", "must be in (0, 1]") }
      method = .ema(alpha: Float(a))
    case "median":
      let w = try int("smoothing.window") ?? SmoothingSettings.defaultWindow
      guard w >= 1 else { throw bad("smoothing.window", "must be at least 1") }
      method = .median(window: w)
    case "none": method = .none
    case let other: throw bad("smoothing.method", "'\(other)': expected ema, median or none")
    }
    let smoothing = SmoothingSettings(
      method: method, exitOffset: Float(try double("smoothing.exit_offset") ?? 0.1),
      resetAtSceneCuts: try bool("smoothing.reset_at_scene_cuts") ?? true)
    let segments = SegmentSettings(
      minDuration: try double("segments.min_duration") ?? 1.5, fillGap: try double("segments.fill_gap") ?? 1,
      padding: try double("segments.padding"))
    let batch = try int("batch") ?? 1
    guard batch >= 1 else { throw bad("batch", "must be at least 1") }
    let threads = try int("threads") ?? ProcessInfo.processInfo.activeProcessorCount
    guard threads >= 1 else { throw bad("threads", "must be at least 1") }
    let live = try bool("live")
    let captionEvery = try seconds("captions.every") ?? 5
    // Outputs.
    let formatNames = try list("output.formats") ?? ["jsonl", "vtt"]
    let formats: [SinkFormat]
    do { formats = try SinkPlan.parseFormats(formatNames.joined(separator: ",")) } catch {
      throw bad("output.formats", "\(error)")
    }
    let base = try string("output.base") ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
    let guideName = try string("captions.guide") ?? "own"
    guard let guide = TagRunConfiguration.CaptionGuide(rawValue: guideName) else {
      throw bad("captions.guide", "'\(guideName)': expected own or tags")
    }
    let resizeName = try string("resize") ?? "swscale"
    guard let resize = FramePreprocessing.Resize(rawValue: resizeName) else {
      throw bad("resize", "'\(resizeName)': expected swscale or pilExact")
    }
    // Models (last: the default needs an installed bundle).
    let tagger =
      try string("models.tagger").map { URL(fileURLWithPath: Self.expand($0)) }
      ?? ModelBundle.defaultBundleDirectory()
    let captioner = try string("models.captioner").map { URL(fileURLWithPath: Self.expand($0)) }
    return TagRunConfiguration(
      input: Self.expand(source), model: tagger, captionModel: captioner,
      timeline: TimelineSettings(
        sampling: SamplingSettings(mode: mode, sceneThreshold: scene), smoothing: smoothing, segments: segments),
      batch: batch, threads: threads, formats: formats, outputBase: Self.expand(base),
      captionEvery: captionEvery, captionGuide: guide, resize: resize, live: live)
  }
}

/// `vtag run`: run a declarative pipeline file.
struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a declarative pipeline file (YAML): source, sampling, models, smoothing, outputs.",
    discussion: """
      Keys: source, live, resize, batch, threads; models{tagger, captioner}; sampling{every, frames, keyframes,
      scene_threshold}; smoothing{method, alpha, window, exit_offset, reset_at_scene_cuts}; segments{min_duration,
      fill_gap, padding}; captions{every, guide}; output{base, formats}. See pipelines/ for ready ones.
      --set overrides any key, e.g. --set source=movie.mp4 --set sampling.every=2s.
      """)

  @Argument(help: "The pipeline file.")
  var pipeline: String

  @Option(name: .customLong("set"), help: "Override a key: key=value (dotted keys, e.g. sampling.every=2s).")
  var overrides: [String] = []

  func run() async throws {
    let file = try PipelineFile(path: pipeline, overrides: overrides)
    let config = try file.configuration()
    try await PipelineCLI.execute(config, display: config.isCamera || config.live == true ? .live : .progressBar)
  }
}

/// `vtag live`: tag a camera or a live stream, showing the current tags in the terminal.
struct LiveCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "live",
    abstract: "Tag a camera (/dev/videoN) or a live stream, showing the current tags in place.",
    discussion: """
      Live sources never wait for the model: when tagging falls behind, the oldest frames are dropped and
      counted. The same outputs as `vtag tag` are written (default base: live). Stop with Ctrl-C.
      """)

  @Argument(help: "A camera device (/dev/video0) or a live stream URL.")
  var input: String

  @Option(name: .long, help: "Camera capture width.")
  var width: Int = 640

  @Option(name: .long, help: "Camera capture height.")
  var height: Int = 480

  @OptionGroup var options: PipelineOptions

  func run() async throws {
    var config = try await options.configuration(input: input, defaultOutput: "live")
    config.live = true
    config.cameraWidth = width
    config.cameraHeight = height
    try await PipelineCLI.execute(config, display: .live, verbosity: options.verbosity)
  }
}
