import Foundation
import ModelFetch
import RecognizeAnything

/// Finds the model bundle a command should use, fetching the default one when allowed.
public enum ModelResolver {
  /// The bundle name used when no `--model` is given.
  public static let defaultModel = "ram_plus"

  /// The bundle directory for `model` (a path given with `--model`), or, when nil, the installed
  /// `ram_plus` bundle (`$VTAG_MODELS/ram_plus` or `~/.cache/vtag/models/ram_plus`).
  ///
  /// When that bundle is missing it is fetched (`vtag models fetch ram_plus`, honouring
  /// `$VTAG_MODEL_BASE_URL` and `$VTAG_MODEL_MANIFEST`) if `yes` is true, or, when standard input is
  /// not a terminal, if `$VTAG_AUTO_FETCH` is `1`; on a terminal the user is asked. Otherwise the
  /// error says how to get it.
  public static func resolve(
    model: String?, yes: Bool, environment: [String: String] = ProcessInfo.processInfo.environment
  ) async throws -> URL {
    if let model { return URL(fileURLWithPath: model) }
    let directory = ModelBundle.modelsDirectory(environment: environment).appendingPathComponent(defaultModel)
    let hasConfig = FileManager.default.fileExists(atPath: directory.appendingPathComponent("config.json").path)
    if hasConfig && (try? ModelBundle.checkComplete(directory)) != nil { return directory }

    let onTerminal = isatty(0) == 1 && isatty(2) == 1
    var fetch = yes || (!onTerminal && environment["VTAG_AUTO_FETCH"] == "1")
    let manifest = try ModelManifest.resolve(path: nil, environment: environment)
    guard let entry = manifest.model(defaultModel) else {
      throw FetchError.unknownModel(name: defaultModel, known: manifest.models.map(\.name))
    }
    if !fetch && onTerminal {
      FileHandle.standardError.write(
        Data(
          "vtag: no model given and \(entry.title ?? defaultModel) is not installed in \(directory.path).\nDownload it now (\(ByteFormat.string(entry.totalBytes)))? [y/N] "
            .utf8))
      let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
      fetch = answer == "y" || answer == "yes"
    }
    guard fetch else {
      // A broken bundle: loading it gives the precise error.
      if hasConfig { return directory }
      throw BundleError.noModelInstalled(searched: directory.path)
    }
    let fetcher = ModelFetcher(
      options: .init(manifest: manifest, source: FileSource(base: nil, environment: environment)),
      progress: FetchProgress())
    return try await fetcher.fetch(model: defaultModel, into: directory).directory
  }
}
