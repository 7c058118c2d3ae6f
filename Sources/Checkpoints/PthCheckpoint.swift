import Foundation

/// A PyTorch checkpoint in the zip format of `torch.save` (torch ≥ 1.6), read without Python.
///
/// The file is memory-mapped; `data.pkl` is run through a restricted unpickler that never executes anything
/// (globals outside a small allow-list are refused), and the state dict's tensors are described as views of the
/// zip's stored storage members. Other top-level entries (`optimizer`, `config`, `epoch`, …) are parsed as pickle
/// only: their tensor bytes are never touched.
public final class PthCheckpoint: TensorArchive, @unchecked Sendable {
  /// The path the checkpoint was opened from.
  public let path: String
  /// The state dict's tensors by name (storage keys are zip member names, `<prefix>data/<key>`).
  public let entries: [String: TensorEntry]
  /// The zip folder all members live in, with a trailing slash (e.g. `model/`, or `archive/`).
  public let archivePrefix: String
  /// The top-level keys of the pickled object, in file order (empty when the top level is not a dict).
  public let topLevelKeys: [String]
  /// The top-level key the tensors were taken from (`model`, `state_dict`), or nil when the top level itself is
  /// the state dict.
  public let stateDictKey: String?
  /// Top-level keys whose contents were parsed as pickle but not loaded (e.g. `optimizer`, `config`, `epoch`).
  public let skippedKeys: [String]
  /// One-line descriptions of each top-level value (e.g. `"dict (2 entries)"`, `"int 1"`), by key.
  public let topLevelSummary: [String: String]
  /// State-dict keys whose values are not tensors (ignored).
  public let nonTensorKeys: [String]
  /// The tensor names in the order they appear in the state dict.
  public let orderedNames: [String]
  /// Bytes of the distinct storages the state dict uses (tied tensors counted once).
  public let storageBytesInUse: Int
  /// Size of the checkpoint file in bytes.
  public var fileSize: Int { archive.file.size }

  private let archive: ZipArchive
  /// Storage bytes by storage key (zip member name), validated at open.
  private let storages: [String: UnsafeRawBufferPointer]

  /// The legacy (torch < 1.6) magic number that follows the pickle protocol header in non-zip files.
  static let legacyMagic: [UInt8] = [
    0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19,
  ]

  /// Opens the checkpoint at `path`.
  ///
  /// - Parameters:
  ///   - path: a `.pth` / `.pt` file written by `torch.save` (zip format).
  ///   - topLevelKey: the top-level dict entry holding the state dict (`"model"` for the RAM checkpoints). When it
  ///     is absent, `state_dict` is tried, then the top level itself if all its values are tensors. Pass `nil` to
  ///     use the top level itself.
  public init(path: String, topLevelKey: String? = "model") throws {
    self.path = path
    let file = try MappedFile(path: path)
    try PthCheckpoint.checkZipMagic(file)
    let archive = try ZipArchive(file: file)
    self.archive = archive

    // data.pkl: prefer the shallowest member ending in data.pkl (the top folder's name varies).
    let pickles = archive.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
    guard let pkl = pickles.min(by: { $0.name.count < $1.name.count }) else {
      throw CheckpointError.notACheckpoint(
        path: path, detail: "it is a zip file but has no data.pkl member, so it was not written by torch.save")
    }
    let prefix = String(pkl.name.dropLast("data.pkl".count))
    self.archivePrefix = prefix
    let root = try Unpickler.load(try archive.storedBytes(of: pkl), path: path)

    // Choose the state dict.
    var topKeys: [String] = []
    var summary: [String: String] = [:]
    var state: PickleDict
    var chosen: String? = nil
    guard case .dict(let top) = root else {
      throw CheckpointError.malformed(path: path, detail: "the pickled object is \(root.kind), not a dict")
    }
    for (k, v) in zip(top.keys, top.values) {
      let key = PthCheckpoint.keyString(k)
      topKeys.append(key)
      summary[key] = PthCheckpoint.summarize(v)
    }
    func dictUnder(_ key: String) -> PickleDict? {
      if case .dict(let d)? = top.get(key) { return d }
      return nil
    }
    let hasTensors = top.values.contains { if case .tensor = $0 { true } else { false } }
    if let key = topLevelKey, let d = dictUnder(key) {
      state = d
      chosen = key
    } else if topLevelKey != nil, let d = dictUnder("state_dict") {
      state = d
      chosen = "state_dict"
    } else if topLevelKey == nil || hasTensors {
      state = top
    } else {
      throw CheckpointError.malformed(
        path: path,
        detail:
          "no state dict under '\(topLevelKey ?? "")' or 'state_dict', and the top level is not a dict of tensors (top-level keys: \(topKeys.joined(separator: ", ")))"
      )
    }
    self.topLevelKeys = topKeys
    self.topLevelSummary = summary
    self.stateDictKey = chosen
    self.skippedKeys = chosen == nil ? [] : topKeys.filter { $0 != chosen }

    // Describe the tensors and validate their storages.
    var entries: [String: TensorEntry] = [:]
    var ordered: [String] = []
    var nonTensor: [String] = []
    var storages: [String: UnsafeRawBufferPointer] = [:]
    for (k, v) in zip(state.keys, state.values) {
      let name = PthCheckpoint.keyString(k)
      guard case .tensor(let t) = v else {
        nonTensor.append(name)
        continue
      }
      let entry = try PthCheckpoint.entry(
        for: t, named: name, prefix: prefix, archive: archive, storages: &storages, path: path)
      entries[name] = entry
      ordered.append(name)
    }
    self.entries = entries
    self.orderedNames = ordered
    self.nonTensorKeys = nonTensor
    self.storages = storages
    self.storageBytesInUse = storages.values.reduce(0) { $0 + $1.count }
  }

  /// Throws unless the file starts like a zip; explains legacy torch files and non-checkpoints.
  /// The entry of tensor `name` (a reference into storage member `prefix + "data/" + key`), its storage mapped
  /// into `storages` on first use; every size is overflow-checked against the storage's bytes.
  static func entry(
    for t: PickleTensorRef, named name: String, prefix: String, archive: ZipArchive,
    storages: inout [String: UnsafeRawBufferPointer], path: String
  ) throws -> TensorEntry {
    let member = prefix + "data/" + t.storage.key
    let entry = TensorEntry(
      name: name, dtype: t.storage.dtype, shape: t.shape, strides: t.strides, storageKey: member,
      storageOffset: t.storageOffset)
    if storages[member] == nil {
      guard let ze = archive.entry(named: member) else {
        throw CheckpointError.malformed(
          path: path,
          detail: "tensor '\(name)' refers to the storage member '\(member)', which is not in the archive")
      }
      guard ze.isStored else {
        throw CheckpointError.unsupported(
          path: path,
          detail: "the storage of tensor '\(name)' ('\(member)') is compressed (method \(ze.method))")
      }
      storages[member] = try archive.storedBytes(of: ze)
    }
    let available = storages[member]!.count
    let dims = "\(t.storage.dtype.rawValue) size \(t.shape), stride \(t.strides), storage offset \(t.storageOffset)"
    if t.strides.contains(where: { $0 < 0 }) {
      throw CheckpointError.unsupported(path: path, detail: "tensor '\(name)' has negative strides \(t.strides)")
    }
    guard let count = CheckedMath.product(t.shape), let countBytes = CheckedMath.multiply(count, t.storage.dtype.size),
      let extent = CheckedMath.extent(shape: t.shape, strides: t.strides),
      let end = CheckedMath.add(t.storageOffset, extent),
      let needed = CheckedMath.multiply(end, t.storage.dtype.size)
    else {
      throw CheckpointError.malformed(
        path: path, detail: "tensor '\(name)' (\(dims)) spans more bytes than any file can hold")
    }
    if extent > 0, needed > available {
      throw CheckpointError.malformed(
        path: path, detail: "tensor '\(name)' (\(dims)) needs \(needed) bytes of '\(member)', which has \(available)")
    }
    // A view that repeats elements (stride 0) is gathered into a copy: bound that copy.
    if countBytes > max(available, PthCheckpoint.maxExpandedViewBytes) {
      throw CheckpointError.unsupported(
        path: path,
        detail:
          "tensor '\(name)' (\(dims)) repeats its storage's elements into \(countBytes) bytes; at most \(PthCheckpoint.maxExpandedViewBytes) are allowed"
      )
    }
    return entry
  }

  static func checkZipMagic(_ file: MappedFile) throws {
    let head = Array(UnsafeRawBufferPointer(start: file.base, count: min(file.size, 64)))
    if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return }
    if head.starts(with: legacyMagic) || head.starts(with: [0x80, 0x02]) {
      throw CheckpointError.unsupported(
        path: file.path,
        detail:
          "this is a legacy (torch < 1.6, non-zip) checkpoint; re-save it with torch ≥ 1.6 (torch.save(torch.load(f), g)) to get the zip format"
      )
    }
    if head.count >= 262, head[257..<262].elementsEqual(Array("ustar".utf8)) {
      throw CheckpointError.unsupported(
        path: file.path,
        detail: "this is a tar-format torch checkpoint (torch < 0.4); re-save it with torch ≥ 1.6")
    }
    throw CheckpointError.notACheckpoint(path: file.path, detail: describeNonCheckpoint(head, size: file.size))
  }

  /// A human explanation of what a non-checkpoint file looks like.
  static func describeNonCheckpoint(_ head: [UInt8], size: Int) -> String {
    if size == 0 { return "the file is empty (0 bytes)" }
    let text = String(decoding: head.prefix(64), as: UTF8.self).lowercased()
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html") || trimmed.hasPrefix("<?xml") {
      return "it is an HTML/XML page (\(size) bytes), probably an error page saved instead of the download"
    }
    if trimmed.hasPrefix("version https://git-lfs") {
      return "it is a Git LFS pointer file (\(size) bytes), not the model; fetch the real file (git lfs pull)"
    }
    if head.starts(with: [0xFF, 0xD8, 0xFF]) { return "it is a JPEG image" }
    if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "it is a PNG image" }
    if head.starts(with: [0x1F, 0x8B]) { return "it is gzip-compressed; decompress it first" }
    if trimmed.hasPrefix("{") { return "it looks like a JSON text file (\(size) bytes)" }
    let hex = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
    return
      "unrecognised content (\(size) bytes, starting with \(hex)); expected a zip (PK\\x03\\x04) or a safetensors header"
  }

  static func keyString(_ v: PickleValue) -> String {
    switch v {
    case .string(let s): s
    case .int(let i): String(i)
    default: v.kind
    }
  }

  static func summarize(_ v: PickleValue) -> String {
    switch v {
    case .int(let i): "int \(i)"
    case .float(let d): "float \(d)"
    case .bool(let b): "bool \(b)"
    case .string(let s): "str \(s.count > 40 ? String(s.prefix(40)) + "…" : s)"
    default: v.kind
    }
  }

  /// The most bytes a view with repeated elements (e.g. a stride-0 `expand`) may be gathered into (1 GiB).
  static let maxExpandedViewBytes = 1 << 30

  /// The storage bytes of a tensor's storage (the whole zip member), as a view of the mapping.
  public func storageBytes(_ name: String) throws -> UnsafeRawBufferPointer {
    guard let e = entries[name], let s = storages[e.storageKey] else {
      throw CheckpointError.missingTensor(path: path, name: name)
    }
    return s
  }

  /// The raw little-endian bytes of a contiguous tensor, as a view of the mapping. Non-contiguous tensors are
  /// `unsupported` here; use `floats`/`int64s`, which gather them.
  public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
    guard let e = entries[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    guard e.isContiguous else {
      throw CheckpointError.unsupported(path: path, detail: "tensor '\(name)' is not contiguous (strides \(e.strides))")
    }
    let s = try storageBytes(name)
    let start = e.storageOffset * e.dtype.size
    let count = e.elementCount * e.dtype.size
    return UnsafeRawBufferPointer(rebasing: s[start..<(start + count)])
  }

  /// The tensor's elements in row-major order, copied into a new contiguous byte buffer (for strided views).
  private func gather(_ e: TensorEntry) throws -> UnsafeMutableRawBufferPointer {
    let s = try storageBytes(e.name)
    let size = e.dtype.size
    let count = e.elementCount
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count * size, 1), alignment: 16)
    guard count > 0, let src = s.baseAddress, let dst = out.baseAddress else { return out }
    let rank = e.shape.count
    var idx = [Int](repeating: 0, count: rank)
    var offset = e.storageOffset
    for i in 0..<count {
      (dst + i * size).copyMemory(from: src + offset * size, byteCount: size)
      // Advance the multi-index (last dimension fastest).
      var d = rank - 1
      while d >= 0 {
        idx[d] += 1
        offset += e.strides[d]
        if idx[d] < e.shape[d] { break }
        offset -= e.strides[d] * e.shape[d]
        idx[d] = 0
        d -= 1
      }
    }
    return out
  }

  /// The tensor as contiguous fp32: a zero-copy view of the mapping for contiguous, aligned f32 tensors; a
  /// gathered copy for strided views; converted for f16/bf16/f64 storages.
  public func floats(_ name: String) throws -> FloatBuffer {
    guard let e = entries[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    if e.isContiguous {
      return try DTypeConversion.floatBuffer(
        from: try rawBytes(name), dtype: e.dtype, count: e.elementCount, owner: archive.file, path: path, name: name)
    }
    switch e.dtype {
    case .f32, .f16, .bf16, .f64: break
    default:
      throw CheckpointError.wrongDType(path: path, name: name, dtype: e.dtype.rawValue, wanted: "a floating type")
    }
    let g = try gather(e)
    if e.dtype == .f32 {
      return FloatBuffer(
        adopting: g.baseAddress!.bindMemory(to: Float.self, capacity: max(e.elementCount, 1)), count: e.elementCount)
    }
    defer { g.deallocate() }
    return try DTypeConversion.floatBuffer(
      from: UnsafeRawBufferPointer(g), dtype: e.dtype, count: e.elementCount, owner: archive.file, path: path,
      name: name)
  }

  /// The values of an integer tensor (e.g. a `LongStorage` `relative_position_index`) in row-major order.
  public func int64s(_ name: String) throws -> [Int64] {
    guard let e = entries[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
    if e.isContiguous {
      return try DTypeConversion.int64Array(
        from: try rawBytes(name), dtype: e.dtype, count: e.elementCount, path: path, name: name)
    }
    let g = try gather(e)
    defer { g.deallocate() }
    return try DTypeConversion.int64Array(
      from: UnsafeRawBufferPointer(g), dtype: e.dtype, count: e.elementCount, path: path, name: name)
  }
}
