// Tags a video file with the library API and a custom sink that prints each tag segment as it closes,
// next to the JSONL timeline written by the built-in sink.
//
//   swift run example-custom-sink MODEL_DIR VIDEO
import Foundation
import TaggingPipeline

/// A sink that prints "start–end  tag" for every closed segment.
final class SegmentPrinter: TimelineSink, @unchecked Sendable {
  var name: String { "segment printer" }
  func write(_ record: TimelineRecord) throws {
    if case .segment(let s) = record {
      print(String(format: "%7.2f–%7.2f s  %@ (max %.2f)", s.start, s.end, s.tag, s.scoreMax))
    }
  }
  func finish() throws { print("done") }
}

let args = CommandLine.arguments
guard args.count == 3 else {
  FileHandle.standardError.write(Data("usage: example-custom-sink MODEL_DIR VIDEO\n".utf8))
  exit(2)
}
let config = TagRunConfiguration(
  input: args[2], model: URL(fileURLWithPath: args[1]), formats: [.jsonl],
  outputBase: URL(fileURLWithPath: args[2]).deletingPathExtension().lastPathComponent)
do {
  let report = try await TagRun(config).run(extraSinks: [SegmentPrinter()])
  print("\(report.counters.framesSampled) frames tagged; wrote \(report.outputs.joined(separator: ", "))")
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}
