import Foundation
import TaggingPipeline

/// A small deterministic random generator (SplitMix64) for synthetic timelines and property tests.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Synthetic timelines shaped like real ones: 1 sample/s, tags drawn from a skewed vocabulary, 20–200
/// segments per tag-hour, a caption every 5 s from a small phrase grammar.
public struct SyntheticTimelines: Sendable {
  /// The tag vocabulary: English and Chinese names (a few real ones first, they are the common ones).
  public static let vocabulary: [(String, String)] = {
    let real: [(String, String)] = [
      ("person", "人"), ("man", "男人"), ("woman", "女人"), ("car", "汽车"), ("dog", "狗"), ("tree", "树"),
      ("building", "建筑"), ("road", "道路"), ("sky", "天空"), ("grass", "草"), ("beach", "海滩"), ("water", "水"),
      ("cat", "猫"), ("living room", "客厅"), ("kitchen", "厨房"), ("night", "夜晚"), ("city", "城市"),
      ("table", "桌子"), ("chair", "椅子"), ("bicycle", "自行车"),
    ]
    return real + (0..<480).map { ("object \($0)", "物体\($0)") }
  }()

  static let subjects = ["a man", "a woman", "a dog", "a child", "two people", "a cat", "a car", "a group of people"]
  static let verbs = ["running", "walking", "sitting", "standing", "driving", "playing", "eating", "talking"]
  static let places = [
    "on the beach", "in a kitchen", "in the living room", "on a road", "in a park", "at night", "in the city",
    "near a tree",
  ]

  public var tagsPerVideo = 15
  public var hours = 1.0

  public init() {}

  /// Timeline number `n` (the same for the same n).
  public func timeline(_ n: Int) -> IndexedTimeline {
    var rng = SeededRandom(seed: UInt64(n) &* 0x2545_F491_4F6C_DD1D &+ 1)
    let duration = hours * 3600
    var chosen = Set<Int>()
    while chosen.count < tagsPerVideo {
      // Skewed: index ~ V^u for u uniform, so low indices (the real names) are common.
      let u = Double.random(in: 0..<1, using: &rng)
      chosen.insert(min(Self.vocabulary.count - 1, Int(pow(Double(Self.vocabulary.count), u)) - 1))
    }
    var segments: [TagSegment] = []
    for tag in chosen.sorted() {
      let count = Int((Double(Int.random(in: 20...200, using: &rng)) * hours).rounded())
      // Non-overlapping runs: split the hour into `count` slots, one segment in each.
      let slot = duration / Double(count)
      for k in 0..<count {
        let len = min(slot * 0.9, Double.random(in: 1.5...max(1.5, min(30, slot * 0.9)), using: &rng))
        let s = (Double(k) * slot + Double.random(in: 0...max(0, slot - len), using: &rng)).rounded()
        let e = min(duration, s + max(1.5, len.rounded()))
        let mx = Float.random(in: 0.5...1, using: &rng)
        segments.append(
          TagSegment(
            tagIndex: tag, tag: Self.vocabulary[tag].0, tagZh: Self.vocabulary[tag].1, start: s, end: e, scoreMax: mx,
            scoreMean: mx * 0.9, samples: Int(e - s)))
      }
    }
    var cues: [IndexedCue] = []
    var t = 0.0
    while t < duration {
      let text =
        "\(Self.subjects.randomElement(using: &rng)!) \(Self.verbs.randomElement(using: &rng)!) "
        + Self.places.randomElement(using: &rng)!
      cues.append(IndexedCue(start: t, end: min(duration, t + 5), text: text))
      t += 5
    }
    let uri = String(format: "synthetic/video-%06d.mp4", n)
    return IndexedTimeline(
      uri: uri, mediaPath: nil, timelinePath: nil, contentHash: "synthetic-\(n)", duration: duration,
      incomplete: false, interrupted: false, headerJSON: "{}", summaryJSON: "{}", models: ["ram_plus:synthetic"],
      segments: segments, cues: cues)
  }
}

/// The search benchmark: index synthetic hours in steps and time a fixed query mix at each size.
public enum IndexBench {
  /// The fixed query mix.
  public static let queries: [(String, String)] = [
    ("single tag", "dog"),
    ("& of two", "person & car"),
    ("| of three with !", "(beach | kitchen | \"living room\") & !night"),
    ("caption phrase", "caption:\"man running\""),
    ("near", "near(dog, person, 10s)"),
  ]

  public static func fileSize(_ path: String) -> Int64 {
    var total: Int64 = 0
    for p in [path, path + "-wal"] {
      if let a = try? FileManager.default.attributesOfItem(atPath: p), let s = a[.size] as? NSNumber {
        total += s.int64Value
      }
    }
    return total
  }

  static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// Percentile (nearest rank) of sorted values.
  static func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
  }

  /// Runs the benchmark, calling `report` with each line of its table.
  public static func run(path: String, steps: [Int], repeats: Int, report: (String) -> Void) throws {
    let index = try SQLiteIndex(path: path)
    let engine = SearchEngine(index: index)
    let gen = SyntheticTimelines()
    var have = try index.videoRefs().count
    report("index: \(path)")
    report(
      "| hours | added/s (timelines) | records/s | MB | MB/hour | query | p50 ms (limit 100) | p95 ms | p50 ms (all) | p95 ms (all) | moments (all) |"
    )
    report("|---|---|---|---|---|---|---|---|---|---|---|")
    for target in steps {
      var rate = "-"
      var recRate = "-"
      if have < target {
        let t0 = now()
        var records = 0
        for n in have..<target {
          let t = gen.timeline(n)
          records += t.segments.count + t.cues.count
          _ = try index.add(t)
        }
        let dt = now() - t0
        rate = String(format: "%.1f", Double(target - have) / dt)
        recRate = String(format: "%.0f", Double(records) / dt)
        have = target
      }
      let mb = Double(fileSize(path)) / 1e6
      for (name, text) in queries {
        let q = try QueryParser.parse(text)
        var limited: [Double] = []
        var all: [Double] = []
        var count = 0
        for _ in 0..<repeats {
          let a = now()
          _ = try engine.search(q, options: SearchOptions(limit: 100))
          limited.append((now() - a) * 1000)
          let b = now()
          count = try engine.search(q, options: SearchOptions(limit: nil, context: false)).count
          all.append((now() - b) * 1000)
        }
        limited.sort()
        all.sort()
        report(
          "| \(target) | \(rate) | \(recRate) | \(String(format: "%.0f", mb)) | \(String(format: "%.2f", mb / Double(target))) | \(name) | "
            + String(
              format: "%.1f | %.1f | %.1f | %.1f", percentile(limited, 50), percentile(limited, 95),
              percentile(all, 50), percentile(all, 95)) + " | \(count) |")
        rate = ""
        recRate = ""
      }
    }
  }
}
