import CZLib
import Foundation

/// Decompresses a gzip file's bytes with zlib.
enum Gzip {
  struct Failure: Error { var detail: String }

  static func decompress(_ input: [UInt8]) throws -> [UInt8] {
    var stream = z_stream()
    guard vz_inflate_init_gzip(&stream) == Z_OK else { throw Failure(detail: "zlib could not start") }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var input = input
    return try input.withUnsafeMutableBufferPointer { inBuf in
      stream.next_in = inBuf.baseAddress
      stream.avail_in = uInt(inBuf.count)
      while true {
        let status = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
          stream.next_out = out.baseAddress
          stream.avail_out = uInt(out.count)
          return inflate(&stream, Z_NO_FLUSH)
        }
        output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
        if status == Z_STREAM_END { return output }
        guard status == Z_OK else {
          throw Failure(detail: "not a valid gzip stream (zlib status \(status) after \(output.count) bytes)")
        }
        if stream.avail_in == 0 && stream.avail_out != 0 {
          throw Failure(detail: "the gzip stream is truncated after \(output.count) bytes")
        }
      }
    }
  }
}
