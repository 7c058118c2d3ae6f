import Foundation

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`, then the raw tensor bytes.
/// The file is memory-mapped; f32 tensors are returned as zero-copy views.
public final class SafetensorsFile: TensorArchive, @unchecked Sendable {
  /// The path the file was opened from.
  public let path: String
  /// Every tensor, by name.
  public let entries: [String: TensorEntry]
  /// The `__metadata__` string map, if any.
  public let metadata: [String: String]
  private let file: MappedFile
  private let dataStart: Int
  private let byteRanges: [String: Range<Int>]

  /// Opens and validates the file at `path` (header, dtypes, shapes and data ranges).
  public init(path: String) throws {
    let file = try MappedFile(path: path)
    self.file = file
    self.path = path
    guard file.size >= 8 else {
      throw CheckpointError.truncated(path: path, detail: "\(file.size) bytes, shorter than the 8-byte header length")
    }
    let headerLen = Int(file.base.loadUnaligned(as: UInt64.self).littleEndian)
    guard headerLen > 0, headerLen <= file.size - 8 else {
      throw CheckpointError.truncated(
        path: path, detail: "header length \(headerLen) exceeds the file size \(file.size)")
    }
    let headerBytes = try file.bytes(8, headerLen)
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: Data(headerBytes))
    } catch {
      throw CheckpointError.malformed(path: path, detail: "header is not JSON: \(error.localizedDescription)")
    }
    guard let dict = json as? [String: Any] else {
      throw CheckpointError.malformed(path: path, detail: "header is not a JSON object")
    }
    dataStart = 8 + headerLen
    let dataSize = file.size - dataStart
    var entries: [String: TensorEntry] = [:]
    var ranges: [String: Range<Int>] = [:]
    var metadata: [String: String] = [:]
    for (name, value) in dict {
      if name == "__metadata__" {
        if let m = value as? [String: Any] {
          for (k, v) in m { metadata[k] = "\(v)" }
        }
        continue
      }
      guard let t = value as? [String: Any], let dtypeName = t["dtype"] as? String,
        let shapeAny = t["shape"] as? [Any], let offsAny = t["data_offsets"] as? [Any], offsAny.count == 2
      else {
        throw CheckpointError.malformed(path: path, detail: "tensor '\(name)' has no dtype/shape/data_offsets")
      }
      guard let dtype = TensorDType(rawValue: dtypeName) else {
        throw CheckpointError.unsupported(path: path, detail: "tensor '\(name)' has dtype \(dtypeName)")
      }
      let shape = shapeAny.compactMap(CheckedMath.exactInt)
      guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }) else {
        throw CheckpointError.malformed(
          path: path,
          detail:
            "tensor '\(name)' has shape \(SafetensorsFile.show(shapeAny)); each dimension must be a non-negative integer"
        )
      }
      let offs = offsAny.compactMap(CheckedMath.exactInt)
      guard offs.count == 2, offs[0] >= 0, offs[1] >= offs[0] else {
        throw CheckpointError.malformed(
          path: path,
          detail:
            "tensor '\(name)' has data_offsets \(SafetensorsFile.show(offsAny)); they must be two integers 0 ≤ begin ≤ end"
        )
      }
      guard let count = CheckedMath.product(shape), let bytes = CheckedMath.multiply(count, dtype.size) else {
        throw CheckpointError.malformed(
          path: path, detail: "tensor '\(name)': shape \(shape) holds more elements than any file can")
      }
      guard offs[1] - offs[0] == bytes else {
        throw CheckpointError.malformed(
          path: path,
          detail: "tensor '\(name)': data_offsets span \(offs[1] - offs[0]) bytes, shape \(shape) needs \(bytes)")
      }
      guard offs[1] <= dataSize else {
        throw CheckpointError.truncated(
          path: path,
          detail:
            "tensor '\(name)' ends at byte \(offs[1]) of the data section, which has \(dataSize) bytes (file \(file.size) bytes)"
        )
      }
      entries[name] = TensorEntry(
        name: name, dtype: dtype, shape: shape, strides: TensorEntry.contiguousStrides(shape), storageKey: name,
        storageOffset: 0)
      ranges[name] = offs[0]..<offs[1]
    }
    // Tensors may not share bytes.
    let sorted = ranges.filter { !$0.value.isEmpty }.sorted { $0.value.lowerBound < $1.value.lowerBound }
    for (a, b) in zip(sorted, sorted.dropFirst()) where b.value.lowerBound < a.value.upperBound {
      throw CheckpointError.malformed(
        path: path,
        detail:
          "tensors '\(a.key)' (data_offsets [\(a.value.lowerBound), \(a.value.upperBound)]) and '\(b.key)' ([\(b.value.lowerBound), \(b.value.upperBound)]) overlap"
      )
    }
    self.entries = entries
    self.byteRanges = ranges
    self.metadata = metadata
  }

  /// A JSON array as written (`[1.9, 4]`), for error messages.
  static func show(_ xs: [Any]) -> String {
    "[" + xs.map { "\($0)" }.joined(separator: ", ") + "]"
  }

  /// Raw bytes of a tensor.
  public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
    guard let r = byteRanges[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    return try file.bytes(dataStart + r.lowerBound, r.count)
  }

  /// The tensor as fp32 (a zero-copy view for aligned f32 data, converted otherwise).
  public func floats(_ name: String) throws -> FloatBuffer {
    guard let e = entries[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    let raw = try rawBytes(name)
    return try DTypeConversion.floatBuffer(
      from: raw, dtype: e.dtype, count: e.elementCount, owner: file, path: path, name: name)
  }

  /// The values of an integer tensor.
  public func int64s(_ name: String) throws -> [Int64] {
    guard let e = entries[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    let raw = try rawBytes(name)
    return try DTypeConversion.int64Array(from: raw, dtype: e.dtype, count: e.elementCount, path: path, name: name)
  }
}

/// Conversions from stored element types to fp32 / int64.
public enum DTypeConversion {
  /// fp32 values of `count` contiguous elements. f32 data that is 4-byte aligned is returned as a view.
  public static func floatBuffer(
    from raw: UnsafeRawBufferPointer, dtype: TensorDType, count: Int, owner: AnyObject, path: String, name: String
  ) throws -> FloatBuffer {
    let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!
    switch dtype {
    case .f32:
      if Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
        return FloatBuffer(viewing: base.assumingMemoryBound(to: Float.self), count: count, owner: owner)
      }
      let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
      UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: count * 4)
      return FloatBuffer(adopting: p, count: count)
    case .f16:
      let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
      for i in 0..<count {
        let bits = base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian
        p[i] = Float(Float16(bitPattern: bits))
      }
      return FloatBuffer(adopting: p, count: count)
    case .bf16:
      let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
      for i in 0..<count {
        let bits = base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian
        p[i] = Float(bitPattern: UInt32(bits) << 16)
      }
      return FloatBuffer(adopting: p, count: count)
    case .f64:
      let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
      for i in 0..<count {
        p[i] = Float(Double(bitPattern: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self).littleEndian))
      }
      return FloatBuffer(adopting: p, count: count)
    default:
      throw CheckpointError.wrongDType(path: path, name: name, dtype: dtype.rawValue, wanted: "a floating type")
    }
  }

  /// int64 values of `count` contiguous integer elements.
  public static func int64Array(
    from raw: UnsafeRawBufferPointer, dtype: TensorDType, count: Int, path: String, name: String
  ) throws -> [Int64] {
    guard let base = raw.baseAddress else { return [] }
    switch dtype {
    case .i64:
      return (0..<count).map { Int64(littleEndian: base.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
    case .i32:
      return (0..<count).map { Int64(Int32(littleEndian: base.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
    case .i16:
      return (0..<count).map { Int64(Int16(littleEndian: base.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self))) }
    case .i8: return (0..<count).map { Int64(base.load(fromByteOffset: $0, as: Int8.self)) }
    case .u8, .bool: return (0..<count).map { Int64(base.load(fromByteOffset: $0, as: UInt8.self)) }
    default:
      throw CheckpointError.wrongDType(path: path, name: name, dtype: dtype.rawValue, wanted: "an integer type")
    }
  }
}
