import Foundation
import ModelFetch
import TaggingPipeline

/// Reads a JSON Lines timeline into what the index keeps.
public enum TimelineFile {
  /// Caption cues last until the next caption, at most this long (as in vtag's captions track).
  public static let maxCueDuration = 10.0

  /// Reads `path`. A file cut off inside its last line, or without a summary, is read up to its last
  /// complete record and flagged incomplete; any other bad line is an error naming the file and line.
  public static func read(path: String) throws -> IndexedTimeline {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw IndexError.unreadable(path: path, reason: (error as NSError).localizedDescription)
    }
    let hash = SHA256.hex(data)
    let bytes = [UInt8](data)
    var lines: [(Int, Substring)] = []
    let text = String(decoding: bytes, as: UTF8.self)
    var lineNo = 0
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      lineNo += 1
      lines.append((lineNo, raw))
    }
    let endsWithNewline = bytes.last == 0x0A
    if endsWithNewline { lines.removeLast() }  // the empty piece after the final newline
    var records: [TimelineRecord] = []
    var truncated = false
    for (i, (n, line)) in lines.enumerated() {
      if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
      do {
        records.append(try TimelineRecord(jsonLine: String(line)))
      } catch {
        // The last line of a file cut off mid-write is not an error: the run was killed.
        if i == lines.count - 1, !endsWithNewline, !records.isEmpty {
          truncated = true
          break
        }
        throw IndexError.notATimeline(path: path, line: n, reason: "\(error)")
      }
      if records.count == 1, records[0].type != "header" {
        throw IndexError.notATimeline(path: path, line: n, reason: "the first record must be a vtag-timeline header")
      }
    }
    guard !records.isEmpty else { throw IndexError.notATimeline(path: path, line: 1, reason: "the file is empty") }
    var t = try build(records: records, path: path, hash: hash)
    if truncated { t.incomplete = true }
    t.timelinePath = URL(fileURLWithPath: path).standardizedFileURL.path
    t.mediaPath = locateMedia(uri: t.uri, timelinePath: path)
    return t
  }

  /// Builds the index entry of complete records (header first).
  public static func build(records: [TimelineRecord], path: String?, hash: String) throws -> IndexedTimeline {
    guard case .header(let header)? = records.first else {
      throw IndexError.notATimeline(path: path ?? "-", line: 1, reason: "the first record must be a header")
    }
    var segments: [TagSegment] = []
    var cues: [IndexedCue] = []
    var cueBuilder = CaptionCueBuilder(maxDuration: maxCueDuration)
    var summary: TimelineSummary?
    var lastTime = 0.0
    for r in records.dropFirst() {
      switch r {
      case .header:
        throw IndexError.notATimeline(path: path ?? "-", line: 0, reason: "a second header record")
      case .frame(let f): lastTime = max(lastTime, f.t + header.padding)
      case .segment(let s):
        segments.append(s)
        lastTime = max(lastTime, s.end)
      case .summary(let s): summary = s
      }
      cues += cueBuilder.consume(r).map { IndexedCue(start: $0.start, end: $0.end, text: $0.text) }
    }
    cues += cueBuilder.finish().map { IndexedCue(start: $0.start, end: $0.end, text: $0.text) }
    let duration = summary?.duration ?? max(lastTime, cues.map(\.end).max() ?? 0)
    return IndexedTimeline(
      uri: header.source.uri, mediaPath: nil, timelinePath: path, contentHash: hash, duration: duration,
      incomplete: summary == nil, interrupted: summary?.interrupted ?? false,
      headerJSON: records[0].jsonLine, summaryJSON: summary.map { TimelineRecord.summary($0).jsonLine },
      models: header.models.map { "\($0.architecture):\($0.name)" }, segments: segments, cues: cues)
  }

  /// The media file of a source URI, when it is a file that exists: as given (relative to the current
  /// directory) or relative to the timeline's folder.
  public static func locateMedia(uri: String, timelinePath: String?) -> String? {
    if uri.contains("://") && !uri.hasPrefix("file://") { return nil }
    let p = uri.hasPrefix("file://") ? String(uri.dropFirst(7)) : uri
    var candidates = [URL(fileURLWithPath: p)]
    if !p.hasPrefix("/"), let t = timelinePath {
      candidates.append(URL(fileURLWithPath: t).deletingLastPathComponent().appendingPathComponent(p))
    }
    for c in candidates {
      var isDir: ObjCBool = false
      if FileManager.default.fileExists(atPath: c.path, isDirectory: &isDir), !isDir.boolValue {
        return c.standardizedFileURL.path
      }
    }
    return nil
  }

  /// The `.jsonl` files of the arguments: files as given, folders searched recursively (sorted).
  public static func expand(_ paths: [String]) throws -> [String] {
    var out: [String] = []
    for p in paths {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
        throw IndexError.unreadable(path: p, reason: "no such file or folder")
      }
      if !isDir.boolValue {
        out.append(p)
        continue
      }
      guard let e = FileManager.default.enumerator(atPath: p) else {
        throw IndexError.unreadable(path: p, reason: "cannot list the folder")
      }
      var found: [String] = []
      while let rel = e.nextObject() as? String {
        if rel.hasSuffix(".jsonl") { found.append((p as NSString).appendingPathComponent(rel)) }
      }
      out += found.sorted()
    }
    return out
  }
}
