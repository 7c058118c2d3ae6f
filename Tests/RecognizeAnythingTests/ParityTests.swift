import Checkpoints
import Foundation
import RecognizeAnything
import TensorCore
import Testing
import VTagTestSupport

/// Parity with the reference on the tiny random-weight fixture models, from the stored `pixel_values`.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))))
struct RAMParityTests {
  static let stems = ["demo4", "chelsea", "rocket", "bigbuckbunny_t2s"]

  static func bundleDirectory(_ model: String) -> URL {
    if let dev = ProcessInfo.processInfo.environment["VTAG_DEV_BUNDLES"] {
      return URL(fileURLWithPath: dev).appendingPathComponent(model)
    }
    return Fixtures.ramParity.appendingPathComponent(model)
  }

  struct Expected: Decodable {
    var tag_indices: [Int]
    var tags_string: String
    var tags_zh_string: String?
  }

  @Test(
    "RAM++, RAM and the Tag2Text tagging branch match the reference tensors and tags",
    arguments: ["ram_plus", "ram", "tag2text"])
  func parity(model: String) throws {
    BLAS.setThreads(1)
    let ram = try RecognizeAnythingModel(directory: Self.bundleDirectory(model), captions: false)
    let cases = Fixtures.ramParity.appendingPathComponent("cases")
    for stem in Self.stems {
      let pixels = try fixtureTensor(cases.appendingPathComponent("\(stem).pixel_values.safetensors"), "pixel_values")
      let result = try pixels.withUnsafeBufferPointer {
        try ram.tag(pixels: $0.baseAddress!, batch: 1, keepIntermediates: true)[0]
      }
      let expectedURL = cases.appendingPathComponent("\(stem).\(model).expected.safetensors")
      let tolerances: [(String, Float)] = [
        ("image_embeds", 1e-4), ("image_proj", 1e-4), ("label_queries", 5e-4),
      ]
      var report: [String] = []
      for (name, tol) in tolerances where model != "tag2text" || name == "image_embeds" {
        let want = try fixtureTensor(expectedURL, name)
        let got = try #require(result.intermediates[name], "\(name) not produced")
        let d = maxAbsDiff(got, want)
        report.append("\(name) \(d)")
        #expect(d <= tol, "\(model)/\(stem) \(name): max |Δ| = \(d) > \(tol)")
      }
      let dl = maxAbsDiff(try #require(result.intermediates["logits"]), try fixtureTensor(expectedURL, "logits"))
      report.append("logits \(dl)")
      #expect(dl <= 2e-3, "\(model)/\(stem) logits: max |Δ| = \(dl)")
      let wantProbs = try fixtureTensor(expectedURL, "probs")
      let dp = maxAbsDiff(result.scores, wantProbs)
      #expect(dp <= 3e-4, "\(model)/\(stem) probs: max |Δ| = \(dp)")
      let json = try JSONDecoder().decode(
        Expected.self,
        from: Data(contentsOf: cases.appendingPathComponent("\(stem).\(model).expected.json")))
      #expect(result.tags.map(\.index) == json.tag_indices, "\(model)/\(stem) tag indices")
      #expect(result.tagString == json.tags_string)
      #expect(result.tagStringChinese == json.tags_zh_string)
      print("parity \(model)/\(stem): max|Δprobs| = \(dp); " + report.joined(separator: ", "))
    }
  }

  @Test("Swin intermediate outputs match the reference stages (RAM++, demo4)")
  func swinStages() throws {
    BLAS.setThreads(1)
    let ram = try RecognizeAnythingModel(directory: Self.bundleDirectory("ram_plus"))
    let cases = Fixtures.ramParity.appendingPathComponent("cases")
    let stagesURL = cases.appendingPathComponent("demo4.ram_plus.stages.safetensors")
    let names = Array(try SafetensorsFile(path: stagesURL.path).entries.keys).sorted()
    #expect(names.count == 9)
    let captured = Captured()
    ram.tagging.swin.observer = { name, tensor in captured.put(name, tensor.array) }
    defer { ram.tagging.swin.observer = nil }
    let pixels = try fixtureTensor(cases.appendingPathComponent("demo4.pixel_values.safetensors"), "pixel_values")
    _ = pixels.withUnsafeBufferPointer { ram.tagging.imageEmbeddings(pixels: $0.baseAddress!, batch: 1) }
    for name in names {
      let got = try #require(captured.get(name), "stage \(name) not observed")
      let d = maxAbsDiff(got, try fixtureTensor(stagesURL, name))
      #expect(d <= 1e-4, "stage \(name): max |Δ| = \(d)")
    }
  }
}

/// Collects observer outputs.
final class Captured: @unchecked Sendable {
  private var values: [String: [Float]] = [:]
  private let lock = NSLock()
  func put(_ name: String, _ v: [Float]) { lock.withLock { values[name] = v } }
  func get(_ name: String) -> [Float]? { lock.withLock { values[name] } }
}

/// Exact optimisations: a class subset scores exactly as the full run.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))))
struct ClassSubsetTests {
  @Test("A class subset gives the full run's scores for those classes", arguments: ["ram_plus", "ram", "tag2text"])
  func subset(model: String) throws {
    BLAS.setThreads(1)
    let ram = try RecognizeAnythingModel(directory: Fixtures.ramParity.appendingPathComponent(model), captions: false)
    let pixels = try fixtureTensor(
      Fixtures.ramParity.appendingPathComponent("cases/demo4.pixel_values.safetensors"), "pixel_values")
    let full = try pixels.withUnsafeBufferPointer { try ram.tag(pixels: $0.baseAddress!, batch: 1)[0] }
    let classes = [3, 17, 467, 598, 1000, 2235, 3000, 3415]
    let part = try pixels.withUnsafeBufferPointer {
      try ram.tag(pixels: $0.baseAddress!, batch: 1, classes: classes)[0]
    }
    for i in classes { #expect(abs(part.scores[i] - full.scores[i]) <= 1e-6, "class \(i)") }
    #expect(part.scores.enumerated().filter { !classes.contains($0.offset) }.allSatisfy { $0.element.isNaN })
    #expect(part.tags.map(\.index) == full.tags.map(\.index).filter { classes.contains($0) })
  }
}
