/// Which OpenBLAS kernel set (its "core") vtag should run, as a pure function of the CPU's
/// features, the core OpenBLAS chose by itself, the user's environment and the cores the installed
/// library has. Tested without the CPU; `BLASStartup` applies the answer.
///
/// The rule: a user's own `OPENBLAS_CORETYPE` is always respected. Otherwise, when OpenBLAS fell back
/// below AVX2 (Prescott, Nehalem, Sandybridge, …) on a CPU that runs AVX2+FMA or AVX-512 kernels —
/// what Debian 12's OpenBLAS 0.3.21 does on CPUs newer than it knows — vtag asks for the best kernel
/// set that the library has and the CPU runs: SapphireRapids, Cooperlake, SkylakeX (AVX-512), then
/// Zen or Haswell (AVX2). A choice of Haswell/Zen or better is OpenBLAS's own informed choice and is kept.
public enum BLASCoreChoice {
  /// The instruction-set level a kernel set needs, or a CPU runs.
  public enum Level: Int, Comparable, Sendable, CustomStringConvertible {
    case sse = 0, avx, avx2, avx512, avx512bf16, amx
    public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    public var description: String {
      switch self {
      case .sse: return "SSE"
      case .avx: return "AVX"
      case .avx2: return "AVX2+FMA"
      case .avx512: return "AVX-512"
      case .avx512bf16: return "AVX-512 with BF16"
      case .amx: return "AMX"
      }
    }
  }

  /// What to do with OpenBLAS's choice.
  public enum Decision: Equatable, Sendable {
    /// Keep the core OpenBLAS loaded; `reason` says why.
    case keep(reason: String)
    /// Restart with `OPENBLAS_CORETYPE=core`; `reason` says why.
    case use(core: String, reason: String)

    /// The core to switch to, if any.
    public var core: String? {
      if case .use(let c, _) = self { return c }
      return nil
    }
    public var reason: String {
      switch self {
      case .keep(let r), .use(_, let r): return r
      }
    }
  }

  /// The level of each x86-64 core name `openblas_get_corename` can answer (lower-cased keys).
  static let coreLevels: [String: Level] = [
    "katmai": .sse, "coppermine": .sse, "northwood": .sse, "prescott": .sse, "banias": .sse, "atom": .sse,
    "core2": .sse, "penryn": .sse, "dunnington": .sse, "nehalem": .sse, "athlon": .sse, "opteron": .sse,
    "opteron_sse3": .sse, "barcelona": .sse, "nano": .sse, "bobcat": .sse,
    "sandybridge": .avx, "bulldozer": .avx, "piledriver": .avx, "steamroller": .avx,
    "haswell": .avx2, "zen": .avx2, "excavator": .avx2,
    "skylakex": .avx512, "cooperlake": .avx512bf16, "sapphirerapids": .amx,
  ]

  /// The level a core name needs, or nil for a name vtag does not know.
  public static func level(ofCore name: String) -> Level? { coreLevels[name.lowercased()] }

  /// The best level of kernels `features` run.
  public static func level(of features: CPUFeatures) -> Level {
    if features.isSuperset(of: CPUFeatures.avx512Kernels) {
      if features.contains(.avx512bf16) { return features.contains(.amxBF16) ? .amx : .avx512bf16 }
      return .avx512
    }
    if features.isSuperset(of: CPUFeatures.avx2Kernels) { return .avx2 }
    if features.contains(.avx) { return .avx }
    return .sse
  }

  /// Candidate cores, best first, for a CPU of `vendor` (`OPENBLAS_CORETYPE` spelling).
  static func candidates(vendor: String) -> [(String, Level)] {
    let avx2: [(String, Level)] =
      vendor == "AuthenticAMD" || vendor == "HygonGenuine"
      ? [("Zen", .avx2), ("Haswell", .avx2)] : [("Haswell", .avx2), ("Zen", .avx2)]
    return [("SapphireRapids", .amx), ("Cooperlake", .avx512bf16), ("SkylakeX", .avx512)] + avx2 + [
      ("Sandybridge", .avx), ("Prescott", .sse),
    ]
  }

  /// The decision at start-up.
  ///
  /// - `coreName`: what `openblas_get_corename` answered (OpenBLAS's own choice).
  /// - `userCoreType`: the user's `OPENBLAS_CORETYPE`, or nil when unset (vtag's own setting is not the user's).
  /// - `availableCores`: core names the installed library has (lower-case or any case).
  /// - `tried`: cores vtag already set in this process chain (never chosen again: no restart loops).
  public static func decide(
    features: CPUFeatures, vendor: String, coreName: String, userCoreType: String?, availableCores: Set<String>,
    tried: [String] = []
  ) -> Decision {
    if let user = userCoreType, !user.isEmpty {
      return .keep(reason: "OPENBLAS_CORETYPE=\(user) set by the user")
    }
    guard let coreLevel = level(ofCore: coreName) else {
      return .keep(reason: "OpenBLAS chose \(coreName), a core vtag does not know")
    }
    let cpuLevel = level(of: features)
    if coreLevel >= .avx2 || coreLevel >= cpuLevel {
      return .keep(reason: "OpenBLAS's choice (\(coreLevel) kernels on a \(cpuLevel) CPU)")
    }
    let available = Set(availableCores.map { $0.lowercased() })
    let triedSet = Set(tried.map { $0.lowercased() })
    for (name, level) in candidates(vendor: vendor)
    where level <= cpuLevel && level > coreLevel && available.contains(name.lowercased())
      && !triedSet.contains(name.lowercased())
    {
      return .use(
        core: name,
        reason: "OpenBLAS fell back to \(coreName) (\(coreLevel)) on a \(cpuLevel) CPU; the library has \(name)")
    }
    return .keep(reason: "OpenBLAS fell back to \(coreName) on a \(cpuLevel) CPU, and the library has no better core")
  }

  /// The core to try after `failed` computed a wrong result in the self-check: the best available core
  /// below it that the CPU runs and that was not tried yet (nil when none is left).
  public static func fallback(
    after failed: String, features: CPUFeatures, vendor: String, availableCores: Set<String>, tried: [String]
  ) -> String? {
    let failedLevel = level(ofCore: failed) ?? .amx
    let cpuLevel = level(of: features)
    let available = Set(availableCores.map { $0.lowercased() })
    let triedSet = Set((tried + [failed]).map { $0.lowercased() })
    let list = candidates(vendor: vendor)
    // Below the failed core: after it in the ranking when it is ranked, else on a lower level.
    let position = list.firstIndex { $0.0.lowercased() == failed.lowercased() }
    for (i, (name, level)) in list.enumerated()
    where level <= cpuLevel && (position.map { i > $0 } ?? (level < failedLevel))
      && available.contains(name.lowercased()) && !triedSet.contains(name.lowercased())
    {
      return name
    }
    return nil
  }
}
