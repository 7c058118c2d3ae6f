import Foundation

/// Streams a ZIP archive of stored (uncompressed) members, each member's data aligned (by padding the local
/// header's extra field with an `FB` record, as torch does), with CRC-32s and ZIP64 records where needed.
final class ZipStreamWriter {
  private struct Member {
    var name: [UInt8]
    var crc: UInt32
    var size: Int
    var headerOffset: Int
  }

  private let sink: FileSink
  private let forceZip64: Bool
  private var members: [Member] = []
  private static let dosTime = 0
  private static let dosDate = (0 << 9) | (1 << 5) | 1  // 1980-01-01

  init(sink: FileSink, forceZip64: Bool) {
    self.sink = sink
    self.forceZip64 = forceZip64
  }

  /// Adds a member of `size` bytes whose data `produce` writes through the `emit` callback it is given.
  func addMember(
    _ name: String, size: Int, alignment: Int = 64,
    produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
  ) throws {
    let nameBytes = Array(name.utf8)
    let headerOffset = sink.offset
    let zip64 = forceZip64 || size >= 0xFFFF_FFFF || headerOffset >= 0xFFFF_FFFF
    var extra: [UInt8] = []
    if zip64 {
      extra.le16(0x0001)
      extra.le16(16)
      extra.le64(size)
      extra.le64(size)
    }
    let unpadded = headerOffset + 30 + nameBytes.count + extra.count
    var pad = (alignment - unpadded % alignment) % alignment
    if pad > 0 && pad < 4 { pad += alignment }
    if pad > 0 {
      extra.le16(0x4246)  // "FB"
      extra.le16(pad - 4)
      extra.append(contentsOf: [UInt8](repeating: UInt8(ascii: "Z"), count: pad - 4))
    }
    var h: [UInt8] = []
    h.le32(UInt32(0x0403_4b50))
    h.le16(zip64 ? 45 : 20)  // version needed
    h.le16(0)  // flags
    h.le16(0)  // stored
    h.le16(Self.dosTime)
    h.le16(Self.dosDate)
    h.le32(UInt32(0))  // CRC, patched below
    h.le32(zip64 ? 0xFFFF_FFFF : UInt32(size))
    h.le32(zip64 ? 0xFFFF_FFFF : UInt32(size))
    h.le16(nameBytes.count)
    h.le16(extra.count)
    h.append(contentsOf: nameBytes)
    h.append(contentsOf: extra)
    try sink.write(h)

    var crc = CRC32()
    var written = 0
    try produce { bytes in
      crc.update(bytes)
      written += bytes.count
      try sink.write(bytes)
    }
    guard written == size else {
      throw CheckpointError.writeFailed(
        path: sink.path, reason: "zip member '\(name)' was declared \(size) bytes but \(written) were written")
    }
    var c: [UInt8] = []
    c.le32(crc.value)
    try sink.patch(at: headerOffset + 14, c)
    members.append(Member(name: nameBytes, crc: crc.value, size: size, headerOffset: headerOffset))
  }

  /// Adds a member holding `bytes`.
  func addMember(_ name: String, bytes: [UInt8], alignment: Int = 64) throws {
    try addMember(name, size: bytes.count, alignment: alignment) { emit in try bytes.withUnsafeBytes { try emit($0) } }
  }

  /// Writes the central directory and the end records.
  func finish() throws {
    let cdOffset = sink.offset
    for m in members {
      let bigSize = forceZip64 || m.size >= 0xFFFF_FFFF
      let bigOffset = forceZip64 || m.headerOffset >= 0xFFFF_FFFF
      var extra: [UInt8] = []
      if bigSize || bigOffset {
        var body: [UInt8] = []
        if bigSize {
          body.le64(m.size)  // uncompressed
          body.le64(m.size)  // compressed
        }
        if bigOffset { body.le64(m.headerOffset) }
        extra.le16(0x0001)
        extra.le16(body.count)
        extra.append(contentsOf: body)
      }
      let zip64 = !extra.isEmpty
      var r: [UInt8] = []
      r.le32(UInt32(0x0201_4b50))
      r.le16((3 << 8) | (zip64 ? 45 : 20))  // made by: Unix
      r.le16(zip64 ? 45 : 20)
      r.le16(0)
      r.le16(0)
      r.le16(Self.dosTime)
      r.le16(Self.dosDate)
      r.le32(m.crc)
      r.le32(bigSize ? 0xFFFF_FFFF : UInt32(m.size))
      r.le32(bigSize ? 0xFFFF_FFFF : UInt32(m.size))
      r.le16(m.name.count)
      r.le16(extra.count)
      r.le16(0)  // comment
      r.le16(0)  // disk
      r.le16(0)  // internal attributes
      r.le32(UInt32(0o100644) << 16)  // external attributes: regular file, rw-r--r--
      r.le32(bigOffset ? 0xFFFF_FFFF : UInt32(m.headerOffset))
      r.append(contentsOf: m.name)
      r.append(contentsOf: extra)
      try sink.write(r)
    }
    let cdSize = sink.offset - cdOffset
    let count = members.count
    let zip64 = forceZip64 || count >= 0xFFFF || cdOffset >= 0xFFFF_FFFF || cdSize >= 0xFFFF_FFFF
    var e: [UInt8] = []
    if zip64 {
      let recordOffset = sink.offset
      e.le32(UInt32(0x0606_4b50))
      e.le64(44)  // size of the rest of the record
      e.le16((3 << 8) | 45)
      e.le16(45)
      e.le32(0)  // this disk
      e.le32(0)  // disk with the central directory
      e.le64(count)
      e.le64(count)
      e.le64(cdSize)
      e.le64(cdOffset)
      e.le32(UInt32(0x0706_4b50))  // locator
      e.le32(0)
      e.le64(recordOffset)
      e.le32(1)  // total disks
    }
    e.le32(UInt32(0x0605_4b50))
    e.le16(0)
    e.le16(0)
    e.le16(zip64 ? 0xFFFF : count)
    e.le16(zip64 ? 0xFFFF : count)
    e.le32(zip64 ? 0xFFFF_FFFF : UInt32(cdSize))
    e.le32(zip64 ? 0xFFFF_FFFF : UInt32(cdOffset))
    e.le16(0)  // comment length
    try sink.write(e)
  }
}
