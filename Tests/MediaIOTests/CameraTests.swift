import CV4L2
import Foundation
import MediaIO
import Testing
import VTagTestSupport

/// The V4L2 capture state machine against a fake driver.
struct CameraTests {
  func open(_ fake: FakeV4L2Device, _ config: CameraConfiguration = .init()) throws(CameraError) -> CameraSource {
    try CameraSource(path: fake.path, configuration: config, opener: { _ throws(CameraError) in fake })
  }


  @Test("Negotiation: the driver adjusts the size; frames carry the buffer timestamps and sequence")
  func negotiateAndCapture() async throws {
    let fake = FakeV4L2Device()
    fake.frameLimit = 10
    let camera = try open(fake, .init(width: 330, height: 250, frameRate: 15, bufferedFrames: 64))
    #expect(camera.info.width == 320 && camera.info.height == 240)
    #expect(camera.info.bytesPerLine == 320 * 3 + 8)
    #expect(camera.info.bufferCount == 3)  // asked 4, the driver granted 3
    #expect(camera.info.card == "Fake Camera" && camera.info.driver == "fakecam")
    #expect(camera.info.frameRate.map { abs($0 - 15) < 0.01 } == true)
    var frames: [CameraFrame] = []
    for try await f in camera.frames() {
      frames.append(f)
      if frames.count == 10 { break }
    }
    #expect(frames.map(\.sequence) == Array(0..<10))
    #expect(abs(frames[3].t - 3.0 / 15) < 1e-5 && frames[0].t == 0 && frames[0].timestamp == 1000)
    let img = frames[4].image
    #expect(img.width == 320 && img.height == 240)
    #expect(img[7, 9] == (4, 7, 9))  // row padding stripped
    await camera.waitUntilStopped()
    let calls = fake.calls
    #expect(Array(calls.prefix(4)) == ["QUERYCAP", "S_FMT", "S_PARM", "REQBUFS"])
    #expect(calls.contains("STREAMON") && calls.contains("STREAMOFF"))
    #expect(calls.firstIndex(of: "STREAMOFF")! < calls.firstIndex(of: "munmap")!)
    #expect(calls.last == "close" && fake.closeCount == 1)
    #expect(fake.mapCount == 3 && fake.unmapCount == 3)
  }

  @Test("S_FMT errors and a driver that will not give RGB24") func formatErrors() throws {
    let busy = FakeV4L2Device()
    busy.formatError = EBUSY
    #expect(throws: CameraError(device: busy.path, reason: .busy)) { try open(busy) }
    #expect(busy.closeCount == 1)
    let invalid = FakeV4L2Device()
    invalid.formatError = EINVAL
    do {
      _ = try open(invalid)
      Issue.record("expected an error")
    } catch {
      guard case .formatRejected = error.reason else {
        Issue.record("\(error)")
        return
      }
      #expect(error.description.contains(invalid.path))
    }
    let yuyv = FakeV4L2Device()
    yuyv.answerPixelFormat = cv4l2_PIX_FMT_YUYV
    do {
      _ = try open(yuyv)
      Issue.record("expected an error")
    } catch {
      #expect(error.description.contains("YUYV"))
    }
    #expect(yuyv.closeCount == 1)
  }

  @Test("A node without video capture is not a camera") func notCapture() throws {
    let fake = FakeV4L2Device()
    fake.capabilities = cv4l2_CAP_STREAMING
    do {
      _ = try open(fake)
      Issue.record("expected an error")
    } catch {
      guard case .notACamera = error.reason else {
        Issue.record("\(error)")
        return
      }
    }
    #expect(fake.closeCount == 1)
  }

  @Test("Unplugged mid-stream: the iteration ends with .disconnected and everything is released")
  func unplug() async throws {
    let fake = FakeV4L2Device()
    fake.frameLimit = 5
    fake.unplugWhenDone = true
    let camera = try open(fake, .init(bufferedFrames: 64))
    var n = 0
    do {
      for try await _ in camera.frames() { n += 1 }
      Issue.record("expected a disconnect error")
    } catch let e as CameraError {
      #expect(e.reason == .disconnected)
      #expect(e.description.contains(fake.path))
    }
    #expect(n == 5)
    await camera.waitUntilStopped()
    #expect(fake.closeCount == 1 && fake.unmapCount == fake.mapCount)
  }

  @Test("A slow consumer: the camera keeps the newest frames and counts drops") func livePacing() async throws {
    let fake = FakeV4L2Device()
    fake.frameLimit = 60
    let camera = try open(fake, .init(bufferedFrames: 2, pollTimeoutMilliseconds: 20))
    var sequences: [Int] = []
    for try await f in camera.frames() {
      sequences.append(f.sequence)
      try await Task.sleep(for: .milliseconds(30))
      if f.sequence >= 59 || sequences.count > 60 { break }
    }
    #expect(camera.droppedFrames > 0)
    #expect(sequences == sequences.sorted())
    #expect(sequences.last == 59, "the newest frame should arrive: \(sequences)")
  }

  @Test("Cancelling ends the iteration, the capture thread ends and closes the device; no frames: timeouts only")
  func cancel() async throws {
    let fake = FakeV4L2Device()
    fake.frameLimit = 0  // streaming, but nothing ever arrives
    let camera = try open(fake, .init(pollTimeoutMilliseconds: 50))
    let task = Task { () -> Int in
      var n = 0
      for try await _ in camera.frames() { n += 1 }
      return n
    }
    // Cancel once the capture thread is streaming (polling and timing out), not before it started.
    while !fake.calls.contains("STREAMON") && fake.closeCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
    task.cancel()
    #expect(try await task.value == 0)
    await camera.waitUntilStopped()  // returns only once the capture thread has ended
    #expect(fake.closeCount == 1 && fake.unmapCount == fake.mapCount)
    let calls = fake.calls
    #expect(calls.contains("STREAMOFF") && calls.last == "close")
  }

  @Test("A camera that is never iterated is closed when released") func neverIterated() throws {
    let fake = FakeV4L2Device()
    do { _ = try open(fake) }
    #expect(fake.closeCount == 1 && fake.unmapCount == 3)
  }

  @Test("Listing and describing through the seam; real paths that are not cameras") func devices() throws {
    #expect(throws: CameraError(device: "/dev/video-nonexistent-77", reason: .deviceNotFound)) {
      try CameraDevices.describe(path: "/dev/video-nonexistent-77")
    }
    do {
      _ = try CameraDevices.describe(path: "/dev/null")
      Issue.record("expected an error")
    } catch {
      guard case .notACamera = error.reason else {
        Issue.record("\(error)")
        return
      }
    }
    do {
      _ = try CameraSource(path: "/etc/hostname")
      Issue.record("expected an error")
    } catch {
      guard case .notACamera = error.reason else {
        Issue.record("\(error)")
        return
      }
    }
    let dir = try Fixtures.temporaryDirectory("vtag-dev")
    defer { try? FileManager.default.removeItem(at: dir) }
    for name in ["video0", "video10", "video2", "videox", "audio0"] {
      _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: nil)
    }
    #expect(
      CameraDevices.candidatePaths(directory: dir.path).map { ($0 as NSString).lastPathComponent } == [
        "video0", "video2", "video10",
      ])
    let (cams, errors) = CameraDevices.list(directory: dir.path) { path throws(CameraError) in
      if path.hasSuffix("video2") { throw CameraError(device: path, reason: .busy) }
      return FakeV4L2Device(path: path)
    }
    #expect(cams.map(\.card) == ["Fake Camera", "Fake Camera"] && errors.map(\.reason) == [.busy])
  }
}
