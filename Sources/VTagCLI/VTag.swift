import ArgumentParser
import Foundation
import TaggingPipeline

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

  /// Parses `arguments`, runs the command and returns the process exit code: 0 ok (help and version
  /// are printed on standard output), 1 runtime error, 2 usage error (a command group run without a
  /// subcommand, `vtag` alone, prints its help on standard error and exits 2), 130/143 stopped by
  /// SIGINT/SIGTERM. Errors are printed to standard error.
  public static func runMain(_ arguments: [String]) async -> Int32 {
    let command: any ParsableCommand
    do {
      command = try parseAsRoot(arguments)
    } catch {
      return report(parseError: error)
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
    } catch is CleanExit {
      // Only a command group's default run throws it: the help of that group.
      FileHandle.standardError.write(Data((helpMessage(for: type(of: command)) + "\n").utf8))
      return 2
    } catch let error as ValidationError {
      FileHandle.standardError.write(Data(("vtag: error: \(error)\n").utf8))
      return 2
    } catch {
      if isUsageError(error) {
        FileHandle.standardError.write(Data(("vtag: error: \(describe(error))\n").utf8))
        return 2
      }
      // `vtag help`, `vtag --help`, `vtag help tag` parse to the library's help command, whose run
      // throws an error the library reports as a clean exit.
      if exitCode(for: error) == .success { return report(parseError: error) }
      FileHandle.standardError.write(Data(("vtag: error: \(describe(error))\n").utf8))
      return 1
    }
  }

  /// Prints a parse-time outcome: help or version on stdout (exit 0), a usage error on stderr (exit 2).
  static func report(parseError error: any Error) -> Int32 {
    if exitCode(for: error) == .success {
      let text = fullMessage(for: error)
      FileHandle.standardOutput.write(Data((text + (text.hasSuffix("\n") ? "" : "\n")).utf8))
      return 0
    }
    FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
    return 2
  }

  /// Errors about how vtag was called (settings, output paths) rather than about the input: exit 2.
  static func isUsageError(_ error: any Error) -> Bool {
    if let e = error as? SinkError {
      // How the outputs were asked for; a missing or read-only directory is a runtime error (exit 1).
      switch e {
      case .unknownFormat, .emptyFormatList, .needsCaptions, .stdoutNeedsJSONL, .baseIsDirectory: return true
      default: return false
      }
    }
    if case TagRunError.badSetting = error { return true }
    if let e = error as? PipelineFileError, e.path == "--set" { return true }
    return false
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
