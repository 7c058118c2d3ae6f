import COpenBLAS
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What vtag runs its products on: the OpenBLAS core in use, who chose it, the CPU's features and the
/// start-up self-check's outcome. Reported by `vtag bench`, `vtag image --json` and timeline headers.
public struct BLASStatus: Sendable, Equatable {
  /// Who chose the core.
  public enum Source: String, Sendable {
    /// OpenBLAS's own detection.
    case openBLAS = "openblas"
    /// vtag, because OpenBLAS fell back below the CPU or a core failed the self-check.
    case vtag
    /// The user's `OPENBLAS_CORETYPE`.
    case user
  }

  /// `openblas_get_corename()` (`SkylakeX`, `Haswell`, `Prescott`, …).
  public var core: String
  public var source: Source
  /// Why this core (one sentence).
  public var reason: String
  /// The CPU's feature names (`CPUFeatures.list`).
  public var cpuFeatures: [String]
  /// The CPU's brand string.
  public var cpu: String
  /// True when the start-up sgemm self-check passed.
  public var selfCheckPassed: Bool
}

/// Start-up choice of OpenBLAS's kernels (see `BLASCoreChoice`).
///
/// OpenBLAS reads `OPENBLAS_CORETYPE` once, while the dynamic loader runs its constructor — before
/// `main`. vtag therefore applies a better core by re-executing itself once with the variable set
/// (`/proc/self/exe`, same arguments). `VTAG_BLAS_CORE_SET` marks the value as vtag's own (so it is not
/// mistaken for the user's) and `VTAG_BLAS_CORES_TRIED` lists every core vtag set in this chain, which the
/// chooser never picks again: at most one restart per candidate core, never a loop. Loading OpenBLAS with
/// `dlopen` after setting the variable would avoid the restart but needs every BLAS entry point resolved by
/// hand; the restart costs one process start (a few tens of ms) and only on CPUs where OpenBLAS fell back.
public enum BLASStartup {
  static let setKey = "VTAG_BLAS_CORE_SET"
  static let triedKey = "VTAG_BLAS_CORES_TRIED"
  static let noteKey = "VTAG_BLAS_NOTE"

  /// Cores the installed OpenBLAS has (a DYNAMIC_ARCH build exports `gotoblas_<CORE>` for each).
  public static func availableCores() -> Set<String> {
    let names = ["SapphireRapids", "Cooperlake", "SkylakeX", "Zen", "Haswell", "Sandybridge", "Prescott"]
    let handle = dlopen(nil, RTLD_NOW)
    defer { if let handle { dlclose(handle) } }
    return Set(names.filter { dlsym(handle, "gotoblas_" + $0.uppercased()) != nil })
  }

  private static let lock = NSLock()
  nonisolated(unsafe) private static var cached: BLASStatus?

  /// The status, computed (and the self-check run) at first use.
  public static var status: BLASStatus {
    lock.withLock {
      if let cached { return cached }
      let s = computeStatus(environment: ProcessInfo.processInfo.environment, check: BLASSelfCheck.run())
      cached = s
      return s
    }
  }

  static func computeStatus(environment env: [String: String], check: BLASSelfCheck.Result) -> BLASStatus {
    let core = BLAS.coreName
    let requested = env["OPENBLAS_CORETYPE"]
    let vtagSet = env[setKey]
    var source = BLASStatus.Source.openBLAS
    var reason = "OpenBLAS's own choice"
    if let requested, !requested.isEmpty {
      if vtagSet == requested {
        source = .vtag
        reason = env[noteKey] ?? "chosen by vtag"
      } else {
        source = .user
        reason = "OPENBLAS_CORETYPE=\(requested) set by the user"
      }
      if requested.lowercased() != core.lowercased() {
        reason += "; the library has no \(requested) core and runs \(core)"
      }
    } else {
      reason =
        BLASCoreChoice.decide(
          features: .current, vendor: CPUFeatures.vendor, coreName: core, userCoreType: nil,
          availableCores: availableCores()
        ).reason
    }
    if !check.passed { reason += "; the sgemm self-check FAILED (\(check.worstCase))" }
    return BLASStatus(
      core: core, source: source, reason: reason, cpuFeatures: CPUFeatures.current.list, cpu: CPUFeatures.brand,
      selfCheckPassed: check.passed)
  }

  /// Chooses the kernels at process start (call first thing in `main`, before any other thread starts).
  /// May re-execute the process with `OPENBLAS_CORETYPE` set; returns otherwise. Messages go to stderr.
  public static func prepare() {
    let env = ProcessInfo.processInfo.environment
    let core = BLAS.coreName
    let vtagSet = env[setKey]
    let userCore = vtagSet != nil && vtagSet == env["OPENBLAS_CORETYPE"] ? nil : env["OPENBLAS_CORETYPE"]
    let tried = (env[triedKey] ?? "").split(separator: ",").map(String.init)
    let available = availableCores()
    if vtagSet == nil || userCore != nil {
      let decision = BLASCoreChoice.decide(
        features: .current, vendor: CPUFeatures.vendor, coreName: core, userCoreType: userCore,
        availableCores: available, tried: tried)
      if let next = decision.core {
        restart(core: next, tried: tried, note: decision.reason)
      }
    }
    let check = BLASSelfCheck.run(gemm: selfCheckGemm(environment: env, core: core))
    if !check.passed {
      let message = "OpenBLAS core \(core) computed a wrong sgemm result in vtag's start-up self-check (\(check.worstCase))"
      if userCore != nil {
        warn("\(message); keeping it because OPENBLAS_CORETYPE is set by the user: unset it to let vtag choose")
      } else if let next = BLASCoreChoice.fallback(
        after: core, features: .current, vendor: CPUFeatures.vendor, availableCores: available, tried: tried)
      {
        warn("\(message); restarting with core \(next)")
        restart(core: next, tried: tried + [core], note: "\(message); vtag fell back to \(next)")
      } else {
        warn("\(message); no other core is left to try, results may be wrong")
      }
    }
    lock.withLock {
      cached = computeStatus(environment: env, check: check)
    }
  }

  /// The sgemm the start-up check runs: OpenBLAS's, or — when `VTAG_BLAS_SELFCHECK_INJECT` names the
  /// running core — one that corrupts an element (fault injection, to exercise the fallback end to end).
  static func selfCheckGemm(environment env: [String: String], core: String) -> BLASSelfCheck.Sgemm {
    guard let inject = env["VTAG_BLAS_SELFCHECK_INJECT"], inject.lowercased() == core.lowercased() else {
      return BLASSelfCheck.openBLAS
    }
    return { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      BLASSelfCheck.openBLAS(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      c[(m / 2) * ldc + n / 2] += 0.01
    }
  }

  static func warn(_ s: String) { FileHandle.standardError.write(Data("vtag: warning: \(s)\n".utf8)) }

  /// Re-executes this program with `OPENBLAS_CORETYPE=core`; returns only when that fails.
  static func restart(core: String, tried: [String], note: String) {
    setenv("OPENBLAS_CORETYPE", core, 1)
    setenv(setKey, core, 1)
    setenv(triedKey, (tried + [core]).joined(separator: ","), 1)
    setenv(noteKey, note, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // exec failed: carry on with the core already loaded, and say so.
    let error = String(cString: strerror(errno))
    unsetenv("OPENBLAS_CORETYPE")
    unsetenv(setKey)
    warn("could not restart with OPENBLAS_CORETYPE=\(core) (\(error)); running OpenBLAS core \(BLAS.coreName)")
  }
}
