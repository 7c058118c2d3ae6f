import TensorCore

/// How vtag computes, as reported by timeline headers, `vtag image --json` and `vtag bench`.
public enum ComputeInfo {
  /// `{"core", "source", "reason", "self_check", "cpu", "cpu_features"}` of the BLAS in use.
  public static func blasJSON(_ s: BLASStatus = BLASStartup.status) -> JSONValue {
    .object([
      ("core", .string(s.core)), ("source", .string(s.source.rawValue)), ("reason", .string(s.reason)),
      ("self_check", .string(s.selfCheckPassed ? "passed" : "failed")), ("cpu", .string(s.cpu)),
      ("cpu_features", .array(s.cpuFeatures.map { .string($0) })),
    ])
  }

  /// `{"precision": …, "blas": blasJSON()}` (the timeline header's `compute`).
  public static func json(precision: Precision) -> JSONValue {
    .object([("precision", .string(precision.rawValue)), ("blas", blasJSON())])
  }
}
