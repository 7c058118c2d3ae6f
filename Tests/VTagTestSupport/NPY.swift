import Foundation

/// Reads NumPy `.npy` files (format 1.0, little-endian `<f4` or `<i8`, C order): the fixtures' golden arrays.
public struct NPY {
  public var shape: [Int]
  public var floats: [Float]

  public init(url: URL) throws {
    let data = try Data(contentsOf: url)
    let bytes = [UInt8](data)
    guard bytes.count > 10, bytes[0] == 0x93, bytes[1...5].elementsEqual(Array("NUMPY".utf8)) else {
      throw NSError(domain: "NPY", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(url.path) is not a .npy file"])
    }
    let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
    let dims = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
    shape = dims.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let count = shape.reduce(1, *)
    let body = Array(bytes[(10 + headerLength)...])
    if header.contains("<f4") {
      floats = body.withUnsafeBytes { raw in
        (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
      }
    } else if header.contains("<i8") {
      floats = body.withUnsafeBytes { raw in
        (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
      }
    } else {
      throw NSError(
        domain: "NPY", code: 2, userInfo: [NSLocalizedDescriptionKey: "\(url.path): unsupported dtype in \(header)"])
    }
  }
}
