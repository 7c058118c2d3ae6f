import Foundation
import ModelFetch
import Testing
import VTagTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `vtag models fetch` against a real nginx on 127.0.0.1 serving the tiny RAM++ fixture bundle
/// under the official file names, with a test manifest carrying the fixture's sizes and hashes.
@Suite(
  .serialized,
  .enabled(if: Fixtures.exists(Fixtures.ramParity), Comment(rawValue: Fixtures.missing(Fixtures.ramParity))),
  .enabled(
    if: NginxServer.available, "skipped: needs nginx (apt-get install nginx; scripts/install-deps.sh installs it)"),
  .enabled(if: VTagProcess.available, "needs the built vtag binary"))
struct FetchCommandTests {
  static let fixture = Fixtures.ramParity.appendingPathComponent("ram_plus")
  static let image = Fixtures.ramParity.appendingPathComponent("cases/chelsea.png")
  /// Bundle name → official name, as served.
  static let served = [
    "config.json": "config.json", "tags.txt": "ram_tag_list.txt", "tags_zh.txt": "ram_tag_list_chinese.txt",
    "thresholds.txt": "ram_tag_list_threshold.txt", "model.pth": "ram_plus_swin_large_14m.pth",
  ]

  /// A web root (official names linked to the fixture; `corrupt/` has a tag list with one byte
  /// changed), a test manifest, and nginx with a slow, a Range-ignoring and a failing location.
  final class Setup {
    let work: URL
    let www: URL
    let manifest: URL
    let server: NginxServer
    let pthSize: Int64

    init() throws {
      work = try Fixtures.temporaryDirectory("vtag-fetch")
      www = work.appendingPathComponent("www")
      let corrupt = www.appendingPathComponent("corrupt")
      try FileManager.default.createDirectory(at: corrupt, withIntermediateDirectories: true)
      let files = try FetchCommandTests.files()
      for f in files {
        let src = FetchCommandTests.fixture.appendingPathComponent(f.name)
        try FileManager.default.createSymbolicLink(at: www.appendingPathComponent(f.source), withDestinationURL: src)
        if f.name == "tags.txt" {
          var data = try Data(contentsOf: src)
          data[100] ^= 0x20
          try data.write(to: corrupt.appendingPathComponent(f.source))
        } else {
          try FileManager.default.createSymbolicLink(
            at: corrupt.appendingPathComponent(f.source), withDestinationURL: src)
        }
      }
      pthSize = files.last!.bytes
      let m = ModelManifest(
        format: "vtag-models/1", comment: "test",
        models: [.init(name: "ram_plus", title: "tiny RAM++", preset: nil, files: files)])
      let enc = JSONEncoder()
      enc.outputFormatting = .prettyPrinted
      manifest = work.appendingPathComponent("manifest.json")
      try enc.encode(m).write(to: manifest)
      server = try NginxServer(
        root: www,
        locations: """
              location /slow/ { alias \(www.path)/; limit_rate 4m; }
              location /norange/ { alias \(www.path)/; max_ranges 0; }
              location /err500/ { return 500; }
          """)
    }

    func dir(_ name: String = "ram_plus") -> URL { work.appendingPathComponent("models/\(name)") }

    func fetch(_ base: String, extra: [String] = [], env: [String: String] = [:]) throws -> VTagProcess.Result {
      try VTagProcess.run(
        ["models", "fetch", "ram_plus", "--manifest", manifest.path, "--base-url", base, "--dir", dir().path] + extra,
        environment: env)
    }

    deinit {
      server.stop()
      try? FileManager.default.removeItem(at: work)
    }
  }

  /// The fixture's files as manifest entries (real sizes and sha256), hashed once per test run.
  nonisolated(unsafe) static var cachedFiles: [ModelManifest.File]?
  static let lock = NSLock()
  static func files() throws -> [ModelManifest.File] {
    lock.lock()
    defer { lock.unlock() }
    if let cachedFiles { return cachedFiles }
    var files: [ModelManifest.File] = []
    for name in ["config.json", "tags.txt", "tags_zh.txt", "thresholds.txt", "model.pth"] {
      let src = fixture.appendingPathComponent(name)
      let official = served[name]!
      files.append(
        .init(
          name: name, source: official, url: "http://127.0.0.1:9/\(official)", bytes: Downloader.size(of: src),
          sha256: try SHA256.hash(fileAt: src.path)))
    }
    cachedFiles = files
    return files
  }

  static func expectedTags() throws -> String {
    struct E: Decodable { var tags_string: String }
    let url = Fixtures.ramParity.appendingPathComponent("cases/chelsea.ram_plus.expected.json")
    return try JSONDecoder().decode(E.self, from: Data(contentsOf: url)).tags_string
  }

  @Test("A full fetch installs a verified bundle that loads and tags; a second fetch does nothing")
  func fullFetch() throws {
    let s = try Setup()
    let r = try s.fetch(s.server.baseURL)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == s.dir().path)
    #expect(Fixtures.exists(s.dir().appendingPathComponent(".complete")))
    #expect(!Fixtures.exists(s.dir().appendingPathComponent(".incomplete")))
    #expect(!Fixtures.exists(ModelFetcher.stagingDirectory(for: s.dir())))
    #expect(
      try SHA256.hash(fileAt: s.dir().appendingPathComponent("model.pth").path)
        == SHA256.hash(fileAt: Self.fixture.appendingPathComponent("model.pth").path))

    let tagged = try VTagProcess.run(["image", "--model", s.dir().path, Self.image.path])
    #expect(tagged.status == 0, "stderr: \(tagged.stderr)")
    #expect(tagged.stdout.hasPrefix("Image Tags: \(try Self.expectedTags())\n"))

    let list = try VTagProcess.run(
      ["models", "list", "--json"], environment: ["VTAG_MODELS": s.dir().deletingLastPathComponent().path])
    #expect(list.status == 0)
    #expect(list.stdout.contains("\"name\":\"ram_plus\""))
    #expect(list.stdout.contains("\"state\":\"verified\""))

    let info = try VTagProcess.run(["models", "info", "--hashes", s.dir().path])
    #expect(info.status == 0, "stderr: \(info.stderr)")
    #expect(
      info.stdout.contains(
        "model.pth  \(s.pthSize) bytes  sha256 49f16506db33213a2375a838209fd272aa73365ed011b33f4d53b8dd800f933d  (as verified at fetch)"
      ))
    #expect(info.stdout.contains("official ram_tag_list.txt"))

    let count = s.server.requests().count
    let again = try s.fetch(s.server.baseURL)
    #expect(again.status == 0)
    #expect(again.stderr.contains("already installed and verified"))
    #expect(s.server.requests().count == count)
  }

  @Test("A fetch killed mid-file resumes with a Range request: no byte on disk is downloaded twice")
  func resume() throws {
    let s = try Setup()
    let p = Process()
    p.executableURL = VTagProcess.binary
    p.arguments = [
      "models", "fetch", "ram_plus", "--manifest", s.manifest.path, "--base-url", s.server.baseURL + "/slow", "--dir",
      s.dir().path,
    ]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    let part = ModelFetcher.stagingDirectory(for: s.dir()).appendingPathComponent("model.pth.part")
    let deadline = Date().addingTimeInterval(20)
    while Downloader.size(of: part) < 2_000_000 && Date() < deadline && p.isRunning { usleep(20_000) }
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    let cut = Downloader.size(of: part)
    #expect(cut >= 2_000_000 && cut < s.pthSize, "cut at \(cut)")

    // The staging folder is not a bundle vtag loads, and nothing was installed.
    #expect(!Fixtures.exists(s.dir()))
    let refused = try VTagProcess.run([
      "image", "--model", ModelFetcher.stagingDirectory(for: s.dir()).path, Self.image.path,
    ])
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("not a complete model bundle"))
    let list = try VTagProcess.run(
      ["models", "list"], environment: ["VTAG_MODELS": s.dir().deletingLastPathComponent().path])
    #expect(list.stdout.contains("incomplete"))

    let r = try s.fetch(s.server.baseURL)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stderr.contains("resuming at"))
    let pth = s.server.requests().filter { $0.uri.hasSuffix("ram_plus_swin_large_14m.pth") }
    #expect(pth.count == 2)
    #expect(pth.last?.status == 206)
    #expect(pth.last?.range == "bytes=\(cut)-")
    #expect(Int64(pth.last?.bytes ?? 0) == s.pthSize - cut)
    // The small files finished before the cut are not fetched again.
    #expect(s.server.requests().filter { $0.uri.hasSuffix("ram_tag_list.txt") }.count == 1)
    #expect(
      try SHA256.hash(fileAt: s.dir().appendingPathComponent("model.pth").path)
        == "49f16506db33213a2375a838209fd272aa73365ed011b33f4d53b8dd800f933d")
  }

  @Test("A server that ignores Range: the part is restarted from zero and the fetch succeeds")
  func serverIgnoresRange() throws {
    let s = try Setup()
    let staging = ModelFetcher.stagingDirectory(for: s.dir())
    try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
    let pth = try Data(contentsOf: Self.fixture.appendingPathComponent("model.pth"))
    try pth.prefix(1_000_000).write(to: staging.appendingPathComponent("model.pth.part"))
    let r = try s.fetch(s.server.baseURL + "/norange")
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stderr.contains("no HTTP Range support"))
    let last = s.server.requests().last
    #expect(last?.status == 200 && last?.bytes == pth.count && last?.range == "bytes=1000000-")
  }

  @Test("A corrupt file: clear error, the bad download removed, nothing installed")
  func corrupt() throws {
    let s = try Setup()
    let r = try s.fetch(s.server.baseURL + "/corrupt")
    #expect(r.status == 1)
    #expect(r.stderr.contains("tags.txt"), "\(r.stderr)")
    #expect(
      r.stderr.contains("is corrupt: expected sha256 5d96d2f7225527480ad773aaac76b6e5c08a18adf6eae9ca7d2ab923d5e7bd8b"))
    #expect(r.stderr.contains("removed"))
    let staging = ModelFetcher.stagingDirectory(for: s.dir())
    #expect(!Fixtures.exists(s.dir()))
    #expect(!Fixtures.exists(staging.appendingPathComponent("tags.txt.part")))
    #expect(!Fixtures.exists(staging.appendingPathComponent("tags.txt")))
    #expect(Fixtures.exists(staging.appendingPathComponent(".incomplete")))
    #expect(!Fixtures.exists(staging.appendingPathComponent(".complete")))
    // A good mirror then completes it without fetching config.json again.
    let ok = try s.fetch(s.server.baseURL)
    #expect(ok.status == 0, "stderr: \(ok.stderr)")
    #expect(s.server.requests().filter { $0.uri.hasSuffix("config.json") }.count == 1)
  }

  @Test("HTTP 404: clear error at once, no retries")
  func notFound() throws {
    let s = try Setup()
    let r = try s.fetch(s.server.baseURL + "/missing", env: ["VTAG_FETCH_BACKOFF": "0.01"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("HTTP 404"))
    #expect(r.stderr.contains("--base-url"))
    #expect(s.server.requests().count == 1)
  }

  @Test("HTTP 500: retried with backoff, then a clear error")
  func serverError() throws {
    let s = try Setup()
    let r = try s.fetch(s.server.baseURL + "/err500", extra: ["--retries", "3"], env: ["VTAG_FETCH_BACKOFF": "0.01"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("HTTP 500"))
    #expect(r.stderr.contains("retrying in"))
    #expect(r.stderr.contains("failed 4 times"))
    #expect(s.server.requests().map(\.status) == [500, 500, 500, 500])
  }

  @Test("No network (connection refused): clear error with the manual-install steps")
  func offline() throws {
    let s = try Setup()
    let port = try NginxServer.freePort()
    let r = try s.fetch("http://127.0.0.1:\(port)", env: ["VTAG_FETCH_BACKOFF": "0.01"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("cannot reach http://127.0.0.1:\(port)/config.json (connection refused)"))
    #expect(r.stderr.contains("To install ram_plus by hand"))
    #expect(r.stderr.contains("ram_plus_swin_large_14m.pth as model.pth"))
    #expect(r.stderr.contains(s.dir().path))
  }

  @Test("Files downloaded by hand into a folder install with --base-url FOLDER")
  func localFolder() throws {
    let s = try Setup()
    let r = try s.fetch(s.www.path)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(Fixtures.exists(s.dir().appendingPathComponent(".complete")))
    #expect(s.server.requests().isEmpty)
  }

  @Test("vtag image with no --model fetches RAM++ with VTAG_AUTO_FETCH=1 off a terminal; otherwise says how")
  func autoFetch() throws {
    let s = try Setup()
    let models = s.dir().deletingLastPathComponent()
    var env = [
      "VTAG_MODELS": models.path, "VTAG_MODEL_MANIFEST": s.manifest.path, "VTAG_MODEL_BASE_URL": s.server.baseURL,
    ]
    let refused = try VTagProcess.run(["image", Self.image.path], environment: env)
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("vtag models fetch ram_plus"))
    #expect(s.server.requests().isEmpty)

    env["VTAG_AUTO_FETCH"] = "1"
    let r = try VTagProcess.run(["image", Self.image.path], environment: env)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.hasPrefix("Image Tags: \(try Self.expectedTags())\n"))
    #expect(Fixtures.exists(s.dir().appendingPathComponent(".complete")))
  }

  @Test("convert --in-place --remove-pth: a safetensors bundle that still tags and stays verified")
  func convertInPlace() throws {
    let s = try Setup()
    #expect(try s.fetch(s.server.baseURL).status == 0)
    let r = try VTagProcess.run(["models", "convert", "--in-place", s.dir().path, "--remove-pth"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(Fixtures.exists(s.dir().appendingPathComponent("model.safetensors")))
    #expect(!Fixtures.exists(s.dir().appendingPathComponent("model.pth")))
    let tagged = try VTagProcess.run(["image", "--model", s.dir().path, Self.image.path])
    #expect(tagged.status == 0, "stderr: \(tagged.stderr)")
    #expect(tagged.stdout.hasPrefix("Image Tags: \(try Self.expectedTags())\n"))
    let list = try VTagProcess.run(
      ["models", "list", "--json"], environment: ["VTAG_MODELS": s.dir().deletingLastPathComponent().path])
    #expect(list.stdout.contains("\"state\":\"verified\""))
    let usage = try VTagProcess.run(["models", "convert", "--remove-pth", "a.pth", "b.safetensors"])
    #expect(usage.status == 2)
  }
}
