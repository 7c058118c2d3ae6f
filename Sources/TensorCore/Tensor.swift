import Foundation

/// A dense, row-major fp32 tensor that owns its memory. Used for activations.
///
/// `Tensor` is a reference type so that large buffers are never copied by accident; hand it to
/// one owner at a time (the inference thread) — it is `@unchecked Sendable` for that hand-off.
public final class Tensor: @unchecked Sendable {
  /// The dimensions, outermost first.
  public let shape: [Int]
  /// Number of elements.
  public let count: Int
  /// The elements, row-major.
  public let data: UnsafeMutablePointer<Float>

  /// A tensor of zeros.
  public init(zeros shape: [Int]) {
    self.shape = shape
    self.count = shape.reduce(1, *)
    self.data = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    data.initialize(repeating: 0, count: max(count, 1))
  }

  /// A tensor whose contents are undefined until written.
  public init(uninitialized shape: [Int]) {
    self.shape = shape
    self.count = shape.reduce(1, *)
    self.data = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
  }

  /// A tensor holding a copy of `values`.
  public convenience init(shape: [Int], values: [Float]) {
    precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
    self.init(uninitialized: shape)
    values.withUnsafeBufferPointer { src in
      if let s = src.baseAddress { data.update(from: s, count: values.count) }
    }
  }

  /// A tensor holding a copy of `count` values at `source`.
  public convenience init(shape: [Int], copying source: UnsafePointer<Float>) {
    self.init(uninitialized: shape)
    data.update(from: source, count: count)
  }

  deinit { data.deallocate() }

  /// The elements as a buffer.
  public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
  /// A copy of the elements.
  public var array: [Float] { Array(buffer) }
  /// Size of dimension `i` (negative counts from the end).
  public func dim(_ i: Int) -> Int { i < 0 ? shape[shape.count + i] : shape[i] }
}

/// A read-only fp32 weight tensor: a view into a memory-mapped checkpoint or an owned buffer,
/// kept alive by `owner`.
public struct Weight: @unchecked Sendable {
  /// The dimensions, outermost first (PyTorch order: `Linear` weights are `[out, in]`).
  public let shape: [Int]
  /// The elements, row-major.
  public let data: UnsafePointer<Float>
  /// Whatever keeps `data` valid (a mapped file or an owned buffer).
  public let owner: AnyObject
  /// The weight packed for bf16 products (`Precision.bf16`), when it was converted at load; products
  /// through `BLAS.linear(weight: Weight, …)` then use it instead of `data`.
  public let bf16: BF16Matrix?

  public init(shape: [Int], data: UnsafePointer<Float>, owner: AnyObject, bf16: BF16Matrix? = nil) {
    self.shape = shape
    self.data = data
    self.owner = owner
    self.bf16 = bf16
  }

  /// This `[out, in]` weight with a bf16 packing attached (converted now).
  public func packedBF16() -> Weight {
    precondition(shape.count == 2, "only 2-D weights are packed for bf16")
    return Weight(
      shape: shape, data: data, owner: owner, bf16: BF16Matrix(packing: data, rows: shape[0], cols: shape[1]))
  }

  /// A weight holding a copy of `values` (tests, computed tensors).
  public init(shape: [Int], values: [Float]) {
    let t = Tensor(shape: shape, values: values)
    self.init(shape: shape, data: UnsafePointer(t.data), owner: t)
  }

  /// A weight that shares `tensor`'s memory.
  public init(_ tensor: Tensor) {
    self.init(shape: tensor.shape, data: UnsafePointer(tensor.data), owner: tensor)
  }

  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }
  /// The elements as a buffer.
  public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: data, count: count) }
  /// The single value of a 0-dim or one-element tensor.
  public var scalar: Float { data[0] }
}
