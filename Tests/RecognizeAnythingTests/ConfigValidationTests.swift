import Foundation
import Testing

@testable import RecognizeAnything

/// Hostile `config.json` values (issue 11): each is refused before any arithmetic, naming the field, the value
/// and the allowed range.
struct ConfigValidationTests {
  /// The official Tag2Text preset (it has every optional section) with `edit` applied to its JSON object.
  func config(_ edit: (inout [String: Any]) -> Void) throws -> Data {
    let text = try #require(OfficialConfigs.json("tag2text_swin_14m"))
    var obj = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    edit(&obj)
    return try JSONSerialization.data(withJSONObject: obj)
  }

  func set(_ obj: inout [String: Any], _ section: String, _ key: String, _ value: Any) {
    var s = obj[section] as! [String: Any]
    s[key] = value
    obj[section] = s
  }

  func expectInvalid(_ data: Data, _ pieces: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    do {
      _ = try ModelConfig.decode(data, path: "cfg.json")
      Issue.record("accepted", sourceLocation: sourceLocation)
    } catch let BundleError.invalidConfig(path, detail) {
      #expect(path == "cfg.json", sourceLocation: sourceLocation)
      for p in pieces { #expect(detail.contains(p), "\(detail) lacks '\(p)'", sourceLocation: sourceLocation) }
    } catch {
      Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func officialPresetsPass() throws {
    for name in OfficialConfigs.names { _ = try ModelConfig.preset(name) }
  }

  @Test(arguments: [
    ("vision", "patch_size", "0", ["vision.patch_size", "is 0", "1…64"]),
    ("vision", "window_size", "0", ["vision.window_size", "is 0"]),
    ("vision", "num_heads", "[0, 8, 16, 32]", ["vision.num_heads[0]", "is 0", "1…256"]),
    ("vision", "depths", "[2, -2, 18, 2]", ["vision.depths[1]", "is -2", "1…64"]),
    ("vision", "num_heads", "[4, 8, -16, 32]", ["vision.num_heads[2]", "is -16"]),
    ("vision", "mlp_ratio", "1e300", ["vision.mlp_ratio", "(0.0, 16.0]"]),
    ("vision", "mlp_ratio", "-1", ["vision.mlp_ratio"]),
    ("vision", "embed_dim", "1099511627776", ["vision.embed_dim"]),
    ("vision", "depths", "[" + Array(repeating: "1", count: 70).joined(separator: ",") + "]", ["vision.depths", "stages"]),
    ("tagging_head", "num_heads", "0", ["tagging_head.num_heads", "is 0"]),
    ("tagging_head", "num_layers", "-1", ["tagging_head.num_layers", "is -1", "0…64"]),
    ("tagging_head", "num_heads", "7", ["tagging_head.num_heads", "divide"]),
    ("tagging_head", "layer_norm_eps", "0", ["tagging_head.layer_norm_eps"]),
    ("text_decoder", "num_layers", "-3", ["text_decoder.num_layers", "is -3"]),
    ("caption", "num_beams", "0", ["caption.num_beams"]),
    ("threshold", "default", "2", ["threshold.default", "[0.0, 1.0]"]),
  ])
  func fieldOutOfRange(section: String, key: String, json: String, pieces: [String]) throws {
    let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
    expectInvalid(try config { set(&$0, section, key, value) }, pieces)
  }

  @Test func topLevelFieldsOutOfRange() throws {
    expectInvalid(try config { $0["image_size"] = 38400 }, ["image_size", "is 38400", "1…1536"])
    expectInvalid(try config { $0["image_size"] = -384 }, ["image_size", "is -384"])
    expectInvalid(try config { $0["num_classes"] = 0 }, ["num_classes", "is 0"])
    expectInvalid(try config { $0["vocab_size"] = -1 }, ["vocab_size", "is -1"])
    expectInvalid(try config { $0["delete_tag_indices"] = [1, 99999] }, ["delete_tag_indices[1]", "is 99999"])
  }

  @Test func nonIntegerNumbersNameTheField() throws {
    expectInvalid(try config { $0["image_size"] = 384.5 }, ["'image_size'", "384.5", "must be an integer"])
    expectInvalid(
      try config { set(&$0, "vision", "depths", [2, 2.5, 18, 2]) }, ["'vision.depths[1]'", "2.5", "integer"])
    // Text that is not JSON is still reported as such.
    expectInvalid(Data("{\"image_size\": ".utf8), ["not valid JSON"])
  }
}
