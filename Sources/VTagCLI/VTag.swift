import ArgumentParser
import Foundation

/// The `vtag` command line.
public struct VTag: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "vtag",
    abstract: "Tag what is seen in images, video files, streams and webcams with RAM++, RAM and Tag2Text.",
    version: VTagVersion.string,
    subcommands: [
      ImageCommand.self, TagCommand.self, LiveCommand.self, RunCommand.self, ProbeCommand.self, DevicesCommand.self,
      ModelsCommand.self, BenchCommand.self, TagsCommand.self, IndexCommand.self, SearchCommand.self,
    ])
  public init() {}

  /// Parses `arguments`, runs the command and returns the process exit code:
  /// 0 ok, 1 runtime error, 2 usage error. Errors are printed to standard error.
  public static func runMain(_ arguments: [String]) async -> Int32 {
    let command: any ParsableCommand
    do {
      command = try parseAsRoot(arguments)
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        print(fullMessage(for: error))
        return 0
      }
      FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
      return 2
    }
    do {
      if var async = command as? any AsyncParsableCommand {
        try await async.run()
      } else {
        var sync = command
        try sync.run()
      }
      return 0
    } catch let exit as ExitCode {
      return exit.rawValue
    } catch let error as ValidationError {
      FileHandle.standardError.write(Data(("vtag: error: \(error)\n").utf8))
      return 2
    } catch {
      FileHandle.standardError.write(Data(("vtag: error: \(describe(error))\n").utf8))
      return 1
    }
  }

  /// The user-facing text of an error: its `description` when it has one.
  static func describe(_ error: any Error) -> String {
    String(describing: error)
  }
}

/// The program version.
public enum VTagVersion {
  public static let string = "0.1.0"
}
