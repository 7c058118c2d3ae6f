import ArgumentParser
import Foundation
import MediaIO

/// `vtag devices`: list cameras.
struct DevicesCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "devices",
    abstract: "List V4L2 cameras (/dev/video*) with their formats and frame sizes.",
    discussion: """
      With no argument, describes every /dev/video* capture device (or says there are none, exit 0).
      With device paths, describes those; a path that does not exist or is not a camera is an error (exit 1).
      """)

  @Argument(help: "Device paths to describe (default: every /dev/video*).")
  var paths: [String] = []

  @Flag(name: .long, help: "Print a JSON array with one object per camera ([] when none).")
  var json = false

  @Option(name: .long, help: "Directory to scan for video* nodes.")
  var directory = "/dev"

  static func json(_ c: CameraDescription) -> JSONValue {
    .object([
      ("path", .string(c.path)), ("driver", .string(c.driver)), ("card", .string(c.card)),
      ("bus_info", .string(c.busInfo)),
      (
        "formats",
        .array(
          c.formats.map { f in
            .object([
              ("fourcc", .string(f.fourcc)), ("description", .string(f.description)), ("emulated", .bool(f.emulated)),
              ("sizes", .array(f.sizes.map { .string($0) })),
            ])
          })
      ),
    ])
  }

  func show(_ c: CameraDescription) {
    Output.line("\(c.path): \(c.card) (\(c.driver), \(c.busInfo))")
    for f in c.formats {
      let sizes = f.sizes.isEmpty ? "" : ": " + f.sizes.joined(separator: " ")
      Output.line("  \(f.fourcc) \(f.description)\(f.emulated ? " [libv4l2]" : "")\(sizes)")
    }
  }

  func run() async throws {
    if !paths.isEmpty {
      let described = try paths.map { try CameraDevices.describe(path: $0) }
      if json { Output.line(JSONValue.array(described.map(Self.json)).serialized) } else { described.forEach(show) }
      return
    }
    let (cameras, errors) = CameraDevices.list(directory: directory)
    if json { Output.line(JSONValue.array(cameras.map(Self.json)).serialized) } else { cameras.forEach(show) }
    for e in errors { Output.error("warning: \(e)") }
    if cameras.isEmpty && !json { Output.line("no cameras found (no video capture device in \(directory))") }
  }
}
