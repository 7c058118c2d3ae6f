import Foundation
import ImageCore
import MediaIO
import Testing
import VTagTestSupport

/// The `ffmpeg` command-line tool, used to make test images and to read their raw pixels back.
enum FFmpegCLI {
  static let path: String? = {
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/local/bin").split(separator: ":")
    for d in dirs {
      let p = "\(d)/ffmpeg"
      if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
  }()
  static var available: Bool { path != nil }
  static let missing: Comment = "skipped: the ffmpeg command-line tool is not on PATH"

  struct Failed: Error, CustomStringConvertible {
    let description: String
  }

  /// Runs ffmpeg with `arguments` and returns its standard output.
  @discardableResult
  static func run(_ arguments: [String]) throws -> Data {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path!)
    p.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + arguments
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      throw Failed(
        description: "ffmpeg \(arguments.joined(separator: " ")): \(String(decoding: errData, as: UTF8.self))")
    }
    return data
  }

  static let encoders: String = {
    guard available, let d = try? run(["-encoders"]) else { return "" }
    return String(decoding: d, as: UTF8.self)
  }()

  static func hasEncoder(_ name: String) -> Bool { encoders.contains(" \(name) ") }

  /// Makes one frame of the `testsrc2` pattern at `size` (odd sizes allowed: made one larger, converted to RGB and
  /// cropped), optionally filtered further, and writes it to `file`. The source is finite (one frame).
  static func make(_ file: URL, size: String = "37x23", filter: String? = nil, extra: [String] = []) throws {
    let wh = size.split(separator: "x").map { Int($0)! }
    let chain = "format=rgb24,crop=\(wh[0]):\(wh[1]):0:0" + (filter.map { "," + $0 } ?? "")
    let src = "testsrc2=size=\(wh[0] + 1)x\(wh[1] + 1):rate=1:duration=1"
    try run(["-f", "lavfi", "-i", src, "-vf", chain, "-frames:v", "1"] + extra + [file.path])
  }

  /// The raw pixels of the first frame of `file` in `pixFmt`, as ffmpeg decodes it.
  static func raw(_ file: URL, pixFmt: String) throws -> [UInt8] {
    [UInt8](try run(["-i", file.path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pixFmt, "-"]))
  }
}

/// A temporary directory for one test.
final class Scratch {
  let dir: URL
  init() throws { dir = try Fixtures.temporaryDirectory("vtag-image") }
  deinit { try? FileManager.default.removeItem(at: dir) }
  func url(_ name: String) -> URL { dir.appendingPathComponent(name) }
}

func expectDecodeError(
  _ path: String, _ check: (ImageDecodeError.Reason) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) {
  do {
    let img = try StillImageDecoder.decode(path: path)
    Issue.record(
      "decoded \(path) as a \(img.width)×\(img.height) image; expected an error", sourceLocation: sourceLocation)
  } catch {
    #expect(error.path == path, sourceLocation: sourceLocation)
    #expect(
      error.description.contains(path), "message does not name the file: \(error)", sourceLocation: sourceLocation)
    #expect(check(error.reason), "unexpected reason: \(error)", sourceLocation: sourceLocation)
  }
}

@Suite("StillImageDecoder: formats via FFmpeg", .enabled(if: FFmpegCLI.available, FFmpegCLI.missing))
struct FFmpegFormatTests {
  @Test("gray PNG → R = G = B = gray")
  func grayPNG() throws {
    let s = try Scratch()
    let f = s.url("gray.png")
    try FFmpegCLI.make(f, extra: ["-pix_fmt", "gray"])
    let gray = try FFmpegCLI.raw(f, pixFmt: "gray")
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.width == 37 && img.height == 23)
    #expect(img.pixels == gray.flatMap { [$0, $0, $0] })
  }

  @Test("RGBA PNG → alpha dropped, colour kept even where alpha is 0 (no compositing)")
  func rgbaPNG() throws {
    let s = try Scratch()
    let f = s.url("rgba.png")
    try FFmpegCLI.make(
      f, filter: "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='mod(X*37+Y*11,256)*lt(X,30)'",
      extra: ["-pix_fmt", "rgba"])
    let rgba = try FFmpegCLI.raw(f, pixFmt: "rgba")
    #expect(stride(from: 3, to: rgba.count, by: 4).contains { rgba[$0] == 0 && rgba[$0 - 3] != 0 })
    let img = try StillImageDecoder.decode(path: f.path)
    let expected = stride(from: 0, to: rgba.count, by: 4).flatMap { rgba[$0..<($0 + 3)] }
    #expect(img.pixels == expected)
  }

  @Test("gray + alpha PNG (ya8) → gray replicated, alpha dropped")
  func grayAlphaPNG() throws {
    let s = try Scratch()
    let f = s.url("ya8.png")
    try FFmpegCLI.make(f, filter: "format=ya8", extra: ["-pix_fmt", "ya8"])
    let ya = try FFmpegCLI.raw(f, pixFmt: "ya8")
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.pixels == stride(from: 0, to: ya.count, by: 2).flatMap { [ya[$0], ya[$0], ya[$0]] })
  }

  @Test("palette PNG → colours through the palette")
  func palettePNG() throws {
    let s = try Scratch()
    let f = s.url("pal.png")
    try FFmpegCLI.make(
      f, filter: "split[a][b];[a]palettegen=max_colors=16:reserve_transparent=0[p];[b][p]paletteuse",
      extra: ["-pix_fmt", "pal8"])
    let rgb = try FFmpegCLI.raw(f, pixFmt: "rgb24")
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.pixels == rgb)
    var colours = Set<Int>()
    for i in stride(from: 0, to: img.pixels.count, by: 3) {
      colours.insert(Int(img.pixels[i]) << 16 | Int(img.pixels[i + 1]) << 8 | Int(img.pixels[i + 2]))
    }
    #expect(colours.count <= 16)
  }

  @Test("16-bit RGB PNG → high byte of each sample (Pillow's RGB;16B)")
  func rgb48PNG() throws {
    let s = try Scratch()
    let f = s.url("rgb48.png")
    try FFmpegCLI.make(f, extra: ["-pix_fmt", "rgb48be"])
    let raw = try FFmpegCLI.raw(f, pixFmt: "rgb48be")
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.pixels == stride(from: 0, to: raw.count, by: 2).map { raw[$0] })
  }

  @Test("16-bit gray PNG → clipped to 255 (Pillow opens it as I;16)")
  func gray16PNG() throws {
    let s = try Scratch()
    let f = s.url("gray16.png")
    try FFmpegCLI.make(f, filter: "format=gray16be,geq=lum='X*11+Y*3'", extra: ["-pix_fmt", "gray16be"])
    let raw = try FFmpegCLI.raw(f, pixFmt: "gray16be")
    let values = stride(from: 0, to: raw.count, by: 2).map { Int(raw[$0]) << 8 | Int(raw[$0 + 1]) }
    #expect(values.contains { $0 > 255 } && values.contains { $0 < 255 })
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(
      img.pixels
        == values.flatMap { v -> [UInt8] in
          let b = UInt8(min(v, 255))
          return [b, b, b]
        })
  }

  @Test("BMP, 24-bit")
  func bmp24() throws {
    let s = try Scratch()
    let f = s.url("image.bmp")
    try FFmpegCLI.make(f, extra: ["-pix_fmt", "bgr24"])
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.pixels == (try FFmpegCLI.raw(f, pixFmt: "rgb24")))
  }

  @Test("BMP, 16-bit 5-6-5 → fields scaled as v·255/max, truncated (Pillow's BGR;16)")
  func bmp565() throws {
    let s = try Scratch()
    let f = s.url("image565.bmp")
    try FFmpegCLI.make(f, extra: ["-pix_fmt", "rgb565le"])
    let raw = try FFmpegCLI.raw(f, pixFmt: "rgb565le")
    let expected = stride(from: 0, to: raw.count, by: 2).flatMap { i -> [UInt8] in
      let p = Int(raw[i]) | Int(raw[i + 1]) << 8
      return [UInt8((p >> 11) * 255 / 31), UInt8(((p >> 5) & 63) * 255 / 63), UInt8((p & 31) * 255 / 31)]
    }
    #expect(try StillImageDecoder.decode(path: f.path).pixels == expected)
  }

  @Test(
    "TIFF (RGB, gray, RGBA, 16-bit) and PPM",
    arguments: [
      ("rgb.tiff", "rgb24"), ("gray.tiff", "gray"), ("rgba.tiff", "rgba"), ("rgb48.tiff", "rgb48le"),
      ("image.ppm", "rgb24"),
    ])
  func tiffAndPNM(_ name: String, _ pixFmt: String) throws {
    let s = try Scratch()
    let f = s.url(name)
    try FFmpegCLI.make(f, extra: ["-pix_fmt", pixFmt])
    let img = try StillImageDecoder.decode(path: f.path)
    let raw = try FFmpegCLI.raw(f, pixFmt: pixFmt)
    let expected: [UInt8]
    switch pixFmt {
    case "gray": expected = raw.flatMap { [$0, $0, $0] }
    case "rgba": expected = stride(from: 0, to: raw.count, by: 4).flatMap { raw[$0..<($0 + 3)] }
    case "rgb48le": expected = stride(from: 1, to: raw.count, by: 2).map { raw[$0] }
    default: expected = raw
    }
    #expect(img.width == 37 && img.height == 23)
    #expect(img.pixels == expected)
  }

  @Test("GIF (first frame)")
  func gif() throws {
    let s = try Scratch()
    let f = s.url("image.gif")
    try FFmpegCLI.make(f)
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.width == 37 && img.height == 23)
    #expect(img.pixels == (try FFmpegCLI.raw(f, pixFmt: "rgb24")))
  }

  @Test("WebP, lossless → exactly the source pixels", .enabled(if: FFmpegCLI.hasEncoder("libwebp")))
  func webpLossless() throws {
    let s = try Scratch()
    let src = s.url("src.png")
    let f = s.url("image.webp")
    try FFmpegCLI.make(src, extra: ["-pix_fmt", "rgb24"])
    try FFmpegCLI.run(["-i", src.path, "-c:v", "libwebp", "-lossless", "1", f.path])
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.pixels == (try FFmpegCLI.raw(src, pixFmt: "rgb24")))
  }

  @Test(
    "WebP, lossy, from the ffmpeg CLI (bit-exactness vs Pillow: see the Pillow reference suite)",
    .enabled(if: FFmpegCLI.hasEncoder("libwebp")))
  func webpLossy() throws {
    let s = try Scratch()
    let f = s.url("lossy.webp")
    try FFmpegCLI.make(f, size: "64x48", extra: ["-c:v", "libwebp", "-quality", "90"])
    let img = try StillImageDecoder.decode(path: f.path)
    #expect(img.width == 64 && img.height == 48)
  }

  @Test("a file name with '%' and ':' is read literally")
  func oddName() throws {
    let s = try Scratch()
    let f = s.url("frame%03d:x.png")
    try FFmpegCLI.make(s.url("plain.png"))
    try FileManager.default.copyItem(at: s.url("plain.png"), to: f)
    #expect(try StillImageDecoder.decode(path: f.path) == (try StillImageDecoder.decode(path: s.url("plain.png").path)))
  }

  @Test("a video file is not a still image")
  func video() throws {
    let s = try Scratch()
    let f = s.url("clip.mp4")
    try FFmpegCLI.run(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5", "-t", "1", "-c:v", "mpeg4", f.path])
    expectDecodeError(f.path) { if case .notAnImage = $0 { true } else { false } }
  }

  @Test("a corrupt PNG gives a clear error")
  func corruptPNG() throws {
    let s = try Scratch()
    let good = s.url("good.png")
    try FFmpegCLI.make(good, size: "64x48")
    var bytes = [UInt8](try Data(contentsOf: good))
    for i in stride(from: bytes.count / 2, to: min(bytes.count / 2 + 64, bytes.count - 12), by: 1) { bytes[i] ^= 0x5A }
    let f = s.url("corrupt.png")
    try Data(bytes).write(to: f)
    expectDecodeError(f.path) { if case .corrupt = $0 { true } else { false } }
    let t = s.url("truncated.png")
    try Data([UInt8](try Data(contentsOf: good)).prefix(bytes.count / 2)).write(to: t)
    expectDecodeError(t.path) { if case .corrupt = $0 { true } else { false } }
  }
}

@Suite("StillImageDecoder: Pillow references (JPEG via libjpeg-turbo, lossy WebP)")
struct JPEGDecodeTests {
  struct Case: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let file: String
    let mode: String
    let width: Int
    let height: Int
    var testDescription: String { "\(name) (\(mode))" }
  }
  struct Manifest: Decodable { let cases: [Case] }

  static let directory = Bundle.module.bundleURL.appendingPathComponent("Resources/decode")
  static let cases: [Case] = {
    guard let d = try? Data(contentsOf: directory.appendingPathComponent("manifest.json")),
      let m = try? JSONDecoder().decode(Manifest.self, from: d)
    else { return [] }
    return m.cases
  }()

  @Test("the Pillow references are bundled")
  func present() { #expect(Self.cases.count == 6) }

  @Test(
    "equals Pillow 13's open().convert(\"RGB\") (JPEG CMYK, gray, EXIF orientation ignored, progressive; lossy WebP)",
    arguments: cases)
  func matchesPillow(_ c: Case) throws {
    let img = try StillImageDecoder.decode(path: Self.directory.appendingPathComponent(c.file).path)
    let expected = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent("\(c.name).rgb")))
    #expect(img.width == c.width && img.height == c.height)
    let diffs = zip(img.pixels, expected).filter { $0 != $1 }.count
    #expect(img.pixels.count == expected.count && diffs == 0, "\(diffs) bytes differ")
  }

  @Test("JPEG is recognised by its magic bytes, whatever the extension")
  func magic() throws {
    let s = try Scratch()
    let f = s.url("actually-a-jpeg.png")
    try FileManager.default.copyItem(at: Self.directory.appendingPathComponent("gray.jpg"), to: f)
    #expect(try StillImageDecoder.decode(path: f.path).width == 45)
  }

  @Test("truncated and corrupt JPEGs give clear errors")
  func badJPEG() throws {
    let s = try Scratch()
    let good = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent("progressive-444.jpg")))
    let t = s.url("truncated.jpg")
    try Data(good.prefix(good.count / 2)).write(to: t)
    expectDecodeError(t.path) { $0 == .truncated }
    let base = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent("exif-orientation-6.jpg")))
    let t2 = s.url("truncated-baseline.jpg")
    try Data(base.prefix(base.count * 2 / 3)).write(to: t2)
    expectDecodeError(t2.path) { $0 == .truncated }
    let c = s.url("garbage.jpg")
    try Data([0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x05] + [UInt8](repeating: 0x42, count: 200)).write(to: c)
    expectDecodeError(c.path) { if case .corrupt = $0 { true } else { false } }
    let c2 = s.url("empty-frame.jpg")
    try Data([0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0, 0, 0, 0, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9]).write(to: c2)
    expectDecodeError(c2.path) { if case .corrupt = $0 { true } else { false } }
  }
}

@Suite("StillImageDecoder: bad inputs")
struct BadInputTests {
  @Test("missing file")
  func missing() throws {
    let s = try Scratch()
    expectDecodeError(s.url("nope.png").path) { $0 == .fileNotFound }
  }

  @Test("a directory")
  func directory() throws {
    let s = try Scratch()
    expectDecodeError(s.dir.path) { $0 == .isDirectory }
  }

  @Test("an empty file")
  func empty() throws {
    let s = try Scratch()
    for name in ["empty.png", "empty.jpg", "empty"] {
      let f = s.url(name)
      try Data().write(to: f)
      expectDecodeError(f.path) { $0 == .emptyFile }
    }
  }

  @Test("a text file, whatever its extension")
  func text() throws {
    let s = try Scratch()
    for name in ["notes.txt", "notes.png", "notes.jpg", "notes"] {
      let f = s.url(name)
      try Data("This is not an image.\nJust some text, line two.\n".utf8).write(to: f)
      expectDecodeError(f.path) { if case .notAnImage = $0 { true } else { false } }
    }
  }
}
