import Foundation
import GRDB
import TaggingPipeline

/// The embedded backend: one SQLite file (WAL mode) through GRDB, caption text in an FTS5 table.
///
/// Schema (migration `v1`): `videos` (one row per source URI), `tags` (English name unique without
/// case, Chinese name), `video_tags` (which video has which tag), `segments`, `captions` and the
/// external-content FTS5 table `captions_fts` kept in step by triggers.
public final class SQLiteIndex: TimelineIndex, Sendable {
  /// The database file.
  public let path: String
  /// How long a writer waits for another one before failing.
  public let busyTimeout: Double
  let pool: DatabasePool

  /// `$XDG_DATA_HOME/vtag/index.sqlite`, or `~/.local/share/vtag/index.sqlite`.
  public static var defaultPath: String {
    let env = ProcessInfo.processInfo.environment
    let base: String
    if let x = env["XDG_DATA_HOME"], !x.isEmpty {
      base = x
    } else {
      base = (env["HOME"] ?? NSHomeDirectory()) + "/.local/share"
    }
    return base + "/vtag/index.sqlite"
  }

  /// Opens (creating when missing, with its folder) and migrates the index at `path`.
  /// - Parameter busyTimeout: seconds to wait for a lock held by another process.
  public init(path: String, busyTimeout: Double = 10) throws {
    self.path = path
    self.busyTimeout = busyTimeout
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
    do {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    } catch {
      throw IndexError.unreadable(
        path: dir.path, reason: "cannot create the index folder: \(error.localizedDescription)")
    }
    var config = Configuration()
    config.busyMode = .timeout(busyTimeout)
    config.foreignKeysEnabled = true
    config.prepareDatabase { db in
      try db.execute(sql: "PRAGMA synchronous = NORMAL")
    }
    do {
      pool = try DatabasePool(path: path, configuration: config)
      let migrator = Self.migrator
      if try pool.read({ try migrator.hasBeenSuperseded($0) }) { throw IndexError.newerSchema(path: path) }
      try migrator.migrate(pool)
    } catch let e as IndexError {
      throw e
    } catch {
      throw Self.translate(error, path: path, timeout: busyTimeout)
    }
  }

  static var migrator: DatabaseMigrator {
    var m = DatabaseMigrator()
    m.registerMigration("v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE videos (
            id INTEGER PRIMARY KEY,
            uri TEXT NOT NULL UNIQUE,
            media_path TEXT,
            timeline_path TEXT,
            content_hash TEXT NOT NULL,
            duration REAL NOT NULL,
            incomplete INTEGER NOT NULL,
            interrupted INTEGER NOT NULL,
            live INTEGER NOT NULL DEFAULT 0,
            max_segment REAL NOT NULL DEFAULT 0,
            models TEXT NOT NULL,
            header TEXT NOT NULL,
            summary TEXT,
            added TEXT NOT NULL);
          CREATE INDEX videos_by_timeline ON videos(timeline_path);
          CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name_zh TEXT);
          CREATE INDEX tags_by_zh ON tags(name_zh);
          CREATE TABLE video_tags (
            tag_id INTEGER NOT NULL REFERENCES tags(id),
            video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            PRIMARY KEY (tag_id, video_id)) WITHOUT ROWID;
          CREATE INDEX video_tags_by_video ON video_tags(video_id);
          CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            tag_id INTEGER NOT NULL REFERENCES tags(id),
            class_index INTEGER NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            score_max REAL NOT NULL,
            score_mean REAL NOT NULL,
            samples INTEGER NOT NULL);
          CREATE INDEX segments_by_tag ON segments(tag_id, video_id, start);
          CREATE INDEX segments_by_video ON segments(video_id, start);
          CREATE TABLE captions (
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            text TEXT NOT NULL);
          CREATE INDEX captions_by_video ON captions(video_id, start);
          CREATE VIRTUAL TABLE captions_fts USING fts5(text, content='captions', content_rowid='id');
          CREATE TRIGGER captions_ai AFTER INSERT ON captions BEGIN
            INSERT INTO captions_fts(rowid, text) VALUES (new.id, new.text);
          END;
          CREATE TRIGGER captions_ad AFTER DELETE ON captions BEGIN
            INSERT INTO captions_fts(captions_fts, rowid, text) VALUES ('delete', old.id, old.text);
          END;
          """)
    }
    return m
  }

  /// Maps SQLite failures to errors that say what to do.
  static func translate(_ error: any Error, path: String, timeout: Double) -> any Error {
    if let e = error as? IndexError { return e }
    guard let d = error as? DatabaseError else { return IndexError.database(path: path, reason: "\(error)") }
    switch d.resultCode {
    case .SQLITE_BUSY, .SQLITE_LOCKED: return IndexError.locked(path: path, seconds: timeout)
    case .SQLITE_NOTADB, .SQLITE_CORRUPT: return IndexError.corrupt(path: path, reason: d.message ?? "\(d.resultCode)")
    default: return IndexError.database(path: path, reason: d.message ?? "\(d)")
    }
  }

  func guarded<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw Self.translate(error, path: path, timeout: busyTimeout) }
  }

  static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

  // MARK: Writing

  public func add(_ t: IndexedTimeline) throws -> AddOutcome {
    try guarded {
      try pool.write { db in
        let old = try Row.fetchOne(
          db, sql: "SELECT id, content_hash, live FROM videos WHERE uri = ?", arguments: [t.uri])
        if let old, (old["content_hash"] as String) == t.contentHash, (old["live"] as Int) == 0 { return .unchanged }
        if let old { try db.execute(sql: "DELETE FROM videos WHERE id = ?", arguments: [old["id"] as Int64]) }
        let id = try Self.insertVideo(db, t, live: false)
        var tags = TagCache()
        try Self.insert(db, video: id, segments: t.segments, cues: t.cues, tags: &tags)
        return old == nil ? .added : .replaced
      }
    }
  }

  static func insertVideo(_ db: Database, _ t: IndexedTimeline, live: Bool) throws -> Int64 {
    try db.execute(
      sql: """
        INSERT INTO videos (uri, media_path, timeline_path, content_hash, duration, incomplete, interrupted, live,
          models, header, summary, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        t.uri, t.mediaPath, t.timelinePath, t.contentHash, t.duration, t.incomplete, t.interrupted, live,
        t.models.joined(separator: ","), t.headerJSON, t.summaryJSON, now(),
      ])
    return db.lastInsertedRowID
  }

  /// Tag ids by lower-cased English name, filled as tags are met.
  struct TagCache {
    var ids: [String: Int64] = [:]
  }

  static func insert(
    _ db: Database, video: Int64, segments: [TagSegment], cues: [IndexedCue], tags: inout TagCache
  ) throws {
    let insertTag = try db.cachedStatement(sql: "INSERT INTO tags (name, name_zh) VALUES (?, ?)")
    let findTag = try db.cachedStatement(sql: "SELECT id FROM tags WHERE name = ?")
    let videoTag = try db.cachedStatement(sql: "INSERT OR IGNORE INTO video_tags (tag_id, video_id) VALUES (?, ?)")
    let seg = try db.cachedStatement(
      sql: """
        INSERT INTO segments (video_id, tag_id, class_index, start, "end", score_max, score_mean, samples)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """)
    let cue = try db.cachedStatement(sql: "INSERT INTO captions (video_id, start, \"end\", text) VALUES (?, ?, ?, ?)")
    var seen = Set<Int64>()
    for s in segments {
      let key = s.tag.lowercased()
      let tagID: Int64
      if let id = tags.ids[key] {
        tagID = id
      } else if let id = try Int64.fetchOne(findTag, arguments: [s.tag]) {
        tagID = id
        tags.ids[key] = id
      } else {
        try insertTag.execute(arguments: [s.tag, s.tagZh])
        tagID = db.lastInsertedRowID
        tags.ids[key] = tagID
      }
      if seen.insert(tagID).inserted { try videoTag.execute(arguments: [tagID, video]) }
      seg.setUncheckedArguments([
        video, tagID, s.tagIndex, s.start, s.end, Double(s.scoreMax), Double(s.scoreMean), s.samples,
      ])
      try seg.execute()
    }
    if let longest = segments.map({ $0.end - $0.start }).max() {
      try db.execute(
        sql: "UPDATE videos SET max_segment = max(max_segment, ?) WHERE id = ?", arguments: [longest, video])
    }
    for c in cues {
      cue.setUncheckedArguments([video, c.start, c.end, c.text])
      try cue.execute()
    }
  }

  public func list() throws -> [VideoEntry] {
    try guarded {
      try pool.read { db in
        try Row.fetchAll(
          db,
          sql: """
            SELECT v.*, (SELECT count(*) FROM segments s WHERE s.video_id = v.id) AS nseg,
              (SELECT count(*) FROM captions c WHERE c.video_id = v.id) AS ncue
            FROM videos v ORDER BY uri
            """
        ).map { r in
          let models: String = r["models"]
          return VideoEntry(
            id: r["id"], uri: r["uri"], mediaPath: r["media_path"], timelinePath: r["timeline_path"],
            contentHash: r["content_hash"], duration: r["duration"], incomplete: r["incomplete"],
            interrupted: r["interrupted"], live: r["live"],
            models: models.isEmpty ? [] : models.split(separator: ",").map(String.init), segments: r["nseg"],
            cues: r["ncue"], added: r["added"])
        }
      }
    }
  }

  public func remove(_ keys: [String]) throws -> [String] {
    try guarded {
      try pool.write { db in
        var removed: [String] = []
        for k in keys {
          let abs = URL(fileURLWithPath: k).standardizedFileURL.path
          let rows = try Row.fetchAll(
            db, sql: "SELECT id, uri FROM videos WHERE uri = ? OR timeline_path = ? OR timeline_path = ?",
            arguments: [k, k, abs])
          guard !rows.isEmpty else { throw IndexError.notIndexed(key: k) }
          for r in rows {
            try db.execute(sql: "DELETE FROM videos WHERE id = ?", arguments: [r["id"] as Int64])
            removed.append(r["uri"])
          }
        }
        try Self.dropUnusedTags(db)
        return removed
      }
    }
  }

  static func dropUnusedTags(_ db: Database) throws {
    try db.execute(sql: "DELETE FROM tags WHERE id NOT IN (SELECT DISTINCT tag_id FROM video_tags)")
  }

  public func vacuum() throws {
    try guarded {
      try pool.write { db in
        try Self.dropUnusedTags(db)
        try db.execute(sql: "INSERT INTO captions_fts(captions_fts) VALUES ('optimize')")
      }
      try pool.vacuum()
    }
  }

  // MARK: Live entries

  public func beginLive(_ t: IndexedTimeline) throws -> Int64 {
    try guarded {
      try pool.write { db in
        try db.execute(sql: "DELETE FROM videos WHERE uri = ?", arguments: [t.uri])
        return try Self.insertVideo(db, t, live: true)
      }
    }
  }

  public func appendLive(video: Int64, segments: [TagSegment], cues: [IndexedCue], duration: Double) throws {
    try guarded {
      try pool.write { db in
        var tags = TagCache()
        try Self.insert(db, video: video, segments: segments, cues: cues, tags: &tags)
        try db.execute(
          sql: "UPDATE videos SET duration = max(duration, ?) WHERE id = ?", arguments: [duration, video])
      }
    }
  }

  public func finishLive(video: Int64, summaryJSON: String?, duration: Double, interrupted: Bool) throws {
    try guarded {
      try pool.write { db in
        try db.execute(
          sql: "UPDATE videos SET live = 0, summary = ?, duration = ?, incomplete = ?, interrupted = ? WHERE id = ?",
          arguments: [summaryJSON, duration, summaryJSON == nil, interrupted, video])
      }
    }
  }

  // MARK: Reading for queries

  public func knownTags() throws -> [KnownTag] {
    try guarded {
      try pool.read { db in
        try Row.fetchAll(db, sql: "SELECT id, name, name_zh FROM tags ORDER BY name").map {
          KnownTag(id: $0["id"], name: $0["name"], nameZh: $0["name_zh"])
        }
      }
    }
  }

  public func videoRefs() throws -> [VideoRef] {
    try guarded {
      try pool.read { db in
        try Row.fetchAll(db, sql: "SELECT id, uri, media_path, duration FROM videos ORDER BY uri").map {
          VideoRef(id: $0["id"], uri: $0["uri"], mediaPath: $0["media_path"], duration: $0["duration"])
        }
      }
    }
  }

  static func list(_ ids: [Int64]) -> String { ids.map(String.init).joined(separator: ",") }

  public func videos(withAnyTag tags: [Int64]) throws -> Set<Int64> {
    guard !tags.isEmpty else { return [] }
    return try guarded {
      try pool.read { db in
        Set(try Int64.fetchAll(db, sql: "SELECT video_id FROM video_tags WHERE tag_id IN (\(Self.list(tags)))"))
      }
    }
  }

  public func segments(tags: [Int64], videos: [Int64]) throws -> [Int64: [SegmentRow]] {
    guard !tags.isEmpty, !videos.isEmpty else { return [:] }
    return try guarded {
      try pool.read { db in
        var out: [Int64: [SegmentRow]] = [:]
        let rows = try Row.fetchCursor(
          db,
          sql: """
            SELECT video_id, tag_id, start, "end", score_max FROM segments
            WHERE tag_id IN (\(Self.list(tags))) AND video_id IN (\(Self.list(videos)))
            """)
        while let r = try rows.next() {
          out[r[0], default: []].append(SegmentRow(tagID: r[1], start: r[2], end: r[3], scoreMax: r[4]))
        }
        return out
      }
    }
  }

  /// The FTS5 expression of a caption query: a phrase for text with spaces or punctuation, else the
  /// term as written (a trailing `*` makes it a prefix).
  static func ftsExpression(_ q: String) -> String {
    let isTerm =
      q.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "*" }
      && !q.dropLast().contains("*")
    if isTerm && !q.isEmpty && q != "*" { return q }
    return "\"" + q.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  func ftsGuarded<T>(_ q: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let d as DatabaseError where d.resultCode == .SQLITE_ERROR {
      throw IndexError.badCaptionQuery(query: q, reason: d.message ?? "\(d)")
    } catch { throw Self.translate(error, path: path, timeout: busyTimeout) }
  }

  public func captionVideos(_ query: String) throws -> Set<Int64> {
    try ftsGuarded(query) {
      try pool.read { db in
        Set(
          try Int64.fetchAll(
            db,
            sql: """
              SELECT DISTINCT c.video_id FROM captions_fts f JOIN captions c ON c.id = f.rowid
              WHERE captions_fts MATCH ?
              """, arguments: [Self.ftsExpression(query)]))
      }
    }
  }

  public func captionHits(_ query: String, videos: [Int64]) throws -> [Int64: [CueHit]] {
    guard !videos.isEmpty else { return [:] }
    return try ftsGuarded(query) {
      try pool.read { db in
        var out: [Int64: [CueHit]] = [:]
        let rows = try Row.fetchCursor(
          db,
          sql: """
            SELECT c.video_id, c.start, c."end", -bm25(captions_fts) FROM captions_fts f JOIN captions c ON c.id = f.rowid
            WHERE captions_fts MATCH ? AND c.video_id IN (\(Self.list(videos)))
            """, arguments: [Self.ftsExpression(query)])
        while let r = try rows.next() {
          out[r[0], default: []].append(CueHit(start: r[1], end: r[2], rank: r[3]))
        }
        return out
      }
    }
  }

  public func context(
    _ spans: [(video: Int64, start: Double, end: Double)]
  ) throws -> [(tags: [String], captions: [String])] {
    try guarded {
      try pool.read { db in
        try spans.map { try Self.context(db, video: $0.video, start: $0.start, end: $0.end) }
      }
    }
  }

  static func context(_ db: Database, video: Int64, start: Double, end: Double) throws -> (
    tags: [String], captions: [String]
  ) {
    let tags = try String.fetchAll(
      db.cachedStatement(
        sql: """
          SELECT t.name FROM tags t WHERE t.id IN (
            SELECT tag_id FROM segments WHERE video_id = ? AND start < ? AND "end" > ?
              AND start >= ? - (SELECT max_segment FROM videos WHERE id = ?))
          ORDER BY t.name
          """), arguments: [video, end, start, start, video])
    let caps = try String.fetchAll(
      db.cachedStatement(
        sql: """
          SELECT text FROM captions WHERE video_id = ? AND start < ? AND "end" > ? AND start >= ? ORDER BY start
          """), arguments: [video, end, start, start - TimelineFile.maxCueDuration])
    return (tags, caps)
  }
}
