import Checkpoints
import Foundation

/// A model directory: `config.json`, `model.safetensors` or `model.pth`, `tags.txt`, and optionally
/// `tags_zh.txt`, `thresholds.txt` and (Tag2Text) `vocab.txt`.
public struct ModelBundle: Sendable {
  public let directory: URL
  public let config: ModelConfig
  /// The checkpoint file used (`model.safetensors` preferred over `model.pth`).
  public let weightsPath: String
  /// English tag names by class index.
  public let tags: [String]
  /// Chinese tag names by class index (trailing spaces kept), if the bundle has them.
  public let tagsChinese: [String]?
  /// Per-class thresholds (`prob > threshold` turns a class on).
  public let thresholds: [Float]
  /// Path of `vocab.txt` if present (Tag2Text).
  public let vocabPath: String?

  /// Opens and validates a bundle directory (the weights themselves are opened by the model).
  public init(directory: URL) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
      throw BundleError.notADirectory(path: directory.path)
    }
    try Self.checkComplete(directory)
    self.directory = directory
    let config = try ModelConfig.load(path: directory.appendingPathComponent("config.json").path)
    self.config = config
    let files = config.files ?? [:]
    func file(_ role: String, _ fallback: String) -> URL { directory.appendingPathComponent(files[role] ?? fallback) }

    let safetensors = directory.appendingPathComponent("model.safetensors").path
    let pth = directory.appendingPathComponent("model.pth").path
    if FileManager.default.fileExists(atPath: safetensors) {
      weightsPath = safetensors
    } else if FileManager.default.fileExists(atPath: pth) {
      weightsPath = pth
    } else {
      throw BundleError.noWeights(directory: directory.path)
    }

    let tagsURL = file("tags", "tags.txt")
    tags = try Self.readLines(tagsURL, what: "the tag list (tags.txt)")
    if tags.count != config.numClasses {
      throw BundleError.badTagList(
        path: tagsURL.path, detail: "has \(tags.count) lines, but config.json says num_classes = \(config.numClasses)")
    }
    let zhURL = file("tags_zh", "tags_zh.txt")
    if FileManager.default.fileExists(atPath: zhURL.path) {
      let zh = try Self.readLines(zhURL, what: "the Chinese tag list")
      if zh.count != config.numClasses {
        throw BundleError.badTagList(
          path: zhURL.path, detail: "has \(zh.count) lines, but config.json says num_classes = \(config.numClasses)")
      }
      tagsChinese = zh
    } else {
      tagsChinese = nil
    }

    var thresholds = [Float](repeating: Float(config.threshold.default), count: config.numClasses)
    if let name = config.threshold.perClassFile {
      let url = directory.appendingPathComponent(name)
      let lines = try Self.readLines(url, what: "the per-class threshold file")
      if lines.count != config.numClasses {
        throw BundleError.badThresholds(
          path: url.path, line: lines.count,
          detail: "has \(lines.count) lines, but config.json says num_classes = \(config.numClasses)")
      }
      for (i, line) in lines.enumerated() {
        guard let v = Double(line.trimmingCharacters(in: .whitespaces)) else {
          throw BundleError.badThresholds(path: url.path, line: i + 1, detail: "'\(line)' is not a number")
        }
        thresholds[i] = Float(v)
      }
    }
    for (key, value) in config.threshold.overrides ?? [:] {
      guard let i = Int(key), i >= 0, i < config.numClasses else {
        throw BundleError.invalidConfig(
          path: directory.appendingPathComponent("config.json").path,
          detail: "threshold.overrides key '\(key)' is not a class index below \(config.numClasses)")
      }
      thresholds[i] = Float(value)
    }
    self.thresholds = thresholds

    let vocab = file("vocab", "vocab.txt")
    vocabPath = FileManager.default.fileExists(atPath: vocab.path) ? vocab.path : nil
  }

  /// Throws `BundleError.incomplete` for a folder an unfinished `vtag models fetch` left behind (it
  /// holds `.incomplete`), or whose `.complete` record lists a file that is missing or has changed
  /// size. A folder without a record (installed by hand) passes.
  public static func checkComplete(_ directory: URL) throws {
    if FileManager.default.fileExists(atPath: directory.appendingPathComponent(InstallRecord.incompleteMarker).path) {
      throw BundleError.incomplete(path: directory.path, detail: "a `vtag models fetch` into it has not finished")
    }
    if let record = try InstallRecord.read(directory: directory), let problem = record.sizeProblem(directory: directory)
    {
      throw BundleError.incomplete(path: directory.path, detail: problem)
    }
  }

  /// Lines of a UTF-8 text file split as Python's `str.splitlines()` does (a final newline adds no
  /// empty entry); trailing spaces are kept.
  public static func readLines(_ url: URL, what: String) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw BundleError.missingFile(path: url.path, what: what)
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw BundleError.badTagList(path: url.path, detail: "is not UTF-8 text")
    }
    return splitLines(text)
  }

  /// Python `str.splitlines()`: splits on \n, \r\n, \r and the other Unicode line boundaries.
  public static func splitLines(_ text: String) -> [String] {
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    var iterator = text.unicodeScalars.makeIterator()
    var pendingCR = false
    while let u = iterator.next() {
      if pendingCR {
        pendingCR = false
        if u == "\n" { continue }
      }
      switch u.value {
      case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
        lines.append(String(current))
        current = String.UnicodeScalarView()
      case 0x0D:
        lines.append(String(current))
        current = String.UnicodeScalarView()
        pendingCR = true
      default:
        current.append(u)
      }
    }
    if !current.isEmpty { lines.append(String(current)) }
    return lines
  }

  /// The installed-models directory: `$VTAG_MODELS`, else `~/.cache/vtag/models`.
  public static func modelsDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
    if let dir = environment["VTAG_MODELS"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
    let home = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
    return home.appendingPathComponent(".cache/vtag/models")
  }

  /// The default bundle (`ram_plus` in the models directory), or a clear error when none is installed.
  public static func defaultBundleDirectory(
    name: String = "ram_plus", environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> URL {
    let dir = modelsDirectory(environment: environment).appendingPathComponent(name)
    guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) else {
      throw BundleError.noModelInstalled(searched: dir.path)
    }
    return dir
  }
}
