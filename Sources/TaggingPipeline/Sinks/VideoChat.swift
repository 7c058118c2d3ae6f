import Foundation

/// The VideoChat (Ask-Anything) text block, written whole at the end of the run:
///
/// ```
/// Video tags are: dog | grass | person
/// Tag times are: dog 0.5-12.5s, 20.0-31.0s | grass 0.0-40.0s | person 3.0-9.0s
/// The second description of the video is: Second 1:a dog on the grass.
///  Second 6:a dog running.
/// ```
///
/// Tags are the tags with a segment, by share of time (the summary's order); times are the segments'
/// start and end with one decimal. Caption lines are Ask-Anything's `Second N:caption.` + newline,
/// joined with a single space, where N = ⌊t⌋ + 1 for a caption at t seconds (the same numbers as
/// Ask-Anything's frame index + 1 at 1 frame per second). Lines with nothing to say are left out.
public struct VideoChatFormatter: TimelineFormatter {
  private var captions: [(t: Double, text: String)] = []
  private var segments: [TagSegment] = []
  private var ranking: [Int]?

  public init() {}

  public var preamble: String { "" }

  public mutating func format(_ record: TimelineRecord) -> [String] {
    switch record {
    case .frame(let f):
      if let c = f.caption {
        let line = CueText.singleLine(c)
        if !line.isEmpty { captions.append((f.t, line)) }
      }
    case .segment(let s): segments.append(s)
    case .summary(let s): ranking = s.tags.map(\.index)
    case .header: break
    }
    return []
  }

  static func seconds(_ t: Double) -> String { String(format: "%.1f", roundedTime(t)) }

  /// Ask-Anything's per-second caption text.
  public static func secondDescriptions(_ captions: [(t: Double, text: String)]) -> String {
    captions.map { "Second \(Int(max(0, $0.t).rounded(.down)) + 1):\($0.text).\n" }.joined(separator: " ")
  }

  public mutating func finish() -> [String] {
    var byTag: [Int: [TagSegment]] = [:]
    for s in segments { byTag[s.tagIndex, default: []].append(s) }
    let order =
      ranking?.filter { byTag[$0] != nil }
      ?? byTag.keys.sorted {
        let a = byTag[$0]!.reduce(0) { $0 + $1.duration }
        let b = byTag[$1]!.reduce(0) { $0 + $1.duration }
        return (b, $0) < (a, $1)
      }
    var text = ""
    if !order.isEmpty {
      text += "Video tags are: " + order.map { CueText.singleLine(byTag[$0]![0].tag) }.joined(separator: " | ") + "\n"
      text +=
        "Tag times are: "
        + order.map { index in
          let spans = byTag[index]!.sorted { $0.start < $1.start }.map {
            "\(Self.seconds($0.start))-\(Self.seconds($0.end))s"
          }
          return CueText.singleLine(byTag[index]![0].tag) + " " + spans.joined(separator: ", ")
        }.joined(separator: " | ") + "\n"
    }
    if !captions.isEmpty {
      text += "The second description of the video is: " + Self.secondDescriptions(captions)
    }
    return text.isEmpty ? [] : [text]
  }
}
