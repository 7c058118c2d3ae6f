import Foundation

/// Overflow-checked size arithmetic for numbers read from untrusted files (shapes, strides, offsets).
/// Each returns nil when the exact result does not fit in an `Int`, so callers report a clear error instead of
/// trapping.
enum CheckedMath {
  static func add(_ a: Int, _ b: Int) -> Int? {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? nil : r
  }

  static func multiply(_ a: Int, _ b: Int) -> Int? {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    return o ? nil : r
  }

  /// The product of non-negative dimensions (1 for none).
  static func product(_ xs: [Int]) -> Int? {
    guard xs.allSatisfy({ $0 >= 0 }) else { return nil }
    if xs.contains(0) { return 0 }
    var acc = 1
    for x in xs {
      guard x >= 0, let next = multiply(acc, x) else { return nil }
      acc = next
    }
    return acc
  }

  /// Elements spanned by a strided view, `1 + Σ (n−1)·s` (0 when a dimension is empty); nil on overflow or a
  /// negative stride.
  static func extent(shape: [Int], strides: [Int]) -> Int? {
    guard shape.count == strides.count, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
      return nil
    }
    if shape.contains(0) { return 0 }
    var e = 1
    for (n, s) in zip(shape, strides) {
      guard let step = multiply(n - 1, s), let next = add(e, step) else { return nil }
      e = next
    }
    return e
  }

  /// A JSON number that is an exact integer (not a bool, not 1.9, not 1e30), or nil.
  static func exactInt(_ v: Any) -> Int? {
    // JSONSerialization gives booleans as a subclass of NSNumber (and `0 is Bool` is true on Linux).
    guard let n = v as? NSNumber, type(of: n) == NSNumber.self else { return nil }
    return Int(exactly: n)
  }
}
