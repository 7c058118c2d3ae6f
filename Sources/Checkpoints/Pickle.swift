import Foundation

/// A storage referenced by a pickle's persistent id `('storage', <StorageClass>, key, location, numel)`.
struct PickleStorageRef: Sendable, Equatable {
  /// The storage's key: its bytes live in the zip member `<prefix>/data/<key>`.
  var key: String
  /// Element type, from the storage class (`torch.FloatStorage` → f32, …).
  var dtype: TensorDType
  /// Device location as recorded (e.g. `cpu`, `cuda:0`); informational only.
  var location: String
  /// Number of elements in the storage, as recorded.
  var elementCount: Int
}

/// A tensor rebuilt (symbolically) by `torch._utils._rebuild_tensor_v2`: a view of a storage.
struct PickleTensorRef: Sendable, Equatable {
  var storage: PickleStorageRef
  /// Offset into the storage in elements.
  var storageOffset: Int
  var shape: [Int]
  /// Strides in elements.
  var strides: [Int]
}

/// A mutable list or set produced while unpickling (reference semantics, as in Python, so that memoized
/// containers filled later are seen filled).
final class PickleList {
  var items: [PickleValue] = []
  /// Nesting depth (1 + the deepest item; 1 when empty), kept by the unpickler.
  var depth = 1
  /// True once the list sits inside another container: it may then no longer grow deeper (see `Unpickler`).
  var contained = false
  init(_ items: [PickleValue] = [], depth: Int = 1) {
    self.items = items
    self.depth = depth
  }
  deinit { PickleRelease.drain(&items) }
}

/// A mutable dictionary produced while unpickling; insertion-ordered, with later keys replacing earlier ones.
final class PickleDict {
  private(set) var keys: [PickleValue] = []
  private(set) var values: [PickleValue] = []
  private var index: [String: Int] = [:]
  /// True for `collections.OrderedDict` (informational).
  let ordered: Bool
  /// Nesting depth (1 + the deepest key or value; 1 when empty), kept by the unpickler.
  var depth = 1
  /// True once the dict sits inside another container: it may then no longer grow deeper.
  var contained = false
  init(ordered: Bool) { self.ordered = ordered }
  deinit {
    PickleRelease.drain(&keys)
    PickleRelease.drain(&values)
  }

  func set(_ key: PickleValue, _ value: PickleValue) {
    if let h = key.hashKey {
      if let i = index[h] {
        values[i] = value
        return
      }
      index[h] = keys.count
    }
    keys.append(key)
    values.append(value)
  }

  func get(_ key: String) -> PickleValue? {
    index[PickleValue.string(key).hashKey!].map { values[$0] }
  }

  var count: Int { keys.count }
}

/// Releases nested lists, sets and dicts without recursion (100,000 nested lists would otherwise overflow the
/// stack from their `deinit`s): the first container to die on a thread drains a per-thread work list; a container
/// that dies while that drain runs only hands its items to the list. Tuples are immutable and their depth is
/// bounded by `Unpickler.maxDepth`.
enum PickleRelease {
  final class Queue {
    var items: [PickleValue] = []
    var active = false
  }

  nonisolated(unsafe) private static let key: pthread_key_t = {
    var k = pthread_key_t()
    pthread_key_create(&k) { p in
      if let p { Unmanaged<Queue>.fromOpaque(p).release() }
    }
    return k
  }()

  private static var queue: Queue {
    if let p = pthread_getspecific(key) { return Unmanaged<Queue>.fromOpaque(p).takeUnretainedValue() }
    let q = Queue()
    pthread_setspecific(key, Unmanaged.passRetained(q).toOpaque())
    return q
  }

  /// Empties `items`; nested containers released on the way are released from this loop, not recursively.
  static func drain(_ items: inout [PickleValue]) {
    guard items.contains(where: { $0.isContainer }) else { return }
    let q = queue
    if q.active {
      q.items.append(contentsOf: items)
      items = []
      return
    }
    q.active = true
    q.items.append(contentsOf: items)
    items = []
    while let v = q.items.popLast() { _ = v }
    q.active = false
  }
}

/// A value on the unpickler's stack. Nothing is ever executed: globals stay symbolic and only the
/// allow-listed constructors are interpreted.
enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  /// An integer too large for `Int` (little-endian two's-complement bytes).
  case bigInt([UInt8])
  case float(Double)
  case string(String)
  case bytes([UInt8])
  case tuple([PickleValue])
  case list(PickleList)
  case set(PickleList)
  case dict(PickleDict)
  /// An allow-listed global (class or function), not yet applied.
  case global(module: String, name: String)
  case storage(PickleStorageRef)
  case tensor(PickleTensorRef)

  var isMutableContainer: Bool {
    switch self {
    case .list, .set, .dict: true
    default: false
    }
  }

  var isContainer: Bool {
    switch self {
    case .list, .set, .dict, .tuple: true
    default: false
    }
  }

  /// A key for dictionary de-duplication (scalars only).
  var hashKey: String? {
    switch self {
    case .string(let s): "s:" + s
    case .int(let i): "i:\(i)"
    case .bool(let b): "i:\(b ? 1 : 0)"
    case .none: "n"
    case .float(let d): "f:\(d.bitPattern)"
    default: nil
    }
  }

  /// A short description for error messages and summaries.
  var kind: String {
    switch self {
    case .none: "None"
    case .bool: "bool"
    case .int, .bigInt: "int"
    case .float: "float"
    case .string: "str"
    case .bytes: "bytes"
    case .tuple(let t): "tuple (\(t.count) items)"
    case .list(let l): "list (\(l.items.count) items)"
    case .set(let l): "set (\(l.items.count) items)"
    case .dict(let d): "dict (\(d.count) entries)"
    case .global(let m, let n): "global \(m).\(n)"
    case .storage: "storage"
    case .tensor(let t): "tensor \(t.storage.dtype.rawValue) \(t.shape)"
    }
  }

  var asInt: Int? {
    switch self {
    case .int(let i): i
    case .bool(let b): b ? 1 : 0
    default: nil
    }
  }

  /// Items of a tuple or list.
  var sequence: [PickleValue]? {
    switch self {
    case .tuple(let t): t
    case .list(let l): l.items
    default: nil
    }
  }
}

/// The allow-list of globals a checkpoint pickle may name.
enum PickleGlobals {
  static let storageTypes: [String: TensorDType] = [
    "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
    "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8,
    "BoolStorage": .bool,
  ]

  static func isAllowed(module: String, name: String) -> Bool {
    switch (module, name) {
    case ("collections", "OrderedDict"),
      ("torch._utils", "_rebuild_tensor_v2"),
      ("torch._utils", "_rebuild_parameter"),
      ("torch._tensor", "_rebuild_from_type_v2"),
      ("torch", "Size"),
      ("torch", "Tensor"),
      ("torch.nn.parameter", "Parameter"),
      ("builtins", "set"), ("builtins", "frozenset"):
      return true
    case ("torch", _):
      return storageTypes[name] != nil
    default:
      return false
    }
  }
}

/// A restricted unpickler for pickle protocols 2–5: a stack machine with a memo that builds `PickleValue`s.
///
/// Nesting is bounded: no value may nest deeper than `maxDepth` (tuples, lists, sets, dicts) and no more than
/// `maxDepth` MARKs may be open. Each stack slot carries its value's depth; lists, sets and dicts keep theirs
/// (they grow), and one that already sits inside another container may not grow deeper, so a recorded depth is
/// never stale. (Python's own pickler stops at its recursion limit, ~1000, so no real checkpoint comes close.)
struct Unpickler {
  /// The deepest nesting accepted.
  static let maxDepth = 1000

  let path: String
  let data: UnsafeRawBufferPointer
  private var pos = 0
  private var stack: [PickleValue] = []
  /// The nesting depth of each stack slot (0 for scalars), parallel to `stack`.
  private var depths: [Int] = []
  private var marks: [Int] = []
  private var memo: [Int: (value: PickleValue, depth: Int)] = [:]

  init(data: UnsafeRawBufferPointer, path: String) {
    self.data = data
    self.path = path
  }

  /// Runs the pickle to its STOP opcode and returns the resulting value.
  static func load(_ data: UnsafeRawBufferPointer, path: String) throws -> PickleValue {
    var u = Unpickler(data: data, path: path)
    defer { u.releaseAll() }
    return try u.run()
  }

  /// Drops the stack and the memo through `PickleRelease` (no recursion however the values nest).
  private mutating func releaseAll() {
    var rest = stack + memo.values.map(\.value)
    stack = []
    memo = [:]
    PickleRelease.drain(&rest)
  }

  private func tooDeep(_ what: String, at op: Int) -> CheckpointError {
    malformed(
      "\(what) nests deeper than \(Unpickler.maxDepth) levels; no checkpoint does (the file is damaged or hostile)",
      at: op)
  }

  /// The depth of a stack or memo value: live for lists, sets and dicts, `stored` otherwise.
  private func depth(_ v: PickleValue, _ stored: Int) -> Int {
    switch v {
    case .list(let l), .set(let l): l.depth
    case .dict(let d): d.depth
    default: stored
    }
  }

  private mutating func push(_ v: PickleValue) {
    stack.append(v)
    depths.append(0)
  }
  private mutating func push(_ v: PickleValue, depth d: Int, at op: Int) throws {
    guard d <= Unpickler.maxDepth else { throw tooDeep(v.kind, at: op) }
    stack.append(v)
    depths.append(d)
  }

  /// Marks a value as sitting inside a container (lists, sets and dicts may then no longer grow deeper).
  private func contain(_ v: PickleValue) {
    switch v {
    case .list(let l), .set(let l): l.contained = true
    case .dict(let d): d.contained = true
    default: break
    }
  }

  /// The new depth of a container at `current` depth that receives a child at depth `child`.
  private func deepen(_ current: Int, contained: Bool, child: Int, at op: Int) throws -> Int {
    let d = max(current, child + 1)
    if d > current {
      guard !contained else {
        throw malformed(
          "a list, set or dict grows deeper after being put inside another container (a recursive structure, which a checkpoint never holds)",
          at: op)
      }
      guard d <= Unpickler.maxDepth else { throw tooDeep("a list, set or dict", at: op) }
    }
    return d
  }

  private mutating func append(_ items: [PickleValue], depth child: Int, to l: PickleList, at op: Int) throws {
    items.forEach(contain)
    l.depth = try deepen(l.depth, contained: l.contained, child: child, at: op)
    l.items.append(contentsOf: items)
  }

  private mutating func setItems(_ items: [PickleValue], depth child: Int, in d: PickleDict, at op: Int) throws {
    guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of items", at: op) }
    items.forEach(contain)
    d.depth = try deepen(d.depth, contained: d.contained, child: child, at: op)
    for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
  }

  private func malformed(_ detail: String, at offset: Int) -> CheckpointError {
    .malformed(path: path, detail: "data.pkl byte \(offset): \(detail)")
  }

  private mutating func need(_ n: Int, _ op: Int) throws -> Int {
    guard n >= 0, pos <= data.count - n else {
      throw CheckpointError.truncated(
        path: path, detail: "data.pkl ends inside the opcode at byte \(op) (needs \(n) more bytes)")
    }
    let p = pos
    pos += n
    return p
  }

  private mutating func u8(_ op: Int) throws -> Int { Int(data[try need(1, op)]) }
  private mutating func u16(_ op: Int) throws -> Int {
    let p = try need(2, op)
    return Int(data[p]) | Int(data[p + 1]) << 8
  }
  private mutating func u32(_ op: Int) throws -> UInt32 {
    let p = try need(4, op)
    return UInt32(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt32.self))
  }
  private mutating func u64(_ op: Int) throws -> UInt64 {
    let p = try need(8, op)
    return UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt64.self))
  }
  private mutating func bytes(_ n: Int, _ op: Int) throws -> [UInt8] {
    let p = try need(n, op)
    return Array(data[p..<(p + n)])
  }
  private mutating func length64(_ op: Int) throws -> Int {
    let n = try u64(op)
    guard n <= UInt64(data.count) else {
      throw CheckpointError.truncated(path: path, detail: "data.pkl: the opcode at byte \(op) claims \(n) bytes")
    }
    return Int(n)
  }
  private mutating func line(_ op: Int) throws -> String {
    var end = pos
    while end < data.count && data[end] != 0x0A { end += 1 }
    guard end < data.count else {
      throw CheckpointError.truncated(path: path, detail: "data.pkl ends inside the opcode at byte \(op)")
    }
    let s = String(decoding: data[pos..<end], as: UTF8.self)
    pos = end + 1
    return s
  }
  private func string(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

  private mutating func pop(_ op: Int) throws -> PickleValue {
    try popWithDepth(op).value
  }
  private mutating func popWithDepth(_ op: Int) throws -> (value: PickleValue, depth: Int) {
    guard stack.count > (marks.last ?? 0), let v = stack.popLast(), let d = depths.popLast() else {
      throw malformed("stack underflow", at: op)
    }
    return (v, depth(v, d))
  }
  private func top(_ op: Int) throws -> PickleValue {
    guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw malformed("stack underflow", at: op) }
    return v
  }
  private func topDepth() -> Int { depth(stack[stack.count - 1], depths[depths.count - 1]) }
  private mutating func popMark(_ op: Int) throws -> [PickleValue] {
    try popMarkWithDepth(op).items
  }
  /// The items above the last MARK and the depth of the deepest one.
  private mutating func popMarkWithDepth(_ op: Int) throws -> (items: [PickleValue], depth: Int) {
    guard let m = marks.popLast() else { throw malformed("no MARK on the stack", at: op) }
    let items = Array(stack[m...])
    var deepest = 0
    for i in m..<stack.count { deepest = max(deepest, depth(stack[i], depths[i])) }
    stack.removeSubrange(m...)
    depths.removeSubrange(m...)
    return (items, deepest)
  }

  private mutating func pushGlobal(module rawModule: String, name: String, at op: Int) throws {
    let module = rawModule == "__builtin__" ? "builtins" : rawModule
    guard PickleGlobals.isAllowed(module: module, name: name) else {
      throw CheckpointError.forbiddenGlobal(path: path, module: rawModule, name: name)
    }
    push(.global(module: module, name: name))
  }

  private mutating func run() throws -> PickleValue {
    while pos < data.count {
      let op = pos
      let code = data[pos]
      pos += 1
      switch code {
      case 0x80:  // PROTO
        let v = try u8(op)
        guard v <= 5 else { throw CheckpointError.unsupported(path: path, detail: "pickle protocol \(v)") }
      case 0x95:  // FRAME
        _ = try u64(op)
      case 0x2E:  // STOP
        guard let v = stack.last else {
          throw malformed("STOP with an empty stack", at: op)
        }
        return v
      case 0x63:  // GLOBAL
        let module = try line(op)
        let name = try line(op)
        try pushGlobal(module: module, name: name, at: op)
      case 0x93:  // STACK_GLOBAL
        let name = try pop(op)
        let module = try pop(op)
        guard case .string(let m) = module, case .string(let n) = name else {
          throw malformed("STACK_GLOBAL needs two strings", at: op)
        }
        try pushGlobal(module: m, name: n, at: op)
      case 0x71:  // BINPUT
        memo[try u8(op)] = (try top(op), topDepth())
      case 0x72:  // LONG_BINPUT
        memo[Int(try u32(op))] = (try top(op), topDepth())
      case 0x94:  // MEMOIZE
        memo[memo.count] = (try top(op), topDepth())
      case 0x68, 0x6A:  // BINGET, LONG_BINGET
        let k = code == 0x68 ? try u8(op) : Int(try u32(op))
        guard let m = memo[k] else { throw malformed("memo key \(k) is not set", at: op) }
        try push(m.value, depth: depth(m.value, m.depth), at: op)
      case 0x28:  // MARK
        guard marks.count < Unpickler.maxDepth else { throw tooDeep("MARK", at: op) }
        marks.append(stack.count)
      case 0x30:  // POP
        if stack.count == (marks.last ?? -1) {
          marks.removeLast()  // POP of a MARK
        } else {
          _ = try pop(op)
        }
      case 0x31:  // POP_MARK
        _ = try popMark(op)
      case 0x32:  // DUP
        let v = try top(op)
        try push(v, depth: topDepth(), at: op)
      case 0x74:  // TUPLE
        let (items, d) = try popMarkWithDepth(op)
        try pushTuple(items, depth: d, at: op)
      case 0x85:  // TUPLE1
        let a = try popWithDepth(op)
        try pushTuple([a.value], depth: a.depth, at: op)
      case 0x86:  // TUPLE2
        let b = try popWithDepth(op)
        let a = try popWithDepth(op)
        try pushTuple([a.value, b.value], depth: max(a.depth, b.depth), at: op)
      case 0x87:  // TUPLE3
        let c = try popWithDepth(op)
        let b = try popWithDepth(op)
        let a = try popWithDepth(op)
        try pushTuple([a.value, b.value, c.value], depth: max(a.depth, b.depth, c.depth), at: op)
      case 0x29:  // EMPTY_TUPLE
        try push(.tuple([]), depth: 1, at: op)
      case 0x7D:  // EMPTY_DICT
        try push(.dict(PickleDict(ordered: false)), depth: 1, at: op)
      case 0x64:  // DICT
        let (items, depth) = try popMarkWithDepth(op)
        guard items.count % 2 == 0 else { throw malformed("DICT with an odd number of items", at: op) }
        let d = PickleDict(ordered: false)
        try setItems(items, depth: depth, in: d, at: op)
        try push(.dict(d), depth: d.depth, at: op)
      case 0x5D:  // EMPTY_LIST
        try push(.list(PickleList()), depth: 1, at: op)
      case 0x6C:  // LIST
        let (items, depth) = try popMarkWithDepth(op)
        let l = PickleList()
        try append(items, depth: depth, to: l, at: op)
        try push(.list(l), depth: l.depth, at: op)
      case 0x73:  // SETITEM
        let v = try popWithDepth(op)
        let k = try popWithDepth(op)
        guard case .dict(let d) = try top(op) else { throw malformed("SETITEM on a non-dict", at: op) }
        try setItems([k.value, v.value], depth: max(k.depth, v.depth), in: d, at: op)
      case 0x75:  // SETITEMS
        let (items, depth) = try popMarkWithDepth(op)
        guard case .dict(let d) = try top(op) else { throw malformed("SETITEMS on a non-dict", at: op) }
        try setItems(items, depth: depth, in: d, at: op)
      case 0x61:  // APPEND
        let v = try popWithDepth(op)
        guard case .list(let l) = try top(op) else { throw malformed("APPEND on a non-list", at: op) }
        try append([v.value], depth: v.depth, to: l, at: op)
      case 0x65:  // APPENDS
        let (items, depth) = try popMarkWithDepth(op)
        guard case .list(let l) = try top(op) else { throw malformed("APPENDS on a non-list", at: op) }
        try append(items, depth: depth, to: l, at: op)
      case 0x8F:  // EMPTY_SET
        try push(.set(PickleList()), depth: 1, at: op)
      case 0x90:  // ADDITEMS
        let (items, depth) = try popMarkWithDepth(op)
        guard case .set(let l) = try top(op) else { throw malformed("ADDITEMS on a non-set", at: op) }
        try append(items, depth: depth, to: l, at: op)
      case 0x91:  // FROZENSET
        let (items, depth) = try popMarkWithDepth(op)
        let l = PickleList()
        try append(items, depth: depth, to: l, at: op)
        try push(.set(l), depth: l.depth, at: op)
      case 0x4A:  // BININT
        push(.int(Int(Int32(bitPattern: try u32(op)))))
      case 0x4B:  // BININT1
        push(.int(try u8(op)))
      case 0x4D:  // BININT2
        push(.int(try u16(op)))
      case 0x49:  // INT (text)
        let s = try line(op)
        if s == "01" {
          push(.bool(true))
        } else if s == "00" {
          push(.bool(false))
        } else if let i = Int(s) {
          push(.int(i))
        } else {
          throw malformed("INT with a bad value '\(s)'", at: op)
        }
      case 0x4C:  // LONG (text)
        let s = try line(op)
        let digits = s.hasSuffix("L") ? String(s.dropLast()) : s
        guard let i = Int(digits) else { throw malformed("LONG value '\(s)' is out of range", at: op) }
        push(.int(i))
      case 0x8A, 0x8B:  // LONG1, LONG4
        let n = code == 0x8A ? try u8(op) : Int(Int32(bitPattern: try u32(op)))
        guard n >= 0 else { throw malformed("LONG4 with a negative length", at: op) }
        let b = try bytes(n, op)
        push(Unpickler.decodeLong(b))
      case 0x47:  // BINFLOAT (big-endian)
        push(.float(Double(bitPattern: try u64(op).byteSwapped)))
      case 0x46:  // FLOAT (text)
        let s = try line(op)
        guard let d = Double(s) else { throw malformed("FLOAT with a bad value '\(s)'", at: op) }
        push(.float(d))
      case 0x58:  // BINUNICODE
        let n = Int(try u32(op))
        push(.string(string(try bytes(n, op))))
      case 0x8C:  // SHORT_BINUNICODE
        let n = try u8(op)
        push(.string(string(try bytes(n, op))))
      case 0x8D:  // BINUNICODE8
        let n = try length64(op)
        push(.string(string(try bytes(n, op))))
      case 0x55:  // SHORT_BINSTRING
        let n = try u8(op)
        push(.string(String(decoding: try bytes(n, op).map { UInt16($0) }, as: UTF16.self)))
      case 0x54:  // BINSTRING
        let n = Int(Int32(bitPattern: try u32(op)))
        guard n >= 0 else { throw malformed("BINSTRING with a negative length", at: op) }
        push(.string(String(decoding: try bytes(n, op).map { UInt16($0) }, as: UTF16.self)))
      case 0x42:  // BINBYTES
        let n = Int(try u32(op))
        push(.bytes(try bytes(n, op)))
      case 0x43:  // SHORT_BINBYTES
        let n = try u8(op)
        push(.bytes(try bytes(n, op)))
      case 0x8E:  // BINBYTES8
        let n = try length64(op)
        push(.bytes(try bytes(n, op)))
      case 0x4E:  // NONE
        push(.none)
      case 0x88:  // NEWTRUE
        push(.bool(true))
      case 0x89:  // NEWFALSE
        push(.bool(false))
      case 0x52, 0x81:  // REDUCE, NEWOBJ
        let args = try popWithDepth(op)
        let callable = try pop(op)
        let v = try apply(callable, args.value, at: op)
        // The result holds at most what its arguments held.
        switch v {
        case .list(let l), .set(let l): l.depth = max(l.depth, args.depth)
        case .dict(let d): d.depth = max(d.depth, args.depth)
        default: break
        }
        try push(v, depth: v.isMutableContainer || { if case .tuple = v { true } else { false } }() ? args.depth : 0, at: op)
      case 0x62:  // BUILD
        let state = try pop(op)
        let target = try top(op)
        switch target {
        case .dict, .tensor:
          // OrderedDict._metadata (state dicts) or a tensor's Python attributes: ignored.
          _ = state
        default:
          throw malformed("BUILD on \(target.kind) is not allowed", at: op)
        }
      case 0x51:  // BINPERSID
        let pid = try pop(op)
        push(try persistentLoad(pid, at: op))
      default:
        throw CheckpointError.malformed(
          path: path,
          detail: "data.pkl byte \(op): unknown or unsupported pickle opcode 0x\(String(code, radix: 16))"
            + (code >= 0x20 && code < 0x7F ? " ('\(Character(Unicode.Scalar(code)))')" : ""))
      }
    }
    throw CheckpointError.truncated(path: path, detail: "data.pkl ends without a STOP opcode")
  }

  private mutating func pushTuple(_ items: [PickleValue], depth: Int, at op: Int) throws {
    items.forEach(contain)
    try push(.tuple(items), depth: depth + 1, at: op)
  }

  static func decodeLong(_ b: [UInt8]) -> PickleValue {
    if b.isEmpty { return .int(0) }
    if b.count <= 8 {
      var v: UInt64 = 0
      for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
      if b.count < 8 && b.last! & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(b.count)) }
      return .int(Int(Int64(bitPattern: v)))
    }
    return .bigInt(b)
  }

  /// `('storage', <StorageClass>, key, location, numel)` → a storage reference.
  private func persistentLoad(_ pid: PickleValue, at op: Int) throws -> PickleValue {
    guard case .tuple(let t) = pid, t.count >= 5, case .string("storage") = t[0] else {
      throw malformed("unsupported persistent id \(pid.kind)", at: op)
    }
    guard case .global(let module, let name) = t[1], module == "torch",
      let dtype = PickleGlobals.storageTypes[name]
    else {
      throw malformed("persistent id names \(t[1].kind), not a torch storage type", at: op)
    }
    let key: String
    switch t[2] {
    case .string(let s): key = s
    case .int(let i): key = String(i)
    default: throw malformed("storage key is \(t[2].kind)", at: op)
    }
    var location = ""
    if case .string(let s) = t[3] { location = s }
    guard let n = t[4].asInt, n >= 0 else { throw malformed("storage size is \(t[4].kind)", at: op) }
    return .storage(PickleStorageRef(key: key, dtype: dtype, location: location, elementCount: n))
  }

  private func ints(_ v: PickleValue, _ what: String, at op: Int) throws -> [Int] {
    guard let seq = v.sequence else { throw malformed("\(what) is \(v.kind), expected a tuple", at: op) }
    return try seq.map {
      guard let i = $0.asInt else { throw malformed("\(what) holds \($0.kind), expected ints", at: op) }
      return i
    }
  }

  /// Interprets REDUCE / NEWOBJ of an allow-listed global. Nothing is executed.
  private func apply(_ callable: PickleValue, _ args: PickleValue, at op: Int) throws -> PickleValue {
    guard case .global(let module, let name) = callable else {
      throw malformed("REDUCE of \(callable.kind), which is not a global", at: op)
    }
    let a = args.sequence ?? []
    switch (module, name) {
    case ("collections", "OrderedDict"):
      let d = PickleDict(ordered: true)
      if let first = a.first, let pairs = first.sequence {
        for p in pairs {
          if let kv = p.sequence, kv.count == 2 { d.set(kv[0], kv[1]) }
        }
      }
      return .dict(d)
    case ("torch._utils", "_rebuild_tensor_v2"):
      guard a.count >= 4, case .storage(let s) = a[0], let offset = a[1].asInt else {
        throw malformed("_rebuild_tensor_v2 with unexpected arguments", at: op)
      }
      let shape = try ints(a[2], "tensor size", at: op)
      let strides = try ints(a[3], "tensor stride", at: op)
      guard shape.count == strides.count, offset >= 0, shape.allSatisfy({ $0 >= 0 }) else {
        throw malformed("tensor size \(shape) and stride \(strides) do not match", at: op)
      }
      return .tensor(PickleTensorRef(storage: s, storageOffset: offset, shape: shape, strides: strides))
    case ("torch._utils", "_rebuild_parameter"), ("torch.nn.parameter", "Parameter"):
      guard let first = a.first, case .tensor = first else {
        throw malformed("\(module).\(name) without a tensor", at: op)
      }
      return first
    case ("torch._tensor", "_rebuild_from_type_v2"):
      // (func, new_type, args, state): apply func to args, ignore the type and the state.
      guard a.count >= 3 else { throw malformed("_rebuild_from_type_v2 with \(a.count) arguments", at: op) }
      return try apply(a[0], a[2], at: op)
    case ("torch", "Size"):
      return .tuple(a.first?.sequence ?? [])
    case ("builtins", "set"), ("builtins", "frozenset"):
      return .set(PickleList(a.first?.sequence ?? []))
    default:
      throw malformed("\(module).\(name) cannot be called while loading", at: op)
    }
  }
}
