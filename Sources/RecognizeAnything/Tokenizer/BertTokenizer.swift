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
/// does not). Character classes follow Unicode 14.0 (Python 3.11, which made the reference fixtures): code points
/// assigned later count as unassigned and are dropped, like the reference does.
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
      // Unassigned in Unicode 14: Python lower-cases it to itself and `_clean_text` drops it (category Cn).
      if Self.isUnassignedInUnicode14(scalar.value) { continue }
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
      for scalar in decomposed.unicodeScalars where !Self.isNonspacingMark(scalar) {
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

  /// HF `_is_control`: any category C* (Cc, Cf, Cn, Co, Cs) except tab, newline and carriage return, with Cn as
  /// of Unicode 14.
  static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "\t", "\n", "\r": return false
    default:
      if isUnassignedInUnicode14(scalar.value) { return true }
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

  /// Category Mn as of Unicode 14 (U+1171E AHOM CONSONANT SIGN MEDIAL RA became Mc in Unicode 15).
  static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value == 0x1171E || scalar.properties.generalCategory == .nonspacingMark
  }

  /// True for code points of category Cn (unassigned) in Unicode 14.0, the character database of Python 3.11,
  /// which made the reference fixtures. Swift's own tables are newer: characters assigned since (about 15,000 of
  /// them in Unicode 15–16) are dropped by the reference as control characters, so they are dropped here too.
  static func isUnassignedInUnicode14(_ value: UInt32) -> Bool {
    // Binary search for the last range starting at or before `value`.
    let table = unassignedRangesUnicode14
    var low = 0
    var high = table.count / 2
    while low < high {
      let mid = (low + high) / 2
      if table[2 * mid] <= value { low = mid + 1 } else { high = mid }
    }
    guard low > 0 else { return false }
    return value <= table[2 * (low - 1) + 1]
  }

  /// Closed ranges `[first, last]` of the code points of category Cn in Unicode 14.0 (Python 3.11
  /// `unicodedata.category(c) == "Cn"`), flattened and ascending.
  private static let unassignedRangesUnicode14: [UInt32] = [
    0x378, 0x379, 0x380, 0x383, 0x38B, 0x38B, 0x38D, 0x38D, 0x3A2, 0x3A2, 0x530, 0x530,
    0x557, 0x558, 0x58B, 0x58C, 0x590, 0x590, 0x5C8, 0x5CF, 0x5EB, 0x5EE, 0x5F5, 0x5FF,
    0x70E, 0x70E, 0x74B, 0x74C, 0x7B2, 0x7BF, 0x7FB, 0x7FC, 0x82E, 0x82F, 0x83F, 0x83F,
    0x85C, 0x85D, 0x85F, 0x85F, 0x86B, 0x86F, 0x88F, 0x88F, 0x892, 0x897, 0x984, 0x984,
    0x98D, 0x98E, 0x991, 0x992, 0x9A9, 0x9A9, 0x9B1, 0x9B1, 0x9B3, 0x9B5, 0x9BA, 0x9BB,
    0x9C5, 0x9C6, 0x9C9, 0x9CA, 0x9CF, 0x9D6, 0x9D8, 0x9DB, 0x9DE, 0x9DE, 0x9E4, 0x9E5,
    0x9FF, 0xA00, 0xA04, 0xA04, 0xA0B, 0xA0E, 0xA11, 0xA12, 0xA29, 0xA29, 0xA31, 0xA31,
    0xA34, 0xA34, 0xA37, 0xA37, 0xA3A, 0xA3B, 0xA3D, 0xA3D, 0xA43, 0xA46, 0xA49, 0xA4A,
    0xA4E, 0xA50, 0xA52, 0xA58, 0xA5D, 0xA5D, 0xA5F, 0xA65, 0xA77, 0xA80, 0xA84, 0xA84,
    0xA8E, 0xA8E, 0xA92, 0xA92, 0xAA9, 0xAA9, 0xAB1, 0xAB1, 0xAB4, 0xAB4, 0xABA, 0xABB,
    0xAC6, 0xAC6, 0xACA, 0xACA, 0xACE, 0xACF, 0xAD1, 0xADF, 0xAE4, 0xAE5, 0xAF2, 0xAF8,
    0xB00, 0xB00, 0xB04, 0xB04, 0xB0D, 0xB0E, 0xB11, 0xB12, 0xB29, 0xB29, 0xB31, 0xB31,
    0xB34, 0xB34, 0xB3A, 0xB3B, 0xB45, 0xB46, 0xB49, 0xB4A, 0xB4E, 0xB54, 0xB58, 0xB5B,
    0xB5E, 0xB5E, 0xB64, 0xB65, 0xB78, 0xB81, 0xB84, 0xB84, 0xB8B, 0xB8D, 0xB91, 0xB91,
    0xB96, 0xB98, 0xB9B, 0xB9B, 0xB9D, 0xB9D, 0xBA0, 0xBA2, 0xBA5, 0xBA7, 0xBAB, 0xBAD,
    0xBBA, 0xBBD, 0xBC3, 0xBC5, 0xBC9, 0xBC9, 0xBCE, 0xBCF, 0xBD1, 0xBD6, 0xBD8, 0xBE5,
    0xBFB, 0xBFF, 0xC0D, 0xC0D, 0xC11, 0xC11, 0xC29, 0xC29, 0xC3A, 0xC3B, 0xC45, 0xC45,
    0xC49, 0xC49, 0xC4E, 0xC54, 0xC57, 0xC57, 0xC5B, 0xC5C, 0xC5E, 0xC5F, 0xC64, 0xC65,
    0xC70, 0xC76, 0xC8D, 0xC8D, 0xC91, 0xC91, 0xCA9, 0xCA9, 0xCB4, 0xCB4, 0xCBA, 0xCBB,
    0xCC5, 0xCC5, 0xCC9, 0xCC9, 0xCCE, 0xCD4, 0xCD7, 0xCDC, 0xCDF, 0xCDF, 0xCE4, 0xCE5,
    0xCF0, 0xCF0, 0xCF3, 0xCFF, 0xD0D, 0xD0D, 0xD11, 0xD11, 0xD45, 0xD45, 0xD49, 0xD49,
    0xD50, 0xD53, 0xD64, 0xD65, 0xD80, 0xD80, 0xD84, 0xD84, 0xD97, 0xD99, 0xDB2, 0xDB2,
    0xDBC, 0xDBC, 0xDBE, 0xDBF, 0xDC7, 0xDC9, 0xDCB, 0xDCE, 0xDD5, 0xDD5, 0xDD7, 0xDD7,
    0xDE0, 0xDE5, 0xDF0, 0xDF1, 0xDF5, 0xE00, 0xE3B, 0xE3E, 0xE5C, 0xE80, 0xE83, 0xE83,
    0xE85, 0xE85, 0xE8B, 0xE8B, 0xEA4, 0xEA4, 0xEA6, 0xEA6, 0xEBE, 0xEBF, 0xEC5, 0xEC5,
    0xEC7, 0xEC7, 0xECE, 0xECF, 0xEDA, 0xEDB, 0xEE0, 0xEFF, 0xF48, 0xF48, 0xF6D, 0xF70,
    0xF98, 0xF98, 0xFBD, 0xFBD, 0xFCD, 0xFCD, 0xFDB, 0xFFF, 0x10C6, 0x10C6, 0x10C8, 0x10CC,
    0x10CE, 0x10CF, 0x1249, 0x1249, 0x124E, 0x124F, 0x1257, 0x1257, 0x1259, 0x1259, 0x125E, 0x125F,
    0x1289, 0x1289, 0x128E, 0x128F, 0x12B1, 0x12B1, 0x12B6, 0x12B7, 0x12BF, 0x12BF, 0x12C1, 0x12C1,
    0x12C6, 0x12C7, 0x12D7, 0x12D7, 0x1311, 0x1311, 0x1316, 0x1317, 0x135B, 0x135C, 0x137D, 0x137F,
    0x139A, 0x139F, 0x13F6, 0x13F7, 0x13FE, 0x13FF, 0x169D, 0x169F, 0x16F9, 0x16FF, 0x1716, 0x171E,
    0x1737, 0x173F, 0x1754, 0x175F, 0x176D, 0x176D, 0x1771, 0x1771, 0x1774, 0x177F, 0x17DE, 0x17DF,
    0x17EA, 0x17EF, 0x17FA, 0x17FF, 0x181A, 0x181F, 0x1879, 0x187F, 0x18AB, 0x18AF, 0x18F6, 0x18FF,
    0x191F, 0x191F, 0x192C, 0x192F, 0x193C, 0x193F, 0x1941, 0x1943, 0x196E, 0x196F, 0x1975, 0x197F,
    0x19AC, 0x19AF, 0x19CA, 0x19CF, 0x19DB, 0x19DD, 0x1A1C, 0x1A1D, 0x1A5F, 0x1A5F, 0x1A7D, 0x1A7E,
    0x1A8A, 0x1A8F, 0x1A9A, 0x1A9F, 0x1AAE, 0x1AAF, 0x1ACF, 0x1AFF, 0x1B4D, 0x1B4F, 0x1B7F, 0x1B7F,
    0x1BF4, 0x1BFB, 0x1C38, 0x1C3A, 0x1C4A, 0x1C4C, 0x1C89, 0x1C8F, 0x1CBB, 0x1CBC, 0x1CC8, 0x1CCF,
    0x1CFB, 0x1CFF, 0x1F16, 0x1F17, 0x1F1E, 0x1F1F, 0x1F46, 0x1F47, 0x1F4E, 0x1F4F, 0x1F58, 0x1F58,
    0x1F5A, 0x1F5A, 0x1F5C, 0x1F5C, 0x1F5E, 0x1F5E, 0x1F7E, 0x1F7F, 0x1FB5, 0x1FB5, 0x1FC5, 0x1FC5,
    0x1FD4, 0x1FD5, 0x1FDC, 0x1FDC, 0x1FF0, 0x1FF1, 0x1FF5, 0x1FF5, 0x1FFF, 0x1FFF, 0x2065, 0x2065,
    0x2072, 0x2073, 0x208F, 0x208F, 0x209D, 0x209F, 0x20C1, 0x20CF, 0x20F1, 0x20FF, 0x218C, 0x218F,
    0x2427, 0x243F, 0x244B, 0x245F, 0x2B74, 0x2B75, 0x2B96, 0x2B96, 0x2CF4, 0x2CF8, 0x2D26, 0x2D26,
    0x2D28, 0x2D2C, 0x2D2E, 0x2D2F, 0x2D68, 0x2D6E, 0x2D71, 0x2D7E, 0x2D97, 0x2D9F, 0x2DA7, 0x2DA7,
    0x2DAF, 0x2DAF, 0x2DB7, 0x2DB7, 0x2DBF, 0x2DBF, 0x2DC7, 0x2DC7, 0x2DCF, 0x2DCF, 0x2DD7, 0x2DD7,
    0x2DDF, 0x2DDF, 0x2E5E, 0x2E7F, 0x2E9A, 0x2E9A, 0x2EF4, 0x2EFF, 0x2FD6, 0x2FEF, 0x2FFC, 0x2FFF,
    0x3040, 0x3040, 0x3097, 0x3098, 0x3100, 0x3104, 0x3130, 0x3130, 0x318F, 0x318F, 0x31E4, 0x31EF,
    0x321F, 0x321F, 0xA48D, 0xA48F, 0xA4C7, 0xA4CF, 0xA62C, 0xA63F, 0xA6F8, 0xA6FF, 0xA7CB, 0xA7CF,
    0xA7D2, 0xA7D2, 0xA7D4, 0xA7D4, 0xA7DA, 0xA7F1, 0xA82D, 0xA82F, 0xA83A, 0xA83F, 0xA878, 0xA87F,
    0xA8C6, 0xA8CD, 0xA8DA, 0xA8DF, 0xA954, 0xA95E, 0xA97D, 0xA97F, 0xA9CE, 0xA9CE, 0xA9DA, 0xA9DD,
    0xA9FF, 0xA9FF, 0xAA37, 0xAA3F, 0xAA4E, 0xAA4F, 0xAA5A, 0xAA5B, 0xAAC3, 0xAADA, 0xAAF7, 0xAB00,
    0xAB07, 0xAB08, 0xAB0F, 0xAB10, 0xAB17, 0xAB1F, 0xAB27, 0xAB27, 0xAB2F, 0xAB2F, 0xAB6C, 0xAB6F,
    0xABEE, 0xABEF, 0xABFA, 0xABFF, 0xD7A4, 0xD7AF, 0xD7C7, 0xD7CA, 0xD7FC, 0xD7FF, 0xFA6E, 0xFA6F,
    0xFADA, 0xFAFF, 0xFB07, 0xFB12, 0xFB18, 0xFB1C, 0xFB37, 0xFB37, 0xFB3D, 0xFB3D, 0xFB3F, 0xFB3F,
    0xFB42, 0xFB42, 0xFB45, 0xFB45, 0xFBC3, 0xFBD2, 0xFD90, 0xFD91, 0xFDC8, 0xFDCE, 0xFDD0, 0xFDEF,
    0xFE1A, 0xFE1F, 0xFE53, 0xFE53, 0xFE67, 0xFE67, 0xFE6C, 0xFE6F, 0xFE75, 0xFE75, 0xFEFD, 0xFEFE,
    0xFF00, 0xFF00, 0xFFBF, 0xFFC1, 0xFFC8, 0xFFC9, 0xFFD0, 0xFFD1, 0xFFD8, 0xFFD9, 0xFFDD, 0xFFDF,
    0xFFE7, 0xFFE7, 0xFFEF, 0xFFF8, 0xFFFE, 0xFFFF, 0x1000C, 0x1000C, 0x10027, 0x10027, 0x1003B, 0x1003B,
    0x1003E, 0x1003E, 0x1004E, 0x1004F, 0x1005E, 0x1007F, 0x100FB, 0x100FF, 0x10103, 0x10106, 0x10134, 0x10136,
    0x1018F, 0x1018F, 0x1019D, 0x1019F, 0x101A1, 0x101CF, 0x101FE, 0x1027F, 0x1029D, 0x1029F, 0x102D1, 0x102DF,
    0x102FC, 0x102FF, 0x10324, 0x1032C, 0x1034B, 0x1034F, 0x1037B, 0x1037F, 0x1039E, 0x1039E, 0x103C4, 0x103C7,
    0x103D6, 0x103FF, 0x1049E, 0x1049F, 0x104AA, 0x104AF, 0x104D4, 0x104D7, 0x104FC, 0x104FF, 0x10528, 0x1052F,
    0x10564, 0x1056E, 0x1057B, 0x1057B, 0x1058B, 0x1058B, 0x10593, 0x10593, 0x10596, 0x10596, 0x105A2, 0x105A2,
    0x105B2, 0x105B2, 0x105BA, 0x105BA, 0x105BD, 0x105FF, 0x10737, 0x1073F, 0x10756, 0x1075F, 0x10768, 0x1077F,
    0x10786, 0x10786, 0x107B1, 0x107B1, 0x107BB, 0x107FF, 0x10806, 0x10807, 0x10809, 0x10809, 0x10836, 0x10836,
    0x10839, 0x1083B, 0x1083D, 0x1083E, 0x10856, 0x10856, 0x1089F, 0x108A6, 0x108B0, 0x108DF, 0x108F3, 0x108F3,
    0x108F6, 0x108FA, 0x1091C, 0x1091E, 0x1093A, 0x1093E, 0x10940, 0x1097F, 0x109B8, 0x109BB, 0x109D0, 0x109D1,
    0x10A04, 0x10A04, 0x10A07, 0x10A0B, 0x10A14, 0x10A14, 0x10A18, 0x10A18, 0x10A36, 0x10A37, 0x10A3B, 0x10A3E,
    0x10A49, 0x10A4F, 0x10A59, 0x10A5F, 0x10AA0, 0x10ABF, 0x10AE7, 0x10AEA, 0x10AF7, 0x10AFF, 0x10B36, 0x10B38,
    0x10B56, 0x10B57, 0x10B73, 0x10B77, 0x10B92, 0x10B98, 0x10B9D, 0x10BA8, 0x10BB0, 0x10BFF, 0x10C49, 0x10C7F,
    0x10CB3, 0x10CBF, 0x10CF3, 0x10CF9, 0x10D28, 0x10D2F, 0x10D3A, 0x10E5F, 0x10E7F, 0x10E7F, 0x10EAA, 0x10EAA,
    0x10EAE, 0x10EAF, 0x10EB2, 0x10EFF, 0x10F28, 0x10F2F, 0x10F5A, 0x10F6F, 0x10F8A, 0x10FAF, 0x10FCC, 0x10FDF,
    0x10FF7, 0x10FFF, 0x1104E, 0x11051, 0x11076, 0x1107E, 0x110C3, 0x110CC, 0x110CE, 0x110CF, 0x110E9, 0x110EF,
    0x110FA, 0x110FF, 0x11135, 0x11135, 0x11148, 0x1114F, 0x11177, 0x1117F, 0x111E0, 0x111E0, 0x111F5, 0x111FF,
    0x11212, 0x11212, 0x1123F, 0x1127F, 0x11287, 0x11287, 0x11289, 0x11289, 0x1128E, 0x1128E, 0x1129E, 0x1129E,
    0x112AA, 0x112AF, 0x112EB, 0x112EF, 0x112FA, 0x112FF, 0x11304, 0x11304, 0x1130D, 0x1130E, 0x11311, 0x11312,
    0x11329, 0x11329, 0x11331, 0x11331, 0x11334, 0x11334, 0x1133A, 0x1133A, 0x11345, 0x11346, 0x11349, 0x1134A,
    0x1134E, 0x1134F, 0x11351, 0x11356, 0x11358, 0x1135C, 0x11364, 0x11365, 0x1136D, 0x1136F, 0x11375, 0x113FF,
    0x1145C, 0x1145C, 0x11462, 0x1147F, 0x114C8, 0x114CF, 0x114DA, 0x1157F, 0x115B6, 0x115B7, 0x115DE, 0x115FF,
    0x11645, 0x1164F, 0x1165A, 0x1165F, 0x1166D, 0x1167F, 0x116BA, 0x116BF, 0x116CA, 0x116FF, 0x1171B, 0x1171C,
    0x1172C, 0x1172F, 0x11747, 0x117FF, 0x1183C, 0x1189F, 0x118F3, 0x118FE, 0x11907, 0x11908, 0x1190A, 0x1190B,
    0x11914, 0x11914, 0x11917, 0x11917, 0x11936, 0x11936, 0x11939, 0x1193A, 0x11947, 0x1194F, 0x1195A, 0x1199F,
    0x119A8, 0x119A9, 0x119D8, 0x119D9, 0x119E5, 0x119FF, 0x11A48, 0x11A4F, 0x11AA3, 0x11AAF, 0x11AF9, 0x11BFF,
    0x11C09, 0x11C09, 0x11C37, 0x11C37, 0x11C46, 0x11C4F, 0x11C6D, 0x11C6F, 0x11C90, 0x11C91, 0x11CA8, 0x11CA8,
    0x11CB7, 0x11CFF, 0x11D07, 0x11D07, 0x11D0A, 0x11D0A, 0x11D37, 0x11D39, 0x11D3B, 0x11D3B, 0x11D3E, 0x11D3E,
    0x11D48, 0x11D4F, 0x11D5A, 0x11D5F, 0x11D66, 0x11D66, 0x11D69, 0x11D69, 0x11D8F, 0x11D8F, 0x11D92, 0x11D92,
    0x11D99, 0x11D9F, 0x11DAA, 0x11EDF, 0x11EF9, 0x11FAF, 0x11FB1, 0x11FBF, 0x11FF2, 0x11FFE, 0x1239A, 0x123FF,
    0x1246F, 0x1246F, 0x12475, 0x1247F, 0x12544, 0x12F8F, 0x12FF3, 0x12FFF, 0x1342F, 0x1342F, 0x13439, 0x143FF,
    0x14647, 0x167FF, 0x16A39, 0x16A3F, 0x16A5F, 0x16A5F, 0x16A6A, 0x16A6D, 0x16ABF, 0x16ABF, 0x16ACA, 0x16ACF,
    0x16AEE, 0x16AEF, 0x16AF6, 0x16AFF, 0x16B46, 0x16B4F, 0x16B5A, 0x16B5A, 0x16B62, 0x16B62, 0x16B78, 0x16B7C,
    0x16B90, 0x16E3F, 0x16E9B, 0x16EFF, 0x16F4B, 0x16F4E, 0x16F88, 0x16F8E, 0x16FA0, 0x16FDF, 0x16FE5, 0x16FEF,
    0x16FF2, 0x16FFF, 0x187F8, 0x187FF, 0x18CD6, 0x18CFF, 0x18D09, 0x1AFEF, 0x1AFF4, 0x1AFF4, 0x1AFFC, 0x1AFFC,
    0x1AFFF, 0x1AFFF, 0x1B123, 0x1B14F, 0x1B153, 0x1B163, 0x1B168, 0x1B16F, 0x1B2FC, 0x1BBFF, 0x1BC6B, 0x1BC6F,
    0x1BC7D, 0x1BC7F, 0x1BC89, 0x1BC8F, 0x1BC9A, 0x1BC9B, 0x1BCA4, 0x1CEFF, 0x1CF2E, 0x1CF2F, 0x1CF47, 0x1CF4F,
    0x1CFC4, 0x1CFFF, 0x1D0F6, 0x1D0FF, 0x1D127, 0x1D128, 0x1D1EB, 0x1D1FF, 0x1D246, 0x1D2DF, 0x1D2F4, 0x1D2FF,
    0x1D357, 0x1D35F, 0x1D379, 0x1D3FF, 0x1D455, 0x1D455, 0x1D49D, 0x1D49D, 0x1D4A0, 0x1D4A1, 0x1D4A3, 0x1D4A4,
    0x1D4A7, 0x1D4A8, 0x1D4AD, 0x1D4AD, 0x1D4BA, 0x1D4BA, 0x1D4BC, 0x1D4BC, 0x1D4C4, 0x1D4C4, 0x1D506, 0x1D506,
    0x1D50B, 0x1D50C, 0x1D515, 0x1D515, 0x1D51D, 0x1D51D, 0x1D53A, 0x1D53A, 0x1D53F, 0x1D53F, 0x1D545, 0x1D545,
    0x1D547, 0x1D549, 0x1D551, 0x1D551, 0x1D6A6, 0x1D6A7, 0x1D7CC, 0x1D7CD, 0x1DA8C, 0x1DA9A, 0x1DAA0, 0x1DAA0,
    0x1DAB0, 0x1DEFF, 0x1DF1F, 0x1DFFF, 0x1E007, 0x1E007, 0x1E019, 0x1E01A, 0x1E022, 0x1E022, 0x1E025, 0x1E025,
    0x1E02B, 0x1E0FF, 0x1E12D, 0x1E12F, 0x1E13E, 0x1E13F, 0x1E14A, 0x1E14D, 0x1E150, 0x1E28F, 0x1E2AF, 0x1E2BF,
    0x1E2FA, 0x1E2FE, 0x1E300, 0x1E7DF, 0x1E7E7, 0x1E7E7, 0x1E7EC, 0x1E7EC, 0x1E7EF, 0x1E7EF, 0x1E7FF, 0x1E7FF,
    0x1E8C5, 0x1E8C6, 0x1E8D7, 0x1E8FF, 0x1E94C, 0x1E94F, 0x1E95A, 0x1E95D, 0x1E960, 0x1EC70, 0x1ECB5, 0x1ED00,
    0x1ED3E, 0x1EDFF, 0x1EE04, 0x1EE04, 0x1EE20, 0x1EE20, 0x1EE23, 0x1EE23, 0x1EE25, 0x1EE26, 0x1EE28, 0x1EE28,
    0x1EE33, 0x1EE33, 0x1EE38, 0x1EE38, 0x1EE3A, 0x1EE3A, 0x1EE3C, 0x1EE41, 0x1EE43, 0x1EE46, 0x1EE48, 0x1EE48,
    0x1EE4A, 0x1EE4A, 0x1EE4C, 0x1EE4C, 0x1EE50, 0x1EE50, 0x1EE53, 0x1EE53, 0x1EE55, 0x1EE56, 0x1EE58, 0x1EE58,
    0x1EE5A, 0x1EE5A, 0x1EE5C, 0x1EE5C, 0x1EE5E, 0x1EE5E, 0x1EE60, 0x1EE60, 0x1EE63, 0x1EE63, 0x1EE65, 0x1EE66,
    0x1EE6B, 0x1EE6B, 0x1EE73, 0x1EE73, 0x1EE78, 0x1EE78, 0x1EE7D, 0x1EE7D, 0x1EE7F, 0x1EE7F, 0x1EE8A, 0x1EE8A,
    0x1EE9C, 0x1EEA0, 0x1EEA4, 0x1EEA4, 0x1EEAA, 0x1EEAA, 0x1EEBC, 0x1EEEF, 0x1EEF2, 0x1EFFF, 0x1F02C, 0x1F02F,
    0x1F094, 0x1F09F, 0x1F0AF, 0x1F0B0, 0x1F0C0, 0x1F0C0, 0x1F0D0, 0x1F0D0, 0x1F0F6, 0x1F0FF, 0x1F1AE, 0x1F1E5,
    0x1F203, 0x1F20F, 0x1F23C, 0x1F23F, 0x1F249, 0x1F24F, 0x1F252, 0x1F25F, 0x1F266, 0x1F2FF, 0x1F6D8, 0x1F6DC,
    0x1F6ED, 0x1F6EF, 0x1F6FD, 0x1F6FF, 0x1F774, 0x1F77F, 0x1F7D9, 0x1F7DF, 0x1F7EC, 0x1F7EF, 0x1F7F1, 0x1F7FF,
    0x1F80C, 0x1F80F, 0x1F848, 0x1F84F, 0x1F85A, 0x1F85F, 0x1F888, 0x1F88F, 0x1F8AE, 0x1F8AF, 0x1F8B2, 0x1F8FF,
    0x1FA54, 0x1FA5F, 0x1FA6E, 0x1FA6F, 0x1FA75, 0x1FA77, 0x1FA7D, 0x1FA7F, 0x1FA87, 0x1FA8F, 0x1FAAD, 0x1FAAF,
    0x1FABB, 0x1FABF, 0x1FAC6, 0x1FACF, 0x1FADA, 0x1FADF, 0x1FAE8, 0x1FAEF, 0x1FAF7, 0x1FAFF, 0x1FB93, 0x1FB93,
    0x1FBCB, 0x1FBEF, 0x1FBFA, 0x1FFFF, 0x2A6E0, 0x2A6FF, 0x2B739, 0x2B73F, 0x2B81E, 0x2B81F, 0x2CEA2, 0x2CEAF,
    0x2EBE1, 0x2F7FF, 0x2FA1E, 0x2FFFF, 0x3134B, 0xE0000, 0xE0002, 0xE001F, 0xE0080, 0xE00FF, 0xE01F0, 0xEFFFF,
    0xFFFFE, 0xFFFFF, 0x10FFFE, 0x10FFFF,
  ]

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
