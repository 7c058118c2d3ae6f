import ArgumentParser

/// The `vtag` command line.
public struct VTag: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "vtag",
    abstract: "Tag what is seen in images, video files, streams and webcams with RAM++, RAM and Tag2Text.",
    version: "0.1.0",
    subcommands: [])
  public init() {}
}
