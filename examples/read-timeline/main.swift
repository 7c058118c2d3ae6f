// Reads a JSONL timeline written by `vtag tag` and answers "when is TAG on screen?".
//
//   swift run example-read-timeline movie.jsonl dog
import Foundation
import TaggingPipeline

let args = CommandLine.arguments
guard args.count == 3, let text = try? String(contentsOfFile: args[1], encoding: .utf8) else {
  FileHandle.standardError.write(Data("usage: example-read-timeline TIMELINE.jsonl TAG\n".utf8))
  exit(2)
}
var found = 0
for (n, line) in text.split(separator: "\n").enumerated() {
  do {
    if case .segment(let s) = try TimelineRecord(jsonLine: String(line)), s.tag == args[2] || s.tagZh == args[2] {
      print(
        String(format: "%@: %.2f–%.2f s (%d samples, max score %.2f)", s.tag, s.start, s.end, s.samples, s.scoreMax))
      found += 1
    }
  } catch {
    FileHandle.standardError.write(Data("\(args[1]):\(n + 1): \(error)\n".utf8))
    exit(1)
  }
}
if found == 0 { print("'\(args[2])' never appears") }
