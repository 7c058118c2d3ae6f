import Foundation
import ImageCore
import MediaIO
import Testing
import VTagTestSupport

/// Skipping non-reference frames between sample times changes nothing the consumer sees: the same
/// frames (times and pixels) are delivered, with fewer frames decoded.
@Suite(.serialized, .enabled(if: Media.hasFFmpeg, Media.needsFFmpeg))
struct SkipNonReferenceTests {
  func sample(_ url: URL, skip: Bool) async throws -> (t: [Double], images: [RGBImage], decoded: Int) {
    let source = try await VideoSource.open(url.path, options: VideoSourceOptions(skipNonReferenceFrames: skip))
    var t: [Double] = []
    var images: [RGBImage] = []
    for try await f in source.frames(.every(seconds: 1), output: .modelInput) {
      t.append(f.t)
      images.append(try #require(f.image))
    }
    return (t, images, source.statistics.decodedFrames)
  }

  @Test("Same sampled frames, fewer decoded, on a B-frame H.264 file")
  func bFrames() async throws {
    let url = try Media.generate(
      "bframes_10s.mp4",
      Media.testsrc("160x120", rate: "25", seconds: 10) + " -c:v libx264 -preset superfast -g 50 -bf 3 -pix_fmt yuv420p"
    )
    let full = try await sample(url, skip: false)
    let skipped = try await sample(url, skip: true)
    #expect(skipped.t == full.t)
    #expect(skipped.images == full.images)
    #expect(skipped.decoded < full.decoded, "decoded \(skipped.decoded) of \(full.decoded)")
  }

  @Test(
    "Same sampled frames on the shared videos",
    .enabled(if: Fixtures.exists(Fixtures.media), Comment(rawValue: Fixtures.missing(Fixtures.media))))
  func sharedVideos() async throws {
    for url in [Media.bunny, Media.carphone] {
      let full = try await sample(url, skip: false)
      let skipped = try await sample(url, skip: true)
      #expect(skipped.t == full.t, "\(url.lastPathComponent)")
      #expect(skipped.images == full.images, "\(url.lastPathComponent)")
    }
  }
}
