import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A throwaway nginx on 127.0.0.1 for download tests: its own config, logs and pid file in a
/// temporary folder, run in the foreground (`daemon off; master_process off`) as the current user,
/// stopped by `stop()`. The access log records `status body_bytes_sent "range" uri` per request.
public final class NginxServer: @unchecked Sendable {
  /// The folder with nginx.conf, logs and the pid file.
  public let prefix: URL
  /// The port it listens on (127.0.0.1 only).
  public let port: Int
  /// `http://127.0.0.1:PORT`.
  public var baseURL: String { "http://127.0.0.1:\(port)" }
  private let process: Process

  /// True when an `nginx` binary is on PATH or in /usr/sbin.
  public static var available: Bool { binary != nil }

  static var binary: String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + [
      "/usr/sbin", "/usr/local/sbin",
    ] {
      let p = dir + "/nginx"
      if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
  }

  /// Starts nginx serving `root`; `locations` is extra config placed inside the `server` block.
  public init(root: URL, locations: String = "") throws {
    guard let nginx = Self.binary else {
      throw NSError(domain: "NginxServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "nginx is not installed"])
    }
    prefix = try Fixtures.temporaryDirectory("vtag-nginx")
    try FileManager.default.createDirectory(at: prefix.appendingPathComponent("tmp"), withIntermediateDirectories: true)
    port = try Self.freePort()
    let p = prefix.path
    let conf = """
      daemon off;
      master_process off;
      worker_processes 1;
      pid \(p)/nginx.pid;
      error_log \(p)/error.log;
      events { worker_connections 64; }
      http {
        access_log off;
        client_body_temp_path \(p)/tmp;
        proxy_temp_path \(p)/tmp;
        fastcgi_temp_path \(p)/tmp;
        uwsgi_temp_path \(p)/tmp;
        scgi_temp_path \(p)/tmp;
        default_type application/octet-stream;
        log_format bytes '$status $body_bytes_sent "$http_range" $uri';
        server {
          listen 127.0.0.1:\(port);
          access_log \(p)/access.log bytes;
          root \(root.path);
      \(locations)
        }
      }
      """
    try conf.write(to: prefix.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
    process = Process()
    process.executableURL = URL(fileURLWithPath: nginx)
    process.arguments = ["-p", p, "-c", "\(p)/nginx.conf", "-e", "\(p)/error.log"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Wait until it accepts connections.
    let deadline = Date().addingTimeInterval(10)
    while !Self.canConnect(port: port) {
      if !process.isRunning || Date() > deadline {
        let log = (try? String(contentsOf: prefix.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
        stop()
        throw NSError(
          domain: "NginxServer", code: 2, userInfo: [NSLocalizedDescriptionKey: "nginx did not start: \(log)"])
      }
      usleep(20_000)
    }
  }

  /// Stops nginx (the process this object started) and removes its folder.
  public func stop() {
    if process.isRunning {
      // SIGKILL: nginx in single-process mode keeps the signal mask it inherits, in which the test
      // runner may block SIGTERM/SIGQUIT. The access log is written per request, so nothing is lost.
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: prefix)
  }

  /// One access-log line.
  public struct Request: Sendable, Equatable {
    public var status: Int
    public var bytes: Int
    /// The Range header, or nil.
    public var range: String?
    public var uri: String
  }

  /// The requests logged so far (nginx writes each line when the request ends).
  public func requests() -> [Request] {
    let text = (try? String(contentsOf: prefix.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
      guard parts.count == 4, let status = Int(parts[0]), let bytes = Int(parts[1]) else { return nil }
      let range = parts[2] == "\"-\"" ? nil : String(parts[2].dropFirst().dropLast())
      return Request(status: status, bytes: bytes, range: range, uri: parts[3])
    }
  }

  /// A TCP port on 127.0.0.1 nobody listens on right now.
  public static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw NSError(domain: "NginxServer", code: 3) }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard ok == 0 else { throw NSError(domain: "NginxServer", code: 4) }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
  }

  static func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    } == 0
  }
}
