import Foundation

/// Writes whole lines to standard output and flushes them, so a killed run leaves complete lines.
enum Output {
  static func line(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
  }

  static func error(_ s: String) {
    FileHandle.standardError.write(Data(("vtag: " + s + "\n").utf8))
  }
}
