import Foundation
import RecognizeAnything
import Testing
import VTagTestSupport

struct LayoutTests {
  static let keysDir = Fixtures.shared.appendingPathComponent("ram-keys")

  /// Parses `ram-keys/<model>_expected_state_dict.tsv` into key → shape.
  static func expectedKeys(_ model: String) throws -> [String: [Int]] {
    let text = try String(
      contentsOf: keysDir.appendingPathComponent("\(model)_expected_state_dict.tsv"), encoding: .utf8)
    var out: [String: [Int]] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("key\t") {
      let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
      let shape = cols[1] == "scalar" ? [] : cols[1].split(separator: "x").map { Int($0)! }
      out[String(cols[0])] = shape
    }
    return out
  }

  @Test(
    "The layout of each official preset equals the reference state_dict keys and shapes",
    .enabled(if: Fixtures.exists(keysDir), Comment(rawValue: Fixtures.missing(keysDir))),
    arguments: [
      ("ram_plus_swin_large_14m", "ram_plus", 402), ("ram_swin_large_14m", "ram", 1042),
      ("tag2text_swin_14m", "tag2text", 1038),
    ])
  func presetLayout(preset: String, model: String, count: Int) throws {
    let config = try ModelConfig.preset(preset)
    let items = CheckpointLayout.items(config)
    var got: [String: [Int]] = [:]
    for item in items { got[item.name] = item.shape }
    #expect(items.count == count)
    let want = try Self.expectedKeys(model)
    #expect(want.count == count)
    #expect(Set(got.keys).subtracting(want.keys).sorted() == [], "keys the layout has but the reference does not")
    #expect(Set(want.keys).subtracting(got.keys).sorted() == [], "keys the reference has but the layout does not")
    for (k, shape) in want where got[k] != nil {
      #expect(got[k] == shape, "\(k): \(got[k]!) vs \(shape)")
    }
  }

  @Test("Shipped configs/*.json equal the built-in presets", arguments: OfficialConfigs.names)
  func shippedConfigs(name: String) throws {
    let url = Fixtures.repositoryRoot.appendingPathComponent("configs/\(name).json")
    let file = try ModelConfig.decode(Data(contentsOf: url), path: url.path)
    #expect(file == (try ModelConfig.preset(name)))
  }
}
