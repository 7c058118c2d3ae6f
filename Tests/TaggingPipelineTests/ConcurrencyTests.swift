import Foundation
import Testing

@testable import TaggingPipeline

@Suite struct DropAccountingTests {
  @Test func dropsTheOldestAndCounts() {
    var b = DropOldestBuffer<Int>(capacity: 3)
    #expect(b.push(1) == nil)
    #expect(b.push(2) == nil)
    #expect(b.push(3) == nil)
    #expect(b.isFull)
    #expect(b.push(4) == 1)
    #expect(b.push(5) == 2)
    #expect(b.dropped == 2 && b.pushed == 5 && b.count == 3)
    #expect(b.popFirst() == 3)
    b.push(6)
    #expect(b.dropped == 2)
    #expect(b.drain() == [4, 5, 6])
    #expect(b.isEmpty && b.popFirst() == nil)
  }

  @Test func aSlowConsumerSeesTheNewestFrames() {
    // A camera at 30 fps, a tagger that takes one frame per 10 arrivals: the buffer keeps the latest 2.
    var b = DropOldestBuffer<Int>(capacity: 2)
    var tagged: [Int] = []
    for frame in 0..<50 {
      b.push(frame)
      if frame % 10 == 9, let f = b.popFirst() { tagged.append(f) }
    }
    #expect(tagged == [8, 18, 28, 38, 48])
    #expect(b.dropped + tagged.count + b.count == 50)
  }
}

/// A sink that records what it got, optionally slowly or failing.
final class RecordingSink: TimelineSink, @unchecked Sendable {
  let name: String
  private let lock = NSLock()
  private var got: [String] = []
  private var finished = false
  let failOn: String?
  init(name: String, failOn: String? = nil) {
    self.name = name
    self.failOn = failOn
  }
  func write(_ record: TimelineRecord) throws {
    if record.type == failOn { throw SinkError.writeFailed(path: name, reason: "test failure") }
    Thread.sleep(forTimeInterval: 0.001)
    lock.withLock { got.append(record.type) }
  }
  func finish() throws { lock.withLock { finished = true } }
  var types: [String] { lock.withLock { got } }
  var isFinished: Bool { lock.withLock { finished } }
}

@Suite struct FanOutTests {
  @Test func everySinkGetsEveryRecordInOrder() async throws {
    let records = SyntheticRun.records()
    let a = RecordingSink(name: "a")
    let b = RecordingSink(name: "b")
    let fan = SinkFanOut(sinks: [a, b], capacity: 1)
    await fan.send(records)
    try await fan.finish()
    #expect(a.types == records.map(\.type))
    #expect(b.types == records.map(\.type))
    #expect(a.isFinished && b.isFinished)
  }

  @Test func aFailingSinkDoesNotStopTheOthers() async throws {
    let records = SyntheticRun.records()
    let good = RecordingSink(name: "good")
    let bad = RecordingSink(name: "bad", failOn: "segment")
    let fan = SinkFanOut(sinks: [bad, good], capacity: 2)
    await fan.send(records)
    await #expect(throws: SinkError.writeFailed(path: "bad", reason: "test failure")) { try await fan.finish() }
    #expect(good.types.count == records.count)
    #expect(bad.isFinished)
    #expect(!bad.types.contains("segment") && !bad.types.contains("summary"))
  }

  @Test func channelBackPressureKeepsOrder() async {
    let channel = BoundedChannel<Int>(capacity: 2)
    let consumer = Task {
      var got: [Int] = []
      while let v = await channel.receive() {
        got.append(v)
        if v % 7 == 0 { try? await Task.sleep(nanoseconds: 1_000_000) }
      }
      return got
    }
    for i in 0..<100 { await channel.send(i) }
    channel.close()
    #expect(await consumer.value == Array(0..<100))
    await channel.send(5)  // after close: dropped, does not hang
    #expect(await channel.receive() == nil)
  }
}
