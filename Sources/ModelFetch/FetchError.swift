import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Why getting a model failed. Each message says what happened and what to do next.
public enum FetchError: Error, Equatable, CustomStringConvertible {
  /// The manifest file is unreadable or malformed.
  case badManifest(path: String, detail: String)
  /// `--base-url` / `$VTAG_MODEL_BASE_URL` is not usable.
  case badBaseURL(String)
  /// The manifest has no model of that name.
  case unknownModel(name: String, known: [String])
  /// A file could not be read.
  case cannotRead(path: String)
  /// A file could not be written.
  case cannotWrite(path: String, detail: String)
  /// The server answered with an error status that retrying will not fix (404, 403, ...).
  case httpStatus(url: String, status: Int, file: String)
  /// Transient failures (5xx, timeouts, resets) persisted through every retry.
  case gaveUp(url: String, attempts: Int, last: String, partial: String)
  /// The host cannot be reached at all (offline, refused, unknown host); `manual` says how to install by hand.
  case unreachable(url: String, reason: String, manual: String)
  /// A downloaded file has the wrong size or sha256; it was removed.
  case checksumMismatch(file: String, url: String, expected: String, found: String, removed: String)
  /// The server sent something inconsistent (e.g. a Content-Range for another offset or size).
  case protocolError(url: String, detail: String)
  /// Not enough free disk space.
  case noSpace(path: String, needed: Int64, available: Int64)
  /// The target exists and was not installed by `vtag models fetch`.
  case targetExists(path: String)

  public var description: String {
    switch self {
    case .badManifest(let path, let detail): return "model manifest \(path): \(detail)"
    case .badBaseURL(let base):
      return "base URL '\(base)' is neither an http://, https:// or file:// URL nor a folder path"
    case .unknownModel(let name, let known):
      return "no model called '\(name)' in the manifest; choose one of \(known.joined(separator: ", "))"
    case .cannotRead(let path): return "cannot read \(path)"
    case .cannotWrite(let path, let detail): return "cannot write \(path): \(detail)"
    case .httpStatus(let url, let status, let file):
      let hint =
        status == 404 || status == 410
        ? "the server does not have this file; check --base-url / VTAG_MODEL_BASE_URL or the manifest's URL"
        : status == 401 || status == 403
          ? "the server refused access; the file may need a login or be withdrawn"
          : "check the URL"
      return
        "downloading \(file): HTTP \(status) \(HTTPURLResponse.localizedString(forStatusCode: status)) from \(url): \(hint)"
    case .gaveUp(let url, let attempts, let last, let partial):
      return
        "downloading \(url) failed \(attempts) times (last: \(last)); what arrived is kept in \(partial): run the same command again to resume"
    case .unreachable(let url, let reason, let manual):
      return "cannot reach \(url) (\(reason)); is this machine offline?\n\(manual)"
    case .checksumMismatch(let file, let url, let expected, let found, let removed):
      return
        "\(file) from \(url) is corrupt: expected \(expected), got \(found). The bad download was removed (\(removed)); run the same command again to download it afresh, or check the mirror"
    case .protocolError(let url, let detail): return "bad answer from \(url): \(detail)"
    case .noSpace(let path, let needed, let available):
      return
        "not enough disk space in \(path): the download needs \(ByteFormat.string(needed)) more, \(ByteFormat.string(available)) is free; free some space or fetch into another folder with --dir (or VTAG_MODELS)"
    case .targetExists(let path):
      return
        "\(path) already exists and was not installed by `vtag models fetch`; pass --yes to replace it, or choose another folder with --dir"
    }
  }
}

/// Human-readable byte counts (decimal units, as download sizes are usually quoted).
public enum ByteFormat {
  /// `1.23 GB`, `45.6 MB`, `789 B`.
  public static func string(_ bytes: Int64) -> String {
    let b = Double(bytes)
    if b >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
    if b >= 1e6 { return String(format: "%.1f MB", b / 1e6) }
    if b >= 1e3 { return String(format: "%.1f kB", b / 1e3) }
    return "\(bytes) B"
  }

  /// `1h02m`, `3m05s`, `12s`.
  public static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "--" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
  }
}
