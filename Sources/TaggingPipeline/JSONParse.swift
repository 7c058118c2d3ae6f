import Foundation

/// A JSON text that could not be read.
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
  /// Byte offset (UTF-8) where reading stopped.
  public var offset: Int
  public var reason: String
  public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
  /// Reads one JSON value (RFC 8259) keeping the order of object keys. Numbers without a fraction or
  /// exponent that fit in `Int` become `.int`, every other number `.double`.
  public static func parse(_ text: String) throws -> JSONValue {
    var reader = JSONReader(bytes: Array(text.utf8))
    reader.skipSpace()
    let value = try reader.value(depth: 0)
    reader.skipSpace()
    if reader.position != reader.bytes.count { throw reader.error("unexpected text after the value") }
    return value
  }

  /// The member named `key` of an object (first match), or nil.
  public subscript(key: String) -> JSONValue? {
    if case .object(let fields) = self { return fields.first { $0.0 == key }?.1 }
    return nil
  }

  public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
  public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
  public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
  public var objectValue: [(String, JSONValue)]? { if case .object(let o) = self { return o } else { return nil } }
  /// An integer, or a double with no fractional part.
  public var intValue: Int? {
    switch self {
    case .int(let i): return i
    case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
    case .float(let f) where f.rounded() == f && abs(f) < 1.0e7: return Int(f)
    default: return nil
    }
  }
  /// Any number as a Double.
  public var doubleValue: Double? {
    switch self {
    case .int(let i): return Double(i)
    case .double(let d): return d
    case .float(let f): return Double(f)
    default: return nil
    }
  }
  public var isNull: Bool { if case .null = self { return true } else { return false } }
}

private struct JSONReader {
  let bytes: [UInt8]
  var position = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  func error(_ reason: String) -> JSONParseError { JSONParseError(offset: position, reason: reason) }

  mutating func skipSpace() {
    while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
  }

  mutating func expect(_ literal: String, _ value: JSONValue) throws -> JSONValue {
    let l = Array(literal.utf8)
    guard position + l.count <= bytes.count, Array(bytes[position..<position + l.count]) == l else {
      throw error("expected '\(literal)'")
    }
    position += l.count
    return value
  }

  mutating func value(depth: Int) throws -> JSONValue {
    guard depth < 512 else { throw error("nesting deeper than 512") }
    guard position < bytes.count else { throw error("unexpected end of text") }
    switch bytes[position] {
    case UInt8(ascii: "{"):
      position += 1
      var fields: [(String, JSONValue)] = []
      skipSpace()
      if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
        position += 1
        return .object(fields)
      }
      while true {
        skipSpace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
          throw error("expected a key string")
        }
        let key = try string()
        skipSpace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
        position += 1
        skipSpace()
        fields.append((key, try value(depth: depth + 1)))
        skipSpace()
        guard position < bytes.count else { throw error("unterminated object") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
        } else if bytes[position] == UInt8(ascii: "}") {
          position += 1
          return .object(fields)
        } else {
          throw error("expected ',' or '}'")
        }
      }
    case UInt8(ascii: "["):
      position += 1
      var items: [JSONValue] = []
      skipSpace()
      if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
        position += 1
        return .array(items)
      }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard position < bytes.count else { throw error("unterminated array") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
        } else if bytes[position] == UInt8(ascii: "]") {
          position += 1
          return .array(items)
        } else {
          throw error("expected ',' or ']'")
        }
      }
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): return try expect("true", .bool(true))
    case UInt8(ascii: "f"): return try expect("false", .bool(false))
    case UInt8(ascii: "n"): return try expect("null", .null)
    default: return try number()
    }
  }

  mutating func number() throws -> JSONValue {
    let start = position
    var integral = true
    if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
    let digitsStart = position
    while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
    if position == digitsStart { throw error("expected a value") }
    if bytes[digitsStart] == 0x30, position - digitsStart > 1 { throw error("leading zero in a number") }
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      integral = false
      position += 1
      let f = position
      while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
      if position == f { throw error("expected digits after '.'") }
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
      integral = false
      position += 1
      if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
        position += 1
      }
      let e = position
      while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
      if position == e { throw error("expected digits in the exponent") }
    }
    let text = String(decoding: bytes[start..<position], as: UTF8.self)
    if integral, let i = Int(text) { return .int(i) }
    guard let d = Double(text) else { throw error("bad number '\(text)'") }
    return .double(d)
  }

  mutating func hex4() throws -> UInt32 {
    guard position + 4 <= bytes.count else { throw error("short \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[position]
      let d: UInt32
      switch c {
      case 0x30...0x39: d = UInt32(c - 0x30)
      case 0x41...0x46: d = UInt32(c - 0x41 + 10)
      case 0x61...0x66: d = UInt32(c - 0x61 + 10)
      default: throw error("bad hex digit in \\u escape")
      }
      v = v * 16 + d
      position += 1
    }
    return v
  }

  mutating func string() throws -> String {
    position += 1  // opening quote
    var out: [UInt8] = []
    while true {
      guard position < bytes.count else { throw error("unterminated string") }
      let c = bytes[position]
      if c == UInt8(ascii: "\"") {
        position += 1
        break
      }
      if c < 0x20 { throw error("control character in a string") }
      if c != UInt8(ascii: "\\") {
        out.append(c)
        position += 1
        continue
      }
      position += 1
      guard position < bytes.count else { throw error("unterminated escape") }
      let e = bytes[position]
      position += 1
      switch e {
      case UInt8(ascii: "\""): out.append(0x22)
      case UInt8(ascii: "\\"): out.append(0x5C)
      case UInt8(ascii: "/"): out.append(0x2F)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = try hex4()
        if (0xD800...0xDBFF).contains(scalar) {
          guard position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
            bytes[position + 1] == UInt8(ascii: "u")
          else { throw error("unpaired surrogate") }
          position += 2
          let low = try hex4()
          guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(scalar) {
          throw error("unpaired surrogate")
        }
        guard let u = Unicode.Scalar(scalar) else { throw error("bad \\u escape") }
        out.append(contentsOf: Array(String(u).utf8))
      default: throw error("bad escape '\\\(Character(Unicode.Scalar(e)))'")
      }
    }
    guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not UTF-8") }
    return s
  }
}
