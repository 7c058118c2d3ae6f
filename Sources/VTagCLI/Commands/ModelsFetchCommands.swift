import ArgumentParser
import Foundation
import ModelFetch
import RecognizeAnything

extension ModelsCommand {
  /// `vtag models fetch`: download and verify an official bundle.
  struct Fetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Download an official model bundle, verify every file's size and sha256, and install it.",
      discussion: """
        Models: ram_plus (RAM++, 3.0 GB), ram (RAM, 5.6 GB), tag2text (Tag2Text, 4.5 GB). The bundle goes to
        $VTAG_MODELS/NAME or ~/.cache/vtag/models/NAME unless --dir is given. Files are downloaded into a
        hidden staging folder beside it (.NAME.partial) and the bundle appears only once every file is
        verified. An interrupted download resumes where it stopped (HTTP Range); a file that arrives
        corrupt is removed and downloaded again on the next run. Transient errors (HTTP 5xx, timeouts,
        dropped connections) are retried with exponential backoff.

        Mirrors: --base-url URL (or $VTAG_MODEL_BASE_URL) fetches every file as URL/<official file name>;
        it may also be a folder (or file:// URL) holding files downloaded by hand. --manifest PATH (or
        $VTAG_MODEL_MANIFEST) replaces the built-in list of files, sizes and hashes.
        """)

    @Argument(help: "The model: ram_plus, ram or tag2text.")
    var name: String = ModelResolver.defaultModel

    @Option(name: .long, help: "The bundle folder to create (default: $VTAG_MODELS/NAME or ~/.cache/vtag/models/NAME).")
    var dir: String?

    @Option(
      name: .long,
      help: "Fetch every file as URL/<official file name> (a mirror, or a folder of files downloaded by hand).")
    var baseURL: String?

    @Option(name: .long, help: "A model manifest JSON replacing the built-in one (configs/manifest.json).")
    var manifest: String?

    @Flag(name: .long, help: "Replace an existing folder at the target that was not installed by `vtag models fetch`.")
    var yes = false

    @Option(name: .long, help: "Retries after transient errors.")
    var retries: Int = 4

    func validate() throws {
      if retries < 0 { throw ValidationError("--retries must be 0 or more") }
    }

    func run() async throws {
      let manifest = try ModelManifest.resolve(path: manifest)
      guard manifest.model(name) != nil else {
        throw ValidationError(
          "unknown model '\(name)'; choose one of \(manifest.models.map(\.name).joined(separator: ", "))")
      }
      let directory = dir.map { URL(fileURLWithPath: $0) } ?? ModelBundle.modelsDirectory().appendingPathComponent(name)
      let fetcher = ModelFetcher(
        options: .init(
          manifest: manifest, source: FileSource(base: baseURL), retry: RetryPolicy(retries: retries),
          replaceExisting: yes),
        progress: FetchProgress())
      let summary = try await fetcher.fetch(model: name, into: directory)
      Output.line(summary.directory.path)
    }
  }

  /// `vtag models list`: the installed bundles.
  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the model bundles installed in the models folder.",
      discussion: """
        The models folder is $VTAG_MODELS or ~/.cache/vtag/models. "verified" means `vtag models fetch`
        checked every file's sha256 and the sizes still match; "not verified" bundles were installed by
        hand (`vtag models info DIR --hashes` prints their hashes); "incomplete" is an interrupted fetch
        (run `vtag models fetch NAME` again to resume it).
        """)

    @Option(name: .long, help: "The models folder (default: $VTAG_MODELS or ~/.cache/vtag/models).")
    var dir: String?

    @Flag(name: .long, help: "Print a JSON array with one object per bundle ([] when none).")
    var json = false

    func run() async throws {
      let root = dir.map { URL(fileURLWithPath: $0) } ?? ModelBundle.modelsDirectory()
      let fm = FileManager.default
      let names = ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
      var rows: [[(String, JSONValue)]] = []
      for entry in names {
        let url = root.appendingPathComponent(entry)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else { continue }
        let staging = entry.hasPrefix(".") && entry.hasSuffix(".partial")
        if entry.hasPrefix(".") && !staging { continue }
        let name = staging ? String(entry.dropFirst().dropLast(".partial".count)) : entry
        let architecture = (try? ModelConfig.load(path: url.appendingPathComponent("config.json").path))?.architecture
          .rawValue
        let state: String
        if staging {
          state = "incomplete (interrupted fetch; run `vtag models fetch \(name)` to resume)"
        } else if !fm.fileExists(atPath: url.appendingPathComponent("config.json").path) {
          continue
        } else {
          do {
            try ModelBundle.checkComplete(url)
            state = (try? InstallRecord.read(directory: url)) != nil ? "verified" : "not verified (installed by hand)"
          } catch {
            state = "damaged: \(error)"
          }
        }
        rows.append([
          ("name", .string(name)),
          ("architecture", architecture.map { .string($0) } ?? .null),
          ("bytes", .int(Int(Self.diskUsage(url)))),
          ("state", .string(state)),
          ("path", .string(url.path)),
        ])
      }
      if json {
        Output.line(JSONValue.array(rows.map { .object($0) }).serialized)
        return
      }
      if rows.isEmpty {
        Output.line("no models installed in \(root.path); run `vtag models fetch ram_plus`")
        return
      }
      for r in rows {
        let d = Dictionary(r, uniquingKeysWith: { (a: JSONValue, _: JSONValue) in a })
        func s(_ k: String) -> String {
          switch d[k] {
          case .string(let v): v
          case .int(let v): ByteFormat.string(Int64(v))
          default: "-"
          }
        }
        Output.line(
          s("name").padding(toLength: 12, withPad: " ", startingAt: 0) + " "
            + s("architecture").padding(toLength: 9, withPad: " ", startingAt: 0) + " "
            + s("bytes").padding(toLength: 10, withPad: " ", startingAt: 0) + " " + s("state"))
      }
    }

    /// Bytes of the regular files in a folder (not recursive: bundles are flat).
    static func diskUsage(_ url: URL) -> Int64 {
      let fm = FileManager.default
      return ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).reduce(0) {
        $0
          + (((try? fm.attributesOfItem(atPath: url.appendingPathComponent($1).path)[.size]) as? NSNumber)?.int64Value
            ?? 0)
      }
    }
  }
}
