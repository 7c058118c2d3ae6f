import ArgumentParser
import Foundation
import Index

/// `vtag search`: moments of the indexed videos where a query holds.
struct SearchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "search",
    abstract: "Find the moments of indexed videos where a query holds (vtag index add builds the index).",
    discussion: """
      QUERY LANGUAGE
        dog                      a tag, by English name (any case)
        "living room"            quote names with spaces
        zh:狗                    a tag by Chinese name
        caption:running          caption cues with the word (full-text, FTS5; run* for a prefix)
        caption:"man running"    caption cues with the phrase, ranked by bm25
        A & B   A and B          both at once
        A | B   A or B           either
        !A      not A            A absent (within the video's length)
        ( … )                    grouping; ! binds tightest, then &, then |: !a & b | c = ((!a) & b) | c
        score(A) > 0.8           the segments of A whose score_max is above 0.8 (>= too)
        near(A, B, 10s)          times where A holds and B holds within 10 s (ms, s, m, h)

      A tag holds over the union of its segments [start, end); a caption query over its matching cues. The \
      maximal intervals where the query holds are the moments; those shorter than --min-duration are dropped, \
      the rest padded by --pad and merged where they touch.

      EXAMPLES
        vtag search dog
        vtag search 'dog & beach' --min-duration 3s
        vtag search 'dog & beach & caption:running' --min-duration 3s --json
        vtag search 'near(person, car, 5s) & !night' --pad 2s --video '*/2024-*'
        vtag search 'score("living room") > 0.9 | zh:厨房' --rank --limit 10
        vtag search 'caption:"man running"' --clips clips/
      """)

  @OptionGroup var location: IndexLocation
  @Argument(help: "The query (see below).") var query: String
  @Flag(name: .long, help: "One JSON object a line: video, start, end, tags, score, captions.") var json = false
  @Option(name: .long, help: "Drop moments shorter than this (e.g. 3s, 500ms).") var minDuration: String = "0"
  @Option(name: .long, help: "Widen each moment by this on both sides (clamped to the video).") var pad: String = "0"
  @Option(name: .long, help: "At most this many moments (0: all).") var limit: Int = 100
  @Option(name: .long, help: "Only videos whose URI matches this shell pattern (*, ?, [...]).") var video: String?
  @Flag(name: .long, help: "Order by score (best first) instead of video then start.") var rank = false
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Write each moment as a clip into DIR (stream copy from the key frame at or before its start).",
      valueName: "DIR"))
  var clips: String?

  func validate() throws {
    guard let d = QueryParser.duration(minDuration), d >= 0 else {
      throw ValidationError("--min-duration '\(minDuration)' is not a duration (e.g. 3s, 500ms, 1m)")
    }
    guard let p = QueryParser.duration(pad), p >= 0 else {
      throw ValidationError("--pad '\(pad)' is not a duration (e.g. 2s, 500ms)")
    }
    guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or more") }
    _ = (d, p)
  }

  func run() async throws {
    let q: Query
    do {
      q = try QueryParser.parse(query)
    } catch let e as QuerySyntaxError {
      throw ValidationError(e.description)
    }
    let options = SearchOptions(
      minDuration: QueryParser.duration(minDuration) ?? 0, pad: QueryParser.duration(pad) ?? 0,
      limit: limit == 0 ? nil : limit, videoGlob: video, rank: rank)
    let moments = try SearchEngine(index: try location.open()).search(q, options: options)
    var clipResults: [ClipResult?] = Array(repeating: nil, count: moments.count)
    if let dir = clips {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      for (k, m) in moments.enumerated() {
        do {
          clipResults[k] = try ClipWriter.write(moment: m, directory: dir)
        } catch {
          Output.error("error: clip of \(m.video) \(Self.clock(m.start))–\(Self.clock(m.end)): \(error)")
        }
      }
    }
    if json {
      for (m, c) in zip(moments, clipResults) { Output.line(Self.json(m, clip: c).serialized) }
      return
    }
    if moments.isEmpty {
      Output.line("no moments match")
      return
    }
    for (m, c) in zip(moments, clipResults) {
      let score = String(format: "%.3f", m.score)
      Output.line("\(m.video)  \(Self.clock(m.start)) – \(Self.clock(m.end))  score \(score)")
      if !m.tags.isEmpty { Output.line("    tags: \(m.tags.joined(separator: ", "))") }
      for caption in m.captions.prefix(3) { Output.line("    “\(caption)”") }
      if m.captions.count > 3 { Output.line("    … \(m.captions.count - 3) more captions") }
      if let c {
        let note = c.start < m.start - 0.0005 ? " (starts at the key frame \(Self.clock(c.start)))" : ""
        Output.line("    clip: \(c.path)\(note)")
      }
    }
    let more = limit > 0 && moments.count == limit ? " (the first \(limit); --limit 0 for all)" : ""
    Output.line("\(moments.count) moment(s)\(more)")
  }

  static func json(_ m: Moment, clip: ClipResult?) -> JSONValue {
    func t(_ x: Double) -> JSONValue { .double((x * 1e6).rounded() / 1e6) }
    var fields: [(String, JSONValue)] = [
      ("video", .string(m.video)), ("start", t(m.start)), ("end", t(m.end)),
      ("tags", .array(m.tags.map { .string($0) })), ("score", .double((m.score * 1e6).rounded() / 1e6)),
      ("captions", .array(m.captions.map { .string($0) })),
    ]
    if let c = clip {
      fields.append(
        ("clip", .object([("path", .string(c.path)), ("start", t(c.start)), ("end", t(c.end))])))
    }
    return .object(fields)
  }

  /// `HH:MM:SS.mmm`.
  static func clock(_ seconds: Double) -> String {
    let ms = Int((max(0, seconds) * 1000).rounded())
    return String(format: "%02d:%02d:%02d.%03d", ms / 3_600_000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000)
  }
}
