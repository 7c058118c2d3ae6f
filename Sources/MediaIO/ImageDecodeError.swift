/// Why a still image could not be decoded. Every case carries the file it is about.
public struct ImageDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What went wrong.
  public enum Reason: Sendable, Equatable {
    /// Nothing exists at the path.
    case fileNotFound
    /// The path names a directory.
    case isDirectory
    /// The file has zero bytes.
    case emptyFile
    /// The file exists but could not be read (permissions, I/O error); the detail says why.
    case unreadable(String)
    /// The file is not an image format this program reads (e.g. text, video); the detail says what was found.
    case notAnImage(String)
    /// The file looks like an image but its data is damaged; the detail is the decoder's message.
    case corrupt(String)
    /// The image data ends before the image is complete.
    case truncated
    /// A valid image of a kind that is not supported (e.g. an unusual JPEG colour space).
    case unsupported(String)
    /// The image has more pixels than ``StillImageDecoder/maxPixels``.
    case tooLarge(width: Int, height: Int)
  }

  /// The path that was being decoded, as given.
  public let path: String
  /// What went wrong.
  public let reason: Reason

  public init(path: String, reason: Reason) {
    self.path = path
    self.reason = reason
  }

  /// A one-line message naming the file and the problem.
  public var description: String {
    let what: String
    switch reason {
    case .fileNotFound: what = "no such file"
    case .isDirectory: what = "is a directory, not an image file"
    case .emptyFile: what = "the file is empty"
    case .unreadable(let d): what = "cannot read the file (\(d))"
    case .notAnImage(let d): what = "not a supported image (\(d))"
    case .corrupt(let d): what = "corrupt image data (\(d))"
    case .truncated: what = "the image data is truncated"
    case .unsupported(let d): what = "unsupported image (\(d))"
    case .tooLarge(let w, let h):
      what = "image is \(w)×\(h) pixels, more than the limit of \(StillImageDecoder.maxPixels)"
    }
    return "cannot decode image '\(path)': \(what)"
  }
}
