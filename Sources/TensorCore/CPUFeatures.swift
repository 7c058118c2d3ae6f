import CKernels
import Foundation

/// The instruction-set features of a CPU that matter for vtag's kernels, as cpuid and XCR0 report
/// them (a feature counts only when the operating system saves its register state).
public struct CPUFeatures: OptionSet, Sendable, Hashable, CustomStringConvertible {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static let sse3 = CPUFeatures(rawValue: VK_CPU_SSE3)
  public static let sse41 = CPUFeatures(rawValue: VK_CPU_SSE41)
  public static let sse42 = CPUFeatures(rawValue: VK_CPU_SSE42)
  public static let avx = CPUFeatures(rawValue: VK_CPU_AVX)
  public static let fma = CPUFeatures(rawValue: VK_CPU_FMA)
  public static let avx2 = CPUFeatures(rawValue: VK_CPU_AVX2)
  public static let avx512f = CPUFeatures(rawValue: VK_CPU_AVX512F)
  public static let avx512dq = CPUFeatures(rawValue: VK_CPU_AVX512DQ)
  public static let avx512bw = CPUFeatures(rawValue: VK_CPU_AVX512BW)
  public static let avx512vl = CPUFeatures(rawValue: VK_CPU_AVX512VL)
  public static let avx512vnni = CPUFeatures(rawValue: VK_CPU_AVX512VNNI)
  public static let avx512bf16 = CPUFeatures(rawValue: VK_CPU_AVX512BF16)
  /// AMX tiles with bf16 products (the CPU has them and the OS saves tile state).
  public static let amxBF16 = CPUFeatures(rawValue: VK_CPU_AMX_BF16)
  /// Linux granted this process the AMX tile state.
  public static let amxPermitted = CPUFeatures(rawValue: VK_CPU_AMX_PERMITTED)

  /// The features OpenBLAS's AVX-512 (SkylakeX) kernels need.
  public static let avx512Kernels: CPUFeatures = [.avx512f, .avx512dq, .avx512bw, .avx512vl]
  /// The features the AVX2 (Haswell/Zen) kernels need.
  public static let avx2Kernels: CPUFeatures = [.avx2, .fma]

  /// Names in a fixed order, as reported by `vtag bench`, `vtag image --json` and timeline headers.
  public static let names: [(CPUFeatures, String)] = [
    (.sse3, "sse3"), (.sse41, "sse4.1"), (.sse42, "sse4.2"), (.avx, "avx"), (.fma, "fma"), (.avx2, "avx2"),
    (.avx512f, "avx512f"), (.avx512dq, "avx512dq"), (.avx512bw, "avx512bw"), (.avx512vl, "avx512vl"),
    (.avx512vnni, "avx512_vnni"), (.avx512bf16, "avx512_bf16"), (.amxBF16, "amx_bf16"),
    (.amxPermitted, "amx_permitted"),
  ]

  /// The feature names present, in `names` order.
  public var list: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
  public var description: String { list.joined(separator: " ") }

  /// This CPU's features (detected once).
  public static let current = CPUFeatures(rawValue: vk_cpu_features())
  /// This CPU's cpuid vendor string (`GenuineIntel`, `AuthenticAMD`).
  public static let vendor = String(cString: vk_cpu_vendor())
  /// This CPU's brand string, trimmed (`AMD EPYC 9654 96-Core Processor`).
  public static let brand = String(cString: vk_cpu_brand()).trimmingCharacters(in: .whitespaces)
}
