import CV4L2
import Foundation

/// A camera and what it can deliver.
public struct CameraDescription: Sendable, Equatable {
  /// One pixel format the device offers (libv4l2 adds emulated ones such as RGB3 for YUYV/MJPEG cameras).
  public struct Format: Sendable, Equatable {
    /// Four-character code, e.g. `YUYV`, `MJPG`, `RGB3`.
    public var fourcc: String
    /// The driver's description.
    public var description: String
    /// True when libv4l2 converts to it in software.
    public var emulated: Bool
    /// Frame sizes as `WxH` (discrete) or `WxH-WxH` (a range).
    public var sizes: [String]
  }

  /// Device path.
  public var path: String
  /// Driver name.
  public var driver: String
  /// Card (product) name.
  public var card: String
  /// Bus location.
  public var busInfo: String
  /// Offered formats.
  public var formats: [Format]
}

/// Finds and describes V4L2 cameras.
public enum CameraDevices {
  /// The `video<N>` nodes in `directory`, in numeric order.
  public static func candidatePaths(directory: String = "/dev") -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.compactMap { name -> (Int, String)? in
      guard name.hasPrefix("video"), let n = Int(name.dropFirst(5)) else { return nil }
      return (n, (directory as NSString).appendingPathComponent(name))
    }.sorted { $0.0 < $1.0 }.map(\.1)
  }

  /// Describes every camera among ``candidatePaths(directory:)``. Nodes that are not capture devices (e.g. the
  /// metadata nodes UVC cameras add) are left out; other failures (busy, permissions) are returned as errors.
  public static func list(
    directory: String = "/dev",
    opener: V4L2DeviceOpener = { path throws(CameraError) in try LibV4L2Device.open(path: path) }
  ) -> (cameras: [CameraDescription], errors: [CameraError]) {
    var cameras: [CameraDescription] = []
    var errors: [CameraError] = []
    for path in candidatePaths(directory: directory) {
      do {
        cameras.append(try describe(path: path, opener: opener))
      } catch {
        if case .notACamera = error.reason { continue }
        errors.append(error)
      }
    }
    return (cameras, errors)
  }

  /// Opens `path`, reads its capabilities, formats and frame sizes, and closes it.
  /// - Throws: ``CameraError`` (`.deviceNotFound`, `.notACamera`, `.cannotOpen`, …).
  public static func describe(
    path: String, opener: V4L2DeviceOpener = { path throws(CameraError) in try LibV4L2Device.open(path: path) }
  ) throws(CameraError) -> CameraDescription {
    let device = try opener(path)
    defer { device.close() }
    var cap = v4l2_capability()
    let e = device.ioctl(cv4l2_VIDIOC_QUERYCAP, &cap)
    if e != 0 {
      if e == ENODEV { throw CameraError(device: path, reason: .disconnected) }
      throw CameraError(device: path, reason: .notACamera("it does not answer VIDIOC_QUERYCAP: \(V4L2Errno(e))"))
    }
    let effective = cap.capabilities & cv4l2_CAP_DEVICE_CAPS != 0 ? cap.device_caps : cap.capabilities
    if effective & cv4l2_CAP_VIDEO_CAPTURE == 0 {
      throw CameraError(device: path, reason: .notACamera("the V4L2 node has no video capture"))
    }
    var formats: [CameraDescription.Format] = []
    var index: UInt32 = 0
    while index < 64 {
      var f = v4l2_fmtdesc()
      f.index = index
      f.type = cv4l2_BUF_TYPE_VIDEO_CAPTURE
      guard device.ioctl(cv4l2_VIDIOC_ENUM_FMT, &f) == 0 else { break }
      var sizes: [String] = []
      var s: UInt32 = 0
      while s < 256 {
        var fs = v4l2_frmsizeenum()
        fs.index = s
        fs.pixel_format = f.pixelformat
        guard device.ioctl(cv4l2_VIDIOC_ENUM_FRAMESIZES, &fs) == 0 else { break }
        if fs.type == cv4l2_FRMSIZE_TYPE_DISCRETE {
          sizes.append("\(fs.discrete.width)x\(fs.discrete.height)")
        } else {
          let w = fs.stepwise
          sizes.append("\(w.min_width)x\(w.min_height)-\(w.max_width)x\(w.max_height)")
          break
        }
        s += 1
      }
      formats.append(
        .init(
          fourcc: FourCC.string(f.pixelformat), description: cString(fromTuple: f.description),
          emulated: f.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0, sizes: sizes))
      index += 1
    }
    return CameraDescription(
      path: path, driver: cString(fromTuple: cap.driver), card: cString(fromTuple: cap.card),
      busInfo: cString(fromTuple: cap.bus_info), formats: formats)
  }
}
