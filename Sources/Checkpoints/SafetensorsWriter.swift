import Foundation

/// Writes a `.safetensors` file, streaming one tensor at a time.
///
/// Tensors are written in name order (as are their header entries); the JSON header is padded with spaces to a
/// multiple of 8 bytes. The file is written to a temporary file in the same directory and renamed into place, so
/// a failure never leaves a half-written file at `path`.
///
/// ```swift
/// var w = SafetensorsWriter(path: out, metadata: ["format": "pt"])
/// w.add("label_embed", shape: [4585, 512]) { buf in for i in buf.indices { buf[i] = 0 } }
/// w.add("position_ids", shape: [1, 512], int64s: (0..<512).map(Int64.init))
/// try w.write()
/// ```
public struct SafetensorsWriter {
  /// One tensor to write.
  public struct Tensor {
    /// Tensor name (header key).
    public var name: String
    /// Dimensions (empty for a 0-dim tensor).
    public var shape: [Int]
    /// Stored element type (f32 or i64 in practice; any type is accepted with `.bytes` data).
    public var dtype: TensorDType
    /// The values, or how to produce them.
    public var data: TensorData
    /// A tensor to write.
    public init(name: String, shape: [Int], dtype: TensorDType, data: TensorData) {
      self.name = name
      self.shape = shape
      self.dtype = dtype
      self.data = data
    }
  }

  /// Destination path.
  public let path: String
  /// The `__metadata__` string map (omitted from the header when empty).
  public var metadata: [String: String]
  /// The tensors added so far.
  public private(set) var tensors: [Tensor] = []

  /// A writer for `path` with the given `__metadata__`.
  public init(path: String, metadata: [String: String] = [:]) {
    self.path = path
    self.metadata = metadata
  }

  /// Adds a tensor of any element type.
  public mutating func add(_ name: String, shape: [Int], dtype: TensorDType, data: TensorData) {
    tensors.append(Tensor(name: name, shape: shape, dtype: dtype, data: data))
  }

  /// Adds an f32 tensor from values.
  public mutating func add(_ name: String, shape: [Int], floats: [Float]) {
    add(name, shape: shape, dtype: .f32, data: .float32(floats))
  }

  /// Adds an i64 tensor from values.
  public mutating func add(_ name: String, shape: [Int], int64s: [Int64]) {
    add(name, shape: shape, dtype: .i64, data: .int64(int64s))
  }

  /// Adds an f32 tensor whose values `fill` generates (into a zeroed buffer) when the tensor is written.
  public mutating func add(
    _ name: String, shape: [Int], fill: @escaping (UnsafeMutableBufferPointer<Float>) throws -> Void
  ) {
    add(name, shape: shape, dtype: .f32, data: .fillFloat32(fill))
  }

  /// The JSON header (unpadded) and each tensor's byte range, for tensors in name order.
  static func header(
    _ tensors: [Tensor], metadata: [String: String], path: String
  ) throws -> (json: [UInt8], order: [Tensor]) {
    let order = tensors.sorted { $0.name < $1.name }
    var seen = Set<String>()
    var parts: [String] = []
    if !metadata.isEmpty {
      let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
      parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
    }
    var offset = 0
    for t in order {
      guard seen.insert(t.name).inserted else {
        throw CheckpointError.writeFailed(path: path, reason: "tensor name '\(t.name)' is used twice")
      }
      guard t.name != "__metadata__" else {
        throw CheckpointError.writeFailed(path: path, reason: "'__metadata__' cannot be a tensor name")
      }
      guard t.shape.allSatisfy({ $0 >= 0 }) else {
        throw CheckpointError.writeFailed(path: path, reason: "tensor '\(t.name)' has a negative dimension \(t.shape)")
      }
      let bytes = t.shape.reduce(1, *) * t.dtype.size
      let shape = t.shape.map(String.init).joined(separator: ",")
      parts.append(
        "\(jsonString(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}"
      )
      offset += bytes
    }
    return (Array("{\(parts.joined(separator: ","))}".utf8), order)
  }

  /// Writes the file.
  public func write() throws {
    var (json, order) = try SafetensorsWriter.header(tensors, metadata: metadata, path: path)
    while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
    let sink = try FileSink(path: path)
    var prefix: [UInt8] = []
    prefix.le64(json.count)
    try sink.write(prefix)
    try sink.write(json)
    for t in order {
      let count = t.shape.reduce(1, *)
      try t.data.withBytes(dtype: t.dtype, count: count, path: path, name: t.name) { try sink.write($0) }
    }
    try sink.commit()
  }
}

/// A JSON string literal for `s`.
func jsonString(_ s: String) -> String {
  var out = "\""
  for u in s.unicodeScalars {
    switch u {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    default:
      if u.value < 0x20 {
        out += String(format: "\\u%04x", u.value)
      } else {
        out.unicodeScalars.append(u)
      }
    }
  }
  return out + "\""
}

/// Converts tensors of `archive` to a safetensors file (for `vtag models convert`): floating tensors (f32, f16,
/// bf16, f64) are written as f32, integer tensors as i64. Contiguous f32 tensors stream straight from the source
/// mapping.
///
/// - Parameters:
///   - archive: the source (e.g. a `PthCheckpoint`).
///   - names: the tensors to write (each must exist).
///   - path: destination; written through a temporary file and renamed.
///   - metadata: the `__metadata__` map.
public func writeSafetensors(
  from archive: any TensorArchive, names: [String], to path: String, metadata: [String: String]
) throws {
  var writer = SafetensorsWriter(path: path, metadata: metadata)
  for name in names {
    guard let e = archive.entries[name] else { throw CheckpointError.missingTensor(path: archive.path, name: name) }
    switch e.dtype {
    case .f32, .f16, .bf16, .f64:
      writer.add(name, shape: e.shape, dtype: .f32, data: .floatBuffer({ try archive.floats(name) }))
    case .i64, .i32, .i16, .i8, .u8, .bool:
      writer.add(
        name, shape: e.shape, dtype: .i64,
        data: .fillInt64({ buf in
          let v = try archive.int64s(name)
          _ = buf.update(fromContentsOf: v)
        }))
    }
  }
  try writer.write()
}
