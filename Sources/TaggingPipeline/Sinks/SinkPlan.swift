import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An output format name as given to `--format` (comma-separated).
public enum SinkFormat: String, Sendable, CaseIterable {
  /// `BASE.jsonl` (or stdout with `-o -`).
  case jsonl
  /// `BASE.tags.vtt`, `BASE.meta.vtt`, and `BASE.captions.vtt` when captions are on.
  case vtt
  /// `BASE.srt` of the captions (needs captions).
  case srt
  /// `BASE.videochat.txt`.
  case videochat
}

/// One file a run writes.
public enum SinkKind: String, Sendable, CaseIterable {
  case jsonl, tagsVTT, captionsVTT, metaVTT, srt, videochat

  /// The file name suffix added to the output base.
  public var suffix: String {
    switch self {
    case .jsonl: return ".jsonl"
    case .tagsVTT: return ".tags.vtt"
    case .captionsVTT: return ".captions.vtt"
    case .metaVTT: return ".meta.vtt"
    case .srt: return ".srt"
    case .videochat: return ".videochat.txt"
    }
  }
}

/// Options of the sinks themselves.
public struct SinkOptions: Sendable, Equatable {
  /// Longest caption cue (seconds). Default 10.
  public var maxCaptionDuration: Double
  /// Add a line of Chinese tag names to tag cues when the model has them. Default true.
  public var chineseTags: Bool

  public init(maxCaptionDuration: Double = 10, chineseTags: Bool = true) {
    self.maxCaptionDuration = maxCaptionDuration
    self.chineseTags = chineseTags
  }
}

/// The checked list of outputs of a run: made from `--format` and `-o` before any work (unknown
/// format names, caption formats without a caption model, a missing or read-only directory are errors
/// here), opened once the run starts.
public struct SinkPlan: Sendable, Equatable {
  public struct Output: Sendable, Equatable {
    public var kind: SinkKind
    /// File path, or `-` for stdout.
    public var path: String
  }

  public var outputs: [Output]

  /// Parses a comma-separated format list (`jsonl,vtt,srt,videochat`; spaces and case ignored,
  /// duplicates removed).
  public static func parseFormats(_ list: String) throws -> [SinkFormat] {
    var formats: [SinkFormat] = []
    for item in list.split(separator: ",", omittingEmptySubsequences: false) {
      let name = item.trimmingCharacters(in: .whitespaces).lowercased()
      if name.isEmpty { continue }
      guard let f = SinkFormat(rawValue: name) else {
        throw SinkError.unknownFormat(name: name, known: SinkFormat.allCases.map(\.rawValue))
      }
      if !formats.contains(f) { formats.append(f) }
    }
    guard !formats.isEmpty else { throw SinkError.emptyFormatList }
    return formats
  }

  /// Plans the outputs for `formats` (a `--format` list) and output base `base` (`-o`; `-` = JSON Lines on
  /// stdout). `captions`: whether a captioning model runs. Checks that the directory exists and is
  /// writable and that no target is a directory or a read-only file. Creates nothing.
  /// `checkDirectory: false` skips the file-system checks (for naming only).
  public init(formats: String, base: String, captions: Bool, checkDirectory: Bool = true) throws {
    try self.init(formats: Self.parseFormats(formats), base: base, captions: captions, checkDirectory: checkDirectory)
  }

  public init(formats: [SinkFormat], base: String, captions: Bool, checkDirectory: Bool = true) throws {
    guard !formats.isEmpty else { throw SinkError.emptyFormatList }
    let base = Self.stem(base)
    if base == "-" {
      let others = formats.filter { $0 != .jsonl }
      guard others.isEmpty else { throw SinkError.stdoutNeedsJSONL(formats: others.map(\.rawValue)) }
      outputs = [Output(kind: .jsonl, path: "-")]
      return
    }
    if !captions, let f = formats.first(where: { $0 == .srt }) { throw SinkError.needsCaptions(format: f.rawValue) }
    var kinds: [SinkKind] = []
    for f in formats {
      switch f {
      case .jsonl: kinds.append(.jsonl)
      case .vtt: kinds += captions ? [.tagsVTT, .captionsVTT, .metaVTT] : [.tagsVTT, .metaVTT]
      case .srt: kinds.append(.srt)
      case .videochat: kinds.append(.videochat)
      }
    }
    guard checkDirectory else {
      outputs = kinds.map { Output(kind: $0, path: base + $0.suffix) }
      return
    }
    var isDir: ObjCBool = false
    if base.hasSuffix("/") || (FileManager.default.fileExists(atPath: base, isDirectory: &isDir) && isDir.boolValue) {
      throw SinkError.baseIsDirectory(path: base)
    }
    let url = URL(fileURLWithPath: base)
    let directory = base.contains("/") ? url.deletingLastPathComponent().path : "."
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
      throw SinkError.directoryMissing(path: directory)
    }
    guard access(directory, W_OK | X_OK) == 0 else { throw SinkError.directoryNotWritable(path: directory) }
    outputs = try kinds.map { kind in
      let path = base + kind.suffix
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
        guard !isDir.boolValue else { throw SinkError.notAFile(path: path) }
        guard access(path, W_OK) == 0 else { throw SinkError.fileNotWritable(path: path) }
      }
      return Output(kind: kind, path: path)
    }
  }

  /// The output base of `path`: a path ending in one of the outputs' suffixes (`x.jsonl`, `x.tags.vtt`,
  /// `x.srt`, …) names its base (`x`), so that `-o x.jsonl` writes `x.jsonl`, not `x.jsonl.jsonl`.
  public static func stem(_ path: String) -> String {
    guard path != "-" else { return path }
    for kind in SinkKind.allCases where path.hasSuffix(kind.suffix) && path.count > kind.suffix.count {
      let stem = String(path.dropLast(kind.suffix.count))
      if !stem.hasSuffix("/") { return stem }
    }
    return path
  }

  /// A sink for one kind writing to `output`.
  public static func makeSink(kind: SinkKind, output: any TextOutput, options: SinkOptions = SinkOptions()) throws
    -> any TimelineSink
  {
    switch kind {
    case .jsonl: return try FormattedSink(formatter: JSONLinesFormatter(), output: output)
    case .tagsVTT:
      return try FormattedSink(formatter: WebVTTTagsFormatter(chinese: options.chineseTags), output: output)
    case .captionsVTT:
      return try FormattedSink(
        formatter: WebVTTCaptionsFormatter(maxDuration: options.maxCaptionDuration), output: output)
    case .metaVTT: return try FormattedSink(formatter: WebVTTMetadataFormatter(), output: output)
    case .srt:
      return try FormattedSink(formatter: SRTCaptionsFormatter(maxDuration: options.maxCaptionDuration), output: output)
    case .videochat: return try FormattedSink(formatter: VideoChatFormatter(), output: output)
    }
  }

  /// Creates the files (truncating old ones) and returns one sink per output, in plan order. On
  /// failure, the files opened so far are closed.
  public func open(options: SinkOptions = SinkOptions()) throws -> [any TimelineSink] {
    var sinks: [any TimelineSink] = []
    do {
      for o in outputs {
        let output: any TextOutput =
          o.kind == .videochat ? AtomicFileOutput(path: o.path) : try FileOutput(path: o.path)
        sinks.append(try Self.makeSink(kind: o.kind, output: output, options: options))
      }
    } catch {
      for s in sinks { try? s.finish() }
      throw error
    }
    return sinks
  }
}
