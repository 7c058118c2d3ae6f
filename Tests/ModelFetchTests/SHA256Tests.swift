import Foundation
import ModelFetch
import Testing
import VTagTestSupport

/// SHA-256 against the FIPS 180-4 / NIST example vectors and `sha256sum`.
struct SHA256Tests {
  @Test("Known vectors")
  func vectors() {
    let cases: [(String, String)] = [
      ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
      ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
      (
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
      ),
      (
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
      ),
    ]
    for (input, want) in cases {
      #expect(SHA256.hex(Data(input.utf8)) == want, "\(input)")
    }
    #expect(
      SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test("Chunked updates of every split give the one-shot digest (block and padding edges)")
  func chunking() {
    var rng = SystemRandomNumberGenerator()
    for length in [55, 56, 63, 64, 65, 119, 120, 128, 1000] {
      let data = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
      let whole = SHA256.hex(data)
      for split in Set([0, 1, 55, 56, 63, 64, length / 2, length]) where split <= length {
        var h = SHA256()
        h.update(data.prefix(split))
        h.update(data.dropFirst(split))
        #expect(h.finalizeHex() == whole, "length \(length), split \(split)")
      }
    }
  }

  @Test("A file hash equals sha256sum's", .enabled(if: VTagProcess.hasTool("sha256sum"), "needs sha256sum"))
  func matchesSha256sum() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("data.bin")
    var rng = SystemRandomNumberGenerator()
    let data = Data((0..<(9 << 20) + 17).map { _ in UInt8.random(in: 0...255, using: &rng) })
    try data.write(to: file)
    let out = dir.appendingPathComponent("sum.txt")
    #expect(try VTagProcess.shell("sha256sum '\(file.path)' > '\(out.path)'") == 0)
    let want = try String(contentsOf: out, encoding: .utf8).split(separator: " ").first.map(String.init)
    var reported: Int64 = 0
    #expect(try SHA256.hash(fileAt: file.path, progress: { reported = $0 }) == want)
    #expect(reported == Int64(data.count))
  }
}
