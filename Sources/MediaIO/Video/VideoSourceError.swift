/// Why a video input could not be opened or decoded. Every case carries the input it is about.
public struct VideoSourceError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What went wrong.
  public enum Reason: Sendable, Equatable {
    /// Nothing exists at the path.
    case fileNotFound
    /// The path names a directory.
    case isDirectory
    /// libavformat could not open or identify the input; the detail is FFmpeg's message.
    case cannotOpen(String)
    /// The input has no video stream (e.g. an audio-only file); the detail lists what it has.
    case noVideoStream(String)
    /// The input's "video" is not a moving picture this program tags (e.g. a text file FFmpeg renders as ANSI art).
    case notAVideo(String)
    /// The video codec has no decoder in this FFmpeg build, or the decoder refuses the stream.
    case unsupportedCodec(String)
    /// Reading or decoding failed in a way that cannot be skipped over; the detail is FFmpeg's message.
    case decodeFailed(String)
    /// No byte arrived for this many seconds (``VideoSourceOptions/timeout``): the input stalled (a server that
    /// accepts and never sends, a FIFO with no writer, a pipe that stopped).
    case timedOut(seconds: Double)
    /// Opening was interrupted (``VideoSource/stop()``, a raised ``SourceInterrupt``, or task cancellation).
    case interrupted
    /// ``VideoSource/frames(_:)`` was called a second time: a source delivers its frames once.
    case alreadyConsumed
  }

  /// The input as given (a path, `-`, or a URL).
  public let input: String
  /// What went wrong.
  public let reason: Reason

  public init(input: String, reason: Reason) {
    self.input = input
    self.reason = reason
  }

  /// A one-line message naming the input and the problem.
  public var description: String {
    let what: String
    switch reason {
    case .fileNotFound: what = "no such file"
    case .isDirectory: what = "is a directory, not a video file"
    case .cannotOpen(let d): what = "cannot open it as media (\(d))"
    case .noVideoStream(let d): what = "no video stream (\(d))"
    case .notAVideo(let d): what = "not a video (\(d))"
    case .unsupportedCodec(let d): what = "unsupported video codec (\(d))"
    case .decodeFailed(let d): what = "decoding failed (\(d))"
    case .timedOut(let s):
      what = "no data arrived for \(Self.format(seconds: s)) (the input stalled); allow a longer timeout to wait longer"
    case .interrupted: what = "interrupted while opening"
    case .alreadyConsumed: what = "its frames were already read; open the input again"
    }
    return "cannot read video '\(input)': \(what)"
  }

  static func format(seconds s: Double) -> String {
    s == s.rounded() && abs(s) < 1e9 ? "\(Int(s)) s" : String(format: "%.3g s", s)
  }
}
