import Foundation
import RecognizeAnything

/// Which files make up each downloadable model bundle, where they are published, and their size
/// and sha256. The built-in one is `OfficialManifest.json` (= `configs/manifest.json`); `--manifest
/// PATH` or `$VTAG_MODEL_MANIFEST` replace it (for mirrors and tests).
public struct ModelManifest: Codable, Sendable, Equatable {
  /// One file of a bundle.
  public struct File: Codable, Sendable, Equatable {
    /// The name inside the bundle (`model.pth`, `tags.txt`, ...).
    public var name: String
    /// The official file name (`ram_plus_swin_large_14m.pth`, `ram_tag_list.txt`, ...): the name
    /// looked up under a base URL (`<base>/<source>`).
    public var source: String
    /// Where the file is published.
    public var url: String
    /// Exact size in bytes.
    public var bytes: Int64
    /// Lowercase hex sha256.
    public var sha256: String

    /// Creates a file entry.
    public init(name: String, source: String, url: String, bytes: Int64, sha256: String) {
      self.name = name
      self.source = source
      self.url = url
      self.bytes = bytes
      self.sha256 = sha256
    }
  }

  /// One downloadable bundle.
  public struct Model: Codable, Sendable, Equatable {
    /// Bundle name (`ram_plus`, `ram`, `tag2text`), also the folder name under the models directory.
    public var name: String
    /// A human-readable title.
    public var title: String?
    /// The `OfficialConfigs` preset written as `config.json` (unless `files` lists `config.json`).
    public var preset: String?
    /// The files to download, in download order.
    public var files: [File]

    /// Creates a model entry.
    public init(name: String, title: String?, preset: String?, files: [File]) {
      self.name = name
      self.title = title
      self.preset = preset
      self.files = files
    }

    /// Total bytes of all files.
    public var totalBytes: Int64 { files.reduce(0) { $0 + $1.bytes } }

    /// The `config.json` text to write, or nil when `config.json` is one of the downloaded files.
    public func configJSON() throws -> String? {
      if files.contains(where: { $0.name == "config.json" }) { return nil }
      guard let preset, let text = OfficialConfigs.json(preset) else {
        throw FetchError.badManifest(
          path: "model \(name)",
          detail:
            "needs a 'preset' (one of \(OfficialConfigs.names.joined(separator: ", "))) or a config.json file entry")
      }
      return text
    }
  }

  /// Format tag (`vtag-models/1`).
  public var format: String
  /// Free text.
  public var comment: String?
  /// The bundles, in display order.
  public var models: [Model]

  /// Creates a manifest.
  public init(format: String = "vtag-models/1", comment: String?, models: [Model]) {
    self.format = format
    self.comment = comment
    self.models = models
  }

  /// The model called `name`, or nil.
  public func model(_ name: String) -> Model? { models.first { $0.name == name } }

  /// The built-in manifest.
  public static let builtIn: ModelManifest = {
    // The built-in text is checked by tests; a failure here is a build defect.
    try! decode(Data(OfficialManifest.json.utf8), path: "built-in manifest")
  }()

  /// Reads and checks a manifest file.
  public static func load(path: String) throws -> ModelManifest {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw FetchError.badManifest(path: path, detail: "cannot read it (does the file exist?)")
    }
    return try decode(data, path: path)
  }

  /// Decodes and checks manifest JSON; `path` names it in errors.
  public static func decode(_ data: Data, path: String) throws -> ModelManifest {
    let m: ModelManifest
    do {
      m = try JSONDecoder().decode(ModelManifest.self, from: data)
    } catch {
      throw FetchError.badManifest(path: path, detail: "not a vtag model manifest (\(error))")
    }
    guard m.format.hasPrefix("vtag-models/") else {
      throw FetchError.badManifest(path: path, detail: "format is '\(m.format)', expected 'vtag-models/1'")
    }
    for model in m.models {
      if model.files.isEmpty { throw FetchError.badManifest(path: path, detail: "model \(model.name) lists no files") }
      var seen = Set<String>()
      for f in model.files {
        if !seen.insert(f.name).inserted {
          throw FetchError.badManifest(path: path, detail: "model \(model.name) lists \(f.name) twice")
        }
        if f.name.contains("/") || f.name.hasPrefix(".") || f.source.contains("/") {
          throw FetchError.badManifest(
            path: path, detail: "model \(model.name): file names must be plain names ('\(f.name)', '\(f.source)')")
        }
        if f.sha256.count != 64 || !f.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
          throw FetchError.badManifest(
            path: path, detail: "model \(model.name), \(f.name): sha256 must be 64 lowercase hex digits")
        }
        if f.bytes < 0 {
          throw FetchError.badManifest(path: path, detail: "model \(model.name), \(f.name): negative size")
        }
      }
      if !model.files.contains(where: { $0.name == "model.pth" || $0.name == "model.safetensors" }) {
        throw FetchError.badManifest(path: path, detail: "model \(model.name) has no model.pth or model.safetensors")
      }
      _ = try model.configJSON()
    }
    return m
  }

  /// The manifest to use: `path` if given, else `$VTAG_MODEL_MANIFEST`, else the built-in one.
  public static func resolve(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> ModelManifest
  {
    if let path { return try load(path: path) }
    if let env = environment["VTAG_MODEL_MANIFEST"], !env.isEmpty { return try load(path: env) }
    return builtIn
  }
}

/// Where each file is fetched from: its manifest URL, or `<base>/<source>` when a base is set.
public struct FileSource: Sendable, Equatable {
  /// A base URL (`http://`, `https://`, `file://`) or a local folder path replacing every URL; nil for the manifest's.
  public var base: String?

  /// Uses `base` if given, else `$VTAG_MODEL_BASE_URL`, else the manifest URLs.
  public init(base: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
    if let base, !base.isEmpty {
      self.base = base
    } else if let env = environment["VTAG_MODEL_BASE_URL"], !env.isEmpty {
      self.base = env
    } else {
      self.base = nil
    }
  }

  /// The location of `file`: an http(s) URL or a local file URL.
  public func location(of file: ModelManifest.File) throws -> URL {
    guard let base else {
      guard let url = URL(string: file.url), url.scheme != nil else {
        throw FetchError.badManifest(path: "manifest", detail: "\(file.name): '\(file.url)' is not a URL")
      }
      return url
    }
    if base.hasPrefix("http://") || base.hasPrefix("https://") {
      let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
      guard let url = URL(string: trimmed + "/" + file.source) else {
        throw FetchError.badBaseURL(base)
      }
      return url
    }
    if base.hasPrefix("file://") {
      guard let url = URL(string: base) else { throw FetchError.badBaseURL(base) }
      return url.appendingPathComponent(file.source)
    }
    if base.contains("://") { throw FetchError.badBaseURL(base) }
    return URL(fileURLWithPath: base).appendingPathComponent(file.source)
  }
}

/// The manual-install text, shared by the offline error and the README.
public enum ManualInstall {
  /// How to install `model` by hand into `directory` (a path as the user should read it).
  public static func text(model: ModelManifest.Model, directory: String) -> String {
    var lines: [String] = []
    lines.append("To install \(model.name) by hand, download these files into one folder:")
    for f in model.files where f.name != "config.json" {
      lines.append("  \(f.url)")
      lines.append("    (\(f.bytes) bytes, sha256 \(f.sha256))")
    }
    lines.append("then run `vtag models fetch \(model.name) --base-url FOLDER`, which checks their sizes and sha256")
    lines.append("and installs them in \(directory)/. Or install them yourself: make \(directory)/ and put in it")
    if let preset = model.preset, !model.files.contains(where: { $0.name == "config.json" }) {
      lines.append("  configs/\(preset).json (from the vtag repository) as config.json")
    }
    for f in model.files where f.name != "config.json" {
      lines.append("  \(f.source) as \(f.name)")
    }
    return lines.joined(separator: "\n")
  }
}
