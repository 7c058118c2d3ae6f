import Foundation

/// Errors reading or writing checkpoint files. Each names the file and what is wrong.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
  case cannotOpen(path: String, reason: String)
  case truncated(path: String, detail: String)
  case notACheckpoint(path: String, detail: String)
  case malformed(path: String, detail: String)
  case forbiddenGlobal(path: String, module: String, name: String)
  case unsupported(path: String, detail: String)
  case missingTensor(path: String, name: String)
  case wrongDType(path: String, name: String, dtype: String, wanted: String)
  case writeFailed(path: String, reason: String)

  public var description: String {
    switch self {
    case .cannotOpen(let path, let reason): "cannot open \(path): \(reason)"
    case .truncated(let path, let detail):
      "\(path) is truncated or incomplete (\(detail)); download it again and check its sha256"
    case .notACheckpoint(let path, let detail): "\(path) is not a PyTorch or safetensors checkpoint: \(detail)"
    case .malformed(let path, let detail): "\(path) is malformed: \(detail)"
    case .forbiddenGlobal(let path, let module, let name):
      "\(path): the pickle names the global '\(module).\(name)', which is not on the allow-list; refusing to load it"
    case .unsupported(let path, let detail): "\(path): unsupported: \(detail)"
    case .missingTensor(let path, let name): "\(path) has no tensor named '\(name)'"
    case .wrongDType(let path, let name, let dtype, let wanted):
      "\(path): tensor '\(name)' has dtype \(dtype), expected \(wanted)"
    case .writeFailed(let path, let reason): "cannot write \(path): \(reason)"
    }
  }
}
