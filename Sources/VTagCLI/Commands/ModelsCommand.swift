import ArgumentParser
import Checkpoints
import Foundation
import RecognizeAnything

/// `vtag models`: make, convert and inspect model bundles.
struct ModelsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "models",
    abstract: "Make, convert and inspect model bundles.",
    subcommands: [Synth.self, Convert.self, Info.self])

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

    @Flag(name: .long, help: "With --format pth, add an AdamW optimizer entry as the official files carry (about 2× the weights).")
    var withOptimizer = false

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64 = 1205

    @Option(name: .long, help: "A folder with the real data files (ram_tag_list.txt, ram_tag_list_chinese.txt, ram_tag_list_threshold.txt, tag2text_ori_tag_list.txt, vocab.txt).")
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
        """)

    @Argument(help: "The input checkpoint (.pth or .safetensors).")
    var input: String

    @Argument(help: "The output .safetensors file.")
    var output: String

    @Option(name: .long, help: "The model's config.json (default: config.json beside the input).")
    var config: String?

    func run() async throws {
      let configPath =
        config ?? URL(fileURLWithPath: input).deletingLastPathComponent().appendingPathComponent("config.json").path
      let cfg = try ModelConfig.load(path: configPath)
      let archive = try openTensorArchive(path: input)
      let keep = try BundleSynthesis.usedTensorNames(config: cfg, archive: archive)
      try writeSafetensors(
        from: archive, names: keep, to: output,
        metadata: ["format": "pt", "vtag": "converted from \(URL(fileURLWithPath: input).lastPathComponent)"])
      let before = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0
      let after = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
      Output.line("wrote \(output): \(keep.count) of \(archive.entries.count) tensors, \(before) → \(after) bytes")
    }
  }

  /// `vtag models info`: what a bundle holds.
  struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model bundle and its checkpoint.")

    @Argument(help: "A bundle directory.")
    var directory: String

    @Flag(name: .long, help: "Print JSON.")
    var json = false

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
      let fields: [(String, JSONValue)] = [
        ("directory", .string(bundle.directory.path)),
        ("architecture", .string(c.architecture.rawValue)),
        ("weights", .string(bundle.weightsPath)),
        ("weights_bytes", .int(size)),
        (
          "vision",
          .string("swin embed \(c.vision.embedDim) depths \(c.vision.depths) heads \(c.vision.numHeads) window \(c.vision.windowSize)")
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
      if json {
        Output.line(JSONValue.object(fields).serialized)
      } else {
        for (k, v) in fields {
          switch v {
          case .array(let items):
            Output.line("\(k): \(items.count)\(items.isEmpty ? "" : " (" + items.prefix(8).map { if case .string(let s) = $0 { s } else { "" } }.joined(separator: ", ") + (items.count > 8 ? ", ..." : "") + ")")")
          case .string(let s): Output.line("\(k): \(s)")
          default: Output.line("\(k): \(v.serialized)")
          }
        }
      }
    }
  }
}
