import Foundation
import Testing
import VTagTestSupport

@testable import Checkpoints

/// A scratch directory removed when the value goes away.
final class Scratch {
  let url: URL
  init() throws { url = try Fixtures.temporaryDirectory("vtag-ckpt") }
  deinit { try? FileManager.default.removeItem(at: url) }
  func path(_ name: String) -> String { url.appendingPathComponent(name).path }
  /// Files in the directory (to check that no temporary file is left behind).
  var files: [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? [] }
}

/// Deterministic pseudo-random floats (including negatives, tiny and large magnitudes).
func sampleFloats(_ n: Int, seed: UInt64 = 1) -> [Float] {
  var s = seed &* 0x9E37_79B9_7F4A_7C15
  return (0..<n).map { _ in
    s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(bitPattern: UInt32(truncatingIfNeeded: s >> 33) & 0xBFFF_FFFF)  // finite values
  }
}

func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }

struct PthRoundTripTests {
  func writeSample(_ path: String, forceZip64: Bool) throws -> [String: [Float]] {
    var w = PthWriter(path: path, forceZip64: forceZip64)
    let a = sampleFloats(6 * 5, seed: 2)
    let b = sampleFloats(7, seed: 3)
    w.addTensor("layer.weight", shape: [6, 5], data: .float32(a))
    w.addTensor("layer.bias", shape: [7], data: .fillFloat32({ buf in for i in buf.indices { buf[i] = b[i] } }))
    w.addTensor("scale", shape: [], data: .float32([3.3]))
    w.addTensor("empty", shape: [0, 4], data: .float32([]))
    w.addTensor("index", shape: [2, 3], dtype: .i64, data: .int64([0, -1, 2, Int64.max, Int64.min, 5]))
    let opt = w.addStorage(dtype: .f32, count: 4, data: .float32([9, 9, 9, 9]))
    w.setExtra(
      "optimizer",
      .dict([
        (
          .string("state"),
          .dict([
            (
              .int(0),
              .dict([(.string("step"), .float(10)), (.string("exp_avg"), .tensor(.init(storage: opt, shape: [4])))])
            )
          ])
        ),
        (
          .string("param_groups"),
          .list([
            .dict([
              (.string("lr"), .float(1e-5)), (.string("betas"), .tuple([.float(0.9), .float(0.999)])),
              (.string("params"), .list([.int(0), .int(1)])), (.string("fused"), .none),
              (.string("amsgrad"), .bool(false)), (.string("big"), .int(1 << 40)), (.string("neg"), .int(-70000)),
            ])
          ])
        ),
      ]))
    w.setExtra("config", .orderedDict([("image_size", .int(384)), ("vit", .string("swin_l"))]))
    w.setExtra("epoch", .int(1))
    try w.write()
    return ["layer.weight": a, "layer.bias": b, "scale": [3.3]]
  }

  @Test(arguments: [false, true])
  func roundTrip(forceZip64: Bool) throws {
    let dir = try Scratch()
    let path = dir.path("model.pth")
    let expected = try writeSample(path, forceZip64: forceZip64)
    #expect(dir.files == ["model.pth"])

    let ckpt = try PthCheckpoint(path: path)
    #expect(ckpt.archivePrefix == "model/")
    #expect(ckpt.orderedNames == ["layer.weight", "layer.bias", "scale", "empty", "index"])
    #expect(ckpt.topLevelKeys == ["model", "optimizer", "config", "epoch"])
    #expect(ckpt.skippedKeys == ["optimizer", "config", "epoch"])
    #expect(ckpt.topLevelSummary["config"] == "dict (2 entries)")
    for (name, values) in expected {
      let f = try ckpt.floats(name)
      #expect(f.isView)
      #expect(bits(f.array) == bits(values), "\(name)")
    }
    #expect(ckpt.entries["scale"]?.shape == [])
    #expect(ckpt.entries["empty"]?.elementCount == 0)
    #expect(try ckpt.floats("empty").count == 0)
    #expect(try ckpt.int64s("index") == [0, -1, 2, Int64.max, Int64.min, 5])
    #expect(ckpt.entries["layer.weight"]?.strides == [5, 1])

    // Every storage is 64-byte aligned in the file; the zip checks out.
    let zip = try ZipArchive(path: path)
    for e in zip.entries where e.name.contains("/data/") { #expect(e.dataOffset % 64 == 0) }
    for e in zip.entries {
      var c = CRC32()
      c.update(try zip.storedBytes(of: e))
      #expect(c.value == e.crc32, "CRC of \(e.name)")
    }
    #expect(zip.entry(named: "model/version") != nil)
    #expect(zip.entry(named: "model/.data/serialization_id")?.uncompressedSize == 40)
  }

  @Test func forcedZip64WritesZip64Records() throws {
    let dir = try Scratch()
    let path = dir.path("z.pth")
    _ = try writeSample(path, forceZip64: true)
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let bytes = [UInt8](data)
    // End record saturated; ZIP64 locator right before it.
    let eocd = bytes.count - 22
    #expect(Array(bytes[eocd..<(eocd + 4)]) == [0x50, 0x4B, 0x05, 0x06])
    #expect(Array(bytes[(eocd + 16)..<(eocd + 20)]) == [0xFF, 0xFF, 0xFF, 0xFF])
    #expect(Array(bytes[(eocd - 20)..<(eocd - 16)]) == [0x50, 0x4B, 0x06, 0x07])
    // Local headers carry saturated sizes.
    #expect(Array(bytes[18..<26]) == [UInt8](repeating: 0xFF, count: 8))
  }

  @Test func tiedTensorsShareOneStorage() throws {
    let dir = try Scratch()
    let path = dir.path("tied.pth")
    var w = PthWriter(path: path)
    let v = sampleFloats(12, seed: 5)
    let s = w.addTensor("a.weight", shape: [3, 4], data: .float32(v))
    w.addTensor("b.weight", storage: s, shape: [3, 4])
    w.addTensor("row1", storage: s, shape: [4], offset: 4)
    try w.write()
    let ckpt = try PthCheckpoint(path: path)
    let a = try #require(ckpt.entries["a.weight"])
    let b = try #require(ckpt.entries["b.weight"])
    #expect(a.storageKey == b.storageKey)
    #expect(try ckpt.floats("a.weight").base == ckpt.floats("b.weight").base)
    #expect(bits(try ckpt.floats("b.weight").array) == bits(v))
    #expect(ckpt.entries["row1"]?.storageOffset == 4)
    #expect(bits(try ckpt.floats("row1").array) == bits(Array(v[4..<8])))
    // Only one storage member was written.
    let zip = try ZipArchive(path: path)
    #expect(zip.entries.filter { $0.name.hasPrefix("tied/data/") }.count == 1)
  }

  @Test func nonContiguousStridesAreGathered() throws {
    let dir = try Scratch()
    let path = dir.path("t.pth")
    var w = PthWriter(path: path)
    // Storage holds a 3×4 row-major matrix; "t" is its transpose (4×3, strides [1, 4]).
    let m = (0..<12).map { Float($0) }
    let s = w.addTensor("m", shape: [3, 4], data: .float32(m))
    w.addTensor("t", storage: s, shape: [4, 3], strides: [1, 4])
    w.addTensor("cols", storage: s, shape: [3, 2], strides: [4, 2], offset: 1)  // columns 1 and 3
    let li = w.addStorage(dtype: .i64, count: 6, data: .int64([0, 1, 2, 3, 4, 5]))
    w.addTensor("it", storage: li, shape: [3, 2], strides: [1, 3])
    let h = w.addStorage(dtype: .f16, count: 4, data: .bytes(f16Bytes([1, 2, 3, 4])))
    w.addTensor("ht", storage: h, shape: [2, 2], strides: [1, 2])
    try w.write()
    let ckpt = try PthCheckpoint(path: path)
    let t = try ckpt.floats("t")
    #expect(!t.isView)
    #expect(t.array == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
    #expect(try ckpt.floats("cols").array == [1, 3, 5, 7, 9, 11])
    #expect(try ckpt.int64s("it") == [0, 3, 1, 4, 2, 5])
    #expect(try ckpt.floats("ht").array == [1, 3, 2, 4])
    #expect(throws: CheckpointError.self) { _ = try ckpt.rawBytes("t") }
  }

  func f16Bytes(_ v: [Float]) -> [UInt8] {
    v.flatMap { x -> [UInt8] in
      let b = Float16(x).bitPattern
      return [UInt8(b & 0xFF), UInt8(b >> 8)]
    }
  }

  @Test func halfBFloatAndDoubleStorages() throws {
    let dir = try Scratch()
    let path = dir.path("h.pth")
    var w = PthWriter(path: path)
    let values: [Float] = [0, 1, -2.5, 0.1, 65504, -0.000061035156, 1000]
    w.addTensor("half", shape: [7], dtype: .f16, data: .bytes(f16Bytes(values)))
    let bf = values.flatMap { x -> [UInt8] in
      let b = UInt16(x.bitPattern >> 16)
      return [UInt8(b & 0xFF), UInt8(b >> 8)]
    }
    w.addTensor("bf", shape: [7], dtype: .bf16, data: .bytes(bf))
    let dbl = values.flatMap { x -> [UInt8] in withUnsafeBytes(of: Double(x).bitPattern.littleEndian) { Array($0) } }
    w.addTensor("dbl", shape: [7], dtype: .f64, data: .bytes(dbl))
    w.addTensor("mask", shape: [3], dtype: .bool, data: .bytes([1, 0, 1]))
    try w.write()
    let ckpt = try PthCheckpoint(path: path)
    #expect(ckpt.entries["half"]?.dtype == .f16)
    #expect(ckpt.entries["bf"]?.dtype == .bf16)
    #expect(ckpt.entries["dbl"]?.dtype == .f64)
    #expect(try ckpt.floats("half").array == values.map { Float(Float16($0)) })
    #expect(try ckpt.floats("bf").array == values.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
    #expect(bits(try ckpt.floats("dbl").array) == bits(values))
    #expect(try ckpt.int64s("mask") == [1, 0, 1])
    // Conversion to safetensors turns every floating tensor into f32 and integers into i64.
    let out = dir.path("h.safetensors")
    try writeSafetensors(from: ckpt, names: ["half", "bf", "dbl", "mask"], to: out, metadata: ["source": "h.pth"])
    let st = try SafetensorsFile(path: out)
    #expect(st.entries.values.map(\.dtype).sorted { $0.rawValue < $1.rawValue } == [.f32, .f32, .f32, .i64])
    #expect(try st.floats("half").array == values.map { Float(Float16($0)) })
    #expect(try st.int64s("mask") == [1, 0, 1])
    #expect(st.metadata == ["source": "h.pth"])
  }

  @Test func stateDictSelection() throws {
    let dir = try Scratch()
    // A pickle whose top level is itself a state dict (no 'model').
    var p = PickleEncoder()
    p.proto(2)
    p.emptyDict()
    p.mark()
    for (i, name) in ["w", "b"].enumerated() {
      p.string(name)
      p.global("torch._utils", "_rebuild_tensor_v2")
      p.mark()
      p.mark()
      p.string("storage")
      p.global("torch", "FloatStorage")
      p.string(String(i))
      p.string("cpu")
      p.int(2)
      p.tuple()
      p.binPersId()
      p.int(0)
      p.intTuple([2])
      p.intTuple([1])
      p.bool(false)
      p.global("collections", "OrderedDict")
      p.emptyTuple()
      p.reduce()
      p.tuple()
      p.reduce()
    }
    p.setItems()
    p.stop()
    let path = dir.path("flat.pth")
    var w = PthWriter(path: path, archiveName: "archive")
    w.addStorage(dtype: .f32, count: 2, data: .float32([1, 2]))
    w.addStorage(dtype: .f32, count: 2, data: .float32([3, 4]))
    w.pickleOverride = p.out
    try w.write()
    let ckpt = try PthCheckpoint(path: path)
    #expect(ckpt.archivePrefix == "archive/")
    #expect(ckpt.stateDictKey == nil)
    #expect(ckpt.skippedKeys.isEmpty)
    #expect(try ckpt.floats("b").array == [3, 4])
    #expect(ckpt.entries["w"]?.storageKey == "archive/data/0")

    // A 'state_dict' key is accepted when 'model' is absent.
    var w2 = PthWriter(path: dir.path("sd.pth"))
    let s = w2.addStorage(dtype: .f32, count: 1, data: .float32([7]))
    w2.setExtra("state_dict", .orderedDict([("x", .tensor(.init(storage: s, shape: [1])))]))
    w2.setExtra("epoch", .int(3))
    try w2.write()
    // 'model' here is an empty OrderedDict, so ask for state_dict explicitly via the fallback.
    let c2 = try PthCheckpoint(path: dir.path("sd.pth"), topLevelKey: "state_dict")
    #expect(c2.stateDictKey == "state_dict")
    #expect(try c2.floats("x").array == [7])
    #expect(c2.skippedKeys == ["model", "epoch"])
  }
}

struct SafetensorsRoundTripTests {
  @Test func roundTripBitIdentical() throws {
    let dir = try Scratch()
    let path = dir.path("w.safetensors")
    let a = sampleFloats(33, seed: 9)
    var w = SafetensorsWriter(path: path, metadata: ["format": "pt", "note": "quote \" and \\ and\nnewline"])
    w.add("z.last", shape: [3, 11], floats: a)
    w.add("a.first", shape: [2, 2]) { buf in for i in buf.indices { buf[i] = Float(i) * 0.5 } }
    w.add("ids", shape: [1, 4], int64s: [0, 1, -2, Int64.max])
    w.add("scalar", shape: [], floats: [3.3])
    try w.write()
    #expect(dir.files == ["w.safetensors"])

    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect(headerLength % 8 == 0)
    let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
    // Names sorted: a.first, ids, scalar, z.last.
    let order = ["a.first", "ids", "scalar", "z.last"].map { header.range(of: "\"\($0)\"")!.lowerBound }
    #expect(order == order.sorted())

    let st = try SafetensorsFile(path: path)
    #expect(bits(try st.floats("z.last").array) == bits(a))
    #expect(try st.floats("a.first").array == [0, 0.5, 1, 1.5])
    #expect(try st.int64s("ids") == [0, 1, -2, Int64.max])
    #expect(try st.floats("scalar").array == [3.3])
    #expect(st.entries["scalar"]?.shape == [])
    #expect(st.metadata["note"] == "quote \" and \\ and\nnewline")
    #expect(try openTensorArchive(path: path) is SafetensorsFile)
  }

  @Test func convertFromPth() throws {
    let dir = try Scratch()
    let pth = dir.path("m.pth")
    var w = PthWriter(path: pth)
    let v = sampleFloats(20, seed: 4)
    w.addTensor("w", shape: [4, 5], data: .float32(v))
    w.addTensor("ids", shape: [3], dtype: .i64, data: .int64([5, 6, 7]))
    let s = w.addStorage(dtype: .f32, count: 20, data: .float32(v))
    w.addTensor("wt", storage: s, shape: [5, 4], strides: [1, 5])
    try w.write()
    let ckpt = try openTensorArchive(path: pth)
    let out = dir.path("m.safetensors")
    try writeSafetensors(from: ckpt, names: ["w", "ids", "wt"], to: out, metadata: [:])
    let st = try SafetensorsFile(path: out)
    #expect(bits(try st.floats("w").array) == bits(v))
    #expect(try st.int64s("ids") == [5, 6, 7])
    #expect(try st.floats("wt").array == (try ckpt.floats("wt").array))
    #expect(st.entries["wt"]?.shape == [5, 4])
    #expect(throws: CheckpointError.missingTensor(path: pth, name: "nope")) {
      try writeSafetensors(from: ckpt, names: ["nope"], to: dir.path("x.safetensors"), metadata: [:])
    }
    #expect(!FileManager.default.fileExists(atPath: dir.path("x.safetensors")))
  }

  @Test func failedWriteLeavesNothing() throws {
    let dir = try Scratch()
    let path = dir.path("bad.safetensors")
    struct Boom: Error {}
    var w = SafetensorsWriter(path: path)
    w.add("a", shape: [4], floats: [1, 2, 3, 4])
    w.add("b", shape: [1 << 10]) { _ in throw Boom() }
    #expect(throws: Boom.self) { try w.write() }
    #expect(dir.files.isEmpty)
    // Wrong element counts are rejected too, and leave nothing.
    var w2 = SafetensorsWriter(path: path)
    w2.add("a", shape: [5], floats: [1, 2, 3, 4])
    #expect(throws: CheckpointError.self) { try w2.write() }
    #expect(dir.files.isEmpty)
    var w3 = PthWriter(path: dir.path("bad.pth"))
    w3.addTensor("a", shape: [2], data: .int64([1, 2]))  // declared f32
    #expect(throws: CheckpointError.self) { try w3.write() }
    #expect(dir.files.isEmpty)
  }
}

struct LargeOffsetTests {
  /// A member beyond 4 GiB (after a sparse hole) forces genuine ZIP64 offsets without forceZip64.
  @Test func zip64OffsetsBeyond4GiB() throws {
    let dir = try Scratch()
    let path = dir.path("big.pth")
    var w = PthWriter(path: path)
    w.addTensor("a", shape: [3], data: .float32([1, 2, 3]))
    let pickle = try w.pickleBytes()
    let sink = try FileSink(path: path)
    let zip = ZipStreamWriter(sink: sink, forceZip64: false)
    try zip.addMember("big/data.pkl", bytes: pickle)
    try sink.skip(0x1_0000_0000 + 1000)  // a hole: no disk space is used
    try zip.addMember("big/data/0", bytes: [Float(1), 2, 3].flatMap { f in withUnsafeBytes(of: f) { Array($0) } })
    try zip.finish()
    try sink.commit()

    let archive = try ZipArchive(path: path)
    #expect(archive.file.size > 0x1_0000_0000)
    let e = try #require(archive.entry(named: "big/data/0"))
    #expect(e.localHeaderOffset > 0xFFFF_FFFF)
    #expect(e.dataOffset % 64 == 0)
    // The small member before the hole needs no ZIP64 extra; the end records do.
    #expect(archive.entry(named: "big/data.pkl")?.localHeaderOffset == 0)
    let ckpt = try PthCheckpoint(path: path)
    #expect(ckpt.entries["a"]?.storageKey == "big/data/0")
    #expect(try ckpt.floats("a").array == [1, 2, 3])
    #expect(ckpt.storageBytesInUse == 12)
  }
}
