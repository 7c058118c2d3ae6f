import CLIPText
import Foundation
import Testing
import VTagTestSupport

let vocabularyFile = Fixtures.openset.appendingPathComponent("tokenizer/bpe_simple_vocab_16e6.txt.gz")
let tokenizerCases = Fixtures.openset.appendingPathComponent("tokenizer/cases.jsonl")

/// The shared tokenizer (loading the merges takes a moment; every suite uses this one).
let sharedTokenizer: CLIPTokenizer? = try? CLIPTokenizer(vocabularyFile: vocabularyFile.path)

@Suite("CLIP tokenizer")
struct TokenizerTests {
  @Test(
    "every fixture case gives the reference's ids, length and truncation",
    .enabled(if: Fixtures.exists(tokenizerCases), Comment(rawValue: Fixtures.missing(tokenizerCases))))
  func fixtureCases() throws {
    let tok = try #require(sharedTokenizer)
    let lines = try String(contentsOf: tokenizerCases, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 331)
    var failures: [String] = []
    for line in lines {
      let obj = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let text = obj["text"] as! String
      let want = (obj["ids"] as! [NSNumber]).map { $0.int32Value }
      let got = try tok.tokenize(text)
      if got.ids != want || got.fullLength != (obj["n_tokens"] as! Int)
        || got.truncated != (obj["truncated"] as! Bool)
      {
        failures.append(
          "\(obj["group"]!) \(text.debugDescription): got \(got.ids.prefix(got.endPosition + 1)) want \(want.prefix(want.firstIndex(of: 49407)! + 1))"
        )
      }
    }
    #expect(failures.isEmpty, "\(failures.count) cases differ:\n\(failures.prefix(20).joined(separator: "\n"))")
  }

  @Test("over-long text without truncation is refused, naming its length")
  func refusesLong() throws {
    let tok = try #require(sharedTokenizer)
    let text = Array(repeating: "dog", count: 80).joined(separator: " ")
    #expect(throws: CLIPError.textTooLong(text: text, tokens: 82, context: 77)) {
      try tok.tokenize(text, truncate: false)
    }
    let cut = try tok.tokenize(text)
    #expect(cut.ids.count == 77 && cut.ids[76] == CLIPTokenizer.endToken && cut.endPosition == 76)
  }

  @Test("HTML unescaping follows Python's html.unescape")
  func htmlUnescape() {
    #expect(
      HTMLUnescape.unescape("&notanentity; &amp &#39;x&#39; &#x27; &#128; &#0;") == "¬anentity; & 'x' ' € \u{FFFD}")
  }
}
