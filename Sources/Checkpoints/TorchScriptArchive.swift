import Foundation

/// A TorchScript archive (`torch.jit.save`, the format of OpenAI's published CLIP files such as `ViT-B-16.pt`),
/// read without Python and without running anything.
///
/// Its `data.pkl` pickles the module tree itself: every module is an object of a `__torch__.*` class filled with a
/// dict of attributes. The restricted unpickler treats those classes as inert records (the `code/` folder is never
/// opened); parameters and buffers are the tensors among the attributes, named by their attribute paths
/// (`transformer.resblocks.0.attn.in_proj_weight`), the same names a state dict of the module would have.
/// Tensors whose name `include` rejects are not listed and their storage bytes are never read (CLIP's vision tower).
public final class TorchScriptArchive: TensorArchive, @unchecked Sendable {
  /// The path the archive was opened from.
  public let path: String
  /// The included tensors by attribute path.
  public let entries: [String: TensorEntry]
  /// The class of the root module (e.g. `__torch__.clip.model.CLIP`).
  public let rootClass: String
  /// Names of the tensors left out by `include` (their bytes were not touched).
  public let excludedNames: [String]

  private let archive: ZipArchive
  private let storages: [String: UnsafeRawBufferPointer]

  /// True when the zip at `path` looks like a TorchScript archive (it has a `code/` folder and `constants.pkl`).
  public static func isTorchScript(path: String) -> Bool {
    guard let file = try? MappedFile(path: path), let zip = try? ZipArchive(file: file) else { return false }
    return zip.entries.contains { $0.name.contains("/code/") }
      && zip.entries.contains { $0.name.hasSuffix("constants.pkl") }
  }

  /// Opens the archive, keeping only the tensors whose attribute path `include` accepts.
  public init(path: String, include: (String) -> Bool = { _ in true }) throws {
    self.path = path
    let file = try MappedFile(path: path)
    try PthCheckpoint.checkZipMagic(file)
    let archive = try ZipArchive(file: file)
    self.archive = archive
    let pickles = archive.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
    guard let pkl = pickles.min(by: { $0.name.count < $1.name.count }) else {
      throw CheckpointError.notACheckpoint(
        path: path, detail: "it is a zip file but has no data.pkl member, so it is not a TorchScript archive")
    }
    let prefix = String(pkl.name.dropLast("data.pkl".count))
    let root = try Unpickler.load(try archive.storedBytes(of: pkl), path: path, torchScriptRecords: true)
    guard case .dict(let top) = root, let cls = top.recordClass else {
      throw CheckpointError.malformed(
        path: path, detail: "data.pkl holds \(root.kind), not a TorchScript module (an object of a __torch__ class)")
    }
    rootClass = cls
    var found: [(String, PickleTensorRef)] = []
    func walk(_ d: PickleDict, _ scope: String, depth: Int) throws {
      guard depth < 64 else {
        throw CheckpointError.malformed(path: path, detail: "modules nested more than 64 deep at '\(scope)'")
      }
      for (k, v) in zip(d.keys, d.values) {
        let name = scope + PthCheckpoint.keyString(k)
        switch v {
        case .tensor(let t): found.append((name, t))
        case .dict(let child) where child.recordClass != nil: try walk(child, name + ".", depth: depth + 1)
        default: continue  // training flags, constants, …
        }
      }
    }
    try walk(top, "", depth: 0)
    var entries: [String: TensorEntry] = [:]
    var storages: [String: UnsafeRawBufferPointer] = [:]
    var excluded: [String] = []
    for (name, t) in found {
      guard include(name) else {
        excluded.append(name)
        continue
      }
      entries[name] = try PthCheckpoint.entry(
        for: t, named: name, prefix: prefix, archive: archive, storages: &storages, path: path)
    }
    self.entries = entries
    self.storages = storages
    self.excludedNames = excluded
  }

  private func contiguousBytes(_ name: String) throws -> (TensorEntry, UnsafeRawBufferPointer) {
    guard let e = entries[name], let s = storages[e.storageKey] else {
      throw CheckpointError.missingTensor(path: path, name: name)
    }
    guard e.isContiguous else {
      throw CheckpointError.unsupported(path: path, detail: "tensor '\(name)' is not contiguous (strides \(e.strides))")
    }
    let start = e.storageOffset * e.dtype.size
    return (e, UnsafeRawBufferPointer(rebasing: s[start..<(start + e.elementCount * e.dtype.size)]))
  }

  /// The tensor as contiguous fp32 (f16/bf16/f64 converted).
  public func floats(_ name: String) throws -> FloatBuffer {
    let (e, bytes) = try contiguousBytes(name)
    return try DTypeConversion.floatBuffer(
      from: bytes, dtype: e.dtype, count: e.elementCount, owner: archive.file, path: path, name: name)
  }

  /// The values of an integer tensor.
  public func int64s(_ name: String) throws -> [Int64] {
    let (e, bytes) = try contiguousBytes(name)
    return try DTypeConversion.int64Array(from: bytes, dtype: e.dtype, count: e.elementCount, path: path, name: name)
  }
}
