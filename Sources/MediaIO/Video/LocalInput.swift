import CFFmpeg
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A local file, FIFO or standard input read through a custom `AVIOContext` instead of libavformat's `file:` and
/// `pipe:` protocols, so that every wait can be interrupted.
///
/// Why: libavformat's file protocol calls `open(2)` and `read(2)` directly. On a FIFO with no writer `open(2)`
/// blocks until a writer appears, and on a pipe that stops sending `read(2)` blocks until data comes; neither ever
/// consults the interrupt callback, so such an input could hang forever and ignore SIGINT. Here the file is opened
/// with `O_NONBLOCK` (which returns at once for a FIFO reader, writer or not), then switched back to blocking, and
/// every read of a non-regular file first waits in `poll(2)` for 100 ms at a time, asking the ``Watchdog`` between
/// waits whether to stop or whether the idle timeout has passed. Linux reports no `POLLHUP` on a FIFO that has never
/// had a writer, so "no writer yet" waits (and times out) rather than reading as an empty file; a writer that closes
/// gives `POLLHUP` and then end of file. Regular files read without polling (disk reads do not stall) and seek.
/// Standard input is used as it is (its blocking mode belongs to the parent process and is left alone).
final class LocalInput {
  let fd: Int32
  let isRegular: Bool
  private let ownsDescriptor: Bool
  private let watchdog: Watchdog
  /// The `AVIOContext` handed to libavformat (freed in ``close()``).
  private(set) var context: UnsafeMutablePointer<AVIOContext>?

  static let bufferSize = 1 << 16

  enum OpenFailure: Error {
    case system(String)
  }

  /// Opens `path` (`nil`: standard input).
  init(path: String?, watchdog: Watchdog) throws(OpenFailure) {
    self.watchdog = watchdog
    if let path {
      let d = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
      guard d >= 0 else { throw .system(String(cString: strerror(errno))) }
      let flags = fcntl(d, F_GETFL)
      if flags >= 0 { _ = fcntl(d, F_SETFL, flags & ~O_NONBLOCK) }
      fd = d
      ownsDescriptor = true
    } else {
      fd = 0
      ownsDescriptor = false
    }
    var st = stat()
    isRegular = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    guard let buffer = av_malloc(Self.bufferSize) else {
      if ownsDescriptor { Glibc.close(fd) }
      throw .system("out of memory")
    }
    let opaque = Unmanaged.passUnretained(self).toOpaque()
    let ctx = avio_alloc_context(
      buffer.assumingMemoryBound(to: UInt8.self), Int32(Self.bufferSize), 0, opaque,
      { opaque, buf, size in
        guard let opaque, let buf else { return cff_averror(EINVAL) }
        return Unmanaged<LocalInput>.fromOpaque(opaque).takeUnretainedValue().read(into: buf, size: Int(size))
      }, nil,
      isRegular
        ? { opaque, offset, whence in
          guard let opaque else { return Int64(cff_averror(EINVAL)) }
          return Unmanaged<LocalInput>.fromOpaque(opaque).takeUnretainedValue().seek(offset, whence)
        } : nil)
    guard let ctx else {
      av_free(buffer)
      if ownsDescriptor { Glibc.close(fd) }
      throw .system("out of memory")
    }
    context = ctx
  }

  deinit { close() }

  /// Frees the `AVIOContext` and its buffer and closes the descriptor (not standard input), once.
  func close() {
    if let ctx = context {
      av_free(ctx.pointee.buffer)  // libavformat may have replaced the buffer: free the current one
      ctx.pointee.buffer = nil
      var c: UnsafeMutablePointer<AVIOContext>? = ctx
      avio_context_free(&c)
      context = nil
      if ownsDescriptor { Glibc.close(fd) }
    }
  }

  private func read(into buf: UnsafeMutablePointer<UInt8>, size: Int) -> Int32 {
    while true {
      if watchdog.shouldAbort() { return cff_averror_exit() }
      if !isRegular {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, 100)
        if r == 0 { continue }
        if r < 0 {
          if errno == EINTR { continue }
          return cff_averror(errno)
        }
      }
      let n = Glibc.read(fd, buf, size)
      if n > 0 {
        watchdog.noteProgress()
        return Int32(n)
      }
      if n == 0 { return cff_averror_eof() }
      if errno == EINTR || errno == EAGAIN { continue }
      return cff_averror(errno)
    }
  }

  private func seek(_ offset: Int64, _ whence: Int32) -> Int64 {
    if whence & AVSEEK_SIZE != 0 {
      var st = stat()
      return fstat(fd, &st) == 0 ? Int64(st.st_size) : Int64(cff_averror(errno))
    }
    let r = lseek(fd, off_t(offset), whence & ~AVSEEK_FORCE)
    return r < 0 ? Int64(cff_averror(errno)) : Int64(r)
  }
}
