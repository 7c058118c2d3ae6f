import Foundation

/// One search result: a maximal interval of a video where the query holds (after `--min-duration`
/// and `--pad`).
public struct Moment: Sendable, Equatable {
  public var video: String
  /// The media file when known (for clips).
  public var mediaPath: String?
  public var start: Double
  public var end: Double
  /// English names of the tags with a segment overlapping the moment, alphabetical.
  public var tags: [String]
  /// The best `score_max` of the query's tags' segments overlapping the moment; for a query naming
  /// no tag, the best caption match rank (−bm25).
  public var score: Double
  /// Texts of the caption cues overlapping the moment, in time order.
  public var captions: [String]
}

/// Options of a search.
public struct SearchOptions: Sendable {
  /// Intervals shorter than this are dropped (seconds).
  public var minDuration: Double = 0
  /// Seconds added on both sides of each moment (clamped to the video), touching moments merge.
  public var pad: Double = 0
  /// At most this many moments (nil: all).
  public var limit: Int? = nil
  /// Only videos whose URI matches this shell pattern (`fnmatch`).
  public var videoGlob: String? = nil
  /// Order by score (descending) instead of video URI then start.
  public var rank: Bool = false
  /// Fill `tags` and `captions` of each moment.
  public var context: Bool = true

  public init(
    minDuration: Double = 0, pad: Double = 0, limit: Int? = nil, videoGlob: String? = nil, rank: Bool = false,
    context: Bool = true
  ) {
    self.minDuration = minDuration
    self.pad = pad
    self.limit = limit
    self.videoGlob = videoGlob
    self.rank = rank
    self.context = context
  }
}

/// Evaluates queries over any ``TimelineIndex``.
public struct SearchEngine: Sendable {
  public let index: any TimelineIndex
  /// Videos fetched per round trip.
  public var chunkSize = 64

  public init(index: any TimelineIndex) { self.index = index }

  /// Tag names resolved to ids (an English name may match one tag, a Chinese name several).
  struct Resolved {
    var ids: [Query.TagName: [Int64]] = [:]
    var all: [Int64] { Array(Set(ids.values.joined())) }
  }

  /// Checks every tag name of the query; unknown names throw ``IndexError/unknownTag(name:suggestions:)``.
  func resolve(_ q: Query) throws -> Resolved {
    let known = try index.knownTags()
    var byName: [String: Int64] = [:]
    var byZh: [String: [Int64]] = [:]
    for k in known {
      byName[k.name.lowercased()] = k.id
      if let z = k.nameZh { byZh[z, default: []].append(k.id) }
    }
    var r = Resolved()
    for name in q.tagNames.sorted(by: { "\($0)" < "\($1)" }) {
      switch name {
      case .english(let n):
        guard let id = byName[n.lowercased()] else {
          throw IndexError.unknownTag(name: n, suggestions: Self.nearest(n, in: known.map(\.name)))
        }
        r.ids[name] = [id]
      case .chinese(let n):
        guard let ids = byZh[n] else {
          throw IndexError.unknownTag(name: "zh:" + n, suggestions: Self.nearest(n, in: known.compactMap(\.nameZh)))
        }
        r.ids[name] = ids
      }
    }
    return r
  }

  /// Up to three known names closest to `name` by edit distance (ignoring case), within a distance
  /// that depends on the name's length.
  public static func nearest(_ name: String, in names: [String]) -> [String] {
    let n = Array(name.lowercased())
    let limit = max(2, n.count / 2)
    let scored = Set(names).compactMap { cand -> (Int, String)? in
      let d = editDistance(n, Array(cand.lowercased()))
      let containment = cand.lowercased().contains(name.lowercased()) ? 1 : d
      let best = min(d, containment)
      return best <= limit ? (best, cand) : nil
    }
    return scored.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.prefix(3).map(\.1)
  }

  static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      cur[0] = i
      for j in 1...b.count {
        cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      swap(&prev, &cur)
    }
    return prev[b.count]
  }

  /// The videos that can match (nil: any video).
  func candidates(_ q: Query, _ r: Resolved) throws -> Set<Int64>? {
    switch q {
    case .tag, .tagZh:
      return try index.videos(withAnyTag: r.ids[q.tagNames.first!] ?? [])
    case .score(let t, _, _): return try index.videos(withAnyTag: r.ids[t] ?? [])
    case .caption(let c): return try index.captionVideos(c)
    case .not: return nil
    case .near(let a, let b, _), .and(let a, let b):
      let ca = try candidates(a, r)
      if let ca, ca.isEmpty { return ca }
      let cb = try candidates(b, r)
      switch (ca, cb) {
      case (nil, let x), (let x, nil): return x
      case (let x?, let y?): return x.intersection(y)
      }
    case .or(let a, let b):
      guard let ca = try candidates(a, r), let cb = try candidates(b, r) else { return nil }
      return ca.union(cb)
    }
  }

  /// One video's data for evaluation.
  struct VideoData {
    var duration: Double
    var segments: [SegmentRow]
    var hits: [String: [CueHit]]
  }

  /// The query's presence set in one video.
  static func evaluate(_ q: Query, _ v: VideoData, _ r: Resolved) -> IntervalSet {
    switch q {
    case .tag, .tagZh:
      let ids = Set(r.ids[q.tagNames.first!] ?? [])
      return IntervalSet(
        unionOf: v.segments.lazy.filter { ids.contains($0.tagID) }.map { .init($0.start, $0.end) })
    case .score(let t, let x, let inclusive):
      let ids = Set(r.ids[t] ?? [])
      return IntervalSet(
        unionOf: v.segments.lazy.filter { ids.contains($0.tagID) && (inclusive ? $0.scoreMax >= x : $0.scoreMax > x) }
          .map { .init($0.start, $0.end) })
    case .caption(let c):
      return IntervalSet(unionOf: (v.hits[c] ?? []).map { .init($0.start, $0.end) })
    case .not(let a): return evaluate(a, v, r).complement(within: v.duration)
    case .and(let a, let b): return evaluate(a, v, r).intersection(evaluate(b, v, r))
    case .or(let a, let b): return evaluate(a, v, r).union(evaluate(b, v, r))
    case .near(let a, let b, let w): return evaluate(a, v, r).intersection(evaluate(b, v, r).dilated(by: w))
    }
  }

  /// Runs a query.
  public func search(_ query: Query, options: SearchOptions = SearchOptions()) throws -> [Moment] {
    let resolved = try resolve(query)
    let tagIDs = resolved.all
    let captionQueries = Array(query.captionQueries)
    var refs = try index.videoRefs()
    if let g = options.videoGlob { refs = refs.filter { fnmatch(g, $0.uri, 0) == 0 } }
    if let cand = try candidates(query, resolved) { refs = refs.filter { cand.contains($0.id) } }
    // The tags whose segments score a moment: the ones the query names.
    var out: [Moment] = []
    var videoOf: [Int64] = []
    let stopAt = options.rank ? nil : options.limit
    var i = 0
    while i < refs.count {
      if let s = stopAt, out.count >= s { break }
      let chunk = Array(refs[i..<min(refs.count, i + chunkSize)])
      i += chunkSize
      let ids = chunk.map(\.id)
      let segs = try index.segments(tags: tagIDs, videos: ids)
      var hits: [Int64: [String: [CueHit]]] = [:]
      for c in captionQueries {
        for (v, h) in try index.captionHits(c, videos: ids) { hits[v, default: [:]][c] = h }
      }
      for ref in chunk {
        if let s = stopAt, out.count >= s { break }
        let data = VideoData(duration: ref.duration, segments: segs[ref.id] ?? [], hits: hits[ref.id] ?? [:])
        let set = Self.evaluate(query, data, resolved).moments(
          minimumDuration: options.minDuration, pad: options.pad, duration: ref.duration)
        for m in set.intervals {
          if let s = stopAt, out.count >= s { break }
          let overlapping = data.segments.filter { $0.start < m.end && $0.end > m.start }
          var score = overlapping.map(\.scoreMax).max() ?? 0
          if tagIDs.isEmpty {
            score = data.hits.values.joined().filter { $0.start < m.end && $0.end > m.start }.map(\.rank).max() ?? 0
          }
          out.append(
            Moment(
              video: ref.uri, mediaPath: ref.mediaPath, start: m.start, end: m.end, tags: [], score: score,
              captions: []))
          videoOf.append(ref.id)
        }
      }
    }
    if options.rank {
      let order = out.indices.sorted { a, b in out[a].score != out[b].score ? out[a].score > out[b].score : a < b }
        .prefix(options.limit ?? out.count)
      out = order.map { out[$0] }
      videoOf = order.map { videoOf[$0] }
    }
    if options.context {
      let ctx = try index.context(out.indices.map { (videoOf[$0], out[$0].start, out[$0].end) })
      for k in out.indices {
        out[k].tags = ctx[k].tags
        out[k].captions = ctx[k].captions
      }
    }
    return out
  }
}
