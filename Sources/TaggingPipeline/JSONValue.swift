import Foundation

/// A JSON value that serialises with keys in insertion order (stable, diff-friendly output).
public indirect enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  case int(Int)
  case float(Float)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([(String, JSONValue)])

  public static func == (a: JSONValue, b: JSONValue) -> Bool { a.serialized == b.serialized }

  /// Compact single-line JSON.
  public var serialized: String {
    var out = ""
    write(into: &out)
    return out
  }

  /// Compact single-line JSON in which `<`, `>` and `&` inside strings are written as `\u003c`,
  /// `\u003e` and `\u0026`: still the same JSON value, but safe to embed in WebVTT/HTML text (it can
  /// never contain `-->` or a markup character).
  public var serializedForMarkup: String {
    var out = ""
    write(into: &out, markupSafe: true)
    return out
  }

  func write(into out: inout String, markupSafe: Bool = false) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .float(let f): out += f.isFinite ? "\(f)" : "null"
    case .double(let d): out += d.isFinite ? "\(d)" : "null"
    case .string(let s): Self.escape(s, into: &out, markupSafe: markupSafe)
    case .array(let items):
      out += "["
      for (i, item) in items.enumerated() {
        if i > 0 { out += "," }
        item.write(into: &out, markupSafe: markupSafe)
      }
      out += "]"
    case .object(let fields):
      out += "{"
      for (i, (k, v)) in fields.enumerated() {
        if i > 0 { out += "," }
        Self.escape(k, into: &out, markupSafe: markupSafe)
        out += ":"
        v.write(into: &out, markupSafe: markupSafe)
      }
      out += "}"
    }
  }

  static func escape(_ s: String, into out: inout String, markupSafe: Bool = false) {
    out += "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "<" where markupSafe: out += "\\u003c"
      case ">" where markupSafe: out += "\\u003e"
      case "&" where markupSafe: out += "\\u0026"
      default:
        if u.value < 0x20 {
          out += String(format: "\\u%04x", u.value)
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    out += "\""
  }
}
