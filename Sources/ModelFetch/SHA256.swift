import Foundation

/// SHA-256 (FIPS 180-4), streaming: feed any number of byte chunks with `update`, then `finalize`.
///
/// Used to verify downloaded checkpoints (3–5.6 GB), so it never needs the whole input in memory;
/// `SHA256.hash(fileAt:)` reads a file in 4 MiB chunks.
public struct SHA256: Sendable {
  private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
  )
  /// Bytes waiting for a full 64-byte block.
  private var buffer = [UInt8](repeating: 0, count: 64)
  private var buffered = 0
  /// Total message length in bytes.
  private var length: UInt64 = 0

  private static let k: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
  ]

  /// A fresh hash state.
  public init() {}

  /// Adds `bytes` to the message.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard var p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
    var n = bytes.count
    length &+= UInt64(n)
    if buffered > 0 {
      let take = min(64 - buffered, n)
      for i in 0..<take { buffer[buffered + i] = p[i] }
      buffered += take
      p += take
      n -= take
      if buffered == 64 {
        let block = buffer
        block.withUnsafeBufferPointer { compress($0.baseAddress!, blocks: 1) }
        buffered = 0
      }
    }
    let blocks = n / 64
    if blocks > 0 {
      compress(p, blocks: blocks)
      p += blocks * 64
      n -= blocks * 64
    }
    for i in 0..<n { buffer[i] = p[i] }
    buffered += n
  }

  /// Adds the bytes of `data` to the message.
  public mutating func update(_ data: Data) {
    data.withUnsafeBytes { update($0) }
  }

  /// Adds the bytes of `bytes` to the message.
  public mutating func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { update($0) }
  }

  /// Pads the message and returns the 32-byte digest. The state is spent afterwards.
  public mutating func finalize() -> [UInt8] {
    let bitLength = length &* 8
    var pad: [UInt8] = [0x80]
    let afterPad = (buffered + 1) % 64
    pad += [UInt8](repeating: 0, count: afterPad <= 56 ? 56 - afterPad : 120 - afterPad)
    for i in (0..<8).reversed() { pad.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
    let saved = length
    update(pad)
    length = saved
    let s = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
    return s.flatMap { w in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: w >> UInt32($0)) } }
  }

  /// Pads the message and returns the digest as 64 lowercase hex digits.
  public mutating func finalizeHex() -> String {
    finalize().map { String(format: "%02x", $0) }.joined()
  }

  /// The hex digest of `data`.
  public static func hex(_ data: Data) -> String {
    var h = SHA256()
    h.update(data)
    return h.finalizeHex()
  }

  /// The hex digest of a file, read in 4 MiB chunks; `progress` gets the bytes hashed so far.
  public static func hash(fileAt path: String, progress: ((Int64) -> Void)? = nil) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw FetchError.cannotRead(path: path)
    }
    defer { try? handle.close() }
    var h = SHA256()
    var done: Int64 = 0
    while true {
      let chunk = try handle.read(upToCount: 4 << 20) ?? Data()
      if chunk.isEmpty { break }
      h.update(chunk)
      done += Int64(chunk.count)
      progress?(done)
    }
    return h.finalizeHex()
  }

  @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

  private mutating func compress(_ input: UnsafePointer<UInt8>, blocks: Int) {
    var (h0, h1, h2, h3, h4, h5, h6, h7) = state
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
      Self.k.withUnsafeBufferPointer { k in
        for b in 0..<blocks {
          let p = input + b * 64
          for t in 0..<16 {
            let q = p + t * 4
            w[t] = UInt32(q[0]) << 24 | UInt32(q[1]) << 16 | UInt32(q[2]) << 8 | UInt32(q[3])
          }
          for t in 16..<64 {
            let x = w[t - 15]
            let y = w[t - 2]
            let s0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x >> 3)
            let s1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
          }
          var a = h0
          var bb = h1
          var c = h2
          var d = h3
          var e = h4
          var f = h5
          var g = h6
          var h = h7
          for t in 0..<64 {
            let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ k[t] &+ w[t]
            let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
            let maj = (a & bb) ^ (a & c) ^ (bb & c)
            let t2 = s0 &+ maj
            h = g
            g = f
            f = e
            e = d &+ t1
            d = c
            c = bb
            bb = a
            a = t1 &+ t2
          }
          h0 &+= a
          h1 &+= bb
          h2 &+= c
          h3 &+= d
          h4 &+= e
          h5 &+= f
          h6 &+= g
          h7 &+= h
        }
      }
    }
    state = (h0, h1, h2, h3, h4, h5, h6, h7)
  }
}
