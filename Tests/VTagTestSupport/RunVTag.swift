import Foundation

/// Runs the built `vtag` executable as a user would, capturing its output.
public enum VTagProcess {
  /// Result of one run.
  public struct Result: Sendable {
    public var status: Int32
    /// True when the process ended by a signal (a crash), not by exit.
    public var crashed: Bool
    public var stdout: String
    public var stderr: String
  }

  /// The `vtag` binary beside the test bundle in the build products folder (or `$VTAG_BIN`).
  public static var binary: URL {
    if let path = ProcessInfo.processInfo.environment["VTAG_BIN"] { return URL(fileURLWithPath: path) }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    // .build/<triple>/debug/vtagPackageTests.xctest[/...]: walk up to the folder holding `vtag`.
    for _ in 0..<6 {
      dir.deleteLastPathComponent()
      let candidate = dir.appendingPathComponent("vtag")
      var isDir: ObjCBool = false
      if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue {
        return candidate
      }
    }
    return Fixtures.repositoryRoot.appendingPathComponent(".build/debug/vtag")
  }

  /// True when the binary exists (tests that need it skip otherwise).
  public static var available: Bool { FileManager.default.isExecutableFile(atPath: binary.path) }

  /// Runs `vtag arguments...` and waits for it.
  public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
    let p = Process()
    p.executableURL = binary
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_NUM_THREADS"] = "1"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(
      status: p.terminationStatus, crashed: p.terminationReason == .uncaughtSignal,
      stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
  }

  /// Runs a shell command (for test setup such as `ffmpeg` or `python3`); returns its exit status.
  @discardableResult
  public static func shell(_ command: String) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
  }

  /// True when `tool` is on PATH.
  public static func hasTool(_ tool: String) -> Bool {
    (try? shell("command -v \(tool)")) == 0
  }
}
