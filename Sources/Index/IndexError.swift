import Foundation

/// Errors of the index, each saying what to fix.
public enum IndexError: Error, CustomStringConvertible, Equatable {
  /// A file that is not a vtag timeline; `line` is 1-based.
  case notATimeline(path: String, line: Int, reason: String)
  /// A file or folder that cannot be read.
  case unreadable(path: String, reason: String)
  /// The database is locked by another writer beyond the wait.
  case locked(path: String, seconds: Double)
  /// The database file is damaged or not an index.
  case corrupt(path: String, reason: String)
  /// The index was written by a newer vtag.
  case newerSchema(path: String)
  /// Any other database failure.
  case database(path: String, reason: String)
  /// A query naming a tag no indexed video has.
  case unknownTag(name: String, suggestions: [String])
  /// A caption query the full-text engine rejects.
  case badCaptionQuery(query: String, reason: String)
  /// A video entry not found.
  case notIndexed(key: String)

  public var description: String {
    switch self {
    case .notATimeline(let p, let l, let r):
      return "\(p):\(l): not a vtag timeline: \(r) (expected the JSON Lines written by vtag tag/live -o BASE)"
    case .unreadable(let p, let r): return "cannot read \(p): \(r)"
    case .locked(let p, let s):
      return "the index \(p) is locked by another vtag process (waited \(Int(s)) s); try again when it has finished"
    case .corrupt(let p, let r):
      return "\(p) is not a usable vtag index (\(r)); move it away and re-add the timelines, or pass another --index"
    case .newerSchema(let p): return "the index \(p) was written by a newer vtag; use that version or another --index"
    case .database(let p, let r): return "index \(p): \(r)"
    case .unknownTag(let n, let s):
      let hint = s.isEmpty ? "" : "; did you mean " + s.map { "'\($0)'" }.joined(separator: ", ") + "?"
      return "no indexed video has the tag '\(n)'\(hint) (vtag index list shows what is indexed)"
    case .badCaptionQuery(let q, let r): return "caption query '\(q)' is not valid: \(r)"
    case .notIndexed(let k): return "'\(k)' is not in the index (vtag index list shows what is)"
    }
  }
}
