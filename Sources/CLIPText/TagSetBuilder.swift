import Checkpoints
import Foundation
import ModelFetch
import RecognizeAnything

/// Builds tag sets (see `TagSet`) with the CLIP text tower, as the reference's open-set scripts build label
/// embeddings:
/// - RAM++ from descriptions: each description tokenized with truncation, encoded, L2-normalised; rows class-major.
/// - RAM from names: the 63 prompts a class (no truncation: an over-long name is refused), each output
///   L2-normalised, averaged, normalised again.
/// - RAM++ from names (not a reference mode): the 63 prompts used as the class's descriptions.
public struct TagSetBuilder {
  /// What the builder did.
  public enum Outcome: Equatable, Sendable {
    case built(classes: Int, rows: Int, texts: Int)
    /// `set.json` records the same inputs: nothing was rebuilt.
    case upToDate
  }

  public var source: TagSetSource
  public var clip: CLIPFolder
  public var bundle: ModelBundle
  /// Threshold for every class without a per-class value.
  public var threshold: Float = 0.5
  /// A file of `name<TAB>threshold` or one threshold a line (same count as the classes).
  public var thresholdsFile: String?
  /// Log lines (warnings, progress).
  public var log: (String) -> Void = { _ in }

  public init(source: TagSetSource, clip: CLIPFolder, bundle: ModelBundle) {
    self.source = source
    self.clip = clip
    self.bundle = bundle
  }

  /// Builds the set into `output` (written beside it and renamed into place), unless it is already up to date.
  public func build(output: URL, force: Bool = false) throws -> Outcome {
    let arch = bundle.config.architecture
    guard arch == .ramPlus || arch == .ram else {
      throw TagSetInputError.invalid(
        path: bundle.directory.path,
        detail: "is a \(arch.rawValue) bundle; tag sets are for RAM++ (ram_plus) and RAM (ram) models")
    }
    let config = try CLIPTextConfig(file: clip.configPath)
    guard let width = bundle.config.labelEmbeddingDim, width == config.projectionDim else {
      throw TagSetInputError.invalid(
        path: clip.configPath,
        detail:
          "the CLIP projection width (projection_dim) is \(config.projectionDim), but the model \(bundle.directory.path) has label width \(bundle.config.labelEmbeddingDim.map(String.init) ?? "none") (label_embedding_dim); use the CLIP the model was trained with"
      )
    }
    let thresholds = try classThresholds()
    var inputs: [String: String] = [
      "architecture": arch.rawValue,
      "clip_sha256": try SHA256.hash(fileAt: clip.weightsPath),
      "source_sha256": try SHA256.hash(fileAt: source.path),
      "source_kind": source.kind,
      "thresholds": thresholds.map { "\($0)" }.joined(separator: ","),
      "vtag_builder": TagSetBuilder.formatVersion,
    ]
    inputs["bpe_sha256"] = try SHA256.hash(fileAt: clip.vocabularyPath)
    if !force, let old = try? TagSet(directory: output), old.metadata["inputs"] as? [String: String] == inputs {
      return .upToDate
    }

    let tokenizer = try CLIPTokenizer(vocabularyFile: clip.vocabularyPath)
    let model = try CLIPTextModel(config: config, weights: clip.weightsPath)
    let truncate = source.kind == "descriptions"
    var tokens: [CLIPTokens] = []
    for c in source.classes {
      for text in c.texts {
        do {
          tokens.append(try tokenizer.tokenize(text, contextLength: config.contextLength, truncate: truncate))
        } catch CLIPError.textTooLong(_, let n, let ctx) {
          throw TagSetInputError.invalid(
            path: source.path,
            detail:
              "the name '\(c.name)' is too long: its prompt \"\(text)\" is \(n) tokens, more than CLIP's \(ctx) (the reference raises here too); vtag refuses it: shorten the name"
          )
        }
      }
    }
    let truncated = tokens.filter(\.truncated).count
    if truncated > 0 {
      log(
        "note: \(truncated) of \(tokens.count) descriptions are longer than \(config.contextLength) tokens and were cut, as the reference does"
      )
    }
    let features = model.encode(tokens).map(CLIPTextModel.normalized)
    let perClass = source.classes[0].texts.count
    var rows: [Float] = []
    let rowsPerClass: Int
    if arch == .ramPlus {
      rowsPerClass = perClass
      for f in features { rows += f }
    } else {
      rowsPerClass = 1
      for c in 0..<source.classes.count {
        var mean = [Double](repeating: 0, count: width)
        for r in 0..<perClass {
          for (j, v) in features[c * perClass + r].enumerated() { mean[j] += Double(v) }
        }
        rows += CLIPTextModel.normalized(mean.map { Float($0 / Double(perClass)) })
      }
    }
    try write(
      output: output, rows: rows, rowsPerClass: rowsPerClass, width: width, thresholds: thresholds, inputs: inputs)
    return .built(classes: source.classes.count, rows: rows.count / width, texts: tokens.count)
  }

  static let formatVersion = "tag-set/1"

  private func classThresholds() throws -> [Float] {
    let n = source.classes.count
    guard let path = thresholdsFile else { return [Float](repeating: threshold, count: n) }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw TagSetInputError.invalid(path: path, detail: "cannot read the thresholds file")
    }
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    var byName: [String: Float] = [:]
    var plain: [Float] = []
    for (i, line) in lines.enumerated() {
      let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
      guard let v = Float(parts.last!.trimmingCharacters(in: .whitespaces)), v >= 0, v <= 1 else {
        throw TagSetInputError.invalid(
          path: path, detail: "line \(i + 1) ('\(line)') is not a threshold in [0, 1] (or name<TAB>threshold)")
      }
      if parts.count == 2 {
        let name = String(parts[0])
        guard source.classes.contains(where: { $0.name == name }) else {
          throw TagSetInputError.invalid(
            path: path, detail: "line \(i + 1) names '\(name)', which is not a class of \(source.path)")
        }
        byName[name] = v
      } else {
        plain.append(v)
      }
    }
    if !plain.isEmpty {
      guard plain.count == n, byName.isEmpty else {
        throw TagSetInputError.invalid(
          path: path,
          detail: "has \(plain.count) plain thresholds for \(n) classes; give one a class, or name<TAB>threshold lines")
      }
      return plain
    }
    return source.classes.map { byName[$0.name] ?? threshold }
  }

  private func write(
    output: URL, rows: [Float], rowsPerClass: Int, width: Int, thresholds: [Float], inputs: [String: String]
  ) throws {
    let fm = FileManager.default
    let parent = output.deletingLastPathComponent()
    try fm.createDirectory(at: parent, withIntermediateDirectories: true)
    let staging = parent.appendingPathComponent(".\(output.lastPathComponent).partial")
    try? fm.removeItem(at: staging)
    try fm.createDirectory(at: staging, withIntermediateDirectories: true)
    var writer = SafetensorsWriter(
      path: staging.appendingPathComponent(TagSet.embedFile).path, metadata: ["format": "pt"])
    writer.add("label_embed", shape: [rows.count / width, width], floats: rows)
    try writer.write()
    let tagsText = source.classes.map { $0.name.replacingOccurrences(of: "\n", with: " ") + "\n" }.joined()
    let thrText = thresholds.map { "\($0)\n" }.joined()
    try Data(tagsText.utf8).write(to: staging.appendingPathComponent(TagSet.tagsFile))
    try Data(thrText.utf8).write(to: staging.appendingPathComponent(TagSet.thresholdsFile))
    var h = SHA256()
    h.update(try Data(contentsOf: staging.appendingPathComponent(TagSet.embedFile)))
    h.update(Data(tagsText.utf8))
    h.update(Data(thrText.utf8))
    let meta: [String: Any] = [
      "architecture": bundle.config.architecture.rawValue,
      "rows_per_class": rowsPerClass,
      "texts_per_class": source.classes[0].texts.count,
      "classes": source.classes.count,
      "label_width": width,
      "clip_sha256": inputs["clip_sha256"]!,
      "source_sha256": inputs["source_sha256"]!,
      "source": source.kind,
      "reference_mode": !(bundle.config.architecture == .ramPlus && source.kind == "names"),
      "set_sha256": h.finalizeHex(),
      "vtag_version": TagSetBuilder.vtagVersion,
      "inputs": inputs,
    ]
    let json = try JSONSerialization.data(withJSONObject: meta, options: [.prettyPrinted, .sortedKeys])
    try (json + Data("\n".utf8)).write(to: staging.appendingPathComponent(TagSet.metadataFile))
    if fm.fileExists(atPath: output.path) {
      // Replace only what looks like a tag set.
      guard fm.fileExists(atPath: output.appendingPathComponent(TagSet.metadataFile).path) else {
        try? fm.removeItem(at: staging)
        throw TagSetInputError.invalid(
          path: output.path, detail: "exists and is not a tag set; choose another -o folder or remove it")
      }
      try fm.removeItem(at: output)
    }
    try fm.moveItem(at: staging, to: output)
  }

  /// Recorded in `set.json` (the CLI sets it to its version).
  nonisolated(unsafe) public static var vtagVersion = "0.1.0"
}
