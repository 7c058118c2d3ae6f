import Foundation

/// Writes a checkpoint in the zip layout of `torch.save` (torch ≥ 1.6), which `torch.load` accepts and
/// `PthCheckpoint` reads: members `<name>/data.pkl` (pickle protocol 2), `<name>/data/<n>` (raw little-endian
/// storages, stored uncompressed and 64-byte aligned), `<name>/version` (`3`), `<name>/byteorder` (`little`),
/// `<name>/.format_version`, `<name>/.storage_alignment` (`64`) and `<name>/.data/serialization_id`.
///
/// The pickle is `{"model": OrderedDict(name → tensor), <extra entries>…}`. Storages are generated and written one
/// at a time (see `TensorData`), so full-size files can be synthesised without holding them in memory. ZIP64
/// records are written when sizes or offsets need them, or always with `forceZip64`.
///
/// ```swift
/// var w = PthWriter(path: "model.pth")
/// w.addTensor("fc.weight", shape: [2, 3], data: .float32([1, 2, 3, 4, 5, 6]))
/// w.setExtra("epoch", .int(1))
/// try w.write()
/// ```
public struct PthWriter {
  /// Identifies a storage added with `addStorage`; its zip member is `<name>/data/<index>`.
  public struct StorageID: Hashable, Sendable {
    /// The storage's number (its key in the pickle and its member name).
    public let index: Int
  }

  /// A tensor: a strided view of a storage.
  public struct TensorRef: Sendable, Equatable {
    /// The storage the tensor views.
    public var storage: StorageID
    /// Dimensions (empty for a 0-dim tensor).
    public var shape: [Int]
    /// Strides in elements.
    public var strides: [Int]
    /// Offset into the storage in elements.
    public var offset: Int
    /// A view of `storage`; contiguous row-major strides unless `strides` are given.
    public init(storage: StorageID, shape: [Int], strides: [Int]? = nil, offset: Int = 0) {
      self.storage = storage
      self.shape = shape
      self.strides = strides ?? TensorEntry.contiguousStrides(shape)
      self.offset = offset
    }
  }

  /// A picklable value for the extra top-level entries (`optimizer`, `config`, `epoch`, …).
  public indirect enum Value: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([Value])
    case list([Value])
    /// A plain dict, keys in the given order.
    case dict([(Value, Value)])
    /// A `collections.OrderedDict` with string keys.
    case orderedDict([(String, Value)])
    case tensor(TensorRef)
  }

  private struct Storage {
    var dtype: TensorDType
    var count: Int
    var data: TensorData
  }

  /// Destination path.
  public let path: String
  /// The zip's top folder (torch uses the file name without its extension).
  public var archiveName: String
  /// Write ZIP64 records for every member even when nothing needs them (to test that path on small files).
  public var forceZip64: Bool
  /// For tests: storages that the pickle references but whose members are not written.
  public var omittedStorages: Set<StorageID> = []
  /// For tests: pickle bytes to write as `data.pkl` instead of the generated pickle.
  public var pickleOverride: [UInt8]? = nil

  private var storages: [Storage] = []
  private var model: [(String, TensorRef)] = []
  private var extras: [(String, Value)] = []

  /// A writer for `path`. The zip folder defaults to the file name without its extension, as with `torch.save`.
  public init(path: String, archiveName: String? = nil, forceZip64: Bool = false) {
    self.path = path
    let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    self.archiveName = archiveName ?? (stem.isEmpty ? "archive" : stem)
    self.forceZip64 = forceZip64
  }

  /// Adds a storage of `count` elements of `dtype`; several tensors may view it (tied weights).
  @discardableResult
  public mutating func addStorage(dtype: TensorDType, count: Int, data: TensorData) -> StorageID {
    storages.append(Storage(dtype: dtype, count: count, data: data))
    return StorageID(index: storages.count - 1)
  }

  /// Adds a state-dict entry viewing `storage` (contiguous unless `strides` are given).
  public mutating func addTensor(
    _ name: String, storage: StorageID, shape: [Int], strides: [Int]? = nil, offset: Int = 0
  ) {
    model.append((name, TensorRef(storage: storage, shape: shape, strides: strides, offset: offset)))
  }

  /// Adds a state-dict entry with its own contiguous storage; returns the storage (to tie other keys to it).
  @discardableResult
  public mutating func addTensor(_ name: String, shape: [Int], dtype: TensorDType = .f32, data: TensorData)
    -> StorageID
  {
    let id = addStorage(dtype: dtype, count: shape.reduce(1, *), data: data)
    addTensor(name, storage: id, shape: shape)
    return id
  }

  /// Sets an extra top-level entry (after `model`, in the order first set).
  public mutating func setExtra(_ key: String, _ value: Value) {
    precondition(key != "model", "'model' holds the tensors added with addTensor")
    if let i = extras.firstIndex(where: { $0.0 == key }) {
      extras[i].1 = value
    } else {
      extras.append((key, value))
    }
  }

  /// The storage class name of a dtype (`FloatStorage`, …).
  static func storageClass(_ dtype: TensorDType) -> String {
    switch dtype {
    case .f32: "FloatStorage"
    case .f16: "HalfStorage"
    case .bf16: "BFloat16Storage"
    case .f64: "DoubleStorage"
    case .i64: "LongStorage"
    case .i32: "IntStorage"
    case .i16: "ShortStorage"
    case .i8: "CharStorage"
    case .u8: "ByteStorage"
    case .bool: "BoolStorage"
    }
  }

  /// The `data.pkl` bytes for the current contents.
  public func pickleBytes() throws -> [UInt8] {
    var p = PickleEncoder()
    p.proto(2)
    p.emptyDict()
    p.mark()
    p.string("model")
    p.global("collections", "OrderedDict")
    p.emptyTuple()
    p.reduce()
    if !model.isEmpty {
      p.mark()
      for (name, t) in model {
        p.string(name)
        try tensor(t, &p)
      }
      p.setItems()
    }
    // state_dict._metadata, as torch writes it (exercises BUILD on an OrderedDict).
    p.emptyDict()
    p.mark()
    p.string("_metadata")
    p.global("collections", "OrderedDict")
    p.emptyTuple()
    p.reduce()
    p.setItems()
    p.build()
    for (k, v) in extras {
      p.string(k)
      try value(v, &p)
    }
    p.setItems()
    p.stop()
    return p.out
  }

  private func tensor(_ t: TensorRef, _ p: inout PickleEncoder) throws {
    guard t.storage.index >= 0, t.storage.index < storages.count else {
      throw CheckpointError.writeFailed(
        path: path, reason: "a tensor refers to storage \(t.storage.index), which was not added")
    }
    let s = storages[t.storage.index]
    guard t.shape.count == t.strides.count else {
      throw CheckpointError.writeFailed(
        path: path, reason: "tensor shape \(t.shape) and strides \(t.strides) differ in rank")
    }
    guard let extent = CheckedMath.extent(shape: t.shape, strides: t.strides),
      extent == 0 || (CheckedMath.add(t.offset, extent) ?? .max) <= s.count
    else {
      throw CheckpointError.writeFailed(
        path: path,
        reason: "a tensor view (offset \(t.offset), shape \(t.shape)) exceeds its storage of \(s.count) elements")
    }
    p.global("torch._utils", "_rebuild_tensor_v2")
    p.mark()
    p.mark()
    p.string("storage")
    p.global("torch", Self.storageClass(s.dtype))
    p.string(String(t.storage.index))
    p.string("cpu")
    p.int(s.count)
    p.tuple()
    p.binPersId()
    p.int(t.offset)
    p.intTuple(t.shape)
    p.intTuple(t.strides)
    p.bool(false)
    p.global("collections", "OrderedDict")
    p.emptyTuple()
    p.reduce()
    p.tuple()
    p.reduce()
  }

  private func value(_ v: Value, _ p: inout PickleEncoder) throws {
    switch v {
    case .none: p.none()
    case .bool(let b): p.bool(b)
    case .int(let i): p.int(i)
    case .float(let d): p.float(d)
    case .string(let s): p.string(s)
    case .tensor(let t): try tensor(t, &p)
    case .tuple(let items):
      p.mark()
      for i in items { try value(i, &p) }
      p.tuple()
    case .list(let items):
      p.emptyList()
      if !items.isEmpty {
        p.mark()
        for i in items { try value(i, &p) }
        p.appends()
      }
    case .dict(let pairs):
      p.emptyDict()
      if !pairs.isEmpty {
        p.mark()
        for (k, v) in pairs {
          try value(k, &p)
          try value(v, &p)
        }
        p.setItems()
      }
    case .orderedDict(let pairs):
      p.global("collections", "OrderedDict")
      p.emptyTuple()
      p.reduce()
      if !pairs.isEmpty {
        p.mark()
        for (k, v) in pairs {
          p.string(k)
          try value(v, &p)
        }
        p.setItems()
      }
    }
  }

  /// Writes the file (through a temporary file renamed into place).
  public func write() throws {
    let pickle = try pickleOverride ?? pickleBytes()
    let sink = try FileSink(path: path)
    let zip = ZipStreamWriter(sink: sink, forceZip64: forceZip64)
    let prefix = archiveName + "/"
    try zip.addMember(prefix + "data.pkl", bytes: pickle)
    try zip.addMember(prefix + ".format_version", bytes: Array("1".utf8))
    try zip.addMember(prefix + ".storage_alignment", bytes: Array("64".utf8))
    try zip.addMember(prefix + "byteorder", bytes: Array("little".utf8))
    for (i, s) in storages.enumerated() where !omittedStorages.contains(StorageID(index: i)) {
      let name = prefix + "data/\(i)"
      try zip.addMember(name, size: s.count * s.dtype.size) { emit in
        try s.data.withBytes(dtype: s.dtype, count: s.count, path: path, name: name) { try emit($0) }
      }
    }
    try zip.addMember(prefix + "version", bytes: Array("3\n".utf8))
    var id: [UInt8] = []
    for _ in 0..<40 { id.append(UInt8(ascii: "0") + UInt8.random(in: 0...9)) }
    try zip.addMember(prefix + ".data/serialization_id", bytes: id)
    try zip.finish()
    try sink.commit()
  }
}

/// Emits pickle opcodes (protocol 2).
struct PickleEncoder {
  var out: [UInt8] = []

  mutating func proto(_ v: UInt8) { out += [0x80, v] }
  mutating func stop() { out.append(0x2E) }
  mutating func mark() { out.append(0x28) }
  mutating func emptyDict() { out.append(0x7D) }
  mutating func emptyList() { out.append(0x5D) }
  mutating func emptyTuple() { out.append(0x29) }
  mutating func tuple() { out.append(0x74) }
  mutating func setItems() { out.append(0x75) }
  mutating func appends() { out.append(0x65) }
  mutating func reduce() { out.append(0x52) }
  mutating func build() { out.append(0x62) }
  mutating func binPersId() { out.append(0x51) }
  mutating func none() { out.append(0x4E) }
  mutating func bool(_ b: Bool) { out.append(b ? 0x88 : 0x89) }

  mutating func global(_ module: String, _ name: String) {
    out.append(0x63)
    out += Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
  }

  mutating func string(_ s: String) {
    let b = Array(s.utf8)
    out.append(0x58)
    out.le32(b.count)
    out += b
  }

  mutating func int(_ i: Int) {
    if i >= 0 && i < 256 {
      out += [0x4B, UInt8(i)]
    } else if i >= 0 && i < 65536 {
      out.append(0x4D)
      out.le16(i)
    } else if i >= Int(Int32.min) && i <= Int(Int32.max) {
      out.append(0x4A)
      out.le32(UInt32(bitPattern: Int32(i)))
    } else {
      // LONG1: minimal little-endian two's complement.
      var bytes: [UInt8] = []
      var v = i
      repeat {
        bytes.append(UInt8(truncatingIfNeeded: v))
        v >>= 8
      } while !((v == 0 && bytes.last! & 0x80 == 0) || (v == -1 && bytes.last! & 0x80 != 0))
      out += [0x8A, UInt8(bytes.count)] + bytes
    }
  }

  mutating func float(_ d: Double) {
    out.append(0x47)
    let bits = d.bitPattern
    for k in stride(from: 56, through: 0, by: -8) { out.append(UInt8((bits >> UInt64(k)) & 0xFF)) }
  }

  mutating func intTuple(_ v: [Int]) {
    switch v.count {
    case 0: emptyTuple()
    case 1:
      int(v[0])
      out.append(0x85)
    case 2:
      int(v[0])
      int(v[1])
      out.append(0x86)
    case 3:
      for x in v { int(x) }
      out.append(0x87)
    default:
      mark()
      for x in v { int(x) }
      tuple()
    }
  }
}
