import Checkpoints
import Foundation
import TensorCore

/// Named weights from a checkpoint, looked up by prefix-scoped keys (as candle's `VarBuilder`),
/// each checked against the shape the config implies.
///
/// Applies the reference loader's renames: `vision_multi.*` is read as `tagging_head.*`.
public final class WeightStore: @unchecked Sendable {
  public let archive: any TensorArchive
  private let aliases: [String: String]
  private let lock = NSLock()
  private var used: Set<String> = []
  private var packed: [String: BF16Matrix] = [:]
  /// The precision of the large products: with `.bf16`, `Linear` weights are packed for the bf16
  /// kernels as they load (and the fp32 copy of a memory-mapped weight leaves memory).
  public let precision: Precision

  /// Weights from `archive`; `precision` must be resolved (`fp32` or `bf16`, see `Precision.resolved`).
  public init(archive: any TensorArchive, precision: Precision = .fp32) {
    precondition(precision != .auto, "resolve .auto before loading")
    self.archive = archive
    self.precision = precision
    var aliases: [String: String] = [:]
    for name in archive.entries.keys where name.hasPrefix("vision_multi.") {
      aliases["tagging_head." + name.dropFirst("vision_multi.".count)] = name
    }
    self.aliases = aliases
  }

  /// The stored name for a canonical key, or nil when absent.
  public func storedName(_ key: String) -> String? {
    if archive.entries[key] != nil { return key }
    return aliases[key]
  }

  /// True when the checkpoint holds `key`.
  public func contains(_ key: String) -> Bool { storedName(key) != nil }

  /// Shape of `key` as stored.
  public func shape(_ key: String) throws -> [Int] {
    guard let name = storedName(key), let e = archive.entries[name] else {
      throw BundleError.missingKey(file: archive.path, key: key)
    }
    return e.shape
  }

  /// The fp32 weight `key`, which must have exactly `shape`.
  public func weight(_ key: String, shape: [Int]) throws -> Weight {
    guard let name = storedName(key), let e = archive.entries[name] else {
      throw BundleError.missingKey(file: archive.path, key: key)
    }
    if e.shape != shape {
      throw BundleError.shapeMismatch(file: archive.path, key: key, expected: shape, found: e.shape)
    }
    let buf = try archive.floats(name)
    lock.withLock { _ = used.insert(name) }
    return Weight(shape: shape, data: buf.base, owner: buf)
  }

  /// The `[out, in]` weight `key` of a product: with bf16 precision packed for the bf16 kernels (once per
  /// stored tensor, shared by tied layers), its fp32 pages released when they map the file.
  public func productWeight(_ key: String, shape: [Int]) throws -> Weight {
    let w = try weight(key, shape: shape)
    guard precision == .bf16, let name = storedName(key) else { return w }
    if let p = lock.withLock({ packed[name] }) {
      return Weight(shape: shape, data: w.data, owner: w.owner, bf16: p)
    }
    let p = w.packedBF16()
    lock.withLock { packed[name] = p.bf16 }
    if let buf = w.owner as? FloatBuffer, buf.isView {
      BF16.releaseMappedPages(UnsafeRawPointer(w.data), bytes: w.count * 4)
    }
    return p
  }

  /// A view scoped under `prefix` (a trailing dot is added).
  public func scope(_ prefix: String) -> WeightScope { WeightScope(store: self, prefix: prefix) }

  /// Names read so far (for `models convert`: keep only what the model uses).
  public var usedNames: Set<String> { lock.withLock { used } }
}

/// A prefix-scoped view of a `WeightStore`.
public struct WeightScope: Sendable {
  public let store: WeightStore
  public let prefix: String

  public init(store: WeightStore, prefix: String) {
    self.store = store
    self.prefix = prefix
  }

  /// Full key of `name` in this scope.
  public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }
  /// A nested scope.
  public func scope(_ name: String) -> WeightScope { WeightScope(store: store, prefix: key(name)) }
  /// The weight `name` in this scope, with exactly `shape`.
  public func weight(_ name: String, _ shape: [Int]) throws -> Weight { try store.weight(key(name), shape: shape) }
  /// True when the scope holds `name`.
  public func contains(_ name: String) -> Bool { store.contains(key(name)) }
  /// The product weight `name` (see `WeightStore.productWeight`).
  public func productWeight(_ name: String, _ shape: [Int]) throws -> Weight {
    try store.productWeight(key(name), shape: shape)
  }
}

/// A PyTorch `Linear` layer: weight `[out, in]`, optional bias `[out]`.
public struct Linear: Sendable {
  public let weight: Weight
  public let bias: Weight?
  public var inFeatures: Int { weight.shape[1] }
  public var outFeatures: Int { weight.shape[0] }

  public init(weight: Weight, bias: Weight?) {
    self.weight = weight
    self.bias = bias
  }

  /// Loads `<scope>.weight` `[out, in]` and, if `bias`, `<scope>.bias` `[out]`.
  public init(_ scope: WeightScope, in inFeatures: Int, out outFeatures: Int, bias: Bool = true) throws {
    weight = try scope.productWeight("weight", [outFeatures, inFeatures])
    self.bias = bias ? try scope.weight("bias", [outFeatures]) : nil
  }

  /// `y = x·Wᵀ + b` for `rows` rows of `x` (stride `ldx`), into `y` (stride `ldy`).
  public func callAsFunction(
    _ x: UnsafePointer<Float>, rows: Int, ldx: Int? = nil, into y: UnsafeMutablePointer<Float>, ldy: Int? = nil
  ) {
    BLAS.linear(
      x, rows: rows, inFeatures: inFeatures, ldx: ldx, weight: weight, bias: bias?.data,
      outFeatures: outFeatures, into: y, ldy: ldy)
  }

  /// `y = x·Wᵀ + b` into a new `[rows, out]` tensor.
  public func callAsFunction(_ x: Tensor, rows: Int) -> Tensor {
    let y = Tensor(uninitialized: [rows, outFeatures])
    self(x.data, rows: rows, into: y.data)
    return y
  }
}

/// A LayerNorm with affine weight and bias.
public struct LayerNorm: Sendable {
  public let weight: Weight
  public let bias: Weight
  public let eps: Float

  public init(_ scope: WeightScope, dim: Int, eps: Float) throws {
    weight = try scope.weight("weight", [dim])
    bias = try scope.weight("bias", [dim])
    self.eps = eps
  }

  public var dim: Int { weight.shape[0] }

  /// Normalises `rows` rows of `x` into `out` (may alias `x`).
  public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
    Ops.layerNorm(x, rows: rows, dim: dim, gamma: weight.data, beta: bias.data, eps: eps, into: out)
  }
}
