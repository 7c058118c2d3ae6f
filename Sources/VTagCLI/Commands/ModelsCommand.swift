import ArgumentParser
import Checkpoints
import Foundation
import ModelFetch
import RecognizeAnything

/// `vtag models`: make, convert and inspect model bundles.
struct ModelsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "models",
    abstract: "Fetch, list, make, convert and inspect model bundles.",
    subcommands: [Fetch.self, List.self, Synth.self, Convert.self, Info.self])

  /// `vtag models synth`: a full-size bundle with random weights.
  struct Synth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a bundle with deterministic random weights (for speed and memory measurements).",
      discussion: """
        Presets are named after the official checkpoints: \(OfficialConfigs.names.joined(separator: ", ")).
        The bundle holds config.json, the weights in the official state_dict layout, and tag files
        (copied from --data, e.g. ../shared/ram-data, or synthetic names).
        """)

    @Option(name: .long, help: "A config.json to synthesize.")
    var config: String?

    @Option(name: .long, help: "An official preset name.")
    var preset: String?

    @Option(name: .shortAndLong, help: "Output bundle directory.")
    var output: String

    @Option(name: .long, help: "Weights file format: safetensors or pth.")
    var format: String = "safetensors"

    @Flag(
      name: .long,
      help: "With --format pth, add an AdamW optimizer entry as the official files carry (about 2× the weights).")
    var withOptimizer = false

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64 = 1205

    @Option(
      name: .long,
      help:
        "A folder with the real data files (ram_tag_list.txt, ram_tag_list_chinese.txt, ram_tag_list_threshold.txt, tag2text_ori_tag_list.txt, vocab.txt)."
    )
    var data: String?

    func validate() throws {
      if (config == nil) == (preset == nil) { throw ValidationError("give exactly one of --config and --preset") }
      if !["safetensors", "pth"].contains(format) { throw ValidationError("--format must be safetensors or pth") }
    }

    func run() async throws {
      let configJSON: Data
      let cfg: ModelConfig
      if let preset {
        cfg = try ModelConfig.preset(preset)
        configJSON = Data(OfficialConfigs.json(preset)!.utf8)
      } else {
        configJSON = try Data(contentsOf: URL(fileURLWithPath: config!))
        cfg = try ModelConfig.decode(configJSON, path: config!)
      }
      let dir = URL(fileURLWithPath: output)
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      try configJSON.write(to: dir.appendingPathComponent("config.json"))
      try BundleSynthesis.writeDataFiles(config: cfg, to: dir, from: data.map { URL(fileURLWithPath: $0) })
      let weights = SyntheticWeights(config: cfg, seed: seed)
      let names = weights.layout.map(\.name)
      let started = Date()
      switch format {
      case "pth":
        try BundleSynthesis.writePth(
          weights, to: dir.appendingPathComponent("model.pth").path, optimizer: withOptimizer)
      default:
        try writeSafetensors(
          from: weights, names: names, to: dir.appendingPathComponent("model.safetensors").path,
          metadata: ["format": "pt", "vtag": "synthetic weights, seed \(seed)"])
      }
      let count = weights.layout.filter { $0.tiedTo == nil && !$0.isBuffer }.reduce(0) { $0 + $1.shape.reduce(1, *) }
      Output.line(
        "wrote \(dir.path): \(cfg.architecture.rawValue), \(names.count) tensors, \(count) parameters, "
          + String(format: "%.1f s", Date().timeIntervalSince(started)))
    }
  }

  /// `vtag models convert`: `.pth` → `.safetensors` keeping only what the model uses.
  struct Convert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a checkpoint to safetensors, keeping only the weights the model uses.",
      discussion: """
        The model's config.json is taken from --config, or from the checkpoint's folder. The optimizer
        state and the recomputed buffers (attention masks, position indices) are dropped.

        With --in-place DIR, converts the bundle's model.pth to model.safetensors in that folder, checks
        the bundle loads with it (vtag prefers model.safetensors), and with --remove-pth then deletes
        model.pth. A bundle installed by `vtag models fetch` keeps its verified record up to date.
        """)

    @Argument(help: "The input checkpoint (.pth or .safetensors), or with --in-place the bundle folder.")
    var input: String

    @Argument(help: "The output .safetensors file (not with --in-place).")
    var output: String?

    @Option(name: .long, help: "The model's config.json (default: config.json beside the input).")
    var config: String?

    @Flag(name: .long, help: "Convert the bundle folder INPUT's model.pth to model.safetensors beside it.")
    var inPlace = false

    @Flag(name: .long, help: "With --in-place, delete model.pth once model.safetensors loads.")
    var removePth = false

    func validate() throws {
      if inPlace {
        if output != nil { throw ValidationError("--in-place takes one argument, the bundle folder") }
        if config != nil { throw ValidationError("--in-place uses the bundle's own config.json; drop --config") }
      } else {
        if output == nil {
          throw ValidationError("give the input checkpoint and the output .safetensors file (or --in-place DIR)")
        }
        if removePth { throw ValidationError("--remove-pth needs --in-place") }
      }
    }

    func run() async throws {
      if inPlace {
        try convertInPlace()
        return
      }
      let output = output!
      let configPath =
        config ?? URL(fileURLWithPath: input).deletingLastPathComponent().appendingPathComponent("config.json").path
      let cfg = try ModelConfig.load(path: configPath)
      let (kept, total) = try Self.convert(input: input, output: output, config: cfg)
      let before = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0
      let after = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
      Output.line("wrote \(output): \(kept) of \(total) tensors, \(before) → \(after) bytes")
    }

    /// Writes the used tensors of `input` to `output`; returns (kept, stored) tensor counts.
    static func convert(input: String, output: String, config: ModelConfig) throws -> (Int, Int) {
      let archive = try openTensorArchive(path: input)
      let keep = try BundleSynthesis.usedTensorNames(config: config, archive: archive)
      try writeSafetensors(
        from: archive, names: keep, to: output,
        metadata: ["format": "pt", "vtag": "converted from \(URL(fileURLWithPath: input).lastPathComponent)"])
      return (keep.count, archive.entries.count)
    }

    func convertInPlace() throws {
      let fm = FileManager.default
      let dir = URL(fileURLWithPath: input)
      let pth = dir.appendingPathComponent("model.pth")
      let st = dir.appendingPathComponent("model.safetensors")
      guard fm.fileExists(atPath: pth.path) else {
        if fm.fileExists(atPath: st.path) {
          Output.line("\(dir.path) already holds model.safetensors and no model.pth; nothing to do")
          return
        }
        throw BundleError.noWeights(directory: dir.path)
      }
      // The bundle must be sound before and after.
      let bundle = try ModelBundle(directory: dir)
      let temporary = dir.appendingPathComponent(".model.safetensors.converting")
      try? fm.removeItem(at: temporary)
      defer { try? fm.removeItem(at: temporary) }
      let (kept, total) = try Self.convert(input: pth.path, output: temporary.path, config: bundle.config)
      try? fm.removeItem(at: st)
      try fm.moveItem(at: temporary, to: st)
      do {
        _ = try RecognizeAnythingModel(directory: dir, captions: true)
      } catch {
        try? fm.removeItem(at: st)
        throw BundleError.invalidConfig(
          path: st.path,
          detail:
            "the bundle does not load with the converted weights (\(error)); removed model.safetensors, model.pth is left as it was"
        )
      }
      let before = Downloader.size(of: pth)
      let after = Downloader.size(of: st)
      // Keep a fetched bundle's verified record true.
      if var record = try InstallRecord.read(directory: dir) {
        record.files["model.safetensors"] = InstallRecord.File(
          bytes: after, sha256: try SHA256.hash(fileAt: st.path), source: "converted from model.pth")
        if removePth { record.files["model.pth"] = nil }
        record.notes =
          (record.notes ?? []) + [
            "\(InstallRecord.now()): model.pth converted to model.safetensors"
              + (removePth ? ", model.pth removed" : "")
          ]
        try record.write(directory: dir)
      }
      if removePth { try fm.removeItem(at: pth) }
      Output.line(
        "wrote \(st.path): \(kept) of \(total) tensors, \(before) → \(after) bytes; "
          + (removePth
            ? "removed model.pth" : "model.pth kept (vtag now loads model.safetensors; --remove-pth deletes model.pth)")
      )
    }
  }

  /// `vtag models info`: what a bundle holds.
  struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model bundle and its checkpoint.")

    @Argument(help: "A bundle directory.")
    var directory: String

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Flag(name: .long, help: "Also print the sha256 of every bundle file (reads them all: seconds per GB).")
    var hashes = false

    func run() async throws {
      let bundle = try ModelBundle(directory: URL(fileURLWithPath: directory))
      let archive = try openTensorArchive(path: bundle.weightsPath)
      let used = try BundleSynthesis.usedTensorNames(config: bundle.config, archive: archive)
      let usedSet = Set(used)
      var storages: [String: Int] = [:]
      for e in archive.entries.values where usedSet.contains(e.name) {
        storages[e.storageKey] = max(storages[e.storageKey] ?? 0, e.elementCount)
      }
      let parameters = storages.values.reduce(0, +)
      let skippedTensors = archive.entries.keys.filter { !usedSet.contains($0) }.sorted()
      let skippedTop = (archive as? PthCheckpoint)?.skippedKeys ?? []
      let size = (try? FileManager.default.attributesOfItem(atPath: bundle.weightsPath)[.size] as? Int) ?? 0
      let c = bundle.config
      var fields: [(String, JSONValue)] = [
        ("directory", .string(bundle.directory.path)),
        ("architecture", .string(c.architecture.rawValue)),
        ("weights", .string(bundle.weightsPath)),
        ("weights_bytes", .int(size)),
        (
          "vision",
          .string(
            "swin embed \(c.vision.embedDim) depths \(c.vision.depths) heads \(c.vision.numHeads) window \(c.vision.windowSize)"
          )
        ),
        ("classes", .int(c.numClasses)),
        ("tags", .int(bundle.tags.count)),
        ("chinese_tags", .bool(bundle.tagsChinese != nil)),
        ("parameters_used", .int(parameters)),
        ("tensors_stored", .int(archive.entries.count)),
        ("tensors_used", .int(used.count)),
        ("tensors_skipped", .array(skippedTensors.map { .string($0) })),
        ("top_level_entries_skipped", .array(skippedTop.map { .string($0) })),
      ]
      let record = try InstallRecord.read(directory: bundle.directory)
      fields.append(("verified", .bool(record != nil)))
      if hashes { fields.append(("files", try fileHashes(bundle.directory, record: record))) }
      if json {
        Output.line(JSONValue.object(fields).serialized)
      } else {
        for (k, v) in fields {
          switch v {
          case .array(let items):
            Output.line(
              "\(k): \(items.count)\(items.isEmpty ? "" : " (" + items.prefix(8).map { if case .string(let s) = $0 { s } else { "" } }.joined(separator: ", ") + (items.count > 8 ? ", ..." : "") + ")")"
            )
          case .string(let s): Output.line("\(k): \(s)")
          case .object(let files):
            Output.line("\(k):")
            for (name, value) in files {
              guard case .object(let f) = value else { continue }
              let d = Dictionary(f, uniquingKeysWith: { (a: JSONValue, _: JSONValue) in a })
              var line = "  \(name)"
              if case .int(let b)? = d["bytes"] { line += "  \(b) bytes" }
              if case .string(let h)? = d["sha256"] { line += "  sha256 \(h)" }
              if case .string(let m)? = d["matches"] { line += "  (\(m))" }
              Output.line(line)
            }
          default: Output.line("\(k): \(v.serialized)")
          }
        }
      }
    }

    /// sha256 and size of every file in the bundle, with what each matches: the fetch record, or a
    /// file of the built-in manifest.
    func fileHashes(_ dir: URL, record: InstallRecord?) throws -> JSONValue {
      var official: [String: String] = [:]
      for m in ModelManifest.builtIn.models {
        for f in m.files { official[f.sha256] = f.source }
      }
      let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
      var out: [(String, JSONValue)] = []
      for name in names {
        let path = dir.appendingPathComponent(name).path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
        let digest = try SHA256.hash(fileAt: path)
        var matches: [String] = []
        if let source = official[digest] { matches.append("official \(source)") }
        if let r = record?.files[name] {
          matches.append(r.sha256 == digest ? "as verified at fetch" : "CHANGED since fetch")
        }
        var f: [(String, JSONValue)] = [
          ("bytes", .int(Int(Downloader.size(of: URL(fileURLWithPath: path))))), ("sha256", .string(digest)),
        ]
        if !matches.isEmpty { f.append(("matches", .string(matches.joined(separator: ", ")))) }
        out.append((name, .object(f)))
      }
      return .object(out)
    }
  }
}
