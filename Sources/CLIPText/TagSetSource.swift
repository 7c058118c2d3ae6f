import Foundation
import ModelFetch
import RecognizeAnything

/// A problem with a tag-set input (descriptions or names file, thresholds file, CLIP folder); names the file and
/// the entry.
public enum TagSetInputError: Error, Equatable, CustomStringConvertible {
  case invalid(path: String, detail: String)

  public var description: String {
    switch self {
    case .invalid(let path, let detail): "\(path): \(detail)"
    }
  }
}

/// A CLIP folder: `config.json`, one weight file (`model.safetensors`, `model.pth`, a TorchScript `*.pt` such as
/// OpenAI's `ViT-B-16.pt`) and the BPE merges `bpe_simple_vocab_16e6.txt.gz`.
public struct CLIPFolder: Sendable {
  public var configPath: String
  public var weightsPath: String
  public var vocabularyPath: String

  /// `path` is the folder or one weight file inside it; `vocabulary` overrides where the BPE file is.
  public init(path: String, vocabulary: String? = nil) throws {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
      throw TagSetInputError.invalid(
        path: path, detail: "does not exist; pass a CLIP folder (`vtag models fetch clip`)")
    }
    let dir: URL
    if isDir.boolValue {
      dir = URL(fileURLWithPath: path)
      let names = ["model.safetensors", "model.pth", "ViT-B-16.pt", "model.torchscript.pt", "model.pt"]
      guard let w = names.map({ dir.appendingPathComponent($0).path }).first(where: { fm.fileExists(atPath: $0) })
      else {
        throw TagSetInputError.invalid(
          path: path, detail: "has no CLIP weights (one of \(names.joined(separator: ", ")))")
      }
      weightsPath = w
    } else {
      weightsPath = path
      dir = URL(fileURLWithPath: path).deletingLastPathComponent()
    }
    configPath = dir.appendingPathComponent("config.json").path
    guard fm.fileExists(atPath: configPath) else {
      throw TagSetInputError.invalid(
        path: configPath, detail: "is missing; a CLIP folder needs the Hugging Face CLIPTextConfig config.json")
    }
    vocabularyPath = vocabulary ?? dir.appendingPathComponent("bpe_simple_vocab_16e6.txt.gz").path
    guard fm.fileExists(atPath: vocabularyPath) else {
      throw TagSetInputError.invalid(
        path: vocabularyPath, detail: "is missing; get CLIP's BPE file with `vtag models fetch clip` or pass --bpe FILE"
      )
    }
  }
}

/// The classes a tag set is built from.
public struct TagSetSource: Sendable {
  /// Class names and their texts (RAM++ descriptions; for names, filled from the templates).
  public var classes: [(name: String, texts: [String])]
  /// `descriptions` or `names`.
  public var kind: String
  public var path: String

  /// The reference's description format: a JSON list of `{"Category": ["description", …]}`, every class with the
  /// same number of descriptions.
  public static func descriptions(file path: String) throws -> TagSetSource {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw TagSetInputError.invalid(path: path, detail: "cannot read the file")
    }
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    } catch {
      throw TagSetInputError.invalid(
        path: path, detail: "is not valid JSON (\((error as NSError).localizedDescription))")
    }
    guard let list = json as? [Any] else {
      throw TagSetInputError.invalid(
        path: path, detail: "must be a JSON list of {\"Category\": [\"description\", …]} objects, not \(jsonKind(json))"
      )
    }
    guard !list.isEmpty else { throw TagSetInputError.invalid(path: path, detail: "the list has no classes") }
    var classes: [(String, [String])] = []
    var seen: [String: Int] = [:]
    for (i, item) in list.enumerated() {
      let at = "entry \(i + 1)"
      guard let obj = item as? [String: Any] else {
        throw TagSetInputError.invalid(
          path: path, detail: "\(at) is \(jsonKind(item)), expected {\"Category\": [descriptions]}")
      }
      guard obj.count == 1, let (name, value) = obj.first else {
        throw TagSetInputError.invalid(
          path: path, detail: "\(at) has \(obj.count) keys; each entry must be one {\"Category\": [descriptions]}")
      }
      guard !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
        throw TagSetInputError.invalid(path: path, detail: "\(at) has an empty class name")
      }
      if let j = seen[name] {
        throw TagSetInputError.invalid(path: path, detail: "\(at): class '\(name)' is a duplicate of entry \(j + 1)")
      }
      seen[name] = i
      guard let texts = value as? [Any], texts.allSatisfy({ $0 is String }) else {
        throw TagSetInputError.invalid(
          path: path, detail: "\(at) ('\(name)'): the descriptions must be a list of strings")
      }
      guard !texts.isEmpty else {
        throw TagSetInputError.invalid(path: path, detail: "\(at) ('\(name)') has an empty description list")
      }
      classes.append((name, texts as! [String]))
    }
    let n = classes[0].1.count
    if let bad = classes.firstIndex(where: { $0.1.count != n }) {
      throw TagSetInputError.invalid(
        path: path,
        detail:
          "entry \(bad + 1) ('\(classes[bad].0)') has \(classes[bad].1.count) descriptions, but entry 1 ('\(classes[0].0)') has \(n); every class needs the same number (the reference would regroup the rows across classes or fail)"
      )
    }
    return TagSetSource(classes: classes.map { (name: $0.0, texts: $0.1) }, kind: "descriptions", path: path)
  }

  /// A names file (one class a line), each class's texts the reference's 63 prompts.
  public static func names(file path: String) throws -> TagSetSource {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw TagSetInputError.invalid(path: path, detail: "cannot read the file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw TagSetInputError.invalid(path: path, detail: "is not UTF-8 text")
    }
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    guard !lines.isEmpty else { throw TagSetInputError.invalid(path: path, detail: "has no names") }
    var seen: [String: Int] = [:]
    var classes: [(name: String, texts: [String])] = []
    for (i, raw) in lines.enumerated() {
      let name = raw.hasSuffix("\r") ? String(raw.dropLast()) : raw
      guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
        throw TagSetInputError.invalid(path: path, detail: "line \(i + 1) is empty; give one class name a line")
      }
      if let j = seen[name] {
        throw TagSetInputError.invalid(path: path, detail: "line \(i + 1): '\(name)' is a duplicate of line \(j + 1)")
      }
      seen[name] = i
      classes.append((name, OpenSetPrompts.prompts(for: name)))
    }
    return TagSetSource(classes: classes, kind: "names", path: path)
  }

  static func jsonKind(_ v: Any) -> String {
    switch v {
    case is [String: Any]: "an object"
    case is [Any]: "a list"
    case is String: "a string"
    case is NSNumber: "a number"
    default: "null"
    }
  }
}

/// The reference's RAM open-set prompts (`multiple_templates` and the rules of `build_openset_label_embedding`).
public enum OpenSetPrompts {
  /// The 63 templates, in order; `{article}` is "a"/"an", `{}` the processed name.
  public static let templates: [String] = [
    "There is {article} {} in the scene.",
    "There is the {} in the scene.",
    "a photo of {article} {} in the scene.",
    "a photo of the {} in the scene.",
    "a photo of one {} in the scene.",
    "itap of {article} {}.",
    "itap of my {}.",
    "itap of the {}.",
    "a photo of {article} {}.",
    "a photo of my {}.",
    "a photo of the {}.",
    "a photo of one {}.",
    "a photo of many {}.",
    "a good photo of {article} {}.",
    "a good photo of the {}.",
    "a bad photo of {article} {}.",
    "a bad photo of the {}.",
    "a photo of a nice {}.",
    "a photo of the nice {}.",
    "a photo of a cool {}.",
    "a photo of the cool {}.",
    "a photo of a weird {}.",
    "a photo of the weird {}.",
    "a photo of a small {}.",
    "a photo of the small {}.",
    "a photo of a large {}.",
    "a photo of the large {}.",
    "a photo of a clean {}.",
    "a photo of the clean {}.",
    "a photo of a dirty {}.",
    "a photo of the dirty {}.",
    "a bright photo of {article} {}.",
    "a bright photo of the {}.",
    "a dark photo of {article} {}.",
    "a dark photo of the {}.",
    "a photo of a hard to see {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of {article} {}.",
    "a low resolution photo of the {}.",
    "a cropped photo of {article} {}.",
    "a cropped photo of the {}.",
    "a close-up photo of {article} {}.",
    "a close-up photo of the {}.",
    "a jpeg corrupted photo of {article} {}.",
    "a jpeg corrupted photo of the {}.",
    "a blurry photo of {article} {}.",
    "a blurry photo of the {}.",
    "a pixelated photo of {article} {}.",
    "a pixelated photo of the {}.",
    "a black and white photo of the {}.",
    "a black and white photo of {article} {}.",
    "a plastic {}.",
    "the plastic {}.",
    "a toy {}.",
    "the toy {}.",
    "a plushie {}.",
    "the plushie {}.",
    "a cartoon {}.",
    "the cartoon {}.",
    "an embroidered {}.",
    "the embroidered {}.",
    "a painting of the {}.",
    "a painting of a {}.",

  ]

  /// `_` → space, `/` → " or ", lower-case, trailing dots removed.
  public static func processedName(_ name: String) -> String {
    var s = name.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "/", with: " or ")
    s = s.lowercased()
    while s.hasSuffix(".") { s.removeLast() }
    return s
  }

  /// "an" when the original name starts with a lower-case vowel (case-sensitive, as the reference), else "a".
  public static func article(_ name: String) -> String {
    if let c = name.unicodeScalars.first, "aeiou".unicodeScalars.contains(c) { return "an" }
    return "a"
  }

  /// The 63 prompts of one class; those starting with "a" or "the" get "This is " in front.
  public static func prompts(for name: String) -> [String] {
    let p = processedName(name)
    let a = article(name)
    return templates.map { t in
      let s = t.replacingOccurrences(of: "{article}", with: a).replacingOccurrences(of: "{}", with: p)
      return s.hasPrefix("a") || s.hasPrefix("the") ? "This is " + s : s
    }
  }
}
