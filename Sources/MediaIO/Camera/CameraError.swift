/// Why a camera could not be opened, configured or read. Every case carries the device path.
public struct CameraError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What went wrong.
  public enum Reason: Sendable, Equatable {
    /// Nothing exists at the path.
    case deviceNotFound
    /// The path exists but is not a V4L2 video-capture device; the detail says what it is.
    case notACamera(String)
    /// The device could not be opened (permissions, …); the detail is the system's message.
    case cannotOpen(String)
    /// Another program is using the camera (EBUSY).
    case busy
    /// The driver refused the format or size; the detail says what was asked and answered.
    case formatRejected(String)
    /// A V4L2 call failed; the detail names the call and the system's message.
    case ioctlFailed(String)
    /// The camera went away (unplugged: ENODEV).
    case disconnected
    /// ``CameraSource/frames()`` was iterated a second time.
    case alreadyConsumed
  }

  /// The device path, e.g. `/dev/video0`.
  public let device: String
  /// What went wrong.
  public let reason: Reason

  public init(device: String, reason: Reason) {
    self.device = device
    self.reason = reason
  }

  /// A one-line message naming the device and the problem.
  public var description: String {
    let what: String
    switch reason {
    case .deviceNotFound: what = "no such device"
    case .notACamera(let d): what = "not a camera (\(d))"
    case .cannotOpen(let d): what = "cannot open it (\(d))"
    case .busy: what = "the camera is in use by another program"
    case .formatRejected(let d): what = "the camera refused the format (\(d))"
    case .ioctlFailed(let d): what = d
    case .disconnected: what = "the camera was disconnected"
    case .alreadyConsumed: what = "its frames were already read; open the camera again"
    }
    return "camera '\(device)': \(what)"
  }
}
