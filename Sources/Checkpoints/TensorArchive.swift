import Foundation

/// Element type of a stored tensor.
public enum TensorDType: String, Sendable, Equatable, CaseIterable {
  case f32 = "F32"
  case f16 = "F16"
  case bf16 = "BF16"
  case f64 = "F64"
  case i64 = "I64"
  case i32 = "I32"
  case i16 = "I16"
  case i8 = "I8"
  case u8 = "U8"
  case bool = "BOOL"

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .f64, .i64: 8
    case .f32, .i32: 4
    case .f16, .bf16, .i16: 2
    case .i8, .u8, .bool: 1
    }
  }
}

/// Where a named tensor lives inside an archive and how to read it.
public struct TensorEntry: Sendable, Equatable {
  public var name: String
  public var dtype: TensorDType
  public var shape: [Int]
  /// Strides in elements (row-major contiguous for safetensors).
  public var strides: [Int]
  /// Identifies the storage the tensor views (tied weights share one storage).
  public var storageKey: String
  /// Offset into the storage, in elements.
  public var storageOffset: Int

  public init(
    name: String, dtype: TensorDType, shape: [Int], strides: [Int], storageKey: String, storageOffset: Int
  ) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.strides = strides
    self.storageKey = storageKey
    self.storageOffset = storageOffset
  }

  /// Number of elements (1 for a 0-dim tensor). The readers check at open that it fits in an `Int`.
  public var elementCount: Int { CheckedMath.product(shape) ?? 0 }

  /// Row-major contiguous strides for `shape`.
  public static func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      strides[i] = acc
      acc = acc &* shape[i]  // wraps only for empty tensors, whose strides are never used
    }
    return strides
  }

  /// True when the tensor is laid out row-major without gaps.
  public var isContiguous: Bool {
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      if shape[i] != 1 && strides[i] != acc { return false }
      acc = acc &* shape[i]
    }
    return true
  }
}

/// A read-only, contiguous fp32 buffer. It is either a zero-copy view into a memory-mapped file
/// (kept alive by `owner`) or an owned allocation.
public final class FloatBuffer: @unchecked Sendable {
  public let base: UnsafePointer<Float>
  public let count: Int
  private let owner: AnyObject?
  private let ownsMemory: Bool

  /// A view into memory kept alive by `owner`.
  public init(viewing base: UnsafePointer<Float>, count: Int, owner: AnyObject) {
    self.base = base
    self.count = count
    self.owner = owner
    self.ownsMemory = false
  }

  /// Takes ownership of a buffer allocated with `UnsafeMutablePointer<Float>.allocate`.
  public init(adopting pointer: UnsafeMutablePointer<Float>, count: Int) {
    self.base = UnsafePointer(pointer)
    self.count = count
    self.owner = nil
    self.ownsMemory = true
  }

  /// Copies `values` into an owned buffer.
  public convenience init(_ values: [Float]) {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
    values.withUnsafeBufferPointer { src in
      if let s = src.baseAddress { p.initialize(from: s, count: values.count) }
    }
    self.init(adopting: p, count: values.count)
  }

  deinit {
    if ownsMemory { UnsafeMutablePointer(mutating: base).deallocate() }
  }

  public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: base, count: count) }
  public var array: [Float] { Array(buffer) }
  /// True when this buffer views a mapped file rather than owning a copy.
  public var isView: Bool { !ownsMemory }
}

/// A set of named tensors read lazily from a file.
public protocol TensorArchive: AnyObject, Sendable {
  /// The path the archive was opened from.
  var path: String { get }
  /// Every tensor, by name.
  var entries: [String: TensorEntry] { get }
  /// The tensor's values as contiguous row-major fp32: a zero-copy view of the mapped file when it is
  /// stored as contiguous f32, otherwise converted (f16/bf16/f64) into an owned buffer.
  func floats(_ name: String) throws -> FloatBuffer
  /// Integer tensors (e.g. int64 buffers) as `[Int64]`.
  func int64s(_ name: String) throws -> [Int64]
}
