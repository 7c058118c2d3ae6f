import CV4L2
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The result of waiting for a camera buffer.
public enum V4L2PollResult: Sendable, Equatable {
  /// A buffer can be dequeued (or the device reports an error, which the dequeue will return).
  case ready
  /// Nothing within the timeout.
  case timeout
  /// `poll` itself failed with this errno.
  case failed(Int32)
}

/// The narrow seam between ``CameraSource`` and the kernel: the handful of calls V4L2 capture makes on an open
/// device. ``LibV4L2Device`` forwards them to libv4l2 one to one; tests substitute a fake that behaves like a driver.
///
/// Arguments are the kernel's own structs (`v4l2_capability`, `v4l2_format`, `v4l2_buffer`, …) passed by pointer,
/// exactly as to `ioctl(2)`. Errors are returned as `errno` values, never thrown, so the caller decides what each
/// means (EAGAIN: nothing ready; ENODEV: unplugged; EINVAL: unsupported; EBUSY: in use).
public protocol V4L2Device: AnyObject {
  /// The device path, for messages.
  var path: String { get }
  /// Performs ioctl `request` (a `cv4l2_VIDIOC_*` number) on `argument`. Returns 0, or the errno value.
  func ioctl(_ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32
  /// Maps `length` bytes of the driver buffer at `offset` (from `VIDIOC_QUERYBUF`) read/write, shared.
  func map(length: Int, offset: Int64) -> Result<UnsafeMutableRawPointer, V4L2Errno>
  /// Unmaps a region returned by ``map(length:offset:)``.
  func unmap(_ address: UnsafeMutableRawPointer, length: Int)
  /// Waits up to `timeoutMilliseconds` for a filled buffer.
  func poll(timeoutMilliseconds: Int32) -> V4L2PollResult
  /// Closes the device. Called exactly once.
  func close()
}

/// An `errno` value from a V4L2 call.
public struct V4L2Errno: Error, Sendable, Equatable, CustomStringConvertible {
  public let code: Int32
  public init(_ code: Int32) { self.code = code }
  public var description: String { String(cString: strerror(code)) }
}

/// Opens a V4L2 device by path; the seam's entry point (``LibV4L2Device/open(path:)`` or a fake).
public typealias V4L2DeviceOpener = @Sendable (String) throws(CameraError) -> any V4L2Device

/// The real device: libv4l2 (`v4l2_open`, `v4l2_ioctl`, `v4l2_mmap`, `v4l2_munmap`, `v4l2_close`) and `poll(2)`.
/// libv4l2 converts the camera's native formats (MJPEG, YUYV, …) to RGB24 when asked for it.
public final class LibV4L2Device: V4L2Device {
  public let path: String
  private var fd: Int32

  private init(path: String, fd: Int32) {
    self.path = path
    self.fd = fd
  }

  deinit { close() }

  /// Opens `path` non-blocking. Checks first that it exists and is a character device.
  /// - Throws: ``CameraError`` (`.deviceNotFound`, `.notACamera`, `.cannotOpen`).
  public static func open(path: String) throws(CameraError) -> any V4L2Device {
    var st = stat()
    if stat(path, &st) != 0 {
      let e = errno
      throw CameraError(device: path, reason: e == ENOENT ? .deviceNotFound : .cannotOpen(V4L2Errno(e).description))
    }
    if (st.st_mode & S_IFMT) != S_IFCHR {
      let what = (st.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a character device"
      throw CameraError(device: path, reason: .notACamera(what))
    }
    let probe = cv4l2_probe_querycap(path)
    if probe == ENOTTY || probe == EINVAL {
      throw CameraError(device: path, reason: .notACamera("a character device that does not answer VIDIOC_QUERYCAP"))
    }
    if probe == ENODEV || probe == ENXIO { throw CameraError(device: path, reason: .disconnected) }
    if probe != 0 { throw CameraError(device: path, reason: .cannotOpen(V4L2Errno(probe).description)) }
    let fd = cv4l2_open(path)
    if fd < 0 {
      let e = errno
      throw CameraError(
        device: path, reason: e == ENODEV || e == ENXIO ? .disconnected : .cannotOpen(V4L2Errno(e).description))
    }
    return LibV4L2Device(path: path, fd: fd)
  }

  public func ioctl(_ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32 {
    cv4l2_ioctl(fd, request, argument) == 0 ? 0 : errno
  }

  public func map(length: Int, offset: Int64) -> Result<UnsafeMutableRawPointer, V4L2Errno> {
    let p = cv4l2_mmap(fd, length, offset)
    if p == nil || cv4l2_map_failed(p) != 0 { return .failure(V4L2Errno(errno)) }
    return .success(p!)
  }

  public func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
    _ = v4l2_munmap(address, length)
  }

  public func poll(timeoutMilliseconds: Int32) -> V4L2PollResult {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let r = Glibc.poll(&p, 1, timeoutMilliseconds)
    if r < 0 { return .failed(errno) }
    return r == 0 ? .timeout : .ready
  }

  public func close() {
    if fd >= 0 {
      _ = v4l2_close(fd)
      fd = -1
    }
  }
}

/// Four-character codes as text (`RGB3`, `YUYV`, `MJPG`).
public enum FourCC {
  public static func string(_ code: UInt32) -> String {
    let bytes = (0..<4).map { UInt8(truncatingIfNeeded: code >> (8 * UInt32($0))) }
    return String(decoding: bytes.map { (32...126).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
      .trimmingCharacters(in: .whitespaces)
  }

  public static func code(_ s: String) -> UInt32 {
    var v: UInt32 = 0
    for (i, b) in s.utf8.prefix(4).enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
    return v
  }
}

/// Reads a NUL-terminated fixed-size C char array (a tuple in Swift) as a String.
func cString<T>(fromTuple value: T) -> String {
  withUnsafeBytes(of: value) { raw in
    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
  }
}
