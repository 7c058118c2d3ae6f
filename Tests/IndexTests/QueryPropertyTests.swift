import Foundation
import Index
import TaggingPipeline
import Testing
import VTagTestSupport

/// Random timelines and random queries: the index's answers equal a brute-force evaluation of the
/// documented semantics over the same segments and cues (elementary intervals between all breakpoints,
/// each decided at its midpoint directly from the definitions).
@Suite struct QueryPropertyTests {
  static let tags = ["dog", "beach", "living room", "car", "sky"]
  static let words = ["man", "running", "dog", "beach", "walking", "red", "car"]

  struct Video {
    var uri: String
    var duration: Double
    var segments: [TagSegment]
    var cues: [IndexedCue]
    /// Unique across the parallel runs (the brute force's memo key).
    var key = UUID().uuidString
  }

  static func video(_ n: Int, _ rng: inout SeededRandom) -> Video {
    let duration = Double(Int.random(in: 20...120, using: &rng))
    var segs: [TagSegment] = []
    for (k, tag) in tags.enumerated() where Bool.random(using: &rng) || k == 0 {
      var t = Double.random(in: 0...10, using: &rng)
      while t < duration {
        // Quarter-second grid plus occasional odd values: exercises touching and overlapping intervals.
        let len = (Double.random(in: 0.25...15, using: &rng) * 4).rounded() / 4
        let s = (t * 4).rounded() / 4
        let e = min(duration, s + len)
        if e > s {
          segs.append(
            TagSegment(
              tagIndex: k, tag: tag, tagZh: "标签\(k)", start: s, end: e,
              scoreMax: Float(Int.random(in: 50...100, using: &rng)) / 100, scoreMean: 0.5, samples: 1))
        }
        t = e + (Double.random(in: -2...12, using: &rng) * 4).rounded() / 4
        if t <= s { t = s + 0.25 }
      }
    }
    var cues: [IndexedCue] = []
    var c = 0.0
    while c < duration {
      let len = Double(Int.random(in: 1...10, using: &rng))
      let text = (0..<Int.random(in: 2...5, using: &rng)).map { _ in words.randomElement(using: &rng)! }
        .joined(separator: " ")
      cues.append(IndexedCue(start: c, end: min(duration, c + len), text: text))
      c += len + Double(Int.random(in: 0...3, using: &rng))
    }
    return Video(uri: String(format: "v%03d.mp4", n), duration: duration, segments: segs, cues: cues)
  }

  static func randomQuery(_ depth: Int, _ rng: inout SeededRandom) -> String {
    let leaf = depth <= 0 || Int.random(in: 0..<3, using: &rng) == 0
    if leaf {
      switch Int.random(in: 0..<6, using: &rng) {
      case 0: return "zh:标签\(Int.random(in: 0..<tags.count, using: &rng))"
      case 1: return "caption:\(words.randomElement(using: &rng)!)"
      case 2:
        let a = words.randomElement(using: &rng)!
        let b = words.randomElement(using: &rng)!
        return "caption:\"\(a) \(b)\""
      case 3:
        let op = Bool.random(using: &rng) ? ">" : ">="
        return "score(\"\(tags.randomElement(using: &rng)!)\") \(op) 0.\(Int.random(in: 5...9, using: &rng))"
      default: return "\"\(tags.randomElement(using: &rng)!)\""
      }
    }
    let a = randomQuery(depth - 1, &rng)
    let b = randomQuery(depth - 1, &rng)
    switch Int.random(in: 0..<5, using: &rng) {
    case 0: return "(\(a) & \(b))"
    case 1: return "(\(a) | \(b))"
    case 2: return "!\(a)"
    case 3: return "near(\(a), \(b), \(Int.random(in: 0...8, using: &rng))s)"
    default: return "(\(a) and not \(b))"
    }
  }

  // MARK: Brute force

  static func tokens(_ s: String) -> [String] {
    s.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
  }

  static func captionMatches(_ q: String, _ text: String) -> Bool {
    let want = tokens(q)
    let have = tokens(text)
    guard !want.isEmpty, have.count >= want.count else { return false }
    for i in 0...(have.count - want.count) where Array(have[i..<i + want.count]) == want { return true }
    return false
  }

  final class Memo: @unchecked Sendable {
    let lock = NSLock()
    var sets: [String: [(Double, Double)]] = [:]
  }
  nonisolated(unsafe) static let memo = Memo()

  /// Intervals where the query holds in `v` (the truth at a point `t`, decided from the definitions).
  static func holds(_ q: Query, _ v: Video, at t: Double) -> Bool {
    switch q {
    case .tag(let n):
      return v.segments.contains { $0.tag.lowercased() == n.lowercased() && $0.start <= t && t < $0.end }
    case .tagZh(let n): return v.segments.contains { $0.tagZh == n && $0.start <= t && t < $0.end }
    case .caption(let c): return v.cues.contains { captionMatches(c, $0.text) && $0.start <= t && t < $0.end }
    case .score(let name, let x, let inc):
      return v.segments.contains { s in
        let nameOK: Bool
        switch name {
        case .english(let n): nameOK = s.tag.lowercased() == n.lowercased()
        case .chinese(let n): nameOK = s.tagZh == n
        }
        let score = Double(s.scoreMax)
        return nameOK && (inc ? score >= x : score > x) && s.start <= t && t < s.end
      }
    case .not(let a): return t >= 0 && t < v.duration && !holds(a, v, at: t)
    case .and(let a, let b): return holds(a, v, at: t) && holds(b, v, at: t)
    case .or(let a, let b): return holds(a, v, at: t) || holds(b, v, at: t)
    case .near(let a, let b, let w):
      // B holds somewhere in (t − w, t + w]: for interval sets [s, e) dilated to [s − w, e + w).
      guard holds(a, v, at: t) else { return false }
      let key = "\(b)|\(v.key)"
      let iv =
        memo.lock.withLock { memo.sets[key] }
        ?? {
          let x = bIntervals(b, v)
          memo.lock.withLock { memo.sets[key] = x }
          return x
        }()
      return iv.contains { $0.0 - w <= t && t < $0.1 + w }
    }
  }

  /// B's own maximal intervals, by the same elementary-interval sweep.
  static func bIntervals(_ q: Query, _ v: Video) -> [(Double, Double)] { sweep(q, v, extra: []) }

  static func breakpoints(_ q: Query, _ v: Video) -> [Double] {
    var b: [Double] = [0, v.duration]
    for s in v.segments { b += [s.start, s.end] }
    for c in v.cues { b += [c.start, c.end] }
    func windows(_ q: Query) -> [Double] {
      switch q {
      case .near(let a, let bq, let w): return [w] + windows(a) + windows(bq)
      case .and(let a, let bq), .or(let a, let bq): return windows(a) + windows(bq)
      case .not(let a): return windows(a)
      default: return []
      }
    }
    // Dilations move breakpoints by ±w (nested nears by sums; every point of B's sets is one of the base points).
    var all = b
    for w in windows(q) {
      all += all.flatMap { [$0 - w, $0 + w] }
    }
    return Array(Set(all.filter { $0 >= 0 && $0 <= v.duration })).sorted()
  }

  static func sweep(_ q: Query, _ v: Video, extra: [Double]) -> [(Double, Double)] {
    let pts = breakpoints(q, v)
    var out: [(Double, Double)] = []
    for i in 0..<(pts.count - 1) {
      let a = pts[i]
      let b = pts[i + 1]
      guard b > a, holds(q, v, at: (a + b) / 2) else { continue }
      if let last = out.last, last.1 == a { out[out.count - 1].1 = b } else { out.append((a, b)) }
    }
    return out
  }

  static func bruteMoments(_ q: Query, _ v: Video, minDuration: Double, pad: Double) -> [(Double, Double)] {
    let kept = sweep(q, v, extra: []).filter { $0.1 - $0.0 >= minDuration }
    var out: [(Double, Double)] = []
    for (s, e) in kept.map({ (max(0, $0.0 - pad), min(v.duration, $0.1 + pad)) }) {
      if let last = out.last, s <= last.1 { out[out.count - 1].1 = max(last.1, e) } else { out.append((s, e)) }
    }
    return out
  }

  @Test(arguments: [1, 2, 3, 4])
  func indexAgreesWithBruteForce(seed: Int) throws {
    var rng = SeededRandom(seed: UInt64(seed) * 7919)
    let dir = try Fixtures.temporaryDirectory("vtag-index-prop")
    defer { try? FileManager.default.removeItem(at: dir) }
    let index = try SQLiteIndex(path: dir.appendingPathComponent("i.sqlite").path)
    let videos = (0..<6).map { Self.video($0, &rng) }
    for v in videos {
      _ = try index.add(
        IndexedTimeline(
          uri: v.uri, mediaPath: nil, timelinePath: nil, contentHash: v.uri, duration: v.duration, incomplete: false,
          interrupted: false, headerJSON: "{}", summaryJSON: nil, models: [], segments: v.segments, cues: v.cues))
    }
    let engine = SearchEngine(index: index)
    var checked = 0
    var nonEmpty = 0
    for _ in 0..<60 {
      let text = Self.randomQuery(3, &rng)
      let q = try QueryParser.parse(text)
      let minD = [0.0, 0.0, 1, 3.5].randomElement(using: &rng)!
      let pad = [0.0, 0.0, 0.5, 2].randomElement(using: &rng)!
      let got: [Moment]
      do {
        got = try engine.search(q, options: SearchOptions(minDuration: minD, pad: pad))
      } catch IndexError.unknownTag {
        // A tag no random video drew: the brute force must agree it is absent everywhere.
        let present = Set(
          videos.flatMap { $0.segments.flatMap { [Query.TagName.english($0.tag), .chinese($0.tagZh!)] } })
        #expect(!q.tagNames.isSubset(of: present), "query \(text)")
        continue
      }
      var want: [(String, Double, Double)] = []
      for v in videos {
        want += Self.bruteMoments(q, v, minDuration: minD, pad: pad).map { (v.uri, $0.0, $0.1) }
      }
      let gotTriples = got.map { ($0.video, $0.start, $0.end) }
      #expect(gotTriples.count == want.count, "query \(text) min \(minD) pad \(pad)")
      for (g, w) in zip(gotTriples, want) {
        #expect(g.0 == w.0 && abs(g.1 - w.1) < 1e-9 && abs(g.2 - w.2) < 1e-9, "query \(text): got \(g) want \(w)")
      }
      // Context: every reported tag overlaps the moment, and every overlapping tag is reported.
      for m in got {
        let v = videos.first { $0.uri == m.video }!
        let expected = Set(v.segments.filter { $0.start < m.end && $0.end > m.start }.map(\.tag))
        #expect(Set(m.tags) == expected)
        let caps = v.cues.filter { $0.start < m.end && $0.end > m.start }.map(\.text)
        #expect(m.captions == caps)
      }
      checked += 1
      if !want.isEmpty { nonEmpty += 1 }
    }
    #expect(checked > 30)
    #expect(nonEmpty > 10)
  }
}
