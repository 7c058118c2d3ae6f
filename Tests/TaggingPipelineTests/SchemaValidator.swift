import Foundation

@testable import TaggingPipeline

/// A small JSON Schema (2020-12) validator for the keywords `schemas/timeline.schema.json` uses:
/// type, enum, const, required, properties, additionalProperties: false, items, minimum, maximum,
/// exclusiveMinimum, minLength, pattern, oneOf, allOf, if/then, $ref to `#/$defs/…`. Unknown
/// keywords fail loudly, so the schema cannot silently outgrow the check.
struct SchemaValidator {
  let root: JSONValue
  static let known: Set<String> = [
    "$schema", "$id", "title", "description", "type", "enum", "const", "required", "properties",
    "additionalProperties", "items", "minimum", "maximum", "exclusiveMinimum", "minLength", "pattern", "oneOf",
    "allOf", "if", "then", "$ref", "$defs",
  ]

  init(schema: JSONValue) { root = schema }

  /// Problems found (empty: valid).
  func validate(_ value: JSONValue) -> [String] { check(value, root, path: "$") }

  private func resolve(_ ref: String) -> JSONValue? {
    guard ref.hasPrefix("#/$defs/") else { return nil }
    return root["$defs"]?[String(ref.dropFirst("#/$defs/".count))]
  }

  private func typeMatches(_ v: JSONValue, _ type: String) -> Bool {
    switch (type, v) {
    case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): return true
    case ("integer", .int): return true
    case ("integer", .double(let d)), ("number", .double(let d)): return type == "number" || d.rounded() == d
    case ("number", .int), ("number", .float): return true
    default: return false
    }
  }

  private func check(_ v: JSONValue, _ schema: JSONValue, path: String) -> [String] {
    guard let keywords = schema.objectValue else { return ["\(path): schema is not an object"] }
    var problems: [String] = []
    for (k, _) in keywords where !Self.known.contains(k) { problems.append("\(path): unsupported keyword \(k)") }
    if let ref = schema["$ref"]?.stringValue {
      guard let target = resolve(ref) else { return problems + ["\(path): unresolved $ref \(ref)"] }
      problems += check(v, target, path: path)
    }
    if let t = schema["type"] {
      let types = t.arrayValue?.compactMap(\.stringValue) ?? [t.stringValue ?? ""]
      if !types.contains(where: { typeMatches(v, $0) }) { problems.append("\(path): \(v.serialized) is not \(types)") }
    }
    if let e = schema["enum"]?.arrayValue, !e.contains(v) { problems.append("\(path): \(v.serialized) not in enum") }
    if let c = schema["const"], c != v, !(c.doubleValue != nil && c.doubleValue == v.doubleValue) {
      problems.append("\(path): \(v.serialized) is not \(c.serialized)")
    }
    if let n = v.doubleValue, !v.isBoolLike {
      if let m = schema["minimum"]?.doubleValue, n < m { problems.append("\(path): \(n) < minimum \(m)") }
      if let m = schema["maximum"]?.doubleValue, n > m { problems.append("\(path): \(n) > maximum \(m)") }
      if let m = schema["exclusiveMinimum"]?.doubleValue, n <= m { problems.append("\(path): \(n) ≤ \(m)") }
    }
    if let s = v.stringValue {
      if let m = schema["minLength"]?.intValue, s.count < m { problems.append("\(path): shorter than \(m)") }
      if let p = schema["pattern"]?.stringValue, s.range(of: p, options: .regularExpression) == nil {
        problems.append("\(path): '\(s)' does not match \(p)")
      }
    }
    if let fields = v.objectValue {
      for r in schema["required"]?.arrayValue ?? [] {
        if let name = r.stringValue, !fields.contains(where: { $0.0 == name }) {
          problems.append("\(path): missing \(name)")
        }
      }
      let properties = schema["properties"]?.objectValue ?? []
      for (k, value) in fields {
        if let sub = properties.first(where: { $0.0 == k })?.1 {
          problems += check(value, sub, path: "\(path).\(k)")
        } else if schema["additionalProperties"]?.boolValue == false {
          problems.append("\(path): unexpected property \(k)")
        }
      }
    }
    if let items = v.arrayValue, let sub = schema["items"] {
      for (i, item) in items.enumerated() { problems += check(item, sub, path: "\(path)[\(i)]") }
    }
    if let all = schema["allOf"]?.arrayValue { for s in all { problems += check(v, s, path: path) } }
    if let one = schema["oneOf"]?.arrayValue {
      let passing = one.filter { check(v, $0, path: path).isEmpty }.count
      if passing != 1 { problems.append("\(path): matches \(passing) of oneOf (need exactly 1)") }
    }
    if let cond = schema["if"], check(v, cond, path: path).isEmpty, let then = schema["then"] {
      problems += check(v, then, path: path)
    }
    return problems
  }
}

extension JSONValue {
  fileprivate var isBoolLike: Bool { if case .bool = self { return true } else { return false } }
}
