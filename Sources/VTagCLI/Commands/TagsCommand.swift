import ArgumentParser
import CLIPText
import Foundation
import RecognizeAnything
import TensorCore

/// `vtag tags`: open-set tag sets built with the CLIP text encoder.
struct TagsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tags",
    abstract: "Build tag sets: classes a RAM++ or RAM model recognises beside or instead of its own.",
    subcommands: [TagsBuildCommand.self, TagsBenchCommand.self])
}

/// `vtag tags build`.
struct TagsBuildCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "build",
    abstract: "Encode class descriptions or names with CLIP's text tower into a tag set folder.",
    discussion: """
      RAM++ with --descriptions (the reference's JSON list of {"Category": ["description", ...]}): every
      description encoded and L2-normalised, rows class-major. RAM with --names (one class a line): the
      reference's 63 prompt templates, the normalised mean a class. RAM++ with --names uses the 63 prompts as
      the class's descriptions (not a reference mode). A set whose inputs did not change is not rebuilt.
      Use it with `vtag image --tag-set SET` or `--add-tag-set SET`.
      """)

  @Option(name: .long, help: "RAM++: a JSON list of {\"Category\": [descriptions]} (equal counts a class).")
  var descriptions: String?

  @Option(name: .long, help: "A text file of class names, one a line.")
  var names: String?

  @Option(name: .long, help: "CLIP folder (config.json, weights, bpe_simple_vocab_16e6.txt.gz) or a weight file in it.")
  var clip: String

  @Option(name: .long, help: "CLIP's BPE file (default: bpe_simple_vocab_16e6.txt.gz in the CLIP folder).")
  var bpe: String?

  @Option(name: .long, help: "The RAM++ or RAM bundle the set is for.")
  var model: String

  @Option(name: .shortAndLong, help: "Output tag set folder.")
  var output: String

  @Option(name: .long, help: "Threshold of every class (default 0.5, as the reference's open-set mode).")
  var threshold: Float = 0.5

  @Option(name: .long, help: "Per-class thresholds: one a line, or name<TAB>threshold lines.")
  var thresholds: String?

  @Flag(name: .long, help: "Rebuild even when the inputs did not change.")
  var force = false

  @Option(name: .long, help: "OpenBLAS threads (default: the number of cores).")
  var threads: Int?

  func validate() throws {
    if (descriptions == nil) == (names == nil) {
      throw ValidationError("give exactly one of --descriptions and --names")
    }
    if !(0...1).contains(threshold) { throw ValidationError("--threshold must be in [0, 1]") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func run() async throws {
    BLAS.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
    let bundle = try ModelBundle(directory: URL(fileURLWithPath: model))
    let source = try descriptions.map { try TagSetSource.descriptions(file: $0) } ?? TagSetSource.names(file: names!)
    if bundle.config.architecture == .ramPlus && source.kind == "names" {
      Output.error(
        "note: RAM++ from names uses the 63 RAM prompt templates as each class's descriptions; this is not a reference mode (the reference uses LLM descriptions, see `--descriptions`)"
      )
    }
    var builder = TagSetBuilder(source: source, clip: try CLIPFolder(path: clip, vocabulary: bpe), bundle: bundle)
    builder.threshold = threshold
    builder.thresholdsFile = thresholds
    builder.log = { Output.error($0) }
    TagSetBuilder.vtagVersion = VTagVersion.string
    let start = Date()
    switch try builder.build(output: URL(fileURLWithPath: output), force: force) {
    case .upToDate:
      Output.line("\(output): up to date (same CLIP, \(source.kind) file, model architecture and thresholds)")
    case .built(let classes, let rows, let texts):
      Output.line(
        "\(output): \(classes) classes, \(rows) label rows from \(texts) texts in \(String(format: "%.1f", Date().timeIntervalSince(start))) s"
      )
    }
  }
}

/// `vtag tags bench`: CLIP text-tower throughput on real descriptions.
struct TagsBenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Descriptions per second of a full-size CLIP ViT-B/16 text tower (synthesized weights).",
    discussion: """
      Tokenizes the descriptions file (default: the reference's 200 × 51 OpenImages-rare descriptions in
      ../shared/ram-data) and encodes them with and without the end-of-text shortcut at each thread count.
      Speeds are reported as measured in this run; the shortcut's speed-up is the ratio of the two.
      """)

  @Option(name: .long, help: "Descriptions JSON (the reference's format).")
  var descriptions: String = "../shared/ram-data/openimages_rare_200_llm_tag_descriptions.json"

  @Option(name: .long, help: "CLIP's BPE file.")
  var bpe: String

  @Option(name: .long, help: "Thread counts, comma-separated.")
  var threads: String = "1,2"

  @Option(name: .long, help: "Encode only the first N descriptions (0: all).")
  var limit: Int = 0

  func run() async throws {
    let source = try TagSetSource.descriptions(file: descriptions)
    let tokenizer = try CLIPTokenizer(vocabularyFile: bpe)
    var texts = source.classes.flatMap(\.texts)
    if limit > 0 { texts = Array(texts.prefix(limit)) }
    let t0 = Date()
    let tokens = try texts.map { try tokenizer.tokenize($0) }
    let tokenizeSeconds = Date().timeIntervalSince(t0)
    let meanLength = Double(tokens.map { $0.endPosition + 1 }.reduce(0, +)) / Double(tokens.count)
    let model = CLIPTextModel(config: .vitB16, synthesizedSeed: 16)
    Output.line(
      "CLIP ViT-B/16 text tower (synthesized), \(tokens.count) of the \(source.classes.flatMap(\.texts).count) descriptions, mean \(String(format: "%.1f", meanLength)) positions up to end-of-text (77 without the shortcut); OpenBLAS \(BLAS.coreName)"
    )
    Output.line(
      "tokenizer: \(String(format: "%.0f", Double(tokens.count) / tokenizeSeconds)) descriptions/s (1 thread)")
    Output.line("| threads | shortcut desc/s | full 77 desc/s | shortcut speed-up |")
    Output.line("|---|---|---|---|")
    for n in threads.split(separator: ",").compactMap({ Int($0) }) {
      BLAS.setThreads(n)
      _ = model.encode(Array(tokens.prefix(64)))  // warm-up
      let a = Date()
      _ = model.encode(tokens)
      let fast = Date().timeIntervalSince(a)
      let b = Date()
      _ = model.encode(tokens, shortcut: false)
      let full = Date().timeIntervalSince(b)
      Output.line(
        "| \(n) | \(String(format: "%.1f", Double(tokens.count) / fast)) | \(String(format: "%.1f", Double(tokens.count) / full)) | \(String(format: "%.2f", full / fast))× |"
      )
    }
  }
}
