import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The contents of one tensor (or storage) handed to a writer. Generated contents are produced only when that
/// tensor is written, one at a time, so a large file never has to be held in memory at once.
public enum TensorData {
  /// f32 values.
  case float32([Float])
  /// i64 values.
  case int64([Int64])
  /// Raw little-endian bytes of any element type (element count × element size bytes).
  case bytes([UInt8])
  /// f32 values generated into a zero-filled buffer of the tensor's element count when it is written.
  case fillFloat32((UnsafeMutableBufferPointer<Float>) throws -> Void)
  /// i64 values generated into a zero-filled buffer of the tensor's element count when it is written.
  case fillInt64((UnsafeMutableBufferPointer<Int64>) throws -> Void)
  /// f32 values obtained when written, e.g. a zero-copy view of another archive (`archive.floats(name)`).
  case floatBuffer(() throws -> FloatBuffer)

  /// Calls `body` with the little-endian bytes for `count` elements of `dtype`, checking that they fit.
  func withBytes(
    dtype: TensorDType, count: Int, path: String, name: String, _ body: (UnsafeRawBufferPointer) throws -> Void
  ) throws {
    func check(_ wanted: TensorDType, _ have: Int) throws {
      guard dtype == wanted else {
        throw CheckpointError.writeFailed(
          path: path, reason: "tensor '\(name)' is declared \(dtype.rawValue) but was given \(wanted.rawValue) data")
      }
      guard have == count else {
        throw CheckpointError.writeFailed(
          path: path, reason: "tensor '\(name)' needs \(count) elements but was given \(have)")
      }
    }
    switch self {
    case .float32(let v):
      try check(.f32, v.count)
      try v.withUnsafeBytes(body)
    case .int64(let v):
      try check(.i64, v.count)
      try v.withUnsafeBytes(body)
    case .bytes(let b):
      guard b.count == count * dtype.size else {
        throw CheckpointError.writeFailed(
          path: path,
          reason:
            "tensor '\(name)' needs \(count * dtype.size) bytes (\(count) × \(dtype.rawValue)) but was given \(b.count)"
        )
      }
      try b.withUnsafeBytes(body)
    case .fillFloat32(let fill):
      try check(.f32, count)
      let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
      defer { p.deallocate() }
      p.initialize(repeating: 0)
      try fill(UnsafeMutableBufferPointer(rebasing: p[0..<count]))
      try body(UnsafeRawBufferPointer(start: p.baseAddress, count: count * 4))
    case .fillInt64(let fill):
      try check(.i64, count)
      let p = UnsafeMutableBufferPointer<Int64>.allocate(capacity: max(count, 1))
      defer { p.deallocate() }
      p.initialize(repeating: 0)
      try fill(UnsafeMutableBufferPointer(rebasing: p[0..<count]))
      try body(UnsafeRawBufferPointer(start: p.baseAddress, count: count * 8))
    case .floatBuffer(let make):
      let buffer = try make()
      try check(.f32, buffer.count)
      try withExtendedLifetime(buffer) {
        try body(UnsafeRawBufferPointer(start: buffer.base, count: count * 4))
      }
    }
  }
}

/// Writes a file through a temporary file in the same directory, renamed into place by `commit()`; `abort()`
/// (or deinit without commit) removes the temporary file, so no half-written file is ever left at `path`.
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
  #if canImport(Glibc)
    Glibc.write(fd, p, n)
  #else
    Darwin.write(fd, p, n)
  #endif
}

final class FileSink {
  let path: String
  let tempPath: String
  private var fd: Int32
  private var buffer: [UInt8] = []
  private let bufferLimit = 1 << 20
  /// Bytes written so far (including buffered ones).
  private(set) var offset = 0
  private var done = false

  init(path: String) throws {
    self.path = path
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    var template = Array("\(dir)/.\(url.lastPathComponent).tmp-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    if fd < 0 {
      throw CheckpointError.writeFailed(
        path: path, reason: "cannot create a temporary file in \(dir): \(FileSink.lastError())")
    }
    self.fd = fd
    self.tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    _ = fchmod(fd, 0o644)
    buffer.reserveCapacity(bufferLimit)
  }

  deinit { abort() }

  static func lastError() -> String { String(cString: strerror(errno)) }

  private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
    var p = bytes.baseAddress
    var left = bytes.count
    while left > 0, let q = p {
      let n = systemWrite(fd, q, left)
      if n < 0 {
        if errno == EINTR { continue }
        throw CheckpointError.writeFailed(path: path, reason: FileSink.lastError())
      }
      p = q + n
      left -= n
    }
  }

  func flush() throws {
    if buffer.isEmpty { return }
    try buffer.withUnsafeBytes { try writeAll($0) }
    buffer.removeAll(keepingCapacity: true)
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    if bytes.count >= bufferLimit {
      try flush()
      try writeAll(bytes)
    } else {
      if buffer.count + bytes.count > bufferLimit { try flush() }
      buffer.append(contentsOf: bytes)
    }
    offset += bytes.count
  }

  func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try write($0) }
  }

  /// Advances the write position by `count` bytes without writing them (a hole in a sparse file; for tests).
  func skip(_ count: Int) throws {
    try flush()
    guard lseek(fd, off_t(count), SEEK_CUR) >= 0 else {
      throw CheckpointError.writeFailed(path: path, reason: "seek: \(FileSink.lastError())")
    }
    offset += count
  }

  /// Overwrites already-written bytes at `position`.
  func patch(at position: Int, _ bytes: [UInt8]) throws {
    try flush()
    let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
    guard n == bytes.count else { throw CheckpointError.writeFailed(path: path, reason: FileSink.lastError()) }
  }

  /// Flushes, closes and renames the temporary file to `path`.
  func commit() throws {
    try flush()
    if fsync(fd) != 0 { throw CheckpointError.writeFailed(path: path, reason: "fsync: \(FileSink.lastError())") }
    close(fd)
    fd = -1
    if rename(tempPath, path) != 0 {
      let reason = FileSink.lastError()
      unlink(tempPath)
      done = true
      throw CheckpointError.writeFailed(path: path, reason: "rename: \(reason)")
    }
    done = true
  }

  /// Discards the temporary file.
  func abort() {
    guard !done else { return }
    done = true
    if fd >= 0 { close(fd) }
    fd = -1
    unlink(tempPath)
  }
}

/// Little-endian byte helpers for writers.
extension Array where Element == UInt8 {
  mutating func le16(_ v: Int) {
    append(UInt8(v & 0xFF))
    append(UInt8((v >> 8) & 0xFF))
  }
  mutating func le32(_ v: UInt32) { for i in 0..<4 { append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
  mutating func le32(_ v: Int) { le32(UInt32(truncatingIfNeeded: v)) }
  mutating func le64(_ v: Int) {
    let u = UInt64(v)
    for i in 0..<8 { append(UInt8((u >> (8 * UInt64(i))) & 0xFF)) }
  }
}

/// CRC-32 (IEEE 802.3, as in zip), slicing-by-8.
struct CRC32 {
  /// Eight 256-entry tables, flattened (`table[k * 256 + i]`).
  private static let table: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 8 * 256)
    for i in 0..<256 {
      var c = UInt32(i)
      for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB8_8320 ^ (c >> 1)) : (c >> 1) }
      t[i] = c
    }
    for k in 1..<8 {
      for i in 0..<256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
    }
    return t
  }()

  private(set) var state: UInt32 = 0xFFFF_FFFF
  /// The checksum of the bytes seen so far.
  var value: UInt32 { state ^ 0xFFFF_FFFF }

  mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    let n = bytes.count
    var c = state
    CRC32.table.withUnsafeBufferPointer { t in
      var i = 0
      while i + 8 <= n {
        let lo = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
        let hi = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
        let a = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
        let b = t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
        let d = t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
        let e = t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
        c = a ^ b ^ d ^ e
        i += 8
      }
      while i < n {
        c = t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
        i += 1
      }
    }
    state = c
  }

  static func checksum(_ bytes: [UInt8]) -> UInt32 {
    var c = CRC32()
    bytes.withUnsafeBytes { c.update($0) }
    return c.value
  }
}
