import Foundation

/// A parsed search query (see ``QueryParser`` for the language).
public indirect enum Query: Sendable, Equatable, CustomStringConvertible {
  /// A tag by English name (case-insensitive).
  case tag(String)
  /// A tag by Chinese name (`zh:狗`).
  case tagZh(String)
  /// Caption cues matching an FTS5 query (`caption:"man running"`).
  case caption(String)
  /// The segments of a tag whose `score_max` is above (or at least, when `inclusive`) a value.
  case score(TagName, threshold: Double, inclusive: Bool)
  /// `a` where `b` holds within `window` seconds.
  case near(Query, Query, window: Double)
  case not(Query)
  case and(Query, Query)
  case or(Query, Query)

  /// A tag operand: English or Chinese name.
  public enum TagName: Sendable, Equatable, Hashable {
    case english(String)
    case chinese(String)
  }

  /// The query in canonical form (fully parenthesised binary operators).
  public var description: String {
    func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
    switch self {
    case .tag(let n): return quote(n)
    case .tagZh(let n): return "zh:" + quote(n)
    case .caption(let q): return "caption:" + quote(q)
    case .score(let t, let x, let inc):
      let name: String
      switch t {
      case .english(let n): name = quote(n)
      case .chinese(let n): name = "zh:" + quote(n)
      }
      return "score(\(name)) \(inc ? ">=" : ">") \(x)"
    case .near(let a, let b, let w): return "near(\(a), \(b), \(w)s)"
    case .not(let a): return "!\(a)"
    case .and(let a, let b): return "(\(a) & \(b))"
    case .or(let a, let b): return "(\(a) | \(b))"
    }
  }

  /// Every tag name the query mentions.
  public var tagNames: Set<TagName> {
    switch self {
    case .tag(let n): return [.english(n)]
    case .tagZh(let n): return [.chinese(n)]
    case .score(let t, _, _): return [t]
    case .caption: return []
    case .near(let a, let b, _), .and(let a, let b), .or(let a, let b): return a.tagNames.union(b.tagNames)
    case .not(let a): return a.tagNames
    }
  }

  /// Every caption query the query mentions.
  public var captionQueries: Set<String> {
    switch self {
    case .caption(let q): return [q]
    case .tag, .tagZh, .score: return []
    case .near(let a, let b, _), .and(let a, let b), .or(let a, let b): return a.captionQueries.union(b.captionQueries)
    case .not(let a): return a.captionQueries
    }
  }
}

/// A query that cannot be read: shows the query with a caret under the position.
public struct QuerySyntaxError: Error, CustomStringConvertible, Equatable {
  public var query: String
  /// Character offset (0-based) of the problem.
  public var position: Int
  public var message: String

  public var description: String {
    let line = query.replacingOccurrences(of: "\n", with: " ")
    return "query syntax error at column \(position + 1): \(message)\n  \(line)\n  "
      + String(repeating: " ", count: max(0, position)) + "^"
  }
}

/// Reads the query language.
///
/// ```
/// query    := or
/// or       := and (("|" | "or") and)*
/// and      := unary (("&" | "and") unary)*
/// unary    := ("!" | "not") unary | primary
/// primary  := "(" query ")" | name | "zh:" name | "caption:" (quoted | word)
///           | "score(" name ")" (">" | ">=") number | "near(" query "," query "," duration ")"
/// name     := word | quoted          duration := number ("ms" | "s" | "m" | "h")?
/// ```
/// Words are runs of characters other than spaces and `( ) & | ! , " :`; `and`, `or`, `not` (any case)
/// are operators unless quoted.
public struct QueryParser {
  enum Token: Equatable {
    case word(String)
    case quoted(String)
    case prefix(String)  // "caption" / "zh", the word before a ':'
    case lparen, rparen, amp, bar, bang, comma, gt, ge
    case end
  }

  let text: String
  var tokens: [(Token, Int)] = []
  var index = 0

  /// Parses `text`; throws ``QuerySyntaxError``.
  public static func parse(_ text: String) throws -> Query {
    var p = QueryParser(text: text)
    try p.tokenize()
    let q = try p.parseOr()
    guard p.peek == .end else { throw p.fail("expected '&', '|' or the end of the query\(p.hint)") }
    return q
  }

  init(text: String) { self.text = text }

  var peek: Token { tokens[index].0 }
  var position: Int { tokens[index].1 }

  func fail(_ message: String, at pos: Int? = nil) -> QuerySyntaxError {
    QuerySyntaxError(query: text, position: pos ?? position, message: message)
  }

  var hint: String {
    if case .word = peek { return " (quote names with spaces: \"living room\")" }
    if case .quoted = peek { return " (quote names with spaces: \"living room\")" }
    return ""
  }

  mutating func tokenize() throws {
    let chars = Array(text)
    var i = 0
    let delimiters: Set<Character> = ["(", ")", "&", "|", "!", ",", "\"", ":", ">", "="]
    while i < chars.count {
      let c = chars[i]
      if c.isWhitespace {
        i += 1
        continue
      }
      let start = i
      switch c {
      case "(":
        tokens.append((.lparen, i))
        i += 1
      case ")":
        tokens.append((.rparen, i))
        i += 1
      case "&":
        tokens.append((.amp, i))
        i += 1
      case "|":
        tokens.append((.bar, i))
        i += 1
      case "!":
        tokens.append((.bang, i))
        i += 1
      case ",":
        tokens.append((.comma, i))
        i += 1
      case ">":
        if i + 1 < chars.count, chars[i + 1] == "=" {
          tokens.append((.ge, i))
          i += 2
        } else {
          tokens.append((.gt, i))
          i += 1
        }
      case "\"":
        i += 1
        var s = ""
        var closed = false
        while i < chars.count {
          if chars[i] == "\\", i + 1 < chars.count {
            s.append(chars[i + 1])
            i += 2
            continue
          }
          if chars[i] == "\"" {
            closed = true
            i += 1
            break
          }
          s.append(chars[i])
          i += 1
        }
        guard closed else { throw fail("unterminated quote", at: start) }
        tokens.append((.quoted(s), start))
      case ":", "=":
        throw fail("unexpected '\(c)' (prefixes are caption: and zh:)", at: i)
      default:
        var w = ""
        while i < chars.count, !chars[i].isWhitespace, !delimiters.contains(chars[i]) {
          w.append(chars[i])
          i += 1
        }
        if i < chars.count, chars[i] == ":" {
          let p = w.lowercased()
          guard p == "caption" || p == "zh" else {
            throw fail("unknown prefix '\(w):' (use caption: or zh:)", at: start)
          }
          tokens.append((.prefix(p), start))
          i += 1
        } else {
          tokens.append((.word(w), start))
        }
      }
    }
    tokens.append((.end, chars.count))
  }

  func isKeyword(_ k: String) -> Bool {
    if case .word(let w) = peek { return w.lowercased() == k }
    return false
  }

  mutating func parseOr() throws -> Query {
    var q = try parseAnd()
    while peek == .bar || isKeyword("or") {
      index += 1
      q = .or(q, try parseAnd())
    }
    return q
  }

  mutating func parseAnd() throws -> Query {
    var q = try parseUnary()
    while peek == .amp || isKeyword("and") {
      index += 1
      q = .and(q, try parseUnary())
    }
    return q
  }

  mutating func parseUnary() throws -> Query {
    if peek == .bang || isKeyword("not") {
      index += 1
      return .not(try parseUnary())
    }
    return try parsePrimary()
  }

  mutating func expect(_ t: Token, _ what: String) throws {
    guard peek == t else { throw fail("expected \(what)") }
    index += 1
  }

  /// A tag name operand: a word, a quoted name, or `zh:` followed by one.
  mutating func parseName() throws -> Query.TagName {
    switch peek {
    case .word(let w) where !["and", "or", "not"].contains(w.lowercased()):
      index += 1
      return .english(w)
    case .quoted(let s):
      guard !s.trimmingCharacters(in: .whitespaces).isEmpty else { throw fail("empty tag name") }
      index += 1
      return .english(s)
    case .prefix("zh"):
      index += 1
      switch peek {
      case .word(let w), .quoted(let w):
        guard !w.isEmpty else { throw fail("empty tag name") }
        index += 1
        return .chinese(w)
      default: throw fail("expected a Chinese tag name after zh:")
      }
    default:
      throw fail("expected a tag name")
    }
  }

  mutating func parsePrimary() throws -> Query {
    switch peek {
    case .lparen:
      index += 1
      let q = try parseOr()
      try expect(.rparen, "')'")
      return q
    case .prefix("caption"):
      index += 1
      switch peek {
      case .word(let w), .quoted(let w):
        guard !w.trimmingCharacters(in: .whitespaces).isEmpty else { throw fail("empty caption query") }
        index += 1
        return .caption(w)
      default: throw fail("expected a word or a quoted phrase after caption:")
      }
    case .word(let w) where tokens[index + 1].0 == .lparen && ["score", "near"].contains(w.lowercased()):
      index += 2
      if w.lowercased() == "score" {
        let name = try parseName()
        try expect(.rparen, "')' after the tag name in score(…)")
        let inclusive: Bool
        switch peek {
        case .gt: inclusive = false
        case .ge: inclusive = true
        default: throw fail("expected '>' or '>=' after score(…)")
        }
        index += 1
        let numberPos = position
        guard case .word(let n) = peek, let x = Double(n), x.isFinite else {
          throw fail("expected a number such as 0.8", at: numberPos)
        }
        index += 1
        return .score(name, threshold: x, inclusive: inclusive)
      }
      let a = try parseOr()
      try expect(.comma, "',' in near(A, B, window)")
      let b = try parseOr()
      try expect(.comma, "',' before the window in near(A, B, window)")
      let wPos = position
      guard case .word(let ws) = peek, let window = QueryParser.duration(ws), window >= 0 else {
        throw fail("expected a window such as 10s, 500ms or 2m", at: wPos)
      }
      index += 1
      try expect(.rparen, "')' closing near(…)")
      return .near(a, b, window: window)
    case .word, .quoted, .prefix("zh"):
      let isKeywordWord: Bool
      if case .word(let w) = peek {
        isKeywordWord = ["and", "or", "not"].contains(w.lowercased())
      } else {
        isKeywordWord = false
      }
      if isKeywordWord { throw fail("expected a tag name, not an operator (quote it to search a tag so named)") }
      switch try parseName() {
      case .english(let n): return .tag(n)
      case .chinese(let n): return .tagZh(n)
      }
    case .end:
      throw fail(tokens.count == 1 ? "empty query" : "unexpected end of the query")
    default:
      throw fail("expected a tag name, caption:…, score(…), near(…), '!' or '('")
    }
  }

  /// Parses a duration: a number of seconds with an optional unit `ms`, `s`, `m` or `h`.
  public static func duration(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces).lowercased()
    for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where t.hasSuffix(suffix) {
      guard let v = Double(t.dropLast(suffix.count)), v.isFinite else { return nil }
      return v * scale
    }
    guard let v = Double(t), v.isFinite else { return nil }
    return v
  }
}
