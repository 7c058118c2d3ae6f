import Foundation

/// The text clean-up OpenAI's CLIP tokenizer applies before splitting: `ftfy.fix_text` (the fixes that change
/// text a tag description can contain), HTML-unescaping twice as Python's `html.unescape` does, whitespace
/// collapse and Python-style lower-casing. Everything works on Unicode scalars, as Python strings do.
public enum CLIPTextCleaner {
  /// `whitespace_clean(basic_clean(text)).lower()` of the reference.
  public static func clean(_ text: String) -> String {
    var s = FTFY.fixText(text)
    s = HTMLUnescape.unescape(HTMLUnescape.unescape(s))
    s = collapseWhitespace(s)
    return lowercase(s)
  }

  /// Python's `str.isspace` for one scalar (the `\s` of a Unicode regex): White_Space plus U+001C–U+001F.
  static func isSpace(_ u: Unicode.Scalar) -> Bool {
    (0x1C...0x1F).contains(u.value) || u.properties.isWhitespace
  }

  /// `re.sub(r"\s+", " ", text.strip()).strip()`.
  static func collapseWhitespace(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    var pendingSpace = false
    for u in s.unicodeScalars {
      if isSpace(u) {
        pendingSpace = !out.isEmpty
      } else {
        if pendingSpace { out.append(" ") }
        pendingSpace = false
        out.append(u)
      }
    }
    return String(out)
  }

  /// Python's `str.lower` (full case mapping, scalar by scalar; a capital sigma at the end of a word becomes ς
  /// as Python does it).
  static func lowercase(_ s: String) -> String {
    let scalars = Array(s.unicodeScalars)
    var out = String.UnicodeScalarView()
    for (i, u) in scalars.enumerated() {
      if u.value == 0x3A3 && isFinalSigma(scalars, i) {
        out.append("\u{3C2}")
      } else {
        out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
      }
    }
    return String(out)
  }

  /// Python's final-sigma rule: a cased letter before (skipping case-ignorable ones), none after.
  private static func isFinalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
    var j = i - 1
    while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
    guard j >= 0 && s[j].properties.isCased else { return false }
    var k = i + 1
    while k < s.count && s[k].properties.isCaseIgnorable { k += 1 }
    return !(k < s.count && s[k].properties.isCased)
  }
}

/// Python's `html.unescape`: named references from the HTML5 table (also the legacy ones without `;`, longest
/// prefix first), decimal and hex numeric references with the HTML5 replacements for invalid ones.
public enum HTMLUnescape {
  static let entities: [String: String] = {
    var d: [String: String] = [:]
    for line in HTMLEntityData.table.split(separator: "\n") {
      let parts = line.split(separator: " ")
      var v = String.UnicodeScalarView()
      for h in parts.dropFirst() { v.append(Unicode.Scalar(UInt32(h, radix: 16)!)!) }
      d[String(parts[0])] = String(v)
    }
    return d
  }()

  /// Unescapes every character reference in `s`.
  public static func unescape(_ s: String) -> String {
    let u = Array(s.unicodeScalars)
    guard u.contains("&") else { return s }
    var out = String.UnicodeScalarView()
    var i = 0
    while i < u.count {
      guard u[i] == "&", i + 1 < u.count else {
        out.append(u[i])
        i += 1
        continue
      }
      if let (text, next) = reference(u, at: i) {
        out.append(contentsOf: text.unicodeScalars)
        i = next
      } else {
        out.append(u[i])
        i += 1
      }
    }
    return String(out)
  }

  /// The replacement for the reference starting at `u[i] == "&"` and the index after it, or nil when nothing
  /// matches Python's pattern `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`.
  private static func reference(_ u: [Unicode.Scalar], at i: Int) -> (String, Int)? {
    var j = i + 1
    if u[j] == "#" {
      j += 1
      var hex = false
      if j < u.count && (u[j] == "x" || u[j] == "X") {
        hex = true
        j += 1
      }
      let start = j
      while j < u.count && (hex ? u[j].properties.isASCIIHexDigit : ("0"..."9").contains(u[j])) { j += 1 }
      guard j > start else { return nil }
      let digits = String(String.UnicodeScalarView(u[start..<j]))
      if j < u.count && u[j] == ";" { j += 1 }
      return (numeric(digits, radix: hex ? 16 : 10), j)
    }
    let start = j
    while j < u.count && j - start < 32 && !["\t", "\n", "\u{0C}", " ", "<", "&", "#", ";"].contains(u[j]) { j += 1 }
    guard j > start else { return nil }
    var name = String(String.UnicodeScalarView(u[start..<j]))
    if j < u.count && u[j] == ";" {
      name += ";"
      j += 1
    }
    if let v = entities[name] { return (v, j) }
    // Longest legacy prefix (`&notanentity;` → `¬anentity;`).
    let scalars = Array(name.unicodeScalars)
    var x = scalars.count - 1
    while x > 1 {
      let prefix = String(String.UnicodeScalarView(scalars[0..<x]))
      if let v = entities[prefix] { return (v + String(String.UnicodeScalarView(scalars[x...])), j) }
      x -= 1
    }
    return ("&" + name, j)
  }

  private static func numeric(_ digits: String, radix: Int) -> String {
    // Python's int() has no bound; anything past 0x10FFFF is the replacement character.
    let trimmed = digits.drop { $0 == "0" }
    guard trimmed.count <= 8, let n = UInt32(trimmed.isEmpty ? "0" : String(trimmed), radix: radix) else {
      return "\u{FFFD}"
    }
    if let r = HTMLEntityData.invalidCharrefs[n] { return String(Unicode.Scalar(r)!) }
    if (0xD800...0xDFFF).contains(n) || n > 0x10FFFF { return "\u{FFFD}" }
    if HTMLEntityData.invalidCodepoints.contains(n) { return "" }
    return String(Unicode.Scalar(n)!)
  }
}
