import Foundation

/// One member of a ZIP archive, as described by its central-directory record.
public struct ZipEntry: Sendable, Equatable {
  /// The member's path inside the archive (e.g. `model/data/0`).
  public var name: String
  /// Compression method (0 = stored, 8 = deflate, …).
  public var method: UInt16
  /// General-purpose flags.
  public var flags: UInt16
  /// CRC-32 of the uncompressed data, as recorded in the central directory.
  public var crc32: UInt32
  /// Bytes the member occupies in the file.
  public var compressedSize: Int
  /// Bytes of the member once decompressed.
  public var uncompressedSize: Int
  /// File offset of the member's local header.
  public var localHeaderOffset: Int
  /// File offset of the member's first data byte (after the local header, its name and its extra field).
  public var dataOffset: Int

  /// True when the member is stored without compression, so its bytes can be used in place.
  public var isStored: Bool { method == 0 }
}

/// A read-only ZIP archive over a memory-mapped file (ZIP64 aware). Only the central directory and the local
/// headers are parsed; member data are returned as zero-copy byte ranges of the mapping.
public final class ZipArchive: @unchecked Sendable {
  /// The mapped file.
  public let file: MappedFile
  /// Members in central-directory order.
  public let entries: [ZipEntry]
  private let index: [String: Int]

  /// The path of the archive file.
  public var path: String { file.path }

  /// Opens the archive at `path`.
  public convenience init(path: String) throws {
    try self.init(file: MappedFile(path: path))
  }

  /// Parses the central directory of `file`.
  public init(file: MappedFile) throws {
    self.file = file
    let entries = try ZipArchive.readCentralDirectory(file)
    self.entries = entries
    var index: [String: Int] = [:]
    for (i, e) in entries.enumerated() where index[e.name] == nil { index[e.name] = i }
    self.index = index
  }

  /// The member named `name`, if present.
  public func entry(named name: String) -> ZipEntry? {
    index[name].map { entries[$0] }
  }

  /// The raw bytes of a stored member, as a view of the mapping. Compressed members are `unsupported`.
  public func storedBytes(of entry: ZipEntry) throws -> UnsafeRawBufferPointer {
    guard entry.isStored else {
      throw CheckpointError.unsupported(
        path: path,
        detail:
          "zip member '\(entry.name)' is compressed (method \(entry.method)); only stored (uncompressed) members are supported, as torch.save writes them"
      )
    }
    guard entry.dataOffset <= file.size, entry.compressedSize <= file.size - entry.dataOffset else {
      throw CheckpointError.truncated(
        path: path,
        detail:
          "zip member '\(entry.name)' needs bytes \(entry.dataOffset)..<\(entry.dataOffset + entry.compressedSize) but the file has \(file.size)"
      )
    }
    return UnsafeRawBufferPointer(start: file.base + entry.dataOffset, count: entry.compressedSize)
  }

  // MARK: - Parsing

  private static let eocdSignature: UInt32 = 0x0605_4b50
  private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
  private static let zip64EOCDSignature: UInt32 = 0x0606_4b50
  private static let centralSignature: UInt32 = 0x0201_4b50
  private static let localSignature: UInt32 = 0x0403_4b50

  private static func u16(_ f: MappedFile, _ o: Int) -> Int {
    Int(UInt16(littleEndian: f.base.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
  }
  private static func u32(_ f: MappedFile, _ o: Int) -> UInt32 {
    UInt32(littleEndian: f.base.loadUnaligned(fromByteOffset: o, as: UInt32.self))
  }
  private static func u64(_ f: MappedFile, _ o: Int) -> UInt64 {
    UInt64(littleEndian: f.base.loadUnaligned(fromByteOffset: o, as: UInt64.self))
  }

  /// Converts a 64-bit size/offset from the file into an `Int`, rejecting absurd values.
  private static func int(_ v: UInt64, _ f: MappedFile, _ what: String) throws -> Int {
    guard v <= UInt64(Int.max / 2) else {
      throw CheckpointError.malformed(path: f.path, detail: "zip \(what) \(v) is out of range")
    }
    return Int(v)
  }

  private static func readCentralDirectory(_ f: MappedFile) throws -> [ZipEntry] {
    let size = f.size
    let startsLikeZip = size >= 4 && u32(f, 0) == localSignature
    // Search backwards for the end-of-central-directory record (22 bytes + up to 65535 bytes of comment).
    var eocd = -1
    var partialEOCD = false
    if size >= 4 {
      let lowest = max(0, size - 22 - 65535)
      var p = size - 4
      while p >= lowest {
        if u32(f, p) == eocdSignature {
          if p + 22 <= size {
            let commentLength = u16(f, p + 20)
            if p + 22 + commentLength <= size {
              eocd = p
              break
            }
          } else if !partialEOCD {
            partialEOCD = true
          }
        }
        p -= 1
      }
    }
    guard eocd >= 0 else {
      if startsLikeZip || partialEOCD {
        throw CheckpointError.truncated(
          path: f.path,
          detail:
            "the zip end-of-central-directory record is missing (the file is \(size) bytes and ends before the archive's directory)"
        )
      }
      throw CheckpointError.notACheckpoint(path: f.path, detail: "no zip end-of-central-directory record found")
    }

    var entryCount = u16(f, eocd + 10)
    var cdSize = Int(u32(f, eocd + 12))
    var cdOffset = Int(u32(f, eocd + 16))

    // ZIP64: the locator sits just before the EOCD record.
    if eocd >= 20, u32(f, eocd - 20) == zip64LocatorSignature {
      let recordOffset = try int(u64(f, eocd - 20 + 8), f, "ZIP64 end-of-central-directory offset")
      guard recordOffset <= eocd - 20 - 56 else {
        throw CheckpointError.truncated(
          path: f.path,
          detail:
            "the ZIP64 end-of-central-directory record should start at byte \(recordOffset), beyond where it can be; the start of the file may be missing"
        )
      }
      guard u32(f, recordOffset) == zip64EOCDSignature else {
        throw CheckpointError.malformed(
          path: f.path, detail: "no ZIP64 end-of-central-directory record at byte \(recordOffset)")
      }
      entryCount = try int(u64(f, recordOffset + 32), f, "entry count")
      cdSize = try int(u64(f, recordOffset + 40), f, "central directory size")
      cdOffset = try int(u64(f, recordOffset + 48), f, "central directory offset")
    } else if entryCount == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
      throw CheckpointError.malformed(
        path: f.path, detail: "the end-of-central-directory record asks for ZIP64 but no ZIP64 locator is present")
    }

    guard cdOffset <= eocd, cdSize <= eocd - cdOffset else {
      throw CheckpointError.truncated(
        path: f.path,
        detail:
          "the zip central directory claims bytes \(cdOffset)..<\(cdOffset + cdSize), past its end record at byte \(eocd); part of the file is missing"
      )
    }

    // Each central-directory record takes at least 46 bytes: a count the directory cannot hold is a lie.
    guard entryCount <= cdSize / 46 else {
      throw CheckpointError.malformed(
        path: f.path,
        detail:
          "the zip end record claims \(entryCount) entries, but its \(cdSize)-byte central directory can hold at most \(cdSize / 46)"
      )
    }
    var entries: [ZipEntry] = []
    entries.reserveCapacity(entryCount)
    var p = cdOffset
    let cdEnd = cdOffset + cdSize
    for i in 0..<entryCount {
      guard p + 46 <= cdEnd, u32(f, p) == centralSignature else {
        throw CheckpointError.malformed(
          path: f.path, detail: "central directory record \(i) of \(entryCount) at byte \(p) is damaged")
      }
      let flags = UInt16(u16(f, p + 8))
      let method = UInt16(u16(f, p + 10))
      let crc = u32(f, p + 16)
      var compressed = UInt64(u32(f, p + 20))
      var uncompressed = UInt64(u32(f, p + 24))
      let nameLength = u16(f, p + 28)
      let extraLength = u16(f, p + 30)
      let commentLength = u16(f, p + 32)
      var localOffset = UInt64(u32(f, p + 42))
      let nameStart = p + 46
      let extraStart = nameStart + nameLength
      let next = extraStart + extraLength + commentLength
      guard next <= cdEnd else {
        throw CheckpointError.malformed(
          path: f.path, detail: "central directory record \(i) at byte \(p) runs past the directory's end")
      }
      let name = String(
        decoding: UnsafeRawBufferPointer(start: f.base + nameStart, count: nameLength), as: UTF8.self)

      // ZIP64 extended information: only the fields whose 32-bit value is saturated are present, in order.
      var e = extraStart
      let extraEnd = extraStart + extraLength
      while e + 4 <= extraEnd {
        let id = u16(f, e)
        let len = u16(f, e + 2)
        let body = e + 4
        guard body + len <= extraEnd else { break }
        if id == 0x0001 {
          var q = body
          func take() throws -> UInt64 {
            guard q + 8 <= body + len else {
              throw CheckpointError.malformed(
                path: f.path, detail: "zip member '\(name)' has a short ZIP64 extra field")
            }
            defer { q += 8 }
            return u64(f, q)
          }
          if uncompressed == 0xFFFF_FFFF { uncompressed = try take() }
          if compressed == 0xFFFF_FFFF { compressed = try take() }
          if localOffset == 0xFFFF_FFFF { localOffset = try take() }
        }
        e = body + len
      }

      let lho = try int(localOffset, f, "local header offset of '\(name)'")
      let csize = try int(compressed, f, "size of '\(name)'")
      let usize = try int(uncompressed, f, "size of '\(name)'")
      guard lho + 30 <= size else {
        throw CheckpointError.truncated(
          path: f.path, detail: "zip member '\(name)' starts at byte \(lho) but the file has \(size)")
      }
      guard u32(f, lho) == localSignature else {
        throw CheckpointError.malformed(
          path: f.path, detail: "zip member '\(name)': no local header at byte \(lho)")
      }
      let dataOffset = lho + 30 + u16(f, lho + 26) + u16(f, lho + 28)
      guard dataOffset <= size, csize <= size - dataOffset else {
        throw CheckpointError.truncated(
          path: f.path,
          detail: "zip member '\(name)' needs bytes \(dataOffset)..<\(dataOffset + csize) but the file has \(size)")
      }
      entries.append(
        ZipEntry(
          name: name, method: method, flags: flags, crc32: crc, compressedSize: csize, uncompressedSize: usize,
          localHeaderOffset: lho, dataOffset: dataOffset))
      p = next
    }
    return entries
  }
}
