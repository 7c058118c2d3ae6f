import ArgumentParser
import Foundation
import ImageCore
import MediaIO
import RecognizeAnything
import TaggingPipeline
import TensorCore

/// `vtag image`: tag (and, with Tag2Text, caption) still images.
struct ImageCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "image",
    abstract: "Tag still images (JPEG, PNG, WebP, BMP, ...); Tag2Text bundles also caption them.",
    discussion: """
      Prints, per image, `Image Tags: a | b | c` and, when the bundle has Chinese names, `图像标签: ...`;
      a Tag2Text bundle adds `Image Caption: ...`. With --json, one JSON object per line per image.
      """)

  @Option(
    name: .long,
    help: "Model bundle directory (default: the installed RAM++ bundle in $VTAG_MODELS or ~/.cache/vtag/models).")
  var model: String?

  @Flag(name: .long, help: "One JSON object per line per image.")
  var json = false

  @Flag(name: .long, help: "With --json, also print every class probability in class-index order.")
  var allScores = false

  @Option(name: .long, help: "Tag2Text: caption guided by these tags instead of the predicted ones (\"cloud, sky\").")
  var specifiedTags: String?

  @Option(name: .long, help: "Compute only these tags (comma-separated names); their scores equal a full run's.")
  var onlyTags: String?

  @Option(name: .long, help: "Tag set folder (`vtag tags build`): its classes replace the built-in ones.")
  var tagSet: String?

  @Option(name: .long, help: "Tag set folder whose classes are scored after the built-in ones (repeatable).")
  var addTagSet: [String] = []

  @Flag(name: .long, help: "With no --model and no RAM++ bundle installed, fetch it without asking.")
  var yes = false

  @Option(name: .long, help: "OpenBLAS threads (default: the number of cores).")
  var threads: Int?

  @Option(name: .long, help: "Large products in fp32 (default), bf16 (needs AVX512-BF16) or auto (fp32 for now).")
  var precision: Precision = .fp32

  @Argument(help: "Image files.")
  var files: [String] = []

  func validate() throws {
    if files.isEmpty { throw ValidationError("give at least one image file") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    if allScores && !json { throw ValidationError("--all-scores needs --json") }
    if tagSet != nil && !addTagSet.isEmpty { throw ValidationError("give --tag-set or --add-tag-set, not both") }
  }

  func run() async throws {
    BLAS.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
    // Before resolving (and perhaps fetching 3 GB of) the model: is there anything to tag?
    let unreadable = files.filter { !FileManager.default.isReadableFile(atPath: $0) }
    if unreadable.count == files.count {
      for f in unreadable { Output.error("error: \(f): no such readable file") }
      throw ExitCode(1)
    }
    let directory = try await ModelResolver.resolve(model: model, yes: yes)
    let ram = try RecognizeAnythingModel(directory: directory, precision: precision)
    if let tagSet {
      try ram.useTagSets([TagSet(directory: URL(fileURLWithPath: tagSet))], keepBuiltIn: false)
    } else if !addTagSet.isEmpty {
      try ram.useTagSets(addTagSet.map { try TagSet(directory: URL(fileURLWithPath: $0)) }, keepBuiltIn: true)
    }
    // The reference ignores '', 'none' and 'None' as user tags.
    let userTags = specifiedTags.flatMap { ["", "none", "None"].contains($0) ? nil : $0 }
    if userTags != nil && ram.captioner == nil {
      throw ValidationError(
        "--specified-tags needs a Tag2Text bundle; \(directory.path) is \(ram.architecture.rawValue)")
    }
    let classes = try onlyTags.map {
      try ram.classIndices(forTags: $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }
    var failures = 0
    for file in files {
      do {
        let image = try StillImageDecoder.decode(path: file)
        let pixels = ModelInput.pixelValues(image, size: ram.imageSize)
        let result = try pixels.withUnsafeBufferPointer {
          try ram.tag(pixels: $0.baseAddress!, batch: 1, specifiedTags: userTags, classes: classes)[0]
        }
        if json {
          Output.line(jsonRecord(file: file, model: ram, result: result).serialized)
        } else {
          if files.count > 1 { Output.line("\(file):") }
          Output.line("Image Tags: \(result.tagString)")
          if let zh = result.tagStringChinese { Output.line("图像标签: \(zh)") }
          if let user = result.specifiedTags { Output.line("User-specified Tags: \(user)") }
          if let caption = result.caption { Output.line("Image Caption: \(caption.caption)") }
        }
      } catch {
        failures += 1
        Output.error("error: \(VTag.describe(error))")
      }
    }
    if failures > 0 { throw ExitCode(1) }
  }

  func jsonRecord(file: String, model: RecognizeAnythingModel, result: ImageTags) -> JSONValue {
    var fields: [(String, JSONValue)] = [
      ("file", .string(file)),
      ("model", .string(model.architecture.rawValue)),
      (
        "tags",
        .array(
          result.tags.map { hit in
            var t: [(String, JSONValue)] = [("index", .int(hit.index)), ("tag", .string(hit.tag))]
            if let zh = hit.tagZh { t.append(("tag_zh", .string(zh))) }
            t.append(("score", .float(hit.score)))
            if let custom = hit.custom { t.append(("custom", .bool(custom))) }
            return .object(t)
          })
      ),
    ]
    if let user = result.specifiedTags { fields.append(("specified_tags", .string(user))) }
    if let caption = result.caption {
      fields.append(("caption", .string(caption.caption)))
      fields.append(("caption_token_ids", .array(caption.tokenIDs.map { .int($0) })))
    }
    fields.append(("precision", .string(model.precision.rawValue)))
    fields.append(("blas", ComputeInfo.blasJSON()))
    if !model.tagSets.isEmpty {
      fields.append(("tag_sets", .array(model.tagSets.map { .string($0.sha256 ?? "") })))
      if let first = model.firstCustomClass, first > 0 { fields.append(("first_custom_class", .int(first))) }
    }
    if allScores { fields.append(("scores", .array(result.scores.map { .float($0) }))) }
    return .object(fields)
  }
}

extension Precision: ExpressibleByArgument {}
