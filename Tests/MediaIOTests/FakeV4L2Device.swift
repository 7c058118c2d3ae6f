import CV4L2
import Foundation
import MediaIO

#if canImport(Glibc)
  import Glibc
#endif

/// A V4L2 device that behaves like a capture driver behind the ``V4L2Device`` seam: it answers the ioctls with the
/// kernel's structs, adjusts sizes to the ones it supports, keeps queued and filled buffers in FIFO order, answers
/// EAGAIN when nothing is filled, and can fail S_FMT or disappear (ENODEV) mid-stream.
final class FakeV4L2Device: V4L2Device, @unchecked Sendable {
  let path: String
  /// Sizes the "sensor" supports; S_FMT picks the nearest.
  var sizes: [(Int, Int)] = [(640, 480), (320, 240), (1280, 720)]
  /// Capabilities reported by QUERYCAP.
  var capabilities: UInt32 = cv4l2_CAP_VIDEO_CAPTURE | cv4l2_CAP_STREAMING
  /// Error S_FMT returns, if any.
  var formatError: Int32 = 0
  /// Answer a different pixel format than asked.
  var answerPixelFormat: UInt32?
  /// Most buffers REQBUFS grants.
  var maxBuffers = 3
  /// Extra bytes at the end of each row (bytesperline padding).
  var rowPadding = 8
  /// Frames the "camera" produces before it stops (nil: endless); then the device disappears if `unplugAfter`.
  var frameLimit: Int?
  var unplugWhenDone = false
  /// Seconds between frames (timestamps advance by this; poll fills one buffer per call when one is queued).
  var frameInterval = 1.0 / 30

  private let lock = NSLock()
  private(set) var log: [String] = []
  private var width = 0
  private var height = 0
  private var bufferLength = 0
  private var storage: [UnsafeMutableRawPointer] = []
  private var mapped: Set<Int> = []
  private var queued: [Int] = []
  private var filled: [(index: Int, sequence: Int)] = []
  private var streaming = false
  private var produced = 0
  private(set) var closeCount = 0
  private(set) var mapCount = 0
  private(set) var unmapCount = 0
  private var unplugged = false

  init(path: String = "/dev/video-fake") { self.path = path }

  deinit { for p in storage { p.deallocate() } }

  private func record(_ s: String) {
    lock.lock()
    log.append(s)
    lock.unlock()
  }

  var calls: [String] {
    lock.lock()
    defer { lock.unlock() }
    return log
  }

  func ioctl(_ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32 {
    lock.lock()
    defer { lock.unlock() }
    if unplugged { return ENODEV }
    switch request {
    case cv4l2_VIDIOC_QUERYCAP:
      log.append("QUERYCAP")
      let cap = argument.assumingMemoryBound(to: v4l2_capability.self)
      cap.pointee = v4l2_capability()
      withUnsafeMutableBytes(of: &cap.pointee.driver) { copy("fakecam", into: $0) }
      withUnsafeMutableBytes(of: &cap.pointee.card) { copy("Fake Camera", into: $0) }
      withUnsafeMutableBytes(of: &cap.pointee.bus_info) { copy("platform:fake", into: $0) }
      cap.pointee.capabilities = capabilities | cv4l2_CAP_DEVICE_CAPS
      cap.pointee.device_caps = capabilities
      return 0
    case cv4l2_VIDIOC_S_FMT:
      log.append("S_FMT")
      if formatError != 0 { return formatError }
      if streaming { return EBUSY }
      let f = argument.assumingMemoryBound(to: v4l2_format.self)
      guard f.pointee.type == cv4l2_BUF_TYPE_VIDEO_CAPTURE else { return EINVAL }
      let rw = Int(f.pointee.fmt.pix.width)
      let rh = Int(f.pointee.fmt.pix.height)
      let best = sizes.min { abs($0.0 - rw) + abs($0.1 - rh) < abs($1.0 - rw) + abs($1.1 - rh) }!
      width = best.0
      height = best.1
      f.pointee.fmt.pix.width = UInt32(width)
      f.pointee.fmt.pix.height = UInt32(height)
      f.pointee.fmt.pix.pixelformat = answerPixelFormat ?? cv4l2_PIX_FMT_RGB24
      f.pointee.fmt.pix.bytesperline = UInt32(width * 3 + rowPadding)
      f.pointee.fmt.pix.sizeimage = UInt32((width * 3 + rowPadding) * height)
      bufferLength = (width * 3 + rowPadding) * height
      return 0
    case cv4l2_VIDIOC_S_PARM:
      log.append("S_PARM")
      let p = argument.assumingMemoryBound(to: v4l2_streamparm.self)
      let tpf = p.pointee.parm.capture.timeperframe
      if tpf.numerator > 0 && tpf.denominator > 0 {
        frameInterval = min(1, max(1.0 / 60, Double(tpf.numerator) / Double(tpf.denominator)))
      }
      return 0
    case cv4l2_VIDIOC_G_PARM:
      let p = argument.assumingMemoryBound(to: v4l2_streamparm.self)
      p.pointee.parm.capture.capability = cv4l2_CAP_TIMEPERFRAME
      p.pointee.parm.capture.timeperframe = v4l2_fract(
        numerator: 1000, denominator: UInt32((1000 / frameInterval).rounded()))
      return 0
    case cv4l2_VIDIOC_REQBUFS:
      log.append("REQBUFS")
      let r = argument.assumingMemoryBound(to: v4l2_requestbuffers.self)
      guard r.pointee.memory == cv4l2_MEMORY_MMAP else { return EINVAL }
      if streaming { return EBUSY }
      let n = min(Int(r.pointee.count), maxBuffers)
      for p in storage { p.deallocate() }
      storage = (0..<n).map { _ in UnsafeMutableRawPointer.allocate(byteCount: bufferLength, alignment: 64) }
      r.pointee.count = UInt32(n)
      return 0
    case cv4l2_VIDIOC_QUERYBUF:
      log.append("QUERYBUF")
      let b = argument.assumingMemoryBound(to: v4l2_buffer.self)
      let i = Int(b.pointee.index)
      guard i < storage.count else { return EINVAL }
      b.pointee.length = UInt32(bufferLength)
      b.pointee.m.offset = UInt32(i * 4096 * 1024)
      return 0
    case cv4l2_VIDIOC_QBUF:
      let b = argument.assumingMemoryBound(to: v4l2_buffer.self)
      let i = Int(b.pointee.index)
      guard i < storage.count, !queued.contains(i), !filled.contains(where: { $0.index == i }) else { return EINVAL }
      queued.append(i)
      return 0
    case cv4l2_VIDIOC_DQBUF:
      guard streaming else { return EINVAL }
      guard !filled.isEmpty else { return EAGAIN }
      let (i, seq) = filled.removeFirst()
      let b = argument.assumingMemoryBound(to: v4l2_buffer.self)
      b.pointee.index = UInt32(i)
      b.pointee.bytesused = UInt32(bufferLength)
      b.pointee.sequence = UInt32(seq)
      let t = 1000 + Double(seq) * frameInterval
      b.pointee.timestamp.tv_sec = Int(t)
      b.pointee.timestamp.tv_usec = Int(((t - Double(Int(t))) * 1_000_000).rounded())
      return 0
    case cv4l2_VIDIOC_STREAMON:
      log.append("STREAMON")
      guard !queued.isEmpty else { return EINVAL }
      streaming = true
      return 0
    case cv4l2_VIDIOC_STREAMOFF:
      log.append("STREAMOFF")
      streaming = false
      queued.removeAll()
      filled.removeAll()
      return 0
    default:
      return ENOTTY
    }
  }

  /// Fills the oldest queued buffer with frame `produced` (pixel (x, y) = (seq, x, y) mod 256, row padding 0xEE).
  private func produceLocked() {
    guard streaming, !queued.isEmpty else { return }
    if let limit = frameLimit, produced >= limit {
      if unplugWhenDone { unplugged = true }
      return
    }
    let i = queued.removeFirst()
    let p = storage[i].assumingMemoryBound(to: UInt8.self)
    let stride = width * 3 + rowPadding
    for y in 0..<height {
      for x in 0..<width {
        p[y * stride + 3 * x] = UInt8(truncatingIfNeeded: produced)
        p[y * stride + 3 * x + 1] = UInt8(truncatingIfNeeded: x)
        p[y * stride + 3 * x + 2] = UInt8(truncatingIfNeeded: y)
      }
      for k in 0..<rowPadding { p[y * stride + width * 3 + k] = 0xEE }
    }
    filled.append((i, produced))
    produced += 1
  }

  func map(length: Int, offset: Int64) -> Result<UnsafeMutableRawPointer, V4L2Errno> {
    lock.lock()
    defer { lock.unlock() }
    let i = Int(offset) / (4096 * 1024)
    guard i < storage.count, length == bufferLength, !mapped.contains(i) else { return .failure(V4L2Errno(EINVAL)) }
    mapped.insert(i)
    mapCount += 1
    log.append("mmap")
    return .success(storage[i])
  }

  func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
    lock.lock()
    defer { lock.unlock() }
    if let i = storage.firstIndex(of: address), mapped.remove(i) != nil { unmapCount += 1 }
    log.append("munmap")
  }

  func poll(timeoutMilliseconds: Int32) -> V4L2PollResult {
    lock.lock()
    if unplugged {
      lock.unlock()
      return .ready  // POLLERR: the following DQBUF reports ENODEV
    }
    if filled.isEmpty { produceLocked() }
    let ready = !filled.isEmpty || unplugged
    let interval = frameInterval
    lock.unlock()
    if !ready {
      usleep(UInt32(min(Double(timeoutMilliseconds) / 1000, 0.01) * 1_000_000))
      return .timeout
    }
    usleep(UInt32(min(interval, 0.005) * 1_000_000))
    return .ready
  }

  func close() {
    lock.lock()
    closeCount += 1
    log.append("close")
    lock.unlock()
  }

  private func copy(_ s: String, into buf: UnsafeMutableRawBufferPointer) {
    for (i, b) in s.utf8.prefix(buf.count - 1).enumerated() { buf[i] = b }
  }
}
