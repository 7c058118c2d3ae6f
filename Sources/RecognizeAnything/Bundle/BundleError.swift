import Foundation

/// Problems with a model bundle: its files, its config, or its weights. Each names what to fix.
public enum BundleError: Error, Equatable, CustomStringConvertible {
  case notADirectory(path: String)
  case missingFile(path: String, what: String)
  case noWeights(directory: String)
  case invalidConfig(path: String, detail: String)
  case badTagList(path: String, detail: String)
  case badThresholds(path: String, line: Int, detail: String)
  case missingKey(file: String, key: String)
  case shapeMismatch(file: String, key: String, expected: [Int], found: [Int])
  case noModelInstalled(searched: String)
  /// A fetch into this folder did not finish, or a verified file has changed since.
  case incomplete(path: String, detail: String)

  public var description: String {
    switch self {
    case .notADirectory(let path):
      "\(path) is not a model bundle directory (expected config.json, tags.txt and model.pth or model.safetensors)"
    case .missingFile(let path, let what): "missing \(what): \(path)"
    case .noWeights(let dir): "\(dir) has neither model.safetensors nor model.pth"
    case .invalidConfig(let path, let detail): "\(path): \(detail)"
    case .badTagList(let path, let detail): "\(path): \(detail)"
    case .badThresholds(let path, let line, let detail): "\(path):\(line): \(detail)"
    case .missingKey(let file, let key): "\(file): missing tensor '\(key)'"
    case .shapeMismatch(let file, let key, let expected, let found):
      "\(file): tensor '\(key)' has shape \(found), but the config implies \(expected)"
    case .noModelInstalled(let searched):
      "no model given and none installed at \(searched); run `vtag models fetch ram_plus` (or pass --yes to fetch it now), pass --model DIR (a bundle directory with config.json, tags.txt and model.pth/model.safetensors), or set VTAG_MODELS"
    case .incomplete(let path, let detail):
      "\(path) is not a complete model bundle: \(detail); run `vtag models fetch` again to finish or repair it"
    }
  }
}
