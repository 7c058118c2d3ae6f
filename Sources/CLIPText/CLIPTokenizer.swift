import Foundation

/// Errors of the CLIP tokenizer and text encoder.
public enum CLIPError: Error, CustomStringConvertible, Equatable {
  /// The BPE merges file could not be read.
  case badVocabulary(path: String, detail: String)
  /// A text encodes to more tokens than the context holds and truncation was not asked for.
  case textTooLong(text: String, tokens: Int, context: Int)
  /// The CLIP folder or one of its files is wrong.
  case badModel(path: String, detail: String)

  public var description: String {
    switch self {
    case .badVocabulary(let path, let detail):
      "\(path): \(detail); it must be CLIP's bpe_simple_vocab_16e6.txt.gz (1,356,917 bytes, from OpenAI's CLIP repository)"
    case .textTooLong(let text, let tokens, let context):
      "the text \"\(text.count > 80 ? String(text.prefix(80)) + "…" : text)\" is \(tokens) tokens with its start and end tokens, more than CLIP's context of \(context); shorten it"
    case .badModel(let path, let detail): "\(path): \(detail)"
    }
  }
}

/// One tokenized text.
public struct CLIPTokens: Sendable, Equatable {
  /// `contextLength` ids: start token, BPE ids, end token, zero padding.
  public var ids: [Int32]
  /// Length with start and end token before truncation.
  public var fullLength: Int
  /// Position of the first end-of-text token (`argmax(ids)`): the row the text feature is taken from.
  public var endPosition: Int
  /// True when the text was cut to the context.
  public var truncated: Bool { fullLength > ids.count }
}

/// OpenAI CLIP's byte-level BPE tokenizer (`clip.simple_tokenizer.SimpleTokenizer` + `clip.tokenize`).
public final class CLIPTokenizer: @unchecked Sendable {
  /// `<|startoftext|>`.
  public static let startToken: Int32 = 49406
  /// `<|endoftext|>`.
  public static let endToken: Int32 = 49407
  /// Vocabulary size (256 bytes, 256 word-final bytes, 48894 merges, 2 special tokens).
  public static let vocabularySize = 49408
  static let mergeCount = 49152 - 256 - 2

  /// Byte value → id of its symbol (the GPT-2 byte-to-unicode order).
  private let byteID: [Int]
  /// `(left id) << 32 | (right id)` → merge rank (the merged symbol's id is 512 + rank).
  private let ranks: [UInt64: Int]
  private var cache: [String: [Int]] = [:]
  private let lock = NSLock()

  /// Reads the merges from CLIP's `bpe_simple_vocab_16e6.txt.gz`.
  public convenience init(vocabularyFile path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw CLIPError.badVocabulary(path: path, detail: "cannot read the file")
    }
    let text: [UInt8]
    do {
      text = try Gzip.decompress(Array(data))
    } catch let e as Gzip.Failure {
      throw CLIPError.badVocabulary(path: path, detail: e.detail)
    }
    try self.init(mergesText: String(decoding: text, as: UTF8.self), path: path)
  }

  /// Builds the tokenizer from the decompressed merges text (first line a header).
  public init(mergesText: String, path: String = "merges") throws {
    // bytes_to_unicode: printable Latin-1 bytes keep their code point; the rest map to 256, 257, ….
    var order: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
    var points = order
    var n = 0
    for b in 0..<256 where !order.contains(b) {
      order.append(b)
      points.append(256 + n)
      n += 1
    }
    var byteID = [Int](repeating: 0, count: 256)
    var vocab: [String] = []
    for (i, b) in order.enumerated() {
      byteID[b] = i
      vocab.append(String(Unicode.Scalar(UInt32(points[i]))!))
    }
    vocab += vocab.map { $0 + "</w>" }
    var id: [String: Int] = [:]
    for (i, v) in vocab.enumerated() { id[v] = i }
    let lines = mergesText.split(separator: "\n", omittingEmptySubsequences: false)
    guard lines.count > CLIPTokenizer.mergeCount else {
      throw CLIPError.badVocabulary(
        path: path, detail: "it has \(lines.count) lines, fewer than the \(CLIPTokenizer.mergeCount + 1) expected")
    }
    var ranks: [UInt64: Int] = [:]
    ranks.reserveCapacity(CLIPTokenizer.mergeCount)
    for r in 0..<CLIPTokenizer.mergeCount {
      let parts = lines[r + 1].split(separator: " ")
      guard parts.count == 2, let a = id[String(parts[0])], let b = id[String(parts[1])] else {
        throw CLIPError.badVocabulary(
          path: path, detail: "line \(r + 2) ('\(lines[r + 1])') is not a merge of two known symbols")
      }
      ranks[UInt64(a) << 32 | UInt64(b)] = r
      id[String(parts[0]) + String(parts[1])] = 512 + r
    }
    self.byteID = byteID
    self.ranks = ranks
  }

  /// BPE ids of `text` after CLIP's clean-up, without start and end tokens.
  public func encode(_ text: String) -> [Int] {
    var ids: [Int] = []
    for piece in CLIPTokenizer.split(CLIPTextCleaner.clean(text)) {
      switch piece {
      case "<|startoftext|>": ids.append(Int(CLIPTokenizer.startToken))
      case "<|endoftext|>": ids.append(Int(CLIPTokenizer.endToken))
      default: ids += bpe(piece)
      }
    }
    return ids
  }

  /// `clip.tokenize(text, context_length:, truncate:)`: start token, ids, end token; over-long texts are cut to
  /// the context with the end token last when `truncate`, and refused otherwise.
  public func tokenize(_ text: String, contextLength: Int = 77, truncate: Bool = true) throws -> CLIPTokens {
    var ids = [Int32(CLIPTokenizer.startToken)] + encode(text).map { Int32($0) } + [CLIPTokenizer.endToken]
    let full = ids.count
    if full > contextLength {
      guard truncate else { throw CLIPError.textTooLong(text: text, tokens: full, context: contextLength) }
      ids = Array(ids.prefix(contextLength))
      ids[contextLength - 1] = CLIPTokenizer.endToken
    }
    let end = ids.firstIndex(of: CLIPTokenizer.endToken)!
    ids += [Int32](repeating: 0, count: contextLength - ids.count)
    return CLIPTokens(ids: ids, fullLength: full, endPosition: end)
  }

  /// The pieces of CLIP's split pattern, in order (whitespace dropped):
  /// `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`.
  static func split(_ text: String) -> [String] {
    let u = Array(text.unicodeScalars)
    var pieces: [String] = []
    var i = 0
    func isLetter(_ c: Unicode.Scalar) -> Bool {
      switch c.properties.generalCategory {
      case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
      default: false
      }
    }
    func isNumber(_ c: Unicode.Scalar) -> Bool {
      switch c.properties.generalCategory {
      case .decimalNumber, .letterNumber, .otherNumber: true
      default: false
      }
    }
    func hasPrefix(_ p: String, at i: Int) -> Bool {
      let ps = Array(p.unicodeScalars)
      guard i + ps.count <= u.count else { return false }
      for (k, c) in ps.enumerated() where u[i + k].properties.lowercaseMapping != String(c) { return false }
      return true
    }
    func piece(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(u[a..<b])) }
    outer: while i < u.count {
      let c = u[i]
      for special in ["<|startoftext|>", "<|endoftext|>"] where c == "<" && hasPrefix(special, at: i) {
        pieces.append(special)
        i += special.unicodeScalars.count
        continue outer
      }
      if c == "'" {
        for suffix in ["s", "t", "re", "ve", "m", "ll", "d"] where hasPrefix("'" + suffix, at: i) {
          let n = 1 + suffix.count
          pieces.append(piece(i, i + n))
          i += n
          continue outer
        }
      }
      if isLetter(c) {
        var j = i + 1
        while j < u.count && isLetter(u[j]) { j += 1 }
        pieces.append(piece(i, j))
        i = j
      } else if isNumber(c) {
        pieces.append(piece(i, i + 1))
        i += 1
      } else if CLIPTextCleaner.isSpace(c) {
        i += 1
      } else {
        var j = i + 1
        while j < u.count && !isLetter(u[j]) && !isNumber(u[j]) && !CLIPTextCleaner.isSpace(u[j]) { j += 1 }
        pieces.append(piece(i, j))
        i = j
      }
    }
    return pieces
  }

  /// Byte-level BPE of one piece: its UTF-8 bytes as symbols (the last one word-final), merged by rank.
  func bpe(_ piece: String) -> [Int] {
    lock.lock()
    if let hit = cache[piece] {
      lock.unlock()
      return hit
    }
    lock.unlock()
    let bytes = Array(piece.utf8)
    var word = bytes.map { byteID[Int($0)] }
    word[word.count - 1] += 256
    while word.count > 1 {
      var best = Int.max
      var bestPair: (Int, Int) = (0, 0)
      for k in 0..<(word.count - 1) {
        if let r = ranks[UInt64(word[k]) << 32 | UInt64(word[k + 1])], r < best {
          best = r
          bestPair = (word[k], word[k + 1])
        }
      }
      if best == Int.max { break }
      var merged: [Int] = []
      merged.reserveCapacity(word.count)
      var k = 0
      while k < word.count {
        if k + 1 < word.count && word[k] == bestPair.0 && word[k + 1] == bestPair.1 {
          merged.append(512 + best)
          k += 2
        } else {
          merged.append(word[k])
          k += 1
        }
      }
      word = merged
    }
    lock.lock()
    if cache.count < 100_000 { cache[piece] = word }
    lock.unlock()
    return word
  }
}
