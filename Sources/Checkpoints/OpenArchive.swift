import Foundation

/// Opens a checkpoint by sniffing its first bytes: a zip (`PK\x03\x04`) is read as a PyTorch checkpoint
/// (`PthCheckpoint`, state dict under `model`), a plausible safetensors header as a `SafetensorsFile`.
/// Anything else throws `CheckpointError.notACheckpoint` explaining what the file looks like (an HTML error page,
/// a Git LFS pointer, an image, an empty file, …), or `unsupported` for legacy torch files.
public func openTensorArchive(path: String) throws -> any TensorArchive {
  let file = try MappedFile(path: path)
  let head = Array(UnsafeRawBufferPointer(start: file.base, count: min(file.size, 64)))
  if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
    return try PthCheckpoint(path: path)
  }
  if looksLikeSafetensors(file) {
    return try SafetensorsFile(path: path)
  }
  // Raises unsupported (legacy torch) or notACheckpoint with a description.
  try PthCheckpoint.checkZipMagic(file)
  throw CheckpointError.notACheckpoint(path: path, detail: PthCheckpoint.describeNonCheckpoint(head, size: file.size))
}

/// True when the file starts with a little-endian header length followed by `{`, as safetensors files do.
/// A header length past the end of the file still counts (so a truncated file is reported as truncated).
func looksLikeSafetensors(_ file: MappedFile) -> Bool {
  guard file.size >= 10 else { return false }
  let n = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
  guard n >= 2, n <= 100_000_000 else { return false }
  return file.base.load(fromByteOffset: 8, as: UInt8.self) == UInt8(ascii: "{")
}
