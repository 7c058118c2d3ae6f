import Foundation
import RecognizeAnything
import Testing
import VTagTestSupport

private let casesURL = Fixtures.tokenizer.appendingPathComponent("cases.jsonl")
private let vocabURL = Fixtures.ramParity.appendingPathComponent("tag2text/vocab.txt")
private let parityCasesURL = Fixtures.ramParity.appendingPathComponent("cases")

/// One line of `fixtures/tokenizer/cases.jsonl`.
private struct TokenizerCase: Decodable {
  let text: String
  let ids: [Int]
  let ids_with_special: [Int]
  let decoded: String
}

/// The Tag2Text fields of a `<stem>.tag2text*.expected.json`.
private struct Tag2TextExpectation: Decodable {
  let tag2text_tag_input: String
  let tag2text_tag_input_ids: [Int]
  let tag2text_tag_attention_mask: [Int]
  let caption: String
  let caption_token_ids: [Int]
  let caption_decoded_full: String
}

/// Loaded once: the real bert-base-uncased vocabulary.
private let sharedTokenizer: BertTokenizer? = try? BertTokenizer(vocabPath: vocabURL.path)

private func escaped(_ text: String) -> String {
  text.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
    .joined()
}

@Suite("BertTokenizer")
struct TokenizerTests {
  @Test(
    "vocabulary: special ids and sizes",
    .enabled(if: Fixtures.exists(vocabURL), Comment(rawValue: Fixtures.missing(vocabURL))))
  func specialIDs() throws {
    let tokenizer = try BertTokenizer(vocabPath: vocabURL.path)
    #expect(tokenizer.vocabularySize == 30524)
    #expect(tokenizer.padTokenID == 0)
    #expect(tokenizer.unknownTokenID == 100)
    #expect(tokenizer.clsTokenID == 101)
    #expect(tokenizer.sepTokenID == 102)
    #expect(tokenizer.maskTokenID == 103)
    #expect(tokenizer.decoderStartTokenID == 30522)
    #expect(tokenizer.encoderTokenID == 30523)
    #expect(tokenizer.id(for: "[DEC]") == 30522)
    #expect(tokenizer.id(for: "[ENC]") == 30523)
    #expect(tokenizer.id(for: "|") == 1064)
    #expect(tokenizer.token(for: 1037) == "a")
    #expect(tokenizer.token(for: 30523) == "[ENC]")
    #expect(tokenizer.token(for: 30524) == nil)
    #expect(tokenizer.token(for: -1) == nil)
    // The decoder prefix the reference builds from the prompt.
    var prompt = tokenizer.encode("a picture of ")
    prompt[0] = tokenizer.decoderStartTokenID
    #expect(Array(prompt.dropLast()) == [30522, 1037, 3861, 1997])
  }

  @Test(
    "every case of fixtures/tokenizer/cases.jsonl",
    .enabled(if: Fixtures.exists(casesURL), Comment(rawValue: Fixtures.missing(casesURL))))
  func allFixtureCases() throws {
    let tokenizer = try #require(sharedTokenizer, "cannot load \(vocabURL.path)")
    let text = try String(contentsOf: casesURL, encoding: .utf8)
    let decoder = JSONDecoder()
    var total = 0
    var failures: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
      let c = try decoder.decode(TokenizerCase.self, from: Data(line.utf8))
      total += 1
      let ids = tokenizer.encode(c.text, addSpecialTokens: false)
      let tag = tokenizer.encodeTagInput(c.text, maxLength: 40)
      let decoded = tokenizer.decode(c.ids, skipSpecialTokens: true)
      // The fixture has no mask; HF's is 1 on [CLS]/[ENC], the kept pieces and [SEP] (a literal "[PAD]" in the
      // text included), 0 on padding.
      let used = min(c.ids.count, 38) + 2
      let expectedMask = (0..<40).map { $0 < used ? 1 : 0 }
      var problems: [String] = []
      if ids != c.ids { problems.append("ids \(ids) != expected \(c.ids)") }
      if tag.ids != c.ids_with_special { problems.append("tag ids \(tag.ids) != expected \(c.ids_with_special)") }
      if tag.attentionMask != expectedMask { problems.append("tag mask \(tag.attentionMask) != \(expectedMask)") }
      if decoded != c.decoded {
        problems.append("decoded \"\(escaped(decoded))\" != expected \"\(escaped(c.decoded))\"")
      }
      if !problems.isEmpty {
        failures.append("case #\(total) \"\(escaped(c.text))\": " + problems.joined(separator: "; "))
      }
    }
    #expect(total == 9856)
    #expect(
      failures.isEmpty, "\(failures.count) of \(total) cases differ:\n\(failures.prefix(40).joined(separator: "\n"))")
  }

  @Test(
    "Tag2Text fixture tag inputs and captions",
    .enabled(if: Fixtures.exists(parityCasesURL), Comment(rawValue: Fixtures.missing(parityCasesURL))))
  func tag2textFixtures() throws {
    let tokenizer = try #require(sharedTokenizer, "cannot load \(vocabURL.path)")
    let files = try FileManager.default.contentsOfDirectory(atPath: parityCasesURL.path)
      .filter { $0.contains(".tag2text") && $0.hasSuffix(".expected.json") }
      .sorted()
    #expect(files.count == 5)
    for file in files {
      let data = try Data(contentsOf: parityCasesURL.appendingPathComponent(file))
      let e = try JSONDecoder().decode(Tag2TextExpectation.self, from: data)
      let tag = tokenizer.encodeTagInput(e.tag2text_tag_input)
      #expect(tag.ids == e.tag2text_tag_input_ids, "\(file): tag input ids")
      #expect(tag.attentionMask == e.tag2text_tag_attention_mask, "\(file): tag attention mask")
      let full = tokenizer.decode(e.caption_token_ids)
      #expect(full == e.caption_decoded_full, "\(file): decoded caption")
      // The reference slices 13 code points (`len("a picture of ")`).
      let caption = String(String.UnicodeScalarView(full.unicodeScalars.dropFirst(13)))
      #expect(caption == e.caption, "\(file): caption after the prompt slice")
      #expect(String(full.dropFirst(13)) == e.caption, "\(file): caption after a 13-character slice")
    }
  }

  @Test(
    "basic tokenizer details", .enabled(if: Fixtures.exists(vocabURL), Comment(rawValue: Fixtures.missing(vocabURL))))
  func basicTokenizerDetails() throws {
    let tokenizer = try #require(sharedTokenizer)
    // Final sigma is lower-cased per code point (σ), as HF's regex does.
    #expect(tokenizer.tokenize("ΟΔΟΣ.") == ["ο", "##δ", "##ο", "##σ", "."])
    // Hangul syllables decompose to jamo (NFD); lookups compare scalars, not canonical equivalence.
    #expect(
      tokenizer.encode("한국어", addSpecialTokens: false) == [1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008])
    #expect(tokenizer.tokenize("İstanbul") == ["istanbul"])
    #expect(tokenizer.tokenize("a\u{2028}b") == ["a", "b"])
    #expect(tokenizer.tokenize("[CLS] x [cls]") == ["[CLS]", "x", "[", "cl", "##s", "]"])
    #expect(tokenizer.encode("x[SEP]y", addSpecialTokens: false) == [1060, 102, 1061])
    #expect(tokenizer.tokenize("a\u{1C}b") == ["ab"])
    #expect(tokenizer.tokenize("\u{E000}a") == ["a"])
    #expect(tokenizer.tokenize("x\u{301}y") == ["x", "##y"])
    // Unicode 14 character data (Python 3.11, the reference): later assignments are unassigned and dropped,
    // U+1171E is still a nonspacing mark.
    #expect(tokenizer.encode("a\u{31E4}b", addSpecialTokens: false) == [11113])
    #expect(tokenizer.encode("\u{A7CB}x", addSpecialTokens: false) == [1060])
    #expect(tokenizer.encode("a\u{1171E}b", addSpecialTokens: false) == [11113])
  }

  @Test("decode details", .enabled(if: Fixtures.exists(vocabURL), Comment(rawValue: Fixtures.missing(vocabURL))))
  func decodeDetails() throws {
    let tokenizer = try #require(sharedTokenizer)
    let ids = [30522, 1037, 9697, 30523, 9697, 999_999, 100, 1012, 2005, 1005, 1055]
    #expect(tokenizer.decode(ids, skipSpecialTokens: false) == "[DEC] abrook [ENC] ##brook [UNK] [UNK]. for's")
    #expect(tokenizer.decode(ids) == "abrookbrook [UNK]. for's")
    #expect(
      tokenizer.decode(ids, skipSpecialTokens: true, cleanUpTokenizationSpaces: false) == "abrookbrook [UNK] . for ' s")
    #expect(tokenizer.decode([]) == "")
    #expect(tokenizer.decode([101, 102, 0]) == "")
  }

  @Test(
    "tag input truncation keeps [ENC] + first pieces + [SEP]",
    .enabled(if: Fixtures.exists(vocabURL), Comment(rawValue: Fixtures.missing(vocabURL))))
  func truncation() throws {
    let tokenizer = try #require(sharedTokenizer)
    let text = Array(repeating: "dog", count: 50).joined(separator: " ")
    let tag = tokenizer.encodeTagInput(text, maxLength: 10)
    #expect(tag.ids == [30523] + Array(repeating: 3899, count: 8) + [102])
    #expect(tag.attentionMask == Array(repeating: 1, count: 10))
    let short = tokenizer.encodeTagInput("dog", maxLength: 5)
    #expect(short.ids == [30523, 3899, 102, 0, 0])
    #expect(short.attentionMask == [1, 1, 1, 0, 0])
  }

  @Test("a small in-memory vocabulary")
  func smallVocabulary() throws {
    let tokenizer = try BertTokenizer(vocab: [
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "a", ".",
    ])
    #expect(tokenizer.vocabularySize == 12)
    #expect(tokenizer.decoderStartTokenID == 10)
    #expect(tokenizer.encoderTokenID == 11)
    #expect(tokenizer.encode("Unaffable.") == [2, 5, 6, 7, 9, 3])
    #expect(tokenizer.encode("unaffablex", addSpecialTokens: false) == [1])
    #expect(tokenizer.decode([10, 5, 6, 7, 9, 3]) == "unaffable.")
    #expect(tokenizer.decode([10, 5, 6, 7, 9, 3], skipSpecialTokens: false) == "[DEC] unaffable. [SEP]")
  }

  @Test("missing vocabulary file names the path")
  func missingVocabulary() throws {
    let path = "/nonexistent/vtag/vocab.txt"
    #expect(throws: TokenizerError.vocabularyNotFound(path: path)) { try BertTokenizer(vocabPath: path) }
    let message = TokenizerError.vocabularyNotFound(path: path).description
    #expect(message.contains(path))
    #expect(message.contains("bert-base-uncased"))
    #expect(message.contains("vocab.txt"))
  }

  @Test("empty, unreadable and incomplete vocabularies are rejected")
  func badVocabularies() throws {
    let directory = try Fixtures.temporaryDirectory("vtag-tokenizer")
    defer { try? FileManager.default.removeItem(at: directory) }
    let empty = directory.appendingPathComponent("empty.txt")
    try Data().write(to: empty)
    #expect(throws: TokenizerError.emptyVocabulary(path: empty.path)) { try BertTokenizer(vocabPath: empty.path) }
    #expect(TokenizerError.emptyVocabulary(path: empty.path).description.contains(empty.path))
    #expect(throws: TokenizerError.emptyVocabulary(path: nil)) { try BertTokenizer(vocab: []) }

    let invalid = directory.appendingPathComponent("invalid.txt")
    try Data([0x5B, 0x50, 0xFF, 0xFE, 0x0A]).write(to: invalid)
    #expect {
      try BertTokenizer(vocabPath: invalid.path)
    } throws: { error in
      guard case TokenizerError.vocabularyUnreadable(let path, _) = error else { return false }
      return path == invalid.path
    }

    #expect {
      try BertTokenizer(vocabPath: directory.path)
    } throws: { error in
      guard case TokenizerError.vocabularyUnreadable(let path, _) = error else { return false }
      return path == directory.path
    }
    let noUNK = directory.appendingPathComponent("nounk.txt")
    try "[PAD]\n[CLS]\n[SEP]\n[MASK]\n".write(to: noUNK, atomically: true, encoding: .utf8)
    #expect(throws: TokenizerError.missingSpecialToken(token: "[UNK]", path: noUNK.path)) {
      try BertTokenizer(vocabPath: noUNK.path)
    }
  }

  @Test("vocabulary lines end at \\n, \\r\\n or \\r")
  func lineEndings() throws {
    let directory = try Fixtures.temporaryDirectory("vtag-tokenizer")
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent("vocab.txt")
    try "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\n[MASK]\nhello".write(to: file, atomically: true, encoding: .utf8)
    let tokenizer = try BertTokenizer(vocabPath: file.path)
    #expect(tokenizer.vocabularySize == 8)
    #expect(tokenizer.encode("Hello") == [2, 5, 3])
  }
}
