import Foundation
import Testing

@testable import TensorCore

/// The kernel chooser as a pure function of cpuid features, `openblas_get_corename` and the environment,
/// and the start-up self-check against injected wrong results.
struct BLASCoreChoiceTests {
  static let sapphireRapids: CPUFeatures = [
    .sse3, .sse41, .sse42, .avx, .fma, .avx2, .avx512f, .avx512dq, .avx512bw, .avx512vl, .avx512vnni,
    .avx512bf16, .amxBF16, .amxPermitted,
  ]
  static let skylake: CPUFeatures = [.sse3, .sse41, .sse42, .avx, .fma, .avx2, .avx512f, .avx512dq, .avx512bw, .avx512vl]
  static let zen4: CPUFeatures = skylake.union([.avx512vnni, .avx512bf16])
  static let haswell: CPUFeatures = [.sse3, .sse41, .sse42, .avx, .fma, .avx2]
  static let sandy: CPUFeatures = [.sse3, .sse41, .sse42, .avx]
  /// Debian 12's OpenBLAS 0.3.21 (no SapphireRapids).
  static let debian: Set<String> = ["Cooperlake", "SkylakeX", "Zen", "Haswell", "Sandybridge", "Prescott"]

  @Test("Intel AMX Xeon where OpenBLAS 0.3.21 fell back to Prescott: Cooperlake (the library has no SapphireRapids)")
  func xeonPrescott() {
    let d = BLASCoreChoice.decide(
      features: Self.sapphireRapids, vendor: "GenuineIntel", coreName: "Prescott", userCoreType: nil,
      availableCores: Self.debian)
    #expect(d.core == "Cooperlake")
    let newer = BLASCoreChoice.decide(
      features: Self.sapphireRapids, vendor: "GenuineIntel", coreName: "Prescott", userCoreType: nil,
      availableCores: Self.debian.union(["SapphireRapids"]))
    #expect(newer.core == "SapphireRapids")
  }

  @Test(
    "Fallbacks below AVX2 are replaced by the best core the CPU runs and the library has",
    arguments: [
      ("Nehalem", "skylake", "GenuineIntel", "SkylakeX"), ("Sandybridge", "skylake", "GenuineIntel", "SkylakeX"),
      ("Prescott", "haswell", "GenuineIntel", "Haswell"), ("Prescott", "haswell", "AuthenticAMD", "Zen"),
      ("Core2", "zen4", "AuthenticAMD", "Cooperlake"), ("Barcelona", "haswell", "AuthenticAMD", "Zen"),
    ])
  func replaced(core: String, cpu: String, vendor: String, expected: String) {
    let features = ["skylake": Self.skylake, "haswell": Self.haswell, "zen4": Self.zen4][cpu]!
    let d = BLASCoreChoice.decide(
      features: features, vendor: vendor, coreName: core, userCoreType: nil, availableCores: Self.debian)
    #expect(d.core == expected, "\(d.reason)")
    #expect(d.reason.contains(core))
  }

  @Test("OpenBLAS's informed choices, unknown cores and CPUs without AVX2 are kept")
  func kept() {
    for (core, features) in [
      ("Cooperlake", Self.zen4), ("SkylakeX", Self.skylake), ("Zen", Self.zen4), ("Haswell", Self.skylake),
      ("Sandybridge", Self.sandy), ("Prescott", CPUFeatures([.sse3])), ("Loongson3R4", Self.skylake),
    ] {
      let d = BLASCoreChoice.decide(
        features: features, vendor: "GenuineIntel", coreName: core, userCoreType: nil, availableCores: Self.debian)
      #expect(d.core == nil, "\(core): \(d.reason)")
    }
  }

  @Test("A user's OPENBLAS_CORETYPE is respected, even a slow one")
  func userChoice() {
    let d = BLASCoreChoice.decide(
      features: Self.sapphireRapids, vendor: "GenuineIntel", coreName: "Prescott", userCoreType: "Prescott",
      availableCores: Self.debian)
    #expect(d.core == nil)
    #expect(d.reason.contains("set by the user"))
  }

  @Test("A library without better cores (or a non-DYNAMIC_ARCH build) keeps its core; tried cores are never chosen again")
  func noCandidates() {
    let none = BLASCoreChoice.decide(
      features: Self.skylake, vendor: "GenuineIntel", coreName: "Prescott", userCoreType: nil, availableCores: [])
    #expect(none.core == nil)
    let tried = BLASCoreChoice.decide(
      features: Self.skylake, vendor: "GenuineIntel", coreName: "Prescott", userCoreType: nil,
      availableCores: Self.debian, tried: ["SkylakeX"])
    #expect(tried.core == "Haswell")
    let all = BLASCoreChoice.decide(
      features: Self.skylake, vendor: "GenuineIntel", coreName: "Prescott", userCoreType: nil,
      availableCores: Self.debian, tried: ["SkylakeX", "Haswell", "Zen", "Sandybridge"])
    #expect(all.core == nil)
  }

  @Test("After a failed self-check the next core is lower, available, runnable and untried; the chain ends")
  func fallbackChain() {
    var tried: [String] = []
    var core = "Cooperlake"
    var chain: [String] = []
    while let next = BLASCoreChoice.fallback(
      after: core, features: Self.zen4, vendor: "AuthenticAMD", availableCores: Self.debian, tried: tried)
    {
      tried.append(core)
      chain.append(next)
      core = next
      if chain.count > 10 { break }
    }
    #expect(chain == ["SkylakeX", "Zen", "Haswell", "Sandybridge", "Prescott"])
    #expect(
      BLASCoreChoice.fallback(
        after: "SkylakeX", features: Self.skylake, vendor: "GenuineIntel", availableCores: ["SkylakeX", "Haswell"],
        tried: []) == "Haswell")
  }

  @Test("CPU levels from features")
  func levels() {
    #expect(BLASCoreChoice.level(of: Self.sapphireRapids) == .amx)
    #expect(BLASCoreChoice.level(of: Self.zen4) == .avx512bf16)
    #expect(BLASCoreChoice.level(of: Self.skylake) == .avx512)
    #expect(BLASCoreChoice.level(of: Self.haswell) == .avx2)
    // AVX-512F without BW/VL (Knights Landing) does not run the SkylakeX kernels.
    #expect(BLASCoreChoice.level(of: Self.haswell.union(.avx512f)) == .avx2)
    #expect(BLASCoreChoice.level(of: Self.sandy) == .avx)
  }

  @Test("The self-check passes OpenBLAS's sgemm on this machine's chosen core")
  func selfCheckPasses() {
    let r = BLASSelfCheck.run()
    #expect(r.passed, "\(BLAS.coreName): \(r.worstCase)")
  }

  @Test("The self-check catches one wrong element, a NaN, and a transposition bug", arguments: [0, 1, 2])
  func selfCheckCatches(fault: Int) {
    let r = BLASSelfCheck.run { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      switch fault {
      case 0:
        BLASSelfCheck.openBLAS(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        if m > 100 { c[5 * ldc + 7] *= 1.001 }
      case 1:
        BLASSelfCheck.openBLAS(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        c[0] = .nan
      default:
        BLASSelfCheck.openBLAS(ta, !tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      }
    }
    #expect(!r.passed)
    #expect(r.worstRatio > 1)
  }

  @Test("Fault injection through the environment corrupts only the named core's self-check")
  func injectedFault() {
    let core = BLAS.coreName
    let bad = BLASSelfCheck.run(
      gemm: BLASStartup.selfCheckGemm(environment: ["VTAG_BLAS_SELFCHECK_INJECT": core], core: core))
    #expect(!bad.passed)
    let other = BLASSelfCheck.run(
      gemm: BLASStartup.selfCheckGemm(environment: ["VTAG_BLAS_SELFCHECK_INJECT": "NoSuchCore"], core: core))
    #expect(other.passed)
  }

  @Test("Status names who chose the core: the user, vtag (its marker), or OpenBLAS")
  func statusSource() {
    let ok = BLASSelfCheck.Result(passed: true, worstRatio: 0, worstCase: "")
    let core = BLAS.coreName
    #expect(BLASStartup.computeStatus(environment: [:], check: ok).source == .openBLAS)
    let user = BLASStartup.computeStatus(environment: ["OPENBLAS_CORETYPE": core], check: ok)
    #expect(user.source == .user)
    let vtag = BLASStartup.computeStatus(
      environment: ["OPENBLAS_CORETYPE": core, "VTAG_BLAS_CORE_SET": core, "VTAG_BLAS_NOTE": "because"], check: ok)
    #expect(vtag.source == .vtag)
    #expect(vtag.reason == "because")
    let failed = BLASStartup.computeStatus(
      environment: [:], check: .init(passed: false, worstRatio: 9, worstCase: "7×5×3 at [1, 2]"))
    #expect(!failed.selfCheckPassed)
    #expect(failed.reason.contains("FAILED"))
  }

  @Test("cpuid features are consistent with each other on this machine")
  func detected() {
    let f = CPUFeatures.current
    #if arch(x86_64)
      #expect(f.contains(.sse3))
      if f.contains(.avx2) { #expect(f.contains(.avx)) }
      if f.contains(.avx512bw) { #expect(f.contains(.avx512f)) }
      if f.contains(.amxPermitted) { #expect(f.contains(.amxBF16)) }
      #expect(!CPUFeatures.vendor.isEmpty)
    #endif
  }
}
