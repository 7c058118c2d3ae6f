import Foundation
import RecognizeAnything
import TensorCore
import Testing
import VTagTestSupport

/// bf16 products (`Precision.bf16`) against fp32 on every parity fixture: the documented bounds of
/// docs/precision.md. Needs AVX512-BF16; skips with a message elsewhere.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(
    if: BF16.supported(),
    Comment(rawValue: "skipped: this CPU lacks \(BF16.missing(.current).joined(separator: ", ")) (bf16 kernels)")))
struct BF16AccuracyTests {
  static let cases = Fixtures.ramParity.appendingPathComponent("cases")
  static let stems = ["demo4", "chelsea", "rocket", "bigbuckbunny_t2s"]

  /// Documented bounds (docs/precision.md), measured on the fixtures with margin.
  static let maxProbDelta: Float = 0.25
  static let minTagAgreement = 0.85
  static let minCaptionAgreement = 0.75

  struct Comparison {
    var maxProbDelta: Float = 0
    var tagsBoth = 0
    var tagsEither = 0
    var captionSame = 0
    var captionTotal = 0
    var tagAgreement: Double { tagsEither == 0 ? 1 : Double(tagsBoth) / Double(tagsEither) }
    var captionAgreement: Double { captionTotal == 0 ? 1 : Double(captionSame) / Double(captionTotal) }
  }

  func compare(model name: String) throws -> Comparison {
    BLAS.setThreads(2)
    let dir = Fixtures.ramParity.appendingPathComponent(name)
    let fp32 = try RecognizeAnythingModel(directory: dir, precision: .fp32)
    let bf16 = try RecognizeAnythingModel(directory: dir, precision: .bf16)
    #expect(bf16.precision == .bf16)
    var c = Comparison()
    for stem in Self.stems {
      let pixels = try fixtureTensor(Self.cases.appendingPathComponent("\(stem).pixel_values.safetensors"), "pixel_values")
      let (a, b) = try pixels.withUnsafeBufferPointer {
        (try fp32.tag(pixels: $0.baseAddress!, batch: 1)[0], try bf16.tag(pixels: $0.baseAddress!, batch: 1)[0])
      }
      let d = zip(a.scores, b.scores).map { abs($0 - $1) }.max() ?? 0
      #expect(d > 0, "\(name)/\(stem): bf16 gave fp32's exact scores: the bf16 path did not run")
      c.maxProbDelta = max(c.maxProbDelta, d)
      let ta = Set(a.tags.map(\.index))
      let tb = Set(b.tags.map(\.index))
      c.tagsBoth += ta.intersection(tb).count
      c.tagsEither += ta.union(tb).count
      if let ca = a.caption, let cb = b.caption {
        let n = max(ca.tokenIDs.count, cb.tokenIDs.count)
        c.captionTotal += n
        c.captionSame += zip(ca.tokenIDs, cb.tokenIDs).filter { $0 == $1 }.count
        print("bf16 \(name)/\(stem): caption fp32 '\(ca.caption)' bf16 '\(cb.caption)'")
      }
      print("bf16 \(name)/\(stem): max |Δprob| \(d), tags fp32 \(ta.count) bf16 \(tb.count) shared \(ta.intersection(tb).count)")
    }
    print(
      "bf16 \(name): max |Δprob| \(c.maxProbDelta), tag agreement \(c.tagAgreement) (\(c.tagsBoth)/\(c.tagsEither))"
        + (c.captionTotal > 0 ? ", caption token agreement \(c.captionAgreement) (\(c.captionSame)/\(c.captionTotal))" : ""))
    return c
  }

  @Test("RAM++, RAM and Tag2Text in bf16 stay within the documented bounds of fp32", arguments: ["ram_plus", "ram", "tag2text"])
  func withinBounds(model: String) throws {
    let c = try compare(model: model)
    #expect(c.maxProbDelta <= Self.maxProbDelta, "\(model): max |Δprob| \(c.maxProbDelta)")
    #expect(c.tagAgreement >= Self.minTagAgreement, "\(model): tag agreement \(c.tagAgreement)")
    #expect(c.captionAgreement >= Self.minCaptionAgreement, "\(model): caption agreement \(c.captionAgreement)")
  }
}
