import Foundation

/// Something that receives the timeline records of a run, in order: one `header`, `frame` and
/// `segment` records, one `summary`, then `finish()` (also after an interrupt, with or without a
/// summary). Sinks are thread-safe but expect one writer at a time (the fan-out gives each its own task).
public protocol TimelineSink: AnyObject, Sendable {
  /// The file it writes (or `-`), for messages.
  var name: String { get }
  func write(_ record: TimelineRecord) throws
  /// Writes whatever is pending and closes the output. Idempotent.
  func finish() throws
}

/// Turns records into text chunks. Each chunk is a complete unit (a line, a cue) and is written with one
/// call, so an output cut off between chunks stays well-formed. Pure value type.
public protocol TimelineFormatter: Sendable {
  /// Written when the sink opens (e.g. the `WEBVTT` header).
  var preamble: String { get }
  mutating func format(_ record: TimelineRecord) -> [String]
  /// Chunks still pending at the end of the run.
  mutating func finish() -> [String]
}

/// A sink made of a formatter and an output.
public final class FormattedSink<Formatter: TimelineFormatter>: TimelineSink, @unchecked Sendable {
  private let lock = NSLock()
  private var formatter: Formatter
  private let output: any TextOutput
  private var finished = false

  /// Writes the formatter's preamble at once.
  public init(formatter: Formatter, output: any TextOutput) throws {
    self.formatter = formatter
    self.output = output
    if !formatter.preamble.isEmpty { try output.write(formatter.preamble) }
  }

  public var name: String { output.name }

  public func write(_ record: TimelineRecord) throws {
    try lock.withLock {
      guard !finished else { throw SinkError.writeFailed(path: output.name, reason: "write after finish") }
      for chunk in formatter.format(record) { try output.write(chunk) }
    }
  }

  public func finish() throws {
    try lock.withLock {
      guard !finished else { return }
      finished = true
      var firstError: (any Error)?
      do {
        for chunk in formatter.finish() { try output.write(chunk) }
      } catch {
        firstError = error
      }
      do { try output.close() } catch { firstError = firstError ?? error }
      if let firstError { throw firstError }
    }
  }
}

/// Writes every record to several sinks, in order. A failing sink does not stop the others; the first
/// error is thrown after all have been tried.
public final class MultiSink: TimelineSink, Sendable {
  public let sinks: [any TimelineSink]

  public init(_ sinks: [any TimelineSink]) { self.sinks = sinks }

  public var name: String { sinks.map(\.name).joined(separator: ", ") }

  public func write(_ record: TimelineRecord) throws {
    var firstError: (any Error)?
    for sink in sinks {
      do { try sink.write(record) } catch { firstError = firstError ?? error }
    }
    if let firstError { throw firstError }
  }

  public func finish() throws {
    var firstError: (any Error)?
    for sink in sinks {
      do { try sink.finish() } catch { firstError = firstError ?? error }
    }
    if let firstError { throw firstError }
  }
}

/// JSON Lines: one record per line.
public struct JSONLinesFormatter: TimelineFormatter {
  public init() {}
  public var preamble: String { "" }
  public mutating func format(_ record: TimelineRecord) -> [String] { [record.jsonLine + "\n"] }
  public mutating func finish() -> [String] { [] }
}
