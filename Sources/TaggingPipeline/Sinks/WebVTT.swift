import Foundation

/// WebVTT and SRT text helpers.
public enum CueText {
  /// Milliseconds, rounded, never negative.
  public static func milliseconds(_ t: Double) -> Int { max(0, Int((t * 1000).rounded())) }

  /// `HH:MM:SS.mmm` (WebVTT; hours grow past two digits when needed) or `HH:MM:SS,mmm` (SRT).
  public static func timestamp(milliseconds ms: Int, separator: Character = ".") -> String {
    let h = ms / 3_600_000
    let m = ms / 60_000 % 60
    let s = ms / 1000 % 60
    let f = ms % 1000
    func pad(_ v: Int, _ n: Int) -> String {
      let d = String(v)
      return d.count >= n ? d : String(repeating: "0", count: n - d.count) + d
    }
    return "\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2))\(separator)\(pad(f, 3))"
  }

  /// One line of plain text: line breaks and other control characters become spaces, runs of spaces
  /// collapse, ends are trimmed.
  public static func singleLine(_ s: String) -> String {
    var out = ""
    var space = false
    for u in s.unicodeScalars {
      let isSpace = u.properties.isWhitespace || u.value < 0x20 || u.value == 0x7F
      if isSpace {
        space = !out.isEmpty
        continue
      }
      if space {
        out += " "
        space = false
      }
      out.unicodeScalars.append(u)
    }
    return out
  }

  /// WebVTT cue text: one line, `&` `<` `>` written as character references (so it can never hold
  /// `-->` or markup).
  public static func webVTTEscaped(_ s: String) -> String {
    var out = ""
    for ch in singleLine(s) {
      switch ch {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      default: out.append(ch)
      }
    }
    return out
  }

  /// SRT text: one line, and `-->` (which some readers take for a timing line) becomes `->`.
  public static func srtText(_ s: String) -> String {
    var t = singleLine(s)
    while t.contains("-->") { t = t.replacingOccurrences(of: "-->", with: "->") }
    return t
  }

  /// A WebVTT cue block (timing line, payload lines, blank line), or nil when the payload is empty.
  /// `end` is moved to at least 1 ms after `start`.
  public static func webVTTCue(start: Double, end: Double, lines: [String]) -> String? {
    let payload = lines.filter { !$0.isEmpty }
    guard !payload.isEmpty else { return nil }
    let s = milliseconds(start)
    let e = max(milliseconds(end), s + 1)
    return "\(timestamp(milliseconds: s)) --> \(timestamp(milliseconds: e))\n" + payload.joined(separator: "\n")
      + "\n\n"
  }

  /// The WebVTT file header (with a blank line after it).
  public static func webVTTHeader(title: String? = nil) -> String {
    if let title, !title.isEmpty {
      return "WEBVTT \(singleLine(title).replacingOccurrences(of: "-->", with: "->"))\n\n"
    }
    return "WEBVTT\n\n"
  }
}

/// `*.tags.vtt`: one cue per time span during which the set of present tags (from the segment records)
/// does not change, listing those tags (English names joined with `" | "`, then a second line with the
/// Chinese names when every tag has one and `chinese` is on). Cues are written as soon as the frame
/// records' `settled` time shows that no earlier-starting segment can still arrive.
public struct WebVTTTagsFormatter: TimelineFormatter {
  public var chinese: Bool
  private var segments: [TagSegment] = []
  private var cursor: Double = 0

  public init(chinese: Bool = true) { self.chinese = chinese }

  public var preamble: String { CueText.webVTTHeader(title: "- vtag tags") }

  public mutating func format(_ record: TimelineRecord) -> [String] {
    switch record {
    case .segment(let s):
      if s.end > s.start { segments.append(s) }
      return []
    case .frame(let f): return flush(before: f.settled)
    case .header, .summary: return []
    }
  }

  public mutating func finish() -> [String] { flush(before: .infinity) }

  private func payload(_ active: [TagSegment]) -> [String] {
    let sorted = active.sorted { $0.tagIndex < $1.tagIndex }
    var lines = [sorted.map { CueText.webVTTEscaped($0.tag) }.joined(separator: " | ")]
    if chinese, sorted.allSatisfy({ !($0.tagZh ?? "").isEmpty }) {
      lines.append(sorted.map { CueText.webVTTEscaped($0.tagZh!) }.joined(separator: " | "))
    }
    return lines
  }

  /// Writes the spans that end strictly before `limit` (all of them for +∞).
  private mutating func flush(before limit: Double) -> [String] {
    var out: [String] = []
    var bounds = Set<Double>()
    if !segments.isEmpty { bounds.insert(cursor) }
    for s in segments {
      if s.start >= cursor { bounds.insert(s.start) }
      if s.end >= cursor { bounds.insert(s.end) }
    }
    let points = bounds.sorted()
    func activeSet(at t: Double) -> [TagSegment] { segments.filter { $0.start <= t && t < $0.end } }
    var i = 0
    while i < points.count {
      let spanStart = max(points[i], cursor)
      let set = activeSet(at: spanStart)
      let key = Set(set.map(\.tagIndex))
      // Extend the span while the set stays the same.
      var j = i + 1
      while j < points.count, Set(activeSet(at: points[j]).map(\.tagIndex)) == key, !key.isEmpty { j += 1 }
      guard j < points.count else { break }  // the span's end is not known yet
      let spanEnd = points[j]
      guard spanEnd < limit else { break }
      if !key.isEmpty, let cue = CueText.webVTTCue(start: spanStart, end: spanEnd, lines: payload(set)),
        CueText.milliseconds(spanEnd) > CueText.milliseconds(spanStart)
      {
        out.append(cue)
      }
      cursor = spanEnd
      i = j
    }
    segments.removeAll { $0.end <= cursor }
    return out
  }
}

/// Turns the captions of frame records into timed cues: each caption lasts until the next caption, at
/// most `maxDuration` seconds, and not past the end of the timeline.
public struct CaptionCueBuilder: Sendable {
  public struct Cue: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var text: String
  }

  public var maxDuration: Double
  private var pending: (t: Double, text: String)?
  private var timelineEnd: Double?

  public init(maxDuration: Double = 10) { self.maxDuration = maxDuration }

  public mutating func consume(_ record: TimelineRecord) -> [Cue] {
    switch record {
    case .frame(let f):
      var out: [Cue] = []
      if let p = pending, f.caption != nil || f.t >= p.t + maxDuration {
        out.append(Cue(start: p.t, end: min(f.t, p.t + maxDuration), text: p.text))
        pending = nil
      }
      if let c = f.caption, !CueText.singleLine(c).isEmpty { pending = (f.t, c) }
      return out
    case .summary(let s):
      timelineEnd = s.duration
      return []
    case .header, .segment: return []
    }
  }

  public mutating func finish() -> [Cue] {
    guard let p = pending else { return [] }
    pending = nil
    var end = p.t + maxDuration
    if let e = timelineEnd, e > p.t { end = min(end, e) }
    return [Cue(start: p.t, end: end, text: p.text)]
  }
}

/// `*.captions.vtt`: the Tag2Text captions.
public struct WebVTTCaptionsFormatter: TimelineFormatter {
  private var builder: CaptionCueBuilder

  public init(maxDuration: Double = 10) { builder = CaptionCueBuilder(maxDuration: maxDuration) }

  public var preamble: String { CueText.webVTTHeader(title: "- vtag captions") }

  static func cues(_ cues: [CaptionCueBuilder.Cue]) -> [String] {
    cues.compactMap { CueText.webVTTCue(start: $0.start, end: $0.end, lines: [CueText.webVTTEscaped($0.text)]) }
  }

  public mutating func format(_ record: TimelineRecord) -> [String] { Self.cues(builder.consume(record)) }
  public mutating func finish() -> [String] { Self.cues(builder.finish()) }
}

/// `*.meta.vtt`: a metadata track (`<track kind="metadata">`) with one cue per sampled frame, from its
/// time to the next sample's (the last one: to the end of the timeline, or one sample interval), whose
/// payload is the frame record as one line of JSON with `<`, `>`, `&` written as `\u003c`, `\u003e`,
/// `\u0026`.
public struct WebVTTMetadataFormatter: TimelineFormatter {
  private var pending: FrameRecord?
  private var interval: Double = 1
  private var timelineEnd: Double?

  public init() {}

  public var preamble: String { CueText.webVTTHeader(title: "- vtag metadata") }

  static func cue(_ f: FrameRecord, end: Double) -> String? {
    CueText.webVTTCue(start: f.t, end: end, lines: [TimelineRecord.frame(f).json.serializedForMarkup])
  }

  public mutating func format(_ record: TimelineRecord) -> [String] {
    switch record {
    case .header(let h):
      if let i = h.sampleInterval, i > 0 { interval = i }
      return []
    case .frame(let f):
      defer { pending = f }
      if let p = pending, let cue = Self.cue(p, end: f.t) { return [cue] }
      return []
    case .summary(let s):
      timelineEnd = s.duration
      return []
    case .segment: return []
    }
  }

  public mutating func finish() -> [String] {
    guard let p = pending else { return [] }
    pending = nil
    var end = p.t + interval
    if let e = timelineEnd, e > p.t { end = e }
    return Self.cue(p, end: end).map { [$0] } ?? []
  }
}

/// `*.srt`: the captions as numbered SRT cues (`HH:MM:SS,mmm`).
public struct SRTCaptionsFormatter: TimelineFormatter {
  private var builder: CaptionCueBuilder
  private var number = 0

  public init(maxDuration: Double = 10) { builder = CaptionCueBuilder(maxDuration: maxDuration) }

  public var preamble: String { "" }

  private mutating func cues(_ cues: [CaptionCueBuilder.Cue]) -> [String] {
    cues.compactMap { c in
      let text = CueText.srtText(c.text)
      guard !text.isEmpty else { return nil }
      number += 1
      let s = CueText.milliseconds(c.start)
      let e = max(CueText.milliseconds(c.end), s + 1)
      return "\(number)\n\(CueText.timestamp(milliseconds: s, separator: ",")) --> "
        + "\(CueText.timestamp(milliseconds: e, separator: ","))\n\(text)\n\n"
    }
  }

  public mutating func format(_ record: TimelineRecord) -> [String] { cues(builder.consume(record)) }
  public mutating func finish() -> [String] { cues(builder.finish()) }
}
