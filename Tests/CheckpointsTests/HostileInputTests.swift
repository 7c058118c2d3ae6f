import Foundation
import Testing
import VTagTestSupport

@testable import Checkpoints

/// Runs a raw pickle through the unpickler.
private func unpickle(_ bytes: [UInt8]) throws -> PickleValue {
  try bytes.withUnsafeBytes { try Unpickler.load($0, path: "p") }
}

private func expectMalformed(
  _ bytes: [UInt8], containing text: String, sourceLocation: SourceLocation = #_sourceLocation
) {
  expectError({ _ = try unpickle(bytes) }, {
    guard case .malformed(_, let d) = $0 else { return false }
    return d.contains(text)
  }, sourceLocation: sourceLocation)
}

/// Inputs found by probing the release binary with hostile bundles (issue 11): each must end in an error.
struct HostilePickleTests {
  static let n = 100_000
  static let head: [UInt8] = [0x80, 0x02]

  @Test func deeplyNestedTuplesAreRefused() {
    // None, then TUPLE1 100,000 times: ((((None,),),),…)
    expectMalformed(Self.head + [0x4E] + [UInt8](repeating: 0x85, count: Self.n) + [0x2E], containing: "deeper than 1000")
    // EMPTY_TUPLE then TUPLE2 with a scalar, nested.
    var b = Self.head + [0x29]
    for _ in 0..<Self.n { b += [0x4B, 1, 0x86] }
    expectMalformed(b + [0x2E], containing: "deeper than 1000")
  }

  @Test func deeplyNestedListsAreRefused() {
    // 100,000 EMPTY_LISTs, then APPEND 100,000 times: each list goes into the one below it.
    let b = Self.head + [UInt8](repeating: 0x5D, count: Self.n) + [UInt8](repeating: 0x61, count: Self.n - 1) + [0x2E]
    expectMalformed(b, containing: "deeper than 1000")
  }

  @Test func deeplyNestedDictsAreRefused() {
    // {1: {1: {1: …}}}: EMPTY_DICT (BININT1 1, EMPTY_DICT) × n, then SETITEM × n.
    var b = Self.head + [0x7D]
    for _ in 0..<Self.n { b += [0x4B, 1, 0x7D] }
    b += [UInt8](repeating: 0x73, count: Self.n) + [0x2E]
    expectMalformed(b, containing: "deeper than 1000")
  }

  @Test func deeplyNestedMarksAreRefused() {
    // 100,000 MARKs then as many TUPLEs.
    let b = Self.head + [UInt8](repeating: 0x28, count: Self.n) + [UInt8](repeating: 0x74, count: Self.n) + [0x2E]
    expectMalformed(b, containing: "MARK nests deeper than 1000")
  }

  @Test func nestingThroughTheMemoIsRefused() {
    // n lists memoized (LONG_BINPUT i), then list i+1 appended into list i for i = 0, 1, …: each APPEND alone
    // adds one level to a list that already sits in another, which would make recorded depths stale.
    var b = Self.head
    let count = 2000
    for i in 0..<count {
      b += [0x5D, 0x72] + le32(i) + [0x30]  // EMPTY_LIST LONG_BINPUT i POP
    }
    for i in 0..<(count - 1) {
      b += [0x6A] + le32(i) + [0x6A] + le32(i + 1) + [0x61, 0x30]  // GET i, GET i+1, APPEND, POP
    }
    b += [0x6A] + le32(0) + [0x2E]
    expectMalformed(b, containing: "grows deeper after being put inside another container")
  }

  @Test func selfContainingListIsRefused() {
    // l = []; l.append(l)
    expectMalformed(Self.head + [0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E], containing: "recursive structure")
  }

  @Test func nestingUpToTheLimitLoads() throws {
    // 999 nested lists: fine (a real checkpoint nests a handful of levels).
    let depth = 999
    let b = Self.head + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
    var v = try unpickle(b)
    var levels = 0
    while case .list(let l) = v {
      levels += 1
      v = l.items.first ?? .none
    }
    #expect(levels == depth)
  }

  @Test func deepListsAreReleasedWithoutRecursion() {
    // Built directly (the unpickler refuses this depth): releasing 300,000 nested lists, sets and dicts must not
    // recurse once per level.
    var v = PickleValue.none
    for i in 0..<300_000 {
      switch i % 3 {
      case 0: v = .list(PickleList([v]))
      case 1: v = .set(PickleList([.int(i), v]))
      default:
        let d = PickleDict(ordered: false)
        d.set(.int(i), v)
        v = .dict(d)
      }
    }
    if case .dict(let d) = v { #expect(d.count == 1) } else { Issue.record("expected a dict on top") }
    v = .none  // the release itself is the test: it used to overflow the stack
    #expect(v.kind == "None")
  }

  private func le32(_ i: Int) -> [UInt8] { (0..<4).map { UInt8((i >> (8 * $0)) & 0xFF) } }
}

/// Size arithmetic on untrusted numbers never traps.
struct HostileSizeTests {
  /// A .pth with one tensor "x" (FloatStorage of 4 elements) of the given offset, size and stride.
  func writeTensor(_ path: String, offset: Int, shape: [Int], stride: [Int]) throws {
    try writePth(
      path,
      pickle: pickle { p in
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.mark()
        p.string("storage")
        p.global("torch", "FloatStorage")
        p.string("0")
        p.string("cpu")
        p.int(4)
        p.tuple()
        p.binPersId()
        p.int(offset)
        p.intTuple(shape)
        p.intTuple(stride)
        p.bool(false)
        p.global("collections", "OrderedDict")
        p.emptyTuple()
        p.reduce()
        p.tuple()
        p.reduce()
      }, storages: [[1, 2, 3, 4]])
  }

  @Test(arguments: [
    (0, [2_147_483_647, 2_147_483_647], [2_147_483_647, 1]),
    (1 << 61, [2], [1]),
    (Int.max, [1], [1]),
    (0, [1 << 62], [1]),
    (0, [2, 2], [1 << 62, 1]),
    (0, [1 << 62, 1 << 62, 4], [0, 0, 0]),
    (0, [1 << 40], [0]),
  ])
  func pthSizesThatOverflowAreErrors(offset: Int, shape: [Int], stride: [Int]) throws {
    let dir = try Scratch()
    let path = dir.path("big.pth")
    try writeTensor(path, offset: offset, shape: shape, stride: stride)
    expectError({ _ = try PthCheckpoint(path: path, topLevelKey: nil) }) {
      switch $0 {
      case .malformed(let p, let d), .unsupported(let p, let d): p == path && d.contains("'x'")
      default: false
      }
    }
  }

  @Test func emptyTensorWithHugeDimensionsLoads() throws {
    let dir = try Scratch()
    let path = dir.path("empty.pth")
    try writeTensor(path, offset: 0, shape: [1 << 62, 1 << 62, 0], stride: [0, 0, 1])
    let c = try PthCheckpoint(path: path, topLevelKey: nil)
    #expect(c.entries["x"]?.elementCount == 0)
  }

  func writeSafetensors(_ path: String, header: String, dataBytes: Int) throws {
    let h = Array(header.utf8)
    var bytes: [UInt8] = []
    bytes.le64(h.count)
    bytes += h + [UInt8](repeating: 0, count: dataBytes)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  @Test(arguments: [
    (#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#, "more elements"),
    (#"{"w":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,16]}}"#, "more elements"),
    (#"{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,16]}}"#, "non-negative integer"),
    (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775803,9223372036854775807]}}"#, "ends at byte"),
    (#"{"w":{"dtype":"F32","shape":[1.9],"data_offsets":[0,4]}}"#, "[1.9]"),
    (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "non-negative integer"),
    (#"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, "non-negative integer"),
    (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4.5]}}"#, "[0.5, 4.5]"),
    (#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"v":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#,
      "overlap"),
  ])
  func hostileSafetensorsHeadersAreErrors(header: String, expected: String) throws {
    let dir = try Scratch()
    let path = dir.path("h.safetensors")
    try writeSafetensors(path, header: header, dataBytes: 24)
    expectError({ _ = try SafetensorsFile(path: path) }) {
      switch $0 {
      case .malformed(let p, let d), .truncated(let p, let d): p == path && d.contains(expected)
      default: false
      }
    }
  }

  @Test func zip64EntryCountIsBoundedByTheFile() throws {
    let dir = try Scratch()
    let path = dir.path("z.pth")
    var w = PthWriter(path: path, forceZip64: true)
    w.addTensor("a", shape: [3], data: .float32([1, 2, 3]))
    try w.write()
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    // The ZIP64 end record: signature PK\x06\x06; entries on this disk at +24, in total at +32.
    let sig: [UInt8] = [0x50, 0x4B, 0x06, 0x06]
    let at = try #require((0...(bytes.count - 4)).last { Array(bytes[$0..<($0 + 4)]) == sig })
    for field in [24, 32] {
      for k in 0..<8 { bytes[at + field + k] = UInt8(((1 << 40) >> (8 * k)) & 0xFF) }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    expectError({ _ = try PthCheckpoint(path: path) }) {
      guard case .malformed(let p, let d) = $0 else { return false }
      return p == path && d.contains("claims 1099511627776 entries")
    }
  }
}
