import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file mapped read-only into memory. The mapping lives as long as this object.
public final class MappedFile: @unchecked Sendable {
  /// The mapped file's path.
  public let path: String
  /// The first byte of the mapping.
  public let base: UnsafeRawPointer
  /// The file size in bytes.
  public let size: Int

  /// Maps the file at `path` read-only; throws `cannotOpen` naming the file and the reason.
  public init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY)
    if fd < 0 {
      throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
    }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 {
      throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
    }
    if (st.st_mode & S_IFMT) == S_IFDIR {
      throw CheckpointError.cannotOpen(path: path, reason: "is a directory")
    }
    let size = Int(st.st_size)
    self.size = size
    if size == 0 {
      // mmap of 0 bytes fails; keep a valid pointer to an empty allocation.
      self.base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
      return
    }
    let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
    if p == MAP_FAILED || p == nil {
      throw CheckpointError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
    }
    self.base = UnsafeRawPointer(p!)
  }

  deinit {
    if size == 0 {
      UnsafeMutableRawPointer(mutating: base).deallocate()
    } else {
      munmap(UnsafeMutableRawPointer(mutating: base), size)
    }
  }

  /// The bytes in `range`, bounds-checked.
  public func bytes(_ offset: Int, _ count: Int) throws -> UnsafeRawBufferPointer {
    guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
      throw CheckpointError.truncated(
        path: path, detail: "needs bytes \(offset)..<\(offset + count) but the file has \(size)")
    }
    return UnsafeRawBufferPointer(start: base + offset, count: count)
  }
}
