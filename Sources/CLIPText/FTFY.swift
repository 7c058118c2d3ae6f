import Foundation

/// The parts of `ftfy.fix_text` (ftfy 6.3, default settings) that CLIP's clean-up relies on, applied until the
/// text stops changing: HTML entities with a `;` when the text has no `<`, terminal escape sequences, whole-text
/// mojibake (UTF-8 read as Windows-1252 / Latin-1, e.g. `cafÃ©` → `café`), C1 controls, Latin ligatures,
/// full-width and half-width forms, curly quotes, line breaks, control characters, then NFC.
///
/// ftfy's mojibake detector is heuristic; this one repairs a text only when all of it encodes as (sloppy)
/// Windows-1252 and those bytes are valid UTF-8 with at least one multi-byte sequence, which ordinary
/// accented text never is.
public enum FTFY {
  /// Fixes `text` as `ftfy.fix_text(text)` does for the cases above.
  public static func fixText(_ text: String) -> String {
    var s = text
    for _ in 0..<8 {
      let before = s
      if !s.unicodeScalars.contains("<") { s = unescapeSemicolonEntities(s) }
      s = removeTerminalEscapes(s)
      s = fixEncoding(s)
      s = mapScalars(s)
      s = s.precomposedStringWithCanonicalMapping
      if s == before && Array(s.unicodeScalars) == Array(before.unicodeScalars) { break }
    }
    return s
  }

  /// ftfy's `unescape_html`: only `&…;` references (1–24 letters, digits or `#`).
  static func unescapeSemicolonEntities(_ s: String) -> String {
    let u = Array(s.unicodeScalars)
    guard u.contains("&") else { return s }
    var out = String.UnicodeScalarView()
    var i = 0
    while i < u.count {
      if u[i] == "&" {
        var j = i + 1
        if j < u.count && u[j] == "#" { j += 1 }
        let start = j
        while j < u.count && j - start < 24 && u[j].isASCII
          && (u[j].properties.isAlphabetic || ("0"..."9").contains(u[j]))
        {
          j += 1
        }
        if j > start && j < u.count && u[j] == ";" {
          let ref = String(String.UnicodeScalarView(u[i...j]))
          let fixed = HTMLUnescape.unescape(ref)
          out.append(contentsOf: fixed.unicodeScalars)
          i = j + 1
          continue
        }
      }
      out.append(u[i])
      i += 1
    }
    return String(out)
  }

  /// Removes `ESC [ digits/semicolons letter` sequences.
  static func removeTerminalEscapes(_ s: String) -> String {
    let u = Array(s.unicodeScalars)
    guard u.contains("\u{1B}") else { return s }
    var out = String.UnicodeScalarView()
    var i = 0
    while i < u.count {
      if u[i] == "\u{1B}", i + 1 < u.count, u[i + 1] == "[" {
        var j = i + 2
        while j < u.count && (("0"..."9").contains(u[j]) || u[j] == ";") { j += 1 }
        if j < u.count, u[j].isASCII, u[j].properties.isAlphabetic {
          i = j + 1
          continue
        }
      }
      out.append(u[i])
      i += 1
    }
    return String(out)
  }

  /// Windows-1252's characters for bytes 0x80–0x9F (nil: undefined, kept as the C1 control in "sloppy" mode).
  static let cp1252High: [UInt32?] = [
    0x20AC, nil, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, nil,
    0x017D, nil, nil, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
    0x0153, nil, 0x017E, 0x0178,
  ]
  static let cp1252Encode: [UInt32: UInt8] = {
    var d: [UInt32: UInt8] = [:]
    for b in 0..<256 {
      if (0x80...0x9F).contains(b) {
        d[cp1252High[b - 0x80] ?? UInt32(b)] = UInt8(b)
      } else {
        d[UInt32(b)] = UInt8(b)
      }
    }
    return d
  }()

  /// Whole-text mojibake repair (see the type's note).
  static func fixEncoding(_ s: String) -> String {
    guard s.unicodeScalars.contains(where: { $0.value >= 0x80 }) else { return s }
    var bytes: [UInt8] = []
    for u in s.unicodeScalars {
      guard let b = cp1252Encode[u.value] else { return s }
      bytes.append(b)
    }
    guard bytes.contains(where: { $0 >= 0xC0 }), let decoded = String(validating: bytes, as: UTF8.self) else {
      return s
    }
    return decoded
  }

  static let ligatures: [UInt32: String] = [
    0x0132: "IJ", 0x0133: "ij", 0x0149: "\u{2BC}n", 0x01C4: "D\u{17D}", 0x01C5: "D\u{17E}", 0x01C6: "d\u{17E}",
    0x01C7: "LJ", 0x01C8: "Lj", 0x01C9: "lj", 0x01CA: "NJ", 0x01CB: "Nj", 0x01CC: "nj", 0x01F1: "DZ",
    0x01F2: "Dz", 0x01F3: "dz", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl",
    0xFB05: "\u{17F}t", 0xFB06: "st",
  ]

  /// C1 controls, ligatures, width forms, curly quotes, line breaks and control characters, scalar by scalar.
  static func mapScalars(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    let u = Array(s.unicodeScalars)
    var i = 0
    while i < u.count {
      let c = u[i]
      let v = c.value
      i += 1
      switch v {
      case 0x80...0x9F:  // fix_c1_controls: decode as sloppy Windows-1252
        out.append(Unicode.Scalar(cp1252High[Int(v - 0x80)] ?? v)!)
      case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC:  // remove_control_chars
        break
      case 0x0D:  // fix_line_breaks
        if i < u.count && u[i] == "\n" { i += 1 }
        out.append("\n")
      case 0x2028, 0x2029, 0x85:
        out.append("\n")
      case 0x02BC, 0x2018...0x201B:  // uncurl_quotes
        out.append("'")
      case 0x201C...0x201F:
        out.append("\"")
      case 0x3000:
        out.append(" ")
      case 0xFF01...0xFFEF:  // fix_character_width
        let n = String(c).precomposedStringWithCompatibilityMapping
        out.append(contentsOf: n.unicodeScalars)
      default:
        if let l = ligatures[v] { out.append(contentsOf: l.unicodeScalars) } else { out.append(c) }
      }
    }
    return String(out)
  }
}
