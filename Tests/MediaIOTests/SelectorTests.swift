import Foundation
import Testing

@testable import MediaIO

/// The pure "which frame times to keep" logic.
struct NearestFrameSelectorTests {
  @Test("30 fps sampled every second keeps frames 0, 30, 60, …") func thirtyFPS() {
    let times = (0..<120).map { Double($0) / 30 }
    #expect(NearestFrameSelector.select(times: times, targets: .every(1)) == [0, 30, 60, 90])
  }

  @Test("The nearest frame wins, ties go to the earlier frame") func nearest() {
    // Target 1: 0.9 (0.1 away) beats 1.2; target 2: 1.8 and 2.2 tie → 1.8.
    #expect(NearestFrameSelector.select(times: [0, 0.9, 1.2, 1.8, 2.2], targets: .every(1)) == [0, 1, 3])
    // 29.97 fps: 1.001 is nearer 1 than 0.967.
    let ntsc = (0..<61).map { Double($0) * 1001 / 30000 }
    #expect(NearestFrameSelector.select(times: ntsc, targets: .every(1)) == [0, 30, 60])
  }

  @Test("A frame nearest several targets is kept once; targets after the last frame are not served") func gaps() {
    // Targets 0…5; 3.1 is nearest to 3 and (vs 4.6) to 4; 5 is after the last frame? No: 5.4 ≥ 5.
    #expect(NearestFrameSelector.select(times: [0, 3.1, 4.6, 5.4], targets: .every(1)) == [0, 1, 2])
    #expect(NearestFrameSelector.select(times: [0.5, 0.6], targets: .every(1)) == [0])
    #expect(NearestFrameSelector.select(times: [], targets: .every(1)) == [])
  }

  @Test("The held frame is emitted before the current one; decisions step by step") func decisions() {
    var s = NearestFrameSelector(targets: .every(1))
    #expect(s.offer(0) == .init(emitHeld: false, current: .keep))
    #expect(s.offer(0.95) == .init(emitHeld: false, current: .hold))
    #expect(s.offer(1.10) == .init(emitHeld: true, current: .hold))
    #expect(s.offer(1.5) == .init(emitHeld: false, current: .hold))
    #expect(s.nextTarget == 2)
  }

  @Test("Target lists finish; forgetting the held frame after a seek") func lists() {
    var s = NearestFrameSelector(targets: .list([2, 1]))
    #expect(s.nextTarget == 1)
    #expect(s.offer(0.5) == .init(emitHeld: false, current: .hold))
    s.forgetHeld()
    #expect(s.offer(1.2) == .init(emitHeld: false, current: .keep))
    #expect(s.offer(2.0) == .init(emitHeld: false, current: .keep))
    #expect(s.isFinished)
    #expect(s.offer(3) == .init(emitHeld: false, current: .discard))
  }

  @Test("Agrees with a brute-force nearest search on random variable-rate times") func bruteForce() {
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<200 {
      var t = 0.0
      var times: [Double] = []
      for _ in 0..<Int.random(in: 1...80, using: &rng) {
        times.append(t)
        t += Double.random(in: 0.01...0.9, using: &rng)
      }
      let interval = [0.25, 0.5, 1, 2].randomElement(using: &rng)!
      var targets: [Double] = []
      var k = 0
      while Double(k) * interval <= times.last! {
        targets.append(Double(k) * interval)
        k += 1
      }
      var expected: [Int] = []
      for target in targets {
        var best = 0
        for (i, x) in times.enumerated() where abs(x - target) < abs(times[best] - target) { best = i }
        if expected.last != best { expected.append(best) }
      }
      #expect(
        NearestFrameSelector.select(times: times, targets: .every(interval)) == expected, "\(times) every \(interval)")
    }
  }

  @Test("Uniform targets are slice centres") func uniform() {
    #expect(uniformTargets(count: 4, duration: 8) == [1, 3, 5, 7])
    #expect(uniformTargets(count: 1, duration: 0) == [0])
  }
}

/// The bounded hand-off between a producer thread and an async consumer.
struct BoundedFrameBufferTests {
  @Test("Blocking policy: nothing lost, producer waits") func blocking() async throws {
    let b = BoundedFrameBuffer<Int>(capacity: 2, policy: .blockProducer)
    let t = Thread {
      for i in 0..<100 { b.push(i) }
      b.finish()
    }
    t.start()
    var got: [Int] = []
    while let v = try await b.next() {
      got.append(v)
      if v % 25 == 0 { try await Task.sleep(for: .milliseconds(5)) }
    }
    #expect(got == Array(0..<100))
    #expect(b.droppedCount == 0)
  }

  @Test("Drop-oldest policy keeps the newest and counts drops") func dropping() async throws {
    let b = BoundedFrameBuffer<Int>(capacity: 3, policy: .dropOldest)
    for i in 0..<10 { b.push(i) }
    b.finish()
    var got: [Int] = []
    while let v = try await b.next() { got.append(v) }
    #expect(got == [7, 8, 9] && b.droppedCount == 7)
  }

  @Test("An error is delivered after the buffered elements, once") func error() async throws {
    struct Boom: Error {}
    let b = BoundedFrameBuffer<Int>(capacity: 4, policy: .blockProducer)
    b.push(1)
    b.finish(throwing: Boom())
    #expect(try await b.next() == 1)
    await #expect(throws: Boom.self) { try await b.next() }
    #expect(try await b.next() == nil)
  }

  @Test("Cancel wakes a blocked producer, whose push then reports false") func cancel() async throws {
    let b = BoundedFrameBuffer<Int>(capacity: 1, policy: .blockProducer)
    let done = BoundedFrameBuffer<Bool>(capacity: 1, policy: .blockProducer)
    Thread {
      b.push(0)
      let r = b.push(1)  // blocks until cancel
      done.push(r)
    }.start()
    try await Task.sleep(for: .milliseconds(50))
    b.cancel()
    #expect(try await done.next() == false)
  }
}
