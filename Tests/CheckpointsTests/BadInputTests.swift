import Foundation
import Testing
import VTagTestSupport

@testable import Checkpoints

/// Builds a pickle `{"model": OrderedDict(), <prefix ops>}` around `body` opcodes that push one value for key "x".
func pickle(_ body: (inout PickleEncoder) -> Void) -> [UInt8] {
  var p = PickleEncoder()
  p.proto(2)
  p.emptyDict()
  p.mark()
  p.string("model")
  p.global("collections", "OrderedDict")
  p.emptyTuple()
  p.reduce()
  p.string("x")
  body(&p)
  p.setItems()
  p.stop()
  return p.out
}

/// Writes a torch-layout zip whose data.pkl is `pickleBytes`.
func writePth(_ path: String, pickle pickleBytes: [UInt8], storages: [[Float]] = []) throws {
  var w = PthWriter(path: path)
  for s in storages { w.addStorage(dtype: .f32, count: s.count, data: .float32(s)) }
  w.pickleOverride = pickleBytes
  try w.write()
}

func expectError(
  _ body: () throws -> Void, _ check: (CheckpointError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) {
  do {
    try body()
    Issue.record("expected an error", sourceLocation: sourceLocation)
  } catch let e as CheckpointError {
    #expect(check(e), "unexpected error: \(e)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
  }
}

struct BadInputTests {
  @Test(arguments: [
    ("os", "system"), ("builtins", "eval"), ("__builtin__", "exec"), ("torch", "load"), ("subprocess", "Popen"),
  ])
  func forbiddenGlobalIsRefused(module: String, name: String) throws {
    let dir = try Scratch()
    let path = dir.path("evil.pth")
    // {"model": OrderedDict(), "x": os.system("echo pwned")}
    try writePth(
      path,
      pickle: pickle { p in
        p.global(module, name)
        p.mark()
        p.string("echo pwned")
        p.tuple()
        p.reduce()
      })
    expectError({ _ = try PthCheckpoint(path: path) }) {
      $0 == .forbiddenGlobal(path: path, module: module, name: name)
    }
    let message = CheckpointError.forbiddenGlobal(path: path, module: module, name: name).description
    #expect(message.contains("'\(module).\(name)'") && message.contains(path))
  }

  @Test func stackGlobalIsCheckedToo() throws {
    // Protocol-4 style: SHORT_BINUNICODE 'os', SHORT_BINUNICODE 'system', STACK_GLOBAL.
    var bytes: [UInt8] = [0x80, 0x04, 0x95] + [UInt8](repeating: 0, count: 8)
    bytes += [0x8C, 2] + Array("os".utf8) + [0x94]
    bytes += [0x8C, 6] + Array("system".utf8) + [0x94, 0x93, 0x2E]
    let result = Result { try bytes.withUnsafeBytes { try Unpickler.load($0, path: "p") } }
    #expect(throws: CheckpointError.forbiddenGlobal(path: "p", module: "os", name: "system")) { try result.get() }
  }

  @Test func unknownOpcodeNamesTheOffset() throws {
    let bytes: [UInt8] = [0x80, 0x02, 0x7D, 0xFF, 0x2E]
    expectError({ _ = try bytes.withUnsafeBytes { try Unpickler.load($0, path: "p") } }) {
      guard case .malformed(_, let d) = $0 else { return false }
      return d.contains("byte 3") && d.contains("0xff")
    }
  }

  @Test func protocolFourAndFiveOpcodes() throws {
    // {'a': [1, -2, 3.5, 'é', b'xy', True, None, (1, 2), frozenset({7})], 'b': 2**70}
    var b: [UInt8] = [0x80, 0x05, 0x95] + [UInt8](repeating: 0, count: 8)
    b += [0x7D, 0x94, 0x28]  // EMPTY_DICT MEMOIZE MARK
    b += [0x8C, 1, UInt8(ascii: "a"), 0x94]
    b += [0x5D, 0x94, 0x28]  // EMPTY_LIST MEMOIZE MARK
    b += [0x4B, 1, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF]
    b += [0x47, 0x40, 0x0C, 0, 0, 0, 0, 0, 0]  // 3.5 big-endian
    b += [0x8C, 2, 0xC3, 0xA9, 0x94]
    b += [0x43, 2, UInt8(ascii: "x"), UInt8(ascii: "y")]
    b += [0x88, 0x4E, 0x4B, 1, 0x4B, 2, 0x86]
    b += [0x28, 0x4B, 7, 0x91]  // MARK 7 FROZENSET
    b += [0x65]  // APPENDS
    b += [0x8C, 1, UInt8(ascii: "b"), 0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40]
    b += [0x75, 0x2E]
    let v = try b.withUnsafeBytes { try Unpickler.load($0, path: "p") }
    guard case .dict(let d) = v, case .list(let l)? = d.get("a") else {
      Issue.record("not a dict with a list")
      return
    }
    #expect(l.items.count == 9)
    #expect(l.items[0].asInt == 1)
    #expect(l.items[1].asInt == -2)
    if case .float(let f) = l.items[2] { #expect(f == 3.5) } else { Issue.record("float") }
    if case .string(let s) = l.items[3] { #expect(s == "é") } else { Issue.record("string") }
    if case .bytes(let x) = l.items[4] { #expect(x == Array("xy".utf8)) } else { Issue.record("bytes") }
    if case .set(let s) = l.items[8] { #expect(s.items.first?.asInt == 7) } else { Issue.record("set") }
    if case .bigInt(let x)? = d.get("b") { #expect(x.count == 9) } else { Issue.record("bigint") }
    // Memo sharing: BINGET of a list filled after it was memoized sees its items.
    let shared: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0, 0x4B, 5, 0x61, 0x68, 0, 0x86, 0x2E]
    let t = try shared.withUnsafeBytes { try Unpickler.load($0, path: "p") }
    if case .tuple(let items) = t, case .list(let second) = items[1] {
      #expect(second.items.count == 1)
    } else {
      Issue.record("tuple of lists")
    }
  }

  @Test func truncatedPickle() throws {
    let full = pickle { $0.int(5) }
    expectError({ _ = try Array(full.dropLast()).withUnsafeBytes { try Unpickler.load($0, path: "p") } }) {
      if case .truncated = $0 { return true }
      return false
    }
  }

  @Test func missingStorageMember() throws {
    let dir = try Scratch()
    let path = dir.path("missing.pth")
    var w = PthWriter(path: path)
    w.addTensor("a", shape: [2], data: .float32([1, 2]))
    let b = w.addTensor("b", shape: [2], data: .float32([3, 4]))
    w.omittedStorages = [b]
    try w.write()
    expectError({ _ = try PthCheckpoint(path: path) }) {
      guard case .malformed(let p, let d) = $0 else { return false }
      return p == path && d.contains("'b'") && d.contains("missing/data/1")
    }
  }

  @Test func storageTooSmallForTheView() throws {
    let dir = try Scratch()
    let path = dir.path("small.pth")
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
        p.int(2)
        p.intTuple([2, 2])
        p.intTuple([2, 1])
        p.bool(false)
        p.global("collections", "OrderedDict")
        p.emptyTuple()
        p.reduce()
        p.tuple()
        p.reduce()
      }, storages: [[1, 2, 3, 4]])
    // The state dict is under "model" (empty); "x" is at the top level. Read the top level itself.
    expectError({ _ = try PthCheckpoint(path: path, topLevelKey: nil) }) {
      guard case .malformed(_, let d) = $0 else { return false }
      return d.contains("'x'") && d.contains("needs 24 bytes")
    }
  }

  @Test func compressedMemberIsUnsupported() throws {
    // A zip with one deflated member named archive/data.pkl (made by hand).
    let dir = try Scratch()
    let path = dir.path("deflated.pth")
    let sink = try FileSink(path: path)
    let zip = ZipStreamWriter(sink: sink, forceZip64: false)
    try zip.addMember("archive/data.pkl", bytes: [0x80, 0x02, 0x7D, 0x2E])
    try zip.finish()
    try sink.commit()
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    // Flip the method to 8 (deflate) in the local header and the central directory record.
    bytes[8] = 8
    let cd = bytes.count - 22 - 46 - "archive/data.pkl".utf8.count
    #expect(Array(bytes[cd..<(cd + 4)]) == [0x50, 0x4B, 0x01, 0x02])
    bytes[cd + 10] = 8
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    expectError({ _ = try PthCheckpoint(path: path) }) {
      guard case .unsupported(_, let d) = $0 else { return false }
      return d.contains("compressed")
    }
  }

  @Test func randomBytesEmptyAndOtherFiles() throws {
    let dir = try Scratch()
    // Deterministic noise (not starting like a zip, a pickle or a safetensors header).
    let noise: [UInt8] =
      [0x13, 0x37] + sampleFloats(1024, seed: 11).flatMap { f in withUnsafeBytes(of: f) { Array($0) } }
    let cases: [(String, [UInt8], String)] = [
      ("random.pth", noise, "unrecognised"),
      ("empty.pth", [], "empty"),
      ("page.pth", Array("<!DOCTYPE html><html><body>404</body></html>".utf8), "HTML"),
      ("lfs.pth", Array("version https://git-lfs.github.com/spec/v1\noid sha256:497c\nsize 3010210801\n".utf8), "LFS"),
      (
        "photo.pth", [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10] + Array("JFIF".utf8) + [UInt8](repeating: 0, count: 100), "JPEG"
      ),
    ]
    for (name, bytes, hint) in cases {
      let path = dir.path(name)
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      for open in [{ _ = try openTensorArchive(path: path) }, { _ = try PthCheckpoint(path: path) }] {
        expectError(open) {
          guard case .notACheckpoint(let p, let d) = $0 else { return false }
          return p == path && d.contains(hint)
        }
      }
    }
    // Legacy torch files (pickle magic first).
    let legacy = dir.path("legacy.pt")
    try Data(PthCheckpoint.legacyMagic + [0x2E]).write(to: URL(fileURLWithPath: legacy))
    expectError({ _ = try openTensorArchive(path: legacy) }) {
      guard case .unsupported(_, let d) = $0 else { return false }
      return d.contains("torch ≥ 1.6")
    }
    // A directory, and a file that does not exist.
    expectError({ _ = try openTensorArchive(path: dir.url.path) }) {
      if case .cannotOpen = $0 { return true }
      return false
    }
    expectError({ _ = try openTensorArchive(path: dir.path("nope.pth")) }) {
      if case .cannotOpen = $0 { return true }
      return false
    }
  }

  @Test func truncatedWrittenCheckpoint() throws {
    let dir = try Scratch()
    let path = dir.path("full.pth")
    var w = PthWriter(path: path)
    w.addTensor("a", shape: [1000], data: .fillFloat32({ for i in $0.indices { $0[i] = Float(i) } }))
    w.addTensor("b", shape: [10], data: .float32(Array(repeating: 1, count: 10)))
    try w.write()
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    for cut in [bytes.count / 2, bytes.count - 1, bytes.count - 22, bytes.count - 200, 31] {
      let p = dir.path("cut.pth")
      try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: p))
      expectError({ _ = try openTensorArchive(path: p) }) {
        guard case .truncated(let q, _) = $0 else { return false }
        return q == p && $0.description.contains("truncated or incomplete")
      }
    }
  }

  @Test func safetensorsHeaderPastTheEnd() throws {
    let dir = try Scratch()
    // A tensor whose data_offsets point past the end of the file.
    let header = Array(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#.utf8)
    var bytes: [UInt8] = []
    bytes.le64(header.count)
    bytes += header + [0, 0, 0, 0]  // 4 of the 16 bytes
    let path = dir.path("short.safetensors")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    expectError({ _ = try openTensorArchive(path: path) }) {
      guard case .truncated(let p, let d) = $0 else { return false }
      return p == path && d.contains("'w'")
    }
    // A header length larger than the file.
    var b2: [UInt8] = []
    b2.le64(5000)
    b2 += Array(#"{"w":{"#.utf8)
    let p2 = dir.path("cut.safetensors")
    try Data(b2).write(to: URL(fileURLWithPath: p2))
    expectError({ _ = try openTensorArchive(path: p2) }) {
      if case .truncated = $0 { return true }
      return false
    }
  }

  @Test func zip64ReaderHandlesSaturatedFields() throws {
    // Forced ZIP64 output is read through the ZIP64 end record and extra fields.
    let dir = try Scratch()
    let path = dir.path("z.pth")
    var w = PthWriter(path: path, forceZip64: true)
    w.addTensor("a", shape: [3], data: .float32([1, 2, 3]))
    try w.write()
    let zip = try ZipArchive(path: path)
    #expect(zip.entries.count == 7)
    let e = try #require(zip.entry(named: "z/data/0"))
    #expect(e.compressedSize == 12)
    #expect(e.dataOffset % 64 == 0)
    #expect(try PthCheckpoint(path: path).floats("a").array == [1, 2, 3])
  }
}

/// Cross-checks PthWriter output with Python's zipfile and pickletools (skipped when python3 is absent).
struct PythonCrossCheckTests {
  static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }

  @Test(.enabled(if: python != nil, "skipped: python3 is not installed"), arguments: [false, true])
  func pythonReadsPthWriterOutput(forceZip64: Bool) throws {
    let dir = try Scratch()
    let path = dir.path("py.pth")
    var w = PthWriter(path: path, forceZip64: forceZip64)
    w.addTensor("w", shape: [2, 3], data: .float32([1, 2, 3, 4, 5, 6]))
    w.setExtra("epoch", .int(1))
    w.setExtra("config", .dict([(.string("lr"), .float(5e-6)), (.string("big"), .int(-(1 << 40)))]))
    try w.write()
    let script = """
      import sys, zipfile, pickle, pickletools, struct
      z = zipfile.ZipFile(sys.argv[1])
      assert z.testzip() is None
      names = z.namelist()
      data = z.read('py/data.pkl')
      pickletools.dis(data, out=open('/dev/null', 'w'))
      class U(pickle.Unpickler):
          def find_class(self, m, n):
              if (m, n) == ('collections', 'OrderedDict'):
                  import collections; return collections.OrderedDict
              if (m, n) == ('torch._utils', '_rebuild_tensor_v2'):
                  return lambda s, o, size, stride, rg, hooks: (s, o, size, stride)
              if m == 'torch':
                  return n
              raise RuntimeError(m + '.' + n)
          def persistent_load(self, pid):
              return pid
      import io
      obj = U(io.BytesIO(data)).load()
      s, o, size, stride = obj['model']['w']
      raw = z.read('py/data/' + s[2])
      vals = struct.unpack('<6f', raw)
      assert vals == (1, 2, 3, 4, 5, 6), vals
      assert size == (2, 3) and stride == (3, 1) and o == 0
      assert obj['epoch'] == 1 and obj['config'] == {'lr': 5e-6, 'big': -(1 << 40)}, obj
      assert z.read('py/version') == b'3\\n' and z.read('py/byteorder') == b'little'
      print('ok', len(names))
      """
    let proc = Process()
    proc.executableURL = URL(fileURLWithPath: Self.python!)
    proc.arguments = ["-c", script, path]
    let out = Pipe()
    proc.standardOutput = out
    proc.standardError = out
    try proc.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    proc.waitUntilExit()
    #expect(proc.terminationStatus == 0, "\(text)")
    #expect(text.hasPrefix("ok 7"))
  }
}
