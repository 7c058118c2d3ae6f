import Foundation

/// Errors raised while loading a WordPiece vocabulary.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
  /// No file exists at the given path.
  case vocabularyNotFound(path: String)
  /// The file exists but cannot be read or is not valid UTF-8.
  case vocabularyUnreadable(path: String, reason: String)
  /// The vocabulary has no entries (`path` is `nil` for an in-memory vocabulary).
  case emptyVocabulary(path: String?)
  /// A token every BERT vocabulary must contain (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`) is absent.
  case missingSpecialToken(token: String, path: String?)

  private static let hint = "the model bundle needs the bert-base-uncased vocab.txt (30522 lines)"

  /// A human-readable explanation naming the offending path.
  public var description: String {
    switch self {
    case .vocabularyNotFound(let path):
      return "tokenizer vocabulary not found at \(path): \(Self.hint)"
    case .vocabularyUnreadable(let path, let reason):
      return "tokenizer vocabulary at \(path) is unreadable (\(reason)): \(Self.hint)"
    case .emptyVocabulary(let path):
      return "tokenizer vocabulary \(path.map { "at \($0) " } ?? "")is empty: \(Self.hint)"
    case .missingSpecialToken(let token, let path):
      return "tokenizer vocabulary \(path.map { "at \($0) " } ?? "")has no \(token) entry: \(Self.hint)"
    }
  }
}

/// The BERT-uncased WordPiece tokenizer exactly as the Recognize Anything reference builds it.
///
/// This reproduces transformers 4.25.1's slow `BertTokenizer` for `bert-base-uncased` (`do_lower_case`,
/// `tokenize_chinese_chars`, accents stripped with lower-casing) plus the two tokens the reference adds:
/// `[DEC]` (the `bos_token`, id = vocabulary count, 30522) and `[ENC]` (additional special token, 30523).
///
/// Text is processed per Unicode scalar (Python code point), never per `Character`, and vocabulary lookups
/// compare scalars exactly (Swift `String` equality would treat canonically equivalent strings as equal, Python
/// does not).
public struct BertTokenizer: Sendable {
  /// A sequence of Unicode scalars, compared and hashed scalar by scalar (Python `str` semantics).
  typealias Scalars = [Unicode.Scalar]

  /// Vocabulary token → id (later duplicates win, as in HF `load_vocab`), added tokens included.
  private let tokenToID: [Scalars: Int]
  /// id → token for every id in `0..<vocabularySize` that HF can map back (nil for shadowed duplicates).
  private let idToToken: [String?]
  /// Longest vocabulary entry, in scalars (bounds the WordPiece search without changing its result).
  private let maxTokenScalars: Int
  /// The special tokens that are split out of the text before basic tokenization, as scalars.
  private let noSplitTokens: [Scalars]
  /// The ids `skip_special_tokens` removes.
  private let specialIDs: Set<Int>
  /// The ids of tokens added on top of `vocab.txt` (`[DEC]`, `[ENC]`); decode keeps them as separate pieces.
  private let addedIDs: Set<Int>

  /// Number of ids the model knows: the vocabulary plus `[DEC]` and `[ENC]` (30524 for bert-base-uncased).
  public let vocabularySize: Int
  /// `[PAD]` (0 in bert-base-uncased).
  public let padTokenID: Int
  /// `[UNK]` (100).
  public let unknownTokenID: Int
  /// `[CLS]` (101).
  public let clsTokenID: Int
  /// `[SEP]` (102); also the end-of-sequence token of Tag2Text captioning.
  public let sepTokenID: Int
  /// `[MASK]` (103).
  public let maskTokenID: Int
  /// `[DEC]` (30522): the decoder's start token.
  public let decoderStartTokenID: Int
  /// `[ENC]` (30523): replaces `[CLS]` at position 0 of the tag-encoder input.
  public let encoderTokenID: Int

  /// HF `BertTokenizer` `max_input_chars_per_word`: longer words become `[UNK]`.
  public static let maxInputCharactersPerWord = 100

  /// Loads `vocab.txt` (one token per line, UTF-8; `\n`, `\r\n` and `\r` end lines, like Python's text mode).
  /// - Throws: `TokenizerError` naming `vocabPath` when the file is missing, unreadable, empty, or lacks a
  ///   required special token.
  public init(vocabPath: String) throws {
    guard FileManager.default.fileExists(atPath: vocabPath) else {
      throw TokenizerError.vocabularyNotFound(path: vocabPath)
    }
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: vocabPath))
    } catch {
      throw TokenizerError.vocabularyUnreadable(path: vocabPath, reason: "\(error)")
    }
    guard let text = String(validating: data, as: UTF8.self) else {
      throw TokenizerError.vocabularyUnreadable(path: vocabPath, reason: "not valid UTF-8")
    }
    try self.init(vocab: Self.splitLines(text), source: vocabPath)
  }

  /// Builds a tokenizer from vocabulary entries in id order (entry `i` has id `i`).
  /// - Throws: `TokenizerError.emptyVocabulary` for an empty list, `.missingSpecialToken` when one of
  ///   `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` is absent.
  public init(vocab: [String]) throws {
    try self.init(vocab: vocab, source: nil)
  }

  private init(vocab: [String], source: String?) throws {
    guard !vocab.isEmpty else { throw TokenizerError.emptyVocabulary(path: source) }
    var tokenToID: [Scalars: Int] = [:]
    tokenToID.reserveCapacity(vocab.count + 2)
    for (index, token) in vocab.enumerated() {
      tokenToID[Array(token.unicodeScalars)] = index
    }
    var idToToken = [String?](repeating: nil, count: vocab.count)
    for (index, token) in vocab.enumerated() where tokenToID[Array(token.unicodeScalars)] == index {
      idToToken[index] = token
    }
    func required(_ token: String) throws -> Int {
      guard let id = tokenToID[Array(token.unicodeScalars)] else {
        throw TokenizerError.missingSpecialToken(token: token, path: source)
      }
      return id
    }
    padTokenID = try required("[PAD]")
    unknownTokenID = try required("[UNK]")
    clsTokenID = try required("[CLS]")
    sepTokenID = try required("[SEP]")
    maskTokenID = try required("[MASK]")

    // `add_special_tokens` only appends tokens that are not in the vocabulary yet.
    var addedIDs = Set<Int>()
    func add(_ token: String) -> Int {
      let key = Array(token.unicodeScalars)
      if let id = tokenToID[key] { return id }
      let id = idToToken.count
      tokenToID[key] = id
      idToToken.append(token)
      addedIDs.insert(id)
      return id
    }
    decoderStartTokenID = add("[DEC]")
    encoderTokenID = add("[ENC]")

    let specials = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]", "[DEC]", "[ENC]"]
    noSplitTokens = specials.map { Array($0.unicodeScalars) }
    specialIDs = [unknownTokenID, sepTokenID, padTokenID, clsTokenID, maskTokenID, decoderStartTokenID, encoderTokenID]
    self.addedIDs = addedIDs
    self.tokenToID = tokenToID
    self.idToToken = idToToken
    vocabularySize = idToToken.count
    maxTokenScalars = tokenToID.keys.reduce(0) { max($0, $1.count) }
  }

  /// Python `readlines()` + `rstrip("\n")` in universal-newline mode.
  private static func splitLines(_ text: String) -> [String] {
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    var previousWasCR = false
    for scalar in text.unicodeScalars {
      if scalar == "\n" {
        if !previousWasCR { lines.append(String(current)) }
        current = String.UnicodeScalarView()
        previousWasCR = false
      } else if scalar == "\r" {
        lines.append(String(current))
        current = String.UnicodeScalarView()
        previousWasCR = true
      } else {
        current.append(scalar)
        previousWasCR = false
      }
    }
    if !current.isEmpty { lines.append(String(current)) }
    return lines
  }

  // MARK: - Lookup

  /// The id of `token` (exact scalar match; `[DEC]`/`[ENC]` included), or nil when it is not in the vocabulary.
  public func id(for token: String) -> Int? { tokenToID[Array(token.unicodeScalars)] }

  /// The token for `id`, or nil when `id` is outside `0..<vocabularySize` (HF would print `[UNK]`).
  public func token(for id: Int) -> String? {
    guard id >= 0, id < idToToken.count else { return nil }
    return idToToken[id]
  }

  // MARK: - Tokenize / encode

  /// Word pieces of `text`, as HF `tokenizer.tokenize(text)`: exact special tokens (`[CLS]`, `[SEP]`, `[PAD]`,
  /// `[UNK]`, `[MASK]`, `[DEC]`, `[ENC]`, case-sensitive) are kept whole; the rest is lower-cased, cleaned, split
  /// on whitespace, CJK ideographs and punctuation, stripped of accents, then split into WordPiece pieces.
  public func tokenize(_ text: String) -> [String] {
    tokenizeScalars(text).map { String(String.UnicodeScalarView($0)) }
  }

  /// Token ids of `text`. With `addSpecialTokens` (the default) the result is `[CLS] … [SEP]`, as HF
  /// `encode(text)`; without, it is `encode(text, add_special_tokens=False)`.
  public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
    let ids = tokenizeScalars(text).map { tokenToID[$0] ?? unknownTokenID }
    return addSpecialTokens ? [clsTokenID] + ids + [sepTokenID] : ids
  }

  /// The Tag2Text tag-encoder input: HF `tokenizer(text, padding="max_length", truncation=True,
  /// max_length: maxLength)` (`[CLS]`, at most `maxLength − 2` word pieces, `[SEP]`, `[PAD]` up to `maxLength`),
  /// then position 0 replaced by `[ENC]`. The attention mask is 1 up to and including `[SEP]`, 0 on padding.
  /// - Precondition: `maxLength >= 2`.
  public func encodeTagInput(_ text: String, maxLength: Int = 40) -> (ids: [Int], attentionMask: [Int]) {
    precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP]")
    let pieces = encode(text, addSpecialTokens: false).prefix(maxLength - 2)
    var ids = [encoderTokenID] + pieces + [sepTokenID]
    var mask = [Int](repeating: 1, count: ids.count)
    ids += [Int](repeating: padTokenID, count: maxLength - ids.count)
    mask += [Int](repeating: 0, count: maxLength - mask.count)
    return (ids, mask)
  }

  private func tokenizeScalars(_ text: String) -> [Scalars] {
    var output: [Scalars] = []
    for segment in splitOnSpecialTokens(Array(text.unicodeScalars)) {
      switch segment {
      case .special(let token):
        output.append(token)
      case .text(let chunk):
        for word in basicTokenize(chunk) { wordPiece(word, into: &output) }
      }
    }
    return output
  }

  private enum Segment {
    case special(Scalars)
    case text(Scalars)
  }

  /// HF's added-token trie split: exact, case-sensitive occurrences of the special tokens, leftmost first.
  private func splitOnSpecialTokens(_ scalars: Scalars) -> [Segment] {
    var segments: [Segment] = []
    var chunk: Scalars = []
    var i = 0
    outer: while i < scalars.count {
      if scalars[i] == "[" {
        for token in noSplitTokens where scalars.count - i >= token.count {
          if scalars[i..<(i + token.count)].elementsEqual(token) {
            if !chunk.isEmpty { segments.append(.text(chunk)) }
            chunk = []
            segments.append(.special(token))
            i += token.count
            continue outer
          }
        }
      }
      chunk.append(scalars[i])
      i += 1
    }
    if !chunk.isEmpty { segments.append(.text(chunk)) }
    return segments
  }

  /// HF `BasicTokenizer.tokenize` (after the per-code-point lower-casing `PreTrainedTokenizer.tokenize` applies).
  private func basicTokenize(_ chunk: Scalars) -> [Scalars] {
    // Lower-case each code point on its own (the regex in HF `tokenize`), then clean and space out CJK ideographs.
    var cleaned: Scalars = []
    cleaned.reserveCapacity(chunk.count)
    for scalar in chunk {
      for lower in scalar.properties.lowercaseMapping.unicodeScalars {
        let value = lower.value
        if value == 0 || value == 0xFFFD || Self.isControl(lower) { continue }
        if Self.isBertWhitespace(lower) {
          cleaned.append(" ")
        } else if Self.isCJKIdeograph(value) {
          cleaned.append(" ")
          cleaned.append(lower)
          cleaned.append(" ")
        } else {
          cleaned.append(lower)
        }
      }
    }
    var pieces: [Scalars] = []
    for word in Self.splitOnPythonWhitespace(cleaned) {
      // Strip accents: NFD, drop nonspacing marks (Mn).
      let decomposed = String(String.UnicodeScalarView(word)).decomposedStringWithCanonicalMapping
      var stripped: Scalars = []
      stripped.reserveCapacity(word.count)
      for scalar in decomposed.unicodeScalars where scalar.properties.generalCategory != .nonspacingMark {
        stripped.append(scalar)
      }
      // Split on punctuation: every punctuation scalar is a piece of its own.
      var current: Scalars = []
      for scalar in stripped {
        if Self.isPunctuation(scalar) {
          if !current.isEmpty { pieces.append(current) }
          current = []
          pieces.append([scalar])
        } else {
          current.append(scalar)
        }
      }
      if !current.isEmpty { pieces.append(current) }
    }
    // HF joins the pieces with spaces and splits on whitespace again.
    return pieces.flatMap { Self.splitOnPythonWhitespace($0) }
  }

  /// HF `WordpieceTokenizer.tokenize` for one whitespace-free word: greedy longest match, `##` continuations.
  private func wordPiece(_ word: Scalars, into output: inout [Scalars]) {
    let unknown: Scalars = Array("[UNK]".unicodeScalars)
    if word.count > Self.maxInputCharactersPerWord {
      output.append(unknown)
      return
    }
    var pieces: [Scalars] = []
    var start = 0
    while start < word.count {
      var end = min(word.count, start + maxTokenScalars)
      var found: Scalars?
      while start < end {
        let candidate: Scalars = start > 0 ? ["#", "#"] + word[start..<end] : Array(word[start..<end])
        if tokenToID[candidate] != nil {
          found = candidate
          break
        }
        end -= 1
      }
      guard let piece = found else {
        output.append(unknown)
        return
      }
      pieces.append(piece)
      start = end
    }
    output.append(contentsOf: pieces)
  }

  // MARK: - Decode

  /// Text of `ids`, as HF `tokenizer.decode(ids, skip_special_tokens:, clean_up_tokenization_spaces:)`.
  ///
  /// Special tokens (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`, `[DEC]`, `[ENC]`) are dropped when
  /// `skipSpecialTokens`; ids outside the vocabulary print as `[UNK]` (and are not dropped, as in HF). Word
  /// pieces are joined with spaces, `##` continuations glued on, the result stripped; `[DEC]`/`[ENC]`, when kept,
  /// stand apart as their own space-separated pieces. `cleanUpTokenizationSpaces` applies HF
  /// `clean_up_tokenization` (`" ."`→`"."`, `" ?"`, `" !"`, `" ,"`, `" ' "`→`"'"`, `" n't"`, `" 'm"`, `" 's"`,
  /// `" 've"`, `" 're"`).
  public func decode(_ ids: [Int], skipSpecialTokens: Bool = true, cleanUpTokenizationSpaces: Bool = true) -> String {
    var subTexts: [Scalars] = []
    var current: [String] = []
    for id in ids {
      if skipSpecialTokens && specialIDs.contains(id) { continue }
      let token = token(for: id) ?? "[UNK]"
      if addedIDs.contains(id) {
        if !current.isEmpty { subTexts.append(Self.joinWordPieces(current)) }
        current = []
        subTexts.append(Array(token.unicodeScalars))
      } else {
        current.append(token)
      }
    }
    if !current.isEmpty { subTexts.append(Self.joinWordPieces(current)) }
    var text: Scalars = []
    for (index, sub) in subTexts.enumerated() {
      if index > 0 { text.append(" ") }
      text.append(contentsOf: sub)
    }
    if cleanUpTokenizationSpaces {
      for (target, replacement) in Self.cleanUpRules {
        text = Self.replace(target, with: replacement, in: text)
      }
    }
    return String(String.UnicodeScalarView(text))
  }

  /// HF `BertTokenizer.convert_tokens_to_string`: `" ".join(tokens).replace(" ##", "").strip()`.
  private static func joinWordPieces(_ tokens: [String]) -> Scalars {
    var joined: Scalars = []
    for (index, token) in tokens.enumerated() {
      if index > 0 { joined.append(" ") }
      joined.append(contentsOf: token.unicodeScalars)
    }
    let glued = replace(Array(" ##".unicodeScalars), with: [], in: joined)
    var lower = 0
    var upper = glued.count
    while lower < upper, isPythonWhitespace(glued[lower]) { lower += 1 }
    while upper > lower, isPythonWhitespace(glued[upper - 1]) { upper -= 1 }
    return Array(glued[lower..<upper])
  }

  private static let cleanUpRules: [(Scalars, Scalars)] = [
    (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
    (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
  ].map { (Array($0.0.unicodeScalars), Array($0.1.unicodeScalars)) }

  /// Python `str.replace`: non-overlapping occurrences, left to right, exact scalars.
  private static func replace(_ target: Scalars, with replacement: Scalars, in text: Scalars) -> Scalars {
    guard !target.isEmpty, text.count >= target.count else { return text }
    var result: Scalars = []
    result.reserveCapacity(text.count)
    var i = 0
    while i < text.count {
      if text[i] == target[0], text.count - i >= target.count,
        text[i..<(i + target.count)].elementsEqual(target)
      {
        result.append(contentsOf: replacement)
        i += target.count
      } else {
        result.append(text[i])
        i += 1
      }
    }
    return result
  }

  // MARK: - Character classes (HF `_is_whitespace`, `_is_control`, `_is_punctuation`, `_is_chinese_char`)

  /// HF `_is_whitespace`: space, tab, newline, carriage return, or category Zs.
  static func isBertWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case " ", "\t", "\n", "\r": return true
    default: return scalar.properties.generalCategory == .spaceSeparator
    }
  }

  /// HF `_is_control`: any category C* (Cc, Cf, Cn, Co, Cs) except tab, newline and carriage return.
  static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "\t", "\n", "\r": return false
    default:
      switch scalar.properties.generalCategory {
      case .control, .format, .unassigned, .privateUse, .surrogate: return true
      default: return false
      }
    }
  }

  /// HF `_is_punctuation`: ASCII 33–47, 58–64, 91–96, 123–126, or category P*.
  static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
    let value = scalar.value
    if (33...47).contains(value) || (58...64).contains(value) || (91...96).contains(value)
      || (123...126).contains(value)
    {
      return true
    }
    switch scalar.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
      .initialPunctuation, .finalPunctuation, .otherPunctuation:
      return true
    default:
      return false
    }
  }

  /// HF `_is_chinese_char`: the CJK Unified Ideographs blocks and extensions A–E plus the compatibility blocks.
  static func isCJKIdeograph(_ value: UInt32) -> Bool {
    (0x4E00...0x9FFF).contains(value) || (0x3400...0x4DBF).contains(value)
      || (0x20000...0x2A6DF).contains(value) || (0x2A700...0x2B73F).contains(value)
      || (0x2B740...0x2B81F).contains(value) || (0x2B820...0x2CEAF).contains(value)
      || (0xF900...0xFAFF).contains(value) || (0x2F800...0x2FA1F).contains(value)
  }

  /// Python `str.isspace()`: bidirectional class WS, B or S, or category Zs.
  static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
      return true
    default:
      return false
    }
  }

  /// Python `str.split()` with no separator.
  private static func splitOnPythonWhitespace(_ scalars: Scalars) -> [Scalars] {
    var words: [Scalars] = []
    var current: Scalars = []
    for scalar in scalars {
      if isPythonWhitespace(scalar) {
        if !current.isEmpty { words.append(current) }
        current = []
      } else {
        current.append(scalar)
      }
    }
    if !current.isEmpty { words.append(current) }
    return words
  }
}
