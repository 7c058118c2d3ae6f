import CKernels
import Foundation

/// The number format of the large matrix products (weights × activations).
///
/// `fp32` is the default and the reference. `bf16` rounds weights (once, at load) and activations (per
/// product) to bfloat16 and accumulates in fp32 on the CPU's bf16 dot-product instructions (AVX512-BF16
/// `vdpbf16ps`); LayerNorm, softmax, residual sums, attention scores and the sigmoid stay fp32. `auto`
/// resolves to `fp32` for now: vtag has no AMX kernels yet, and bf16 stays an explicit choice.
public enum Precision: String, Sendable, CaseIterable, CustomStringConvertible {
  case fp32, bf16, auto
  public var description: String { rawValue }

  /// The precision to run with on a CPU with `features`: `auto` becomes fp32; `bf16` needs AVX512-BF16
  /// and throws `PrecisionError.missingFeature` otherwise.
  public func resolved(features: CPUFeatures = .current, cpu: String = CPUFeatures.brand) throws -> Precision {
    switch self {
    case .fp32, .auto: return .fp32
    case .bf16:
      guard BF16.supported(features) else { throw PrecisionError.missingFeature(cpu: cpu, missing: BF16.missing(features)) }
      return .bf16
    }
  }
}

/// Why a precision cannot run here.
public enum PrecisionError: Error, CustomStringConvertible, Equatable {
  case missingFeature(cpu: String, missing: [String])
  case unknown(String)

  public var description: String {
    switch self {
    case .missingFeature(let cpu, let missing):
      return
        "--precision bf16 needs the CPU's bf16 dot-product instructions, and this CPU (\(cpu.isEmpty ? "unknown" : cpu)) "
        + "lacks \(missing.joined(separator: ", ")); use --precision fp32 (the default)"
    case .unknown(let s):
      return "unknown precision '\(s)': use fp32, bf16 or auto"
    }
  }
}

/// bf16 weights and products.
public enum BF16 {
  /// The features the bf16 kernels need.
  public static let required: CPUFeatures = CPUFeatures.avx512Kernels.union(.avx512bf16)

  /// True when `features` run the bf16 kernels.
  public static func supported(_ features: CPUFeatures = .current) -> Bool { features.isSuperset(of: required) }

  /// The names of the required features `features` lacks.
  public static func missing(_ features: CPUFeatures) -> [String] {
    CPUFeatures.names.filter { required.contains($0.0) && !features.contains($0.0) }.map(\.1)
  }

  /// Drops the resident pages of a read-only file mapping in `[base, base + bytes)` (whole pages only):
  /// after a weight is converted its fp32 copy leaves memory, and would be read from the file again if
  /// ever touched. Only for memory that maps a file — never for allocated memory (it would read as zeros).
  public static func releaseMappedPages(_ base: UnsafeRawPointer, bytes: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: base) + page - 1) / page * page
    let end = (Int(bitPattern: base) + bytes) / page * page
    if end > start {
      _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
    }
  }
}

/// A `Linear` weight `[out, in]` packed for the bf16 kernels: panels of 32 output columns, inputs in
/// pairs, rounded to nearest even. Converted once, at load.
public final class BF16Matrix: @unchecked Sendable {
  /// Output features (rows of the PyTorch weight).
  public let rows: Int
  /// Input features.
  public let cols: Int
  let packed: UnsafeMutablePointer<UInt16>
  let count: Int

  /// Packs `weight` (`rows × cols`, row-major fp32).
  public init(packing weight: UnsafePointer<Float>, rows: Int, cols: Int) {
    self.rows = rows
    self.cols = cols
    count = vk_bf16_packed_count(rows, cols)
    packed = .allocate(capacity: max(count, 1))
    let panels = (rows + Int(VK_BF16_NR) - 1) / Int(VK_BF16_NR)
    let perPanel = count / max(panels, 1)
    let p = packed
    Parallel.forRange(panels, grain: 4) { start, end in
      // Pack each chunk of panels from its own rows.
      let r0 = start * Int(VK_BF16_NR)
      let r1 = min(rows, end * Int(VK_BF16_NR))
      vk_bf16_pack_weight(weight + r0 * cols, r1 - r0, cols, cols, p + start * perPanel)
    }
  }

  deinit { packed.deallocate() }

  /// Bytes held.
  public var bytes: Int { count * 2 }
  var panels: Int { (rows + Int(VK_BF16_NR) - 1) / Int(VK_BF16_NR) }
}

/// A row-major bf16 copy of an fp32 matrix (RAM++'s description embeddings, read by dot products).
public final class BF16Rows: @unchecked Sendable {
  public let rows: Int
  public let cols: Int
  public let data: UnsafeMutablePointer<UInt16>

  /// Converts `rows × cols` fp32 values. With `releasingMappedSource` (only for a read-only file
  /// mapping), the source's pages are released chunk by chunk as they are converted, so the fp32 and
  /// bf16 copies are never both resident.
  public init(converting source: UnsafePointer<Float>, rows: Int, cols: Int, releasingMappedSource: Bool = false) {
    self.rows = rows
    self.cols = cols
    data = .allocate(capacity: max(rows * cols, 1))
    let d = data
    let chunk = max(1, (8 << 20) / max(cols * 4, 1))
    var r0 = 0
    while r0 < rows {
      let r1 = min(rows, r0 + chunk)
      Parallel.forRange(r1 - r0, grain: 1024) { start, end in
        vk_bf16_from_f32(source + (r0 + start) * cols, d + (r0 + start) * cols, (end - start) * cols)
      }
      if releasingMappedSource {
        BF16.releaseMappedPages(UnsafeRawPointer(source + r0 * cols), bytes: (r1 - r0) * cols * 4)
      }
      r0 = r1
    }
  }

  deinit { data.deallocate() }

  /// `Σ x[i]·row[i]` in fp32.
  @inline(__always)
  public func dot(_ x: UnsafePointer<Float>, row: Int) -> Float { vk_dot_f32_bf16(x, data + row * cols, cols) }

  /// `y += a·row`.
  @inline(__always)
  public func axpy(_ a: Float, row: Int, into y: UnsafeMutablePointer<Float>) { vk_axpy_bf16(y, a, data + row * cols, cols) }
}

extension BLAS {
  /// `y = x · Wᵀ + b` with a PyTorch `Linear` weight: on its bf16 packing when it has one (bf16 inputs,
  /// fp32 accumulation), else with fp32 sgemm. Same arguments as the pointer version.
  public static func linear(
    _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, ldx: Int? = nil,
    weight: Weight, bias: UnsafePointer<Float>?, outFeatures: Int,
    into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false
  ) {
    guard let packed = weight.bf16 else {
      linear(
        x, rows: rows, inFeatures: inFeatures, ldx: ldx, weight: weight.data, bias: bias, outFeatures: outFeatures,
        into: y, ldy: ldy, accumulate: accumulate)
      return
    }
    precondition(packed.rows == outFeatures && packed.cols == inFeatures, "bf16 weight shape mismatch")
    bf16Linear(
      x, rows: rows, inFeatures: inFeatures, ldx: ldx ?? inFeatures, weight: packed, bias: bias,
      into: y, ldy: ldy ?? outFeatures, accumulate: accumulate)
  }

  /// The bf16 product: activations rounded to bf16 once per call, output panels split over the workers.
  static func bf16Linear(
    _ x: UnsafePointer<Float>, rows: Int, inFeatures k: Int, ldx: Int, weight: BF16Matrix,
    bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool
  ) {
    if rows == 0 { return }
    let n = weight.rows
    var acc = accumulate
    if let bias, !accumulate {
      for r in 0..<rows { (y + r * ldy).update(from: bias, count: n) }
      acc = true
    }
    let kp = (k + 1) & ~1
    let a = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * kp)
    defer { a.deallocate() }
    Parallel.forRange(rows, grain: max(1, 8192 / max(k, 1))) { start, end in
      vk_bf16_convert_rows(x + start * ldx, end - start, k, ldx, a + start * kp)
    }
    let packed = UnsafePointer(weight.packed)
    let flag: Int32 = acc ? 1 : 0
    Parallel.forRange(weight.panels, grain: 1) { p0, p1 in
      vk_bf16_gemm_nt(a, rows, k, packed, n, p0, p1, y, ldy, flag)
    }
    if let bias, accumulate {
      for r in 0..<rows { Ops.add(bias, into: y + r * ldy, count: n) }
    }
  }
}
