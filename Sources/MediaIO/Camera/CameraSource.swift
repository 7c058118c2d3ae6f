import CV4L2
import Foundation
import ImageCore

/// What a camera agreed to.
public struct CameraInfo: Sendable, Equatable {
  /// Device path.
  public var device: String
  /// Driver name (`uvcvideo`, …).
  public var driver: String
  /// Card name (the camera's product name).
  public var card: String
  /// Bus location.
  public var busInfo: String
  /// Negotiated width (the driver may adjust the requested size).
  public var width: Int
  /// Negotiated height.
  public var height: Int
  /// Bytes per row of a captured buffer (≥ 3 × width).
  public var bytesPerLine: Int
  /// Negotiated frame rate, or `nil` when the driver does not report one.
  public var frameRate: Double?
  /// Number of mmap buffers in the ring.
  public var bufferCount: Int
}

/// One captured camera frame.
public struct CameraFrame: Sendable {
  /// The driver's frame sequence number (gaps mean the driver dropped frames).
  public var sequence: Int
  /// Seconds since the first delivered frame, from the buffer timestamps (the driver's monotonic clock).
  public var t: Double
  /// The buffer timestamp in seconds, as the driver set it.
  public var timestamp: Double
  /// The picture, RGB at the negotiated size.
  public var image: RGBImage
}

/// Settings of a ``CameraSource``.
public struct CameraConfiguration: Sendable, Equatable {
  /// Requested width (the driver may pick the nearest it supports).
  public var width: Int
  /// Requested height.
  public var height: Int
  /// Requested frame rate, or `nil` to keep the driver's.
  public var frameRate: Double?
  /// mmap buffers in the driver ring (default 4).
  public var driverBuffers: Int
  /// Frames held for a slow consumer before the oldest is dropped (default 2).
  public var bufferedFrames: Int
  /// How long one `poll` waits before checking for cancellation, in milliseconds (default 100).
  public var pollTimeoutMilliseconds: Int32

  public init(
    width: Int = 640, height: Int = 480, frameRate: Double? = nil, driverBuffers: Int = 4, bufferedFrames: Int = 2,
    pollTimeoutMilliseconds: Int32 = 100
  ) {
    self.width = width
    self.height = height
    self.frameRate = frameRate
    self.driverBuffers = driverBuffers
    self.bufferedFrames = bufferedFrames
    self.pollTimeoutMilliseconds = pollTimeoutMilliseconds
  }
}

/// A V4L2 camera (`/dev/videoN`) captured through libv4l2 on a dedicated thread.
///
/// Opening queries the capabilities, asks for RGB24 at the requested size (libv4l2 converts MJPEG/YUYV cameras),
/// requests the frame interval, and maps a small ring of driver buffers. Iterating ``frames()`` queues the
/// buffers, starts streaming and copies each filled buffer into an ``RGBImage`` before handing it back to the
/// driver. The camera never waits for the consumer: a bounded buffer keeps the newest frames and counts the drops
/// (``droppedFrames``). Ending the iteration (or cancelling its task) stops within one poll timeout and issues
/// `STREAMOFF`, unmaps the buffers and closes the device, each once. An unplugged camera (ENODEV) ends the
/// iteration with ``CameraError/Reason/disconnected``.
public final class CameraSource: Sendable {
  /// What the camera agreed to.
  public let info: CameraInfo
  private let session: CaptureSession

  /// Opens and configures the camera at `path` (blocking for the few ioctls this takes).
  /// - Parameter opener: the device seam; the default is libv4l2.
  /// - Throws: ``CameraError`` naming the device and the problem.
  public init(
    path: String, configuration: CameraConfiguration = .init(),
    opener: V4L2DeviceOpener = { path throws(CameraError) in try LibV4L2Device.open(path: path) }
  ) throws(CameraError) {
    let device = try opener(path)
    session = try CaptureSession(device: device, configuration: configuration)
    info = session.info
  }

  /// The captured frames; iterate once. Ends with ``CameraError`` when the camera fails or disappears.
  public func frames() -> CameraFrames { CameraFrames(session: session) }

  /// Frames dropped because the consumer was slower than the camera.
  public var droppedFrames: Int { session.droppedFrames }

  /// Returns once the capture thread has ended and the device is closed (after an error or cancellation); at once
  /// when the frames were never iterated.
  public func waitUntilStopped() async { await session.waitUntilStopped() }
}

/// The frames of a ``CameraSource``.
public struct CameraFrames: AsyncSequence, Sendable {
  public typealias Element = CameraFrame
  fileprivate let session: CaptureSession

  public func makeAsyncIterator() -> Iterator { Iterator(state: CameraIteratorState(session: session)) }

  /// Iterator over captured frames.
  public struct Iterator: AsyncIteratorProtocol {
    fileprivate let state: CameraIteratorState
    public mutating func next() async throws -> CameraFrame? { try await state.next() }
  }
}

private final class CameraIteratorState: @unchecked Sendable {
  let session: CaptureSession
  private let lock = NSLock()
  private var buffer: BoundedFrameBuffer<CameraFrame>?

  init(session: CaptureSession) { self.session = session }
  deinit { buffer?.cancel() }

  func next() async throws -> CameraFrame? {
    try await started().next()
  }

  private func started() throws -> BoundedFrameBuffer<CameraFrame> {
    lock.lock()
    defer { lock.unlock() }
    if let buffer { return buffer }
    guard let b = session.start() else {
      throw CameraError(device: session.info.device, reason: .alreadyConsumed)
    }
    buffer = b
    return b
  }
}

/// Owns the open device and its mapped buffers. After ``start()`` only the capture thread touches the device.
final class CaptureSession: @unchecked Sendable {
  let info: CameraInfo
  private let device: any V4L2Device
  private let configuration: CameraConfiguration
  private var mappings: [(address: UnsafeMutableRawPointer, length: Int)] = []
  private let lock = NSLock()
  private var started = false
  private var closed = false
  private var buffer: BoundedFrameBuffer<CameraFrame>?
  private let stopped = StopSignal()

  func waitUntilStopped() async {
    if wasStarted { await stopped.wait() }
  }

  private var wasStarted: Bool {
    lock.lock()
    defer { lock.unlock() }
    return started
  }

  init(device: any V4L2Device, configuration: CameraConfiguration) throws(CameraError) {
    self.device = device
    self.configuration = configuration
    let path = device.path
    func fail(_ r: CameraError.Reason) -> CameraError { CameraError(device: path, reason: r) }
    func ioctlError(_ name: String, _ e: Int32) -> CameraError {
      if e == ENODEV { return fail(.disconnected) }
      if e == EBUSY { return fail(.busy) }
      return fail(.ioctlFailed("\(name) failed: \(V4L2Errno(e))"))
    }
    var mapped: [(UnsafeMutableRawPointer, Int)] = []
    func abandon() {
      for (p, n) in mapped { device.unmap(p, length: n) }
      device.close()
    }

    // Capabilities.
    let caps: (driver: String, card: String, bus: String)
    do {
      var cap = v4l2_capability()
      let e = device.ioctl(cv4l2_VIDIOC_QUERYCAP, &cap)
      if e != 0 {
        abandon()
        if e == ENOTTY || e == EINVAL { throw fail(.notACamera("it does not answer VIDIOC_QUERYCAP: \(V4L2Errno(e))")) }
        throw ioctlError("VIDIOC_QUERYCAP", e)
      }
      let effective = cap.capabilities & cv4l2_CAP_DEVICE_CAPS != 0 ? cap.device_caps : cap.capabilities
      if effective & cv4l2_CAP_VIDEO_CAPTURE == 0 {
        abandon()
        throw fail(.notACamera("the V4L2 node has no video capture (a metadata or output node?)"))
      }
      if effective & cv4l2_CAP_STREAMING == 0 {
        abandon()
        throw fail(.ioctlFailed("the driver does not support streaming I/O"))
      }
      caps = (cString(fromTuple: cap.driver), cString(fromTuple: cap.card), cString(fromTuple: cap.bus_info))
    }

    // Format: RGB24 at the requested size; the driver may adjust the size.
    var fmt = v4l2_format()
    fmt.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
    fmt.fmt.pix.width = UInt32(clamping: configuration.width)
    fmt.fmt.pix.height = UInt32(clamping: configuration.height)
    fmt.fmt.pix.pixelformat = cv4l2_PIX_FMT_RGB24
    fmt.fmt.pix.field = cv4l2_FIELD_ANY
    let fe = device.ioctl(cv4l2_VIDIOC_S_FMT, &fmt)
    if fe != 0 {
      abandon()
      if fe == EINVAL {
        throw fail(.formatRejected("RGB24 \(configuration.width)×\(configuration.height): \(V4L2Errno(fe))"))
      }
      throw ioctlError("VIDIOC_S_FMT", fe)
    }
    if fmt.fmt.pix.pixelformat != cv4l2_PIX_FMT_RGB24 {
      abandon()
      throw fail(.formatRejected("asked for RGB24, the driver answered \(FourCC.string(fmt.fmt.pix.pixelformat))"))
    }
    let width = Int(fmt.fmt.pix.width)
    let height = Int(fmt.fmt.pix.height)
    guard width > 0, height > 0 else {
      abandon()
      throw fail(.formatRejected("the driver answered an empty size \(width)×\(height)"))
    }
    let bytesPerLine = max(Int(fmt.fmt.pix.bytesperline), width * 3)

    // Frame interval (best effort: not every driver supports it).
    var frameRate: Double?
    do {
      var parm = v4l2_streamparm()
      parm.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
      if let fps = configuration.frameRate, fps > 0 {
        parm.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32((fps * 1000).rounded()))
        let e = device.ioctl(cv4l2_VIDIOC_S_PARM, &parm)
        if e == ENODEV {
          abandon()
          throw fail(.disconnected)
        }
      }
      parm = v4l2_streamparm()
      parm.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
      if device.ioctl(cv4l2_VIDIOC_G_PARM, &parm) == 0 {
        let tpf = parm.parm.capture.timeperframe
        if tpf.numerator > 0 && tpf.denominator > 0 { frameRate = Double(tpf.denominator) / Double(tpf.numerator) }
      }
    }

    // The mmap ring.
    var req = v4l2_requestbuffers()
    req.count = UInt32(clamping: max(2, configuration.driverBuffers))
    req.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
    req.memory = cv4l2_MEMORY_MMAP
    let re = device.ioctl(cv4l2_VIDIOC_REQBUFS, &req)
    if re != 0 {
      abandon()
      throw re == EINVAL
        ? fail(.ioctlFailed("the driver does not support mmap streaming")) : ioctlError("VIDIOC_REQBUFS", re)
    }
    if req.count < 2 {
      abandon()
      throw fail(.ioctlFailed("the driver granted \(req.count) buffers; at least 2 are needed"))
    }
    for i in 0..<req.count {
      var buf = v4l2_buffer()
      buf.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
      buf.memory = cv4l2_MEMORY_MMAP
      buf.index = i
      let qe = device.ioctl(cv4l2_VIDIOC_QUERYBUF, &buf)
      if qe != 0 {
        abandon()
        throw ioctlError("VIDIOC_QUERYBUF \(i)", qe)
      }
      switch device.map(length: Int(buf.length), offset: Int64(buf.m.offset)) {
      case .success(let p): mapped.append((p, Int(buf.length)))
      case .failure(let e):
        abandon()
        throw fail(.ioctlFailed("mmap of buffer \(i) failed: \(e)"))
      }
    }
    mappings = mapped.map { (address: $0.0, length: $0.1) }
    info = CameraInfo(
      device: path, driver: caps.driver, card: caps.card, busInfo: caps.bus, width: width, height: height,
      bytesPerLine: bytesPerLine, frameRate: frameRate, bufferCount: mapped.count)
  }

  deinit { shutdown(streaming: false) }

  var droppedFrames: Int {
    lock.lock()
    let b = buffer
    lock.unlock()
    return b?.droppedCount ?? 0
  }

  /// Unmaps every buffer and closes the device, once.
  private func shutdown(streaming: Bool) {
    lock.lock()
    if closed {
      lock.unlock()
      return
    }
    closed = true
    lock.unlock()
    if streaming {
      var type = Int32(bitPattern: cv4l2_BUF_TYPE_VIDEO_CAPTURE)
      _ = device.ioctl(cv4l2_VIDIOC_STREAMOFF, &type)  // ENODEV after an unplug is expected
    }
    for m in mappings { device.unmap(m.address, length: m.length) }
    mappings = []
    device.close()
  }

  /// Starts the capture thread; `nil` when it was started before.
  func start() -> BoundedFrameBuffer<CameraFrame>? {
    lock.lock()
    if started || closed {
      lock.unlock()
      return nil
    }
    started = true
    let b = BoundedFrameBuffer<CameraFrame>(capacity: max(1, configuration.bufferedFrames), policy: .dropOldest)
    buffer = b
    lock.unlock()
    let thread = Thread { [self] in
      let streaming = capture(into: b)
      shutdown(streaming: streaming)
      stopped.signal()
    }
    thread.name = "vtag.camera.capture"
    thread.start()
    return b
  }

  /// The capture loop. Returns whether STREAMON succeeded (so STREAMOFF is due).
  private func capture(into buffer: BoundedFrameBuffer<CameraFrame>) -> Bool {
    let path = info.device
    func finish(_ r: CameraError.Reason) { buffer.finish(throwing: CameraError(device: path, reason: r)) }
    func failure(_ name: String, _ e: Int32) -> CameraError.Reason {
      e == ENODEV ? .disconnected : .ioctlFailed("\(name) failed: \(V4L2Errno(e))")
    }
    for i in 0..<mappings.count {
      var buf = v4l2_buffer()
      buf.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
      buf.memory = cv4l2_MEMORY_MMAP
      buf.index = UInt32(i)
      let e = device.ioctl(cv4l2_VIDIOC_QBUF, &buf)
      if e != 0 {
        finish(failure("VIDIOC_QBUF", e))
        return false
      }
    }
    var type = Int32(bitPattern: cv4l2_BUF_TYPE_VIDEO_CAPTURE)
    let se = device.ioctl(cv4l2_VIDIOC_STREAMON, &type)
    if se != 0 {
      finish(se == EBUSY ? .busy : failure("VIDIOC_STREAMON", se))
      return false
    }
    var firstTimestamp: Double?
    while !buffer.isCancelled {
      switch device.poll(timeoutMilliseconds: configuration.pollTimeoutMilliseconds) {
      case .timeout: continue
      case .failed(let e):
        if e == EINTR { continue }
        finish(failure("poll", e))
        return true
      case .ready: break
      }
      var buf = v4l2_buffer()
      buf.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
      buf.memory = cv4l2_MEMORY_MMAP
      let de = device.ioctl(cv4l2_VIDIOC_DQBUF, &buf)
      if de == EAGAIN { continue }
      if de != 0 {
        finish(failure("VIDIOC_DQBUF", de))
        return true
      }
      let index = Int(buf.index)
      guard index < mappings.count else {
        finish(.ioctlFailed("VIDIOC_DQBUF returned buffer \(index) of \(mappings.count)"))
        return true
      }
      let timestamp = Double(buf.timestamp.tv_sec) + Double(buf.timestamp.tv_usec) / 1_000_000
      let image = copyImage(from: mappings[index], bytesUsed: Int(buf.bytesused))
      let sequence = Int(buf.sequence)
      let qe = device.ioctl(cv4l2_VIDIOC_QBUF, &buf)  // hand the buffer back before the consumer sees the copy
      if let image {
        let first = firstTimestamp ?? timestamp
        firstTimestamp = first
        buffer.push(CameraFrame(sequence: sequence, t: timestamp - first, timestamp: timestamp, image: image))
      }
      if qe != 0 {
        finish(failure("VIDIOC_QBUF", qe))
        return true
      }
    }
    buffer.finish()
    return true
  }

  /// Copies one filled buffer (rows of `bytesPerLine`) into a packed RGB image; `nil` for a short buffer.
  private func copyImage(from mapping: (address: UnsafeMutableRawPointer, length: Int), bytesUsed: Int) -> RGBImage? {
    let w = info.width
    let h = info.height
    let stride = info.bytesPerLine
    let needed = stride * (h - 1) + w * 3
    let available = bytesUsed > 0 ? min(bytesUsed, mapping.length) : mapping.length
    guard available >= needed else { return nil }
    let src = mapping.address.assumingMemoryBound(to: UInt8.self)
    return try? RGBImage(width: w, height: h) { out in
      for y in 0..<h {
        (out.baseAddress! + y * w * 3).update(from: src + y * stride, count: w * 3)
      }
    }
  }
}
