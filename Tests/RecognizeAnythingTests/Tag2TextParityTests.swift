import Foundation
import RecognizeAnything
import TensorCore
import Testing
import VTagTestSupport

/// Tag2Text captions match the reference token for token (tiny random-weight fixture model).
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))))
struct Tag2TextParityTests {
  static let cases = Fixtures.ramParity.appendingPathComponent("cases")
  static let bundle = Fixtures.ramParity.appendingPathComponent("tag2text")

  struct Expected: Decodable {
    var tag_indices: [Int]?
    var tags_string: String?
    var tag2text_tag_input: String
    var tag2text_tag_input_ids: [Int]
    var tag2text_tag_attention_mask: [Int]
    var caption: String
    var caption_token_ids: [Int]
    var caption_decoded_full: String
    var input_tag: String?
  }

  func check(stem: String, expectedName: String, specifiedTags: String?, model: RecognizeAnythingModel) throws {
    let pixels = try fixtureTensor(
      Self.cases.appendingPathComponent("\(stem).pixel_values.safetensors"), "pixel_values")
    let result = try pixels.withUnsafeBufferPointer {
      try model.tag(pixels: $0.baseAddress!, batch: 1, keepIntermediates: true, specifiedTags: specifiedTags)[0]
    }
    let want = try JSONDecoder().decode(
      Expected.self, from: Data(contentsOf: Self.cases.appendingPathComponent("\(expectedName).json")))
    let caption = try #require(result.caption)
    #expect(caption.tagInput == want.tag2text_tag_input, "\(expectedName) tag input")
    #expect(caption.tagInputIDs == want.tag2text_tag_input_ids, "\(expectedName) tag input ids")
    #expect(caption.tagAttentionMask == want.tag2text_tag_attention_mask, "\(expectedName) tag mask")
    let tensors = Self.cases.appendingPathComponent("\(expectedName).safetensors")
    let dh = maxAbsDiff(
      try #require(caption.intermediates["tag_encoder_hidden"]), try fixtureTensor(tensors, "tag_encoder_hidden"))
    #expect(dh <= 1e-4, "\(expectedName) tag_encoder_hidden max |Δ| = \(dh)")
    let dl = maxAbsDiff(
      try #require(caption.intermediates["decoder_step0_logits"]), try fixtureTensor(tensors, "decoder_step0_logits"))
    #expect(dl <= 1e-3, "\(expectedName) decoder_step0_logits max |Δ| = \(dl)")
    #expect(caption.tokenIDs == want.caption_token_ids, "\(expectedName) caption token ids")
    #expect(caption.decodedFull == want.caption_decoded_full)
    #expect(caption.caption == want.caption)
    if specifiedTags == nil { #expect(result.tags.map(\.index) == want.tag_indices) }
    print(
      "tag2text parity \(expectedName): Δhidden \(dh), Δstep0 \(dl), \(caption.tokenIDs.count) tokens, caption '\(caption.caption)'"
    )
  }

  @Test("Captions, tag-encoder states and first-step logits match for every image")
  func captions() throws {
    BLAS.setThreads(1)
    let model = try RecognizeAnythingModel(directory: Self.bundle)
    for stem in ["demo4", "chelsea", "rocket", "bigbuckbunny_t2s"] {
      try check(stem: stem, expectedName: "\(stem).tag2text.expected", specifiedTags: nil, model: model)
    }
  }

  @Test("Specified-tags mode: the user's tags guide the caption")
  func specifiedTags() throws {
    BLAS.setThreads(1)
    let model = try RecognizeAnythingModel(directory: Self.bundle)
    let want = try JSONDecoder().decode(
      Expected.self, from: Data(contentsOf: Self.cases.appendingPathComponent("demo4.tag2text.usertags.expected.json")))
    try check(
      stem: "demo4", expectedName: "demo4.tag2text.usertags.expected", specifiedTags: want.input_tag, model: model)
  }
}
