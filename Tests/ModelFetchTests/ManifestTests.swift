import Foundation
import ModelFetch
import RecognizeAnything
import Testing
import VTagTestSupport

/// The shipped manifest: consistent with configs/, the spec's sizes and hashes, and the README.
struct ManifestTests {
  @Test("The built-in manifest is configs/manifest.json")
  func builtInEqualsFile() throws {
    let text = try String(
      contentsOf: Fixtures.repositoryRoot.appendingPathComponent("configs/manifest.json"), encoding: .utf8)
    #expect(text.trimmingCharacters(in: .newlines) == OfficialManifest.json.trimmingCharacters(in: .newlines))
    #expect(ModelManifest.builtIn.models.map(\.name) == ["ram_plus", "ram", "tag2text"])
  }

  @Test("Each model's checkpoint entry matches its config's checkpoint{file, bytes, sha256}")
  func checkpointsMatchConfigs() throws {
    for model in ModelManifest.builtIn.models {
      let config = try ModelConfig.preset(try #require(model.preset))
      let ckpt = try #require(config.checkpoint)
      let pth = try #require(model.files.first { $0.name == "model.pth" })
      #expect(pth.source == ckpt.file)
      #expect(pth.bytes == Int64(ckpt.bytes ?? -1))
      #expect(pth.sha256 == ckpt.sha256)
      #expect(pth.url.hasSuffix("/resolve/main/\(ckpt.file)"))
      // The bundle files the config names are all downloaded.
      for (_, name) in config.files ?? [:] {
        #expect(model.files.contains { $0.name == name }, "\(model.name): \(name)")
      }
    }
  }

  @Test(
    "Data files' sizes and sha256 match ../shared/ram-data",
    .enabled(if: Fixtures.exists(Fixtures.ramData), Comment(rawValue: Fixtures.missing(Fixtures.ramData))))
  func dataFilesMatchShared() throws {
    for model in ModelManifest.builtIn.models {
      for f in model.files where f.url.contains("/ram/data/") {
        let local = Fixtures.ramData.appendingPathComponent(f.source)
        #expect(Downloader.size(of: local) == f.bytes, "\(f.source)")
        #expect(try SHA256.hash(fileAt: local.path) == f.sha256, "\(f.source)")
        #expect(f.url.contains("7cb804a8609e9f4b1a50b7f31436d2df40bb9481"))
      }
    }
  }

  @Test("The README's manual-install section is the text of the offline error")
  func readmeManualInstall() throws {
    let readme = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
    let model = try #require(ModelManifest.builtIn.model("ram_plus"))
    let text = ManualInstall.text(model: model, directory: "~/.cache/vtag/models/ram_plus")
    #expect(readme.contains(text), "README.md lacks:\n\(text)")
  }

  @Test("Base URLs: <base>/<official name>, folders, the environment, bad schemes")
  func sources() throws {
    let f = ModelManifest.builtIn.model("ram_plus")!.files.last!
    #expect(try FileSource(base: nil, environment: [:]).location(of: f).absoluteString == f.url)
    #expect(
      try FileSource(base: "http://mirror.local/m/", environment: [:]).location(of: f).absoluteString
        == "http://mirror.local/m/ram_plus_swin_large_14m.pth")
    #expect(
      try FileSource(base: nil, environment: ["VTAG_MODEL_BASE_URL": "http://127.0.0.1:8080"]).location(of: f)
        .absoluteString
        == "http://127.0.0.1:8080/ram_plus_swin_large_14m.pth")
    #expect(
      try FileSource(base: "/tmp/dl", environment: [:]).location(of: f)
        == URL(fileURLWithPath: "/tmp/dl/ram_plus_swin_large_14m.pth"))
    #expect(throws: FetchError.self) { try FileSource(base: "ftp://x", environment: [:]).location(of: f) }
  }

  @Test("Malformed manifests are refused with the reason")
  func badManifests() {
    let cases: [(String, String)] = [
      (#"{"format":"other","models":[]}"#, "format"),
      (
        #"{"format":"vtag-models/1","models":[{"name":"x","preset":"ram_swin_large_14m","files":[{"name":"model.pth","source":"a.pth","url":"http://h/a.pth","bytes":1,"sha256":"00"}]}]}"#,
        "sha256"
      ),
      (
        #"{"format":"vtag-models/1","models":[{"name":"x","files":[{"name":"model.pth","source":"a.pth","url":"http://h/a.pth","bytes":1,"sha256":"\#(String(repeating: "0", count: 64))"}]}]}"#,
        "preset"
      ),
      ("not json", "not a vtag model manifest"),
    ]
    for (json, mention) in cases {
      do {
        _ = try ModelManifest.decode(Data(json.utf8), path: "m.json")
        Issue.record("accepted: \(json)")
      } catch {
        #expect("\(error)".contains(mention), "\(error)")
      }
    }
  }

  @Test("Retry delays double from the first and are capped")
  func backoff() {
    let p = RetryPolicy(retries: 5, initialDelay: 1, maxDelay: 5, environment: [:])
    #expect((1...5).map { p.delay(beforeRetry: $0) } == [1, 2, 4, 5, 5])
    #expect(RetryPolicy(environment: ["VTAG_FETCH_BACKOFF": "0.25"]).initialDelay == 0.25)
  }
}
