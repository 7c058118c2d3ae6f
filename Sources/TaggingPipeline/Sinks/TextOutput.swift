import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a sink could not be set up or written.
public enum SinkError: Error, Equatable, CustomStringConvertible {
  case unknownFormat(name: String, known: [String])
  case emptyFormatList
  case needsCaptions(format: String)
  case stdoutNeedsJSONL(formats: [String])
  case baseIsDirectory(path: String)
  case directoryMissing(path: String)
  case directoryNotWritable(path: String)
  case notAFile(path: String)
  case fileNotWritable(path: String)
  case cannotOpen(path: String, reason: String)
  case writeFailed(path: String, reason: String)

  public var description: String {
    switch self {
    case .unknownFormat(let name, let known):
      return "unknown output format '\(name)' (known formats: \(known.joined(separator: ", ")))"
    case .emptyFormatList:
      return "--format is empty (known formats: \(SinkFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
    case .needsCaptions(let f):
      return "output format '\(f)' holds captions, but no captioning model is configured (add --caption-model DIR)"
    case .stdoutNeedsJSONL(let formats):
      return
        "-o - streams JSON Lines to stdout; it cannot also write \(formats.joined(separator: ", ")) (give -o BASE for files)"
    case .baseIsDirectory(let p):
      return
        "-o \(p) is a directory; give a file stem such as \(p.hasSuffix("/") ? p : p + "/")movie (files become movie.jsonl, movie.tags.vtt, …)"
    case .directoryMissing(let p): return "output directory '\(p)' does not exist"
    case .directoryNotWritable(let p): return "output directory '\(p)' is not writable"
    case .notAFile(let p): return "output path '\(p)' exists and is not a regular file"
    case .fileNotWritable(let p): return "output file '\(p)' exists and is not writable"
    case .cannotOpen(let p, let r): return "cannot open '\(p)' for writing: \(r)"
    case .writeFailed(let p, let r): return "writing '\(p)' failed: \(r)"
    }
  }
}

/// Where a sink's text goes. Each `write` puts its whole text into the kernel before returning (no
/// user-space buffering), so a killed process leaves only whole lines/cues behind.
public protocol TextOutput: AnyObject, Sendable {
  /// The path (or `-` for stdout, `memory` for tests), for messages.
  var name: String { get }
  func write(_ text: String) throws
  func close() throws
}

/// A file (created or truncated) or standard output, written with unbuffered `write(2)` calls.
public final class FileOutput: TextOutput, @unchecked Sendable {
  public let name: String
  private let lock = NSLock()
  private var fd: Int32
  private let ownsDescriptor: Bool

  /// Opens `path` for writing (created, truncated; mode 0644). `-` is standard output.
  public init(path: String) throws {
    name = path
    if path == "-" {
      fd = 1
      ownsDescriptor = false
      return
    }
    let d = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard d >= 0 else { throw SinkError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
    fd = d
    ownsDescriptor = true
  }

  public func write(_ text: String) throws {
    try lock.withLock {
      guard fd >= 0 else { throw SinkError.writeFailed(path: name, reason: "already closed") }
      var bytes = Array(text.utf8)
      var offset = 0
      while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { buf in
          #if canImport(Glibc)
            Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
          #else
            Darwin.write(fd, buf.baseAddress! + offset, buf.count - offset)
          #endif
        }
        if n < 0 {
          if errno == EINTR { continue }
          throw SinkError.writeFailed(path: name, reason: String(cString: strerror(errno)))
        }
        offset += n
      }
      bytes.removeAll()
    }
  }

  public func close() throws {
    try lock.withLock {
      guard fd >= 0 else { return }
      defer { fd = -1 }
      if ownsDescriptor {
        #if canImport(Glibc)
          let r = Glibc.close(fd)
        #else
          let r = Darwin.close(fd)
        #endif
        if r != 0 { throw SinkError.writeFailed(path: name, reason: String(cString: strerror(errno))) }
      }
    }
  }

  deinit {
    if ownsDescriptor && fd >= 0 {
      #if canImport(Glibc)
        _ = Glibc.close(fd)
      #else
        _ = Darwin.close(fd)
      #endif
    }
  }
}

/// A file written in one piece when closed (a temporary file renamed into place), for outputs that
/// are only meaningful complete (VideoChat text). A killed run leaves no partial file.
public final class AtomicFileOutput: TextOutput, @unchecked Sendable {
  public let name: String
  private let lock = NSLock()
  private var text = ""
  private var closed = false

  public init(path: String) { name = path }

  public func write(_ text: String) throws {
    lock.withLock { self.text += text }
  }

  public func close() throws {
    let content: String? = lock.withLock {
      if closed { return nil }
      closed = true
      return text
    }
    guard let content else { return }
    let url = URL(fileURLWithPath: name)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    do {
      try Data(content.utf8).write(to: tmp)
      if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
      try FileManager.default.moveItem(at: tmp, to: url)
    } catch {
      try? FileManager.default.removeItem(at: tmp)
      throw SinkError.writeFailed(path: name, reason: "\(error.localizedDescription)")
    }
  }
}

/// Collects text in memory (tests, examples, in-process consumers).
public final class MemoryOutput: TextOutput, @unchecked Sendable {
  public let name: String
  private let lock = NSLock()
  private var chunks: [String] = []
  private var closed = false

  public init(name: String = "memory") { self.name = name }

  public func write(_ text: String) throws {
    try lock.withLock {
      if closed { throw SinkError.writeFailed(path: name, reason: "already closed") }
      chunks.append(text)
    }
  }

  public func close() throws { lock.withLock { closed = true } }

  /// Everything written so far.
  public var text: String { lock.withLock { chunks.joined() } }
  /// The individual `write` calls so far.
  public var writes: [String] { lock.withLock { chunks } }
  public var isClosed: Bool { lock.withLock { closed } }
}
