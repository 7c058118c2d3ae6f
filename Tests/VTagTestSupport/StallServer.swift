import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A TCP server on 127.0.0.1 (an ephemeral port) for stall tests: each accepted connection is handed to a behaviour
/// on its own thread, and stays open until ``stop()``: a server that accepts and never sends, an HTTP server that
/// answers with part of a file and then stalls.
public final class StallServer: @unchecked Sendable {
  /// What the server does with a connection before it stalls.
  public enum Behaviour: Sendable {
    /// Accept and never send a byte.
    case silent
    /// Read the HTTP request, answer `200` with no length, send `prefix`, then send nothing more.
    case httpStall(prefix: Data)
  }

  /// The port it listens on.
  public let port: Int
  private let listener: Int32
  private let behaviour: Behaviour
  private let condition = NSCondition()
  private var clients: [Int32] = []
  private var accepted = 0
  private var stopped = false

  /// Starts listening and accepting.
  public init(_ behaviour: Behaviour) throws {
    self.behaviour = behaviour
    signal(SIGPIPE, SIG_IGN)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw NSError(domain: "StallServer", code: 1) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard ok == 0, listen(fd, 8) == 0 else {
      close(fd)
      throw NSError(domain: "StallServer", code: 2)
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    port = Int(UInt16(bigEndian: addr.sin_port))
    listener = fd
    let t = Thread { [self] in acceptLoop() }
    t.name = "test.stall-server"
    t.start()
  }

  deinit { stop() }

  /// `tcp://127.0.0.1:PORT` or `http://127.0.0.1:PORT/path`.
  public func url(_ scheme: String = "tcp", path: String = "") -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }

  /// Connections accepted so far.
  public var acceptedCount: Int {
    condition.lock()
    defer { condition.unlock() }
    return accepted
  }

  /// Waits until a connection has been accepted (polls every 10 ms; no time limit).
  public func waitForConnection() async throws {
    while acceptedCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
  }

  /// Closes the listener and every connection (idempotent); the behaviour threads end.
  public func stop() {
    condition.lock()
    if stopped {
      condition.unlock()
      return
    }
    stopped = true
    let cs = clients
    clients = []
    condition.broadcast()
    condition.unlock()
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
    for c in cs {
      shutdown(c, Int32(SHUT_RDWR))
      close(c)
    }
  }

  private func acceptLoop() {
    while true {
      let c = accept(listener, nil, nil)
      if c < 0 {
        if errno == EINTR { continue }
        return
      }
      condition.lock()
      if stopped {
        condition.unlock()
        close(c)
        return
      }
      clients.append(c)
      accepted += 1
      condition.unlock()
      let t = Thread { [self] in serve(c) }
      t.name = "test.stall-server.connection"
      t.start()
    }
  }

  private func serve(_ c: Int32) {
    if case .httpStall(let prefix) = behaviour {
      var request = [UInt8]()
      var byte: UInt8 = 0
      while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
        if recv(c, &byte, 1, 0) != 1 { return }
        request.append(byte)
      }
      var reply = Data("HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n".utf8)
      reply.append(prefix)
      reply.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
          let n = send(c, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
          if n <= 0 { return }
          off += n
        }
      }
    }
    // Stall: hold the connection open until stop().
    condition.lock()
    while !stopped { condition.wait() }
    condition.unlock()
  }
}
