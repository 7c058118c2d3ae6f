import Foundation
import RecognizeAnything

/// Installs a model bundle from the manifest: downloads every file (resuming), checks its size and
/// sha256, and only then moves the bundle into place.
///
/// Layout while fetching `DIR` (e.g. `~/.cache/vtag/models/ram_plus`): a staging folder
/// `.ram_plus.partial` beside it holds the marker `.incomplete` (which also lists the files
/// already verified), each finished file under its bundle name, and the file in progress as
/// `<name>.part`. When all files are verified, `config.json` and the `.complete` record are written,
/// the marker is removed and the staging folder is renamed to `DIR` in one step. So `DIR` is
/// either absent or complete; vtag never loads a half-written bundle.
///
/// Partial-file policy: an interrupted download (network error, Ctrl-C, crash) keeps its `.part`
/// file and the next run resumes it with an HTTP Range request. A finished file whose size or
/// sha256 is wrong is **removed**, since there is no telling which bytes are bad; the next run
/// downloads it afresh.
public struct ModelFetcher: Sendable {
  /// Settings of one fetch.
  public struct Options: Sendable {
    /// The manifest.
    public var manifest: ModelManifest
    /// Where files come from.
    public var source: FileSource
    /// Retry policy.
    public var retry: RetryPolicy
    /// Replace an existing bundle that was not installed by a fetch (or is broken).
    public var replaceExisting: Bool

    /// Creates options.
    public init(
      manifest: ModelManifest, source: FileSource, retry: RetryPolicy = RetryPolicy(), replaceExisting: Bool = false
    ) {
      self.manifest = manifest
      self.source = source
      self.retry = retry
      self.replaceExisting = replaceExisting
    }
  }

  /// What a fetch did.
  public struct Summary: Sendable {
    /// The installed bundle.
    public var directory: URL
    /// Bytes transferred in this run.
    public var downloadedBytes: Int64
    /// True when the bundle was already installed and verified (nothing was done).
    public var alreadyInstalled: Bool
  }

  /// Settings.
  public var options: Options
  /// Where notes and progress go.
  public var progress: FetchProgress

  /// A fetcher with `options`, reporting to `progress`.
  public init(options: Options, progress: FetchProgress) {
    self.options = options
    self.progress = progress
  }

  /// The staging folder used while fetching into `directory`.
  public static func stagingDirectory(for directory: URL) -> URL {
    let d = directory.standardizedFileURL
    return d.deletingLastPathComponent().appendingPathComponent(".\(d.lastPathComponent).partial")
  }

  /// The manifest entry for `name`, or an error listing the known names.
  public func model(_ name: String) throws -> ModelManifest.Model {
    guard let m = options.manifest.model(name) else {
      throw FetchError.unknownModel(name: name, known: options.manifest.models.map(\.name))
    }
    return m
  }

  /// Fetches model `name` into `directory` (see the type's documentation for the layout).
  public func fetch(model name: String, into directory: URL) async throws -> Summary {
    let model = try model(name)
    let fm = FileManager.default
    let target = directory.standardizedFileURL
    let staging = Self.stagingDirectory(for: target)

    // An installed, intact bundle: nothing to do.
    var isDir: ObjCBool = false
    if fm.fileExists(atPath: target.path, isDirectory: &isDir) {
      let contents = (try? fm.contentsOfDirectory(atPath: target.path)) ?? []
      if !isDir.boolValue {
        throw FetchError.cannotWrite(path: target.path, detail: "it is a file, not a folder")
      }
      let record = try? InstallRecord.read(directory: target)
      if contents.isEmpty {
        try? fm.removeItem(at: target)
      } else if let record, record.model == name, record.sizeProblem(directory: target) == nil,
        !fm.fileExists(atPath: target.appendingPathComponent(InstallRecord.incompleteMarker).path)
      {
        progress.note("\(name) is already installed and verified in \(target.path)")
        return Summary(directory: target, downloadedBytes: 0, alreadyInstalled: true)
      } else if let record, record.model == name {
        progress.note(
          "the \(name) bundle in \(target.path) is damaged (\(record.sizeProblem(directory: target) ?? "unfinished")); fetching it again"
        )
      } else if !options.replaceExisting {
        throw FetchError.targetExists(path: target.path)
      }
    }

    // Staging folder and its marker (which lists the files verified so far).
    do {
      try fm.createDirectory(at: staging, withIntermediateDirectories: true)
    } catch {
      throw FetchError.cannotWrite(path: staging.path, detail: "\(error.localizedDescription)")
    }
    var marker = StagingMarker.read(staging) ?? StagingMarker(model: name, verified: [:])
    if marker.model != name { marker = StagingMarker(model: name, verified: [:]) }
    try marker.write(staging)

    // Disk space for what is still missing.
    var missing: Int64 = 0
    for f in model.files where !isVerified(f, in: staging, marker: marker) {
      missing += f.bytes - Downloader.size(of: staging.appendingPathComponent(f.name + ".part"))
    }
    if let free = (try? fm.attributesOfFileSystem(forPath: staging.path)[.systemFreeSize] as? NSNumber)?.int64Value,
      free < missing
    {
      throw FetchError.noSpace(path: staging.path, needed: missing, available: free)
    }
    progress.note(
      "fetching \(model.title ?? name) into \(target.path): \(model.files.count) files, \(ByteFormat.string(model.totalBytes))"
        + (missing < model.totalBytes ? " (\(ByteFormat.string(missing)) still to download)" : ""))

    let manual = ManualInstall.text(model: model, directory: target.path)
    let downloader = Downloader(policy: options.retry, progress: progress, manualInstall: { manual })
    var transferred: Int64 = 0
    var record: [String: InstallRecord.File] = [:]
    for f in model.files {
      let final = staging.appendingPathComponent(f.name)
      let location = try options.source.location(of: f)
      if isVerified(f, in: staging, marker: marker) {
        record[f.name] = InstallRecord.File(bytes: f.bytes, sha256: f.sha256, source: location.absoluteString)
        continue
      }
      try? fm.removeItem(at: final)
      let part = staging.appendingPathComponent(f.name + ".part")
      let before = Downloader.size(of: part)
      try await downloader.download(from: location, to: part, expectedBytes: f.bytes, label: f.name)
      transferred += max(0, Downloader.size(of: part) - before)
      try verify(f, part: part, location: location)
      do {
        try fm.moveItem(at: part, to: final)
      } catch {
        throw FetchError.cannotWrite(path: final.path, detail: error.localizedDescription)
      }
      marker.verified[f.name] = f.sha256
      try marker.write(staging)
      record[f.name] = InstallRecord.File(bytes: f.bytes, sha256: f.sha256, source: location.absoluteString)
    }

    // config.json, the record, and the move into place.
    if let config = try model.configJSON() {
      let data = Data(config.utf8)
      do {
        try data.write(to: staging.appendingPathComponent("config.json"), options: .atomic)
      } catch {
        throw FetchError.cannotWrite(path: staging.appendingPathComponent("config.json").path, detail: "\(error)")
      }
      record["config.json"] = InstallRecord.File(
        bytes: Int64(data.count), sha256: SHA256.hex(data), source: "preset \(model.preset ?? "")")
    }
    do {
      // Check the result opens as a bundle before moving it into place.
      try fm.removeItem(at: staging.appendingPathComponent(InstallRecord.incompleteMarker))
      _ = try ModelBundle(directory: staging)
      try InstallRecord(model: name, installed: InstallRecord.now(), files: record).write(directory: staging)
    } catch {
      try? marker.write(staging)
      throw error
    }
    try install(staging: staging, target: target)
    progress.note("installed \(name) in \(target.path) (\(model.files.count) files verified by size and sha256)")
    return Summary(directory: target, downloadedBytes: transferred, alreadyInstalled: false)
  }

  private func isVerified(_ f: ModelManifest.File, in staging: URL, marker: StagingMarker) -> Bool {
    marker.verified[f.name] == f.sha256 && Downloader.size(of: staging.appendingPathComponent(f.name)) == f.bytes
  }

  /// Checks size and sha256 of a finished `.part`; removes it when wrong.
  private func verify(_ f: ModelManifest.File, part: URL, location: URL) throws {
    let size = Downloader.size(of: part)
    if size != f.bytes {
      try? FileManager.default.removeItem(at: part)
      throw FetchError.checksumMismatch(
        file: f.name, url: location.absoluteString, expected: "\(f.bytes) bytes", found: "\(size) bytes",
        removed: part.path)
    }
    if f.bytes > 200_000_000 { progress.note("checking the sha256 of \(f.name) (\(ByteFormat.string(f.bytes)))") }
    let digest = try SHA256.hash(fileAt: part.path)
    if digest != f.sha256 {
      try? FileManager.default.removeItem(at: part)
      throw FetchError.checksumMismatch(
        file: f.name, url: location.absoluteString, expected: "sha256 \(f.sha256)", found: "sha256 \(digest)",
        removed: part.path)
    }
  }

  /// Renames `staging` to `target`, replacing an existing `target` (moved aside first, then deleted).
  private func install(staging: URL, target: URL) throws {
    let fm = FileManager.default
    var old: URL?
    if fm.fileExists(atPath: target.path) {
      let aside = target.deletingLastPathComponent().appendingPathComponent(
        ".\(target.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
      try? fm.removeItem(at: aside)
      do {
        try fm.moveItem(at: target, to: aside)
      } catch {
        throw FetchError.cannotWrite(
          path: target.path, detail: "cannot move the old bundle aside: \(error.localizedDescription)")
      }
      old = aside
    }
    do {
      try fm.moveItem(at: staging, to: target)
    } catch {
      if let old { try? fm.moveItem(at: old, to: target) }
      throw FetchError.cannotWrite(
        path: target.path, detail: "cannot move \(staging.path) into place: \(error.localizedDescription)")
    }
    if let old { try? fm.removeItem(at: old) }
  }
}

/// The `.incomplete` marker of a staging folder: which model, and which files are verified.
struct StagingMarker: Codable {
  var model: String
  var verified: [String: String]

  static func read(_ staging: URL) -> StagingMarker? {
    guard
      let data = FileManager.default.contents(
        atPath: staging.appendingPathComponent(InstallRecord.incompleteMarker).path)
    else { return nil }
    return try? JSONDecoder().decode(StagingMarker.self, from: data)
  }

  func write(_ staging: URL) throws {
    let url = staging.appendingPathComponent(InstallRecord.incompleteMarker)
    do {
      try JSONEncoder().encode(self).write(to: url, options: .atomic)
    } catch {
      throw FetchError.cannotWrite(path: url.path, detail: error.localizedDescription)
    }
  }
}
