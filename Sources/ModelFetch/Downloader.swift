import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Retry policy for transient failures (5xx, 408, 429, timeouts, dropped connections).
public struct RetryPolicy: Sendable, Equatable {
  /// Retries after the first attempt.
  public var retries: Int
  /// Delay before the first retry, doubled for each next one (capped at `maxDelay`).
  public var initialDelay: Double
  /// Longest delay between attempts.
  public var maxDelay: Double
  /// Seconds without any data before a request times out.
  public var idleTimeout: Double

  /// The default: 4 retries after 1, 2, 4, 8 s; a 60 s idle timeout. `$VTAG_FETCH_BACKOFF` (seconds)
  /// replaces the first delay and `$VTAG_FETCH_TIMEOUT` the idle timeout (tests use short ones).
  public init(
    retries: Int = 4, initialDelay: Double? = nil, maxDelay: Double = 60, idleTimeout: Double? = nil,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) {
    self.retries = retries
    self.initialDelay = initialDelay ?? environment["VTAG_FETCH_BACKOFF"].flatMap(Double.init) ?? 1
    self.maxDelay = maxDelay
    self.idleTimeout = idleTimeout ?? environment["VTAG_FETCH_TIMEOUT"].flatMap(Double.init) ?? 60
  }

  /// Delay before retry number `n` (1-based).
  public func delay(beforeRetry n: Int) -> Double {
    min(maxDelay, initialDelay * pow(2, Double(n - 1)))
  }
}

/// Downloads one file into a `.part` file, resuming what is already there.
///
/// HTTP(S) goes through URLSession (libcurl underneath on Linux) with a delegate that appends each
/// chunk to the `.part` file as it arrives, so memory stays small whatever the file size. A
/// non-empty `.part` is resumed with `Range: bytes=N-`; a `206` whose `Content-Range` starts at N is
/// appended, a `200` (server ignores Range) restarts the file from zero. `file://` URLs and local
/// paths are copied in 4 MiB chunks (also resumable).
public struct Downloader: Sendable {
  /// Retry policy.
  public var policy: RetryPolicy
  /// Where notes and progress go.
  public var progress: FetchProgress
  /// Builds the manual-install text for an unreachable-host error.
  public var manualInstall: @Sendable () -> String

  /// A downloader with `policy`, reporting to `progress`.
  public init(policy: RetryPolicy, progress: FetchProgress, manualInstall: @escaping @Sendable () -> String) {
    self.policy = policy
    self.progress = progress
    self.manualInstall = manualInstall
  }

  /// Brings `part` to `expectedBytes` bytes of `source` (resuming a non-empty `part`); `label` names
  /// the file in messages. Does not verify the content (the caller hashes the result).
  public func download(from source: URL, to part: URL, expectedBytes: Int64, label: String) async throws {
    var attempt = 0
    while true {
      attempt += 1
      var have = Self.size(of: part)
      if have > expectedBytes {
        progress.note("\(part.lastPathComponent) is larger than \(label) should be; starting it again")
        try? FileManager.default.removeItem(at: part)
        have = 0
      }
      if have == expectedBytes && expectedBytes > 0 { return }
      progress.begin(file: label, total: expectedBytes, already: have)
      do {
        var restarted = false
        if source.isFileURL {
          try copyLocal(from: source, to: part, offset: have)
        } else {
          restarted = try await fetchHTTP(from: source, to: part, offset: have)
        }
        let now = Self.size(of: part)
        if now < expectedBytes {
          throw AttemptError.transient("the connection ended after \(now) of \(expectedBytes) bytes")
        }
        progress.end(
          source.isFileURL
            ? "copied" : restarted ? "downloaded (from the start)" : have > 0 ? "resumed and downloaded" : "downloaded")
        return
      } catch AttemptError.transient(let why) {
        progress.abandon()
        if attempt > policy.retries {
          throw FetchError.gaveUp(url: source.absoluteString, attempts: attempt, last: why, partial: part.path)
        }
        let wait = policy.delay(beforeRetry: attempt)
        progress.note(
          "\(label): \(why); retrying in \(String(format: "%.1f", wait)) s (retry \(attempt) of \(policy.retries))")
        try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
      } catch AttemptError.fatal(let error) {
        progress.abandon()
        throw error
      }
    }
  }

  /// Size of a file, 0 when absent.
  public static func size(of url: URL) -> Int64 {
    ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.int64Value ?? 0
  }

  enum AttemptError: Error {
    case transient(String)
    case fatal(any Error)
  }

  private func copyLocal(from source: URL, to part: URL, offset: Int64) throws {
    guard let input = FileHandle(forReadingAtPath: source.path) else {
      throw AttemptError.fatal(
        FetchError.cannotRead(path: "\(source.path) (download \(source.lastPathComponent) into that folder first)"))
    }
    defer { try? input.close() }
    let output = try Self.openForAppend(part, at: offset)
    defer { try? output.close() }
    do {
      try input.seek(toOffset: UInt64(offset))
      var done = offset
      while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty {
        try output.write(contentsOf: chunk)
        done += Int64(chunk.count)
        progress.update(done: done)
      }
    } catch {
      throw AttemptError.fatal(FetchError.cannotWrite(path: part.path, detail: "\(error)"))
    }
  }

  /// Opens `url` for writing at `offset`, truncating anything after it (creating the file if needed).
  static func openForAppend(_ url: URL, at offset: Int64) throws -> FileHandle {
    if !FileManager.default.fileExists(atPath: url.path) {
      guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
        throw AttemptError.fatal(FetchError.cannotWrite(path: url.path, detail: "cannot create the file"))
      }
    }
    do {
      let h = try FileHandle(forWritingTo: url)
      try h.truncate(atOffset: UInt64(offset))
      try h.seek(toOffset: UInt64(offset))
      return h
    } catch {
      throw AttemptError.fatal(FetchError.cannotWrite(path: url.path, detail: "\(error)"))
    }
  }

  /// One HTTP request; returns true when the server ignored the Range request (file restarted).
  private func fetchHTTP(from url: URL, to part: URL, offset: Int64) async throws -> Bool {
    var request = URLRequest(url: url)
    request.cachePolicy = .reloadIgnoringLocalCacheData
    request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
    request.setValue("vtag/\(FetchVersion.string)", forHTTPHeaderField: "User-Agent")
    if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
    let config = URLSessionConfiguration.ephemeral
    config.timeoutIntervalForRequest = policy.idleTimeout
    config.timeoutIntervalForResource = 7 * 24 * 3600
    config.httpMaximumConnectionsPerHost = 1
    let transfer = Transfer(part: part, offset: offset, progress: progress)
    let queue = OperationQueue()
    queue.maxConcurrentOperationCount = 1
    let session = URLSession(configuration: config, delegate: transfer, delegateQueue: queue)
    defer { session.finishTasksAndInvalidate() }
    let outcome = await transfer.run(session.dataTask(with: request))

    if let failure = outcome.failure { throw AttemptError.fatal(failure) }
    if let status = outcome.status, !(200...299).contains(status) {
      if status == 416 && offset > 0 {
        // The part is as long as (or longer than) the file: start over.
        try? FileManager.default.removeItem(at: part)
        throw AttemptError.transient("HTTP 416 for a resume at byte \(offset); starting the file again")
      }
      if status >= 500 || status == 408 || status == 429 {
        throw AttemptError.transient("HTTP \(status) \(HTTPURLResponse.localizedString(forStatusCode: status))")
      }
      throw AttemptError.fatal(
        FetchError.httpStatus(url: url.absoluteString, status: status, file: url.lastPathComponent))
    }
    if let error = outcome.error {
      throw Self.classify(error, url: url, manual: manualInstall)
    }
    return outcome.restarted
  }

  /// Sorts a transport error into "retry" (timeouts, dropped connections) or "give up now" (the
  /// host is unreachable: offline, refused, unknown).
  static func classify(_ error: any Error, url: URL, manual: @Sendable () -> String) -> AttemptError {
    let ns = error as NSError
    let code = URLError.Code(rawValue: ns.code)
    let reason = ns.localizedDescription
    if ns.domain == NSURLErrorDomain {
      switch code {
      case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet,
        .internationalRoamingOff, .dataNotAllowed:
        let what: String
        switch code {
        case .cannotConnectToHost: what = "connection refused"
        case .cannotFindHost, .dnsLookupFailed: what = "unknown host"
        default: what = "not connected"
        }
        return .fatal(FetchError.unreachable(url: url.absoluteString, reason: what, manual: manual()))
      case .badURL, .unsupportedURL, .userAuthenticationRequired, .fileDoesNotExist:
        return .fatal(FetchError.protocolError(url: url.absoluteString, detail: reason))
      case .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
        .serverCertificateHasUnknownRoot, .clientCertificateRejected:
        return .fatal(FetchError.protocolError(url: url.absoluteString, detail: "TLS: \(reason)"))
      case .timedOut: return .transient("timed out (no data for a while)")
      default: return .transient(reason)
      }
    }
    return .transient(reason)
  }
}

/// The version sent as User-Agent.
enum FetchVersion {
  static let string = "0.1.0"
}

/// One HTTP request's delegate: checks the status and Content-Range, appends body bytes to the part
/// file as they arrive, and reports how it ended.
final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
  struct Outcome {
    var status: Int?
    var restarted = false
    /// A local failure (disk, inconsistent answer): not retried.
    var failure: (any Error)?
    /// The transport error, if any.
    var error: (any Error)?
  }

  private let lock = NSLock()
  private let part: URL
  private let offset: Int64
  private let progress: FetchProgress
  private var handle: FileHandle?
  private var done: Int64
  private var outcome = Outcome()
  private var continuation: CheckedContinuation<Outcome, Never>?

  init(part: URL, offset: Int64, progress: FetchProgress) {
    self.part = part
    self.offset = offset
    self.progress = progress
    self.done = offset
  }

  func run(_ task: URLSessionDataTask) async -> Outcome {
    await withCheckedContinuation { c in
      lock.lock()
      continuation = c
      lock.unlock()
      task.resume()
    }
  }

  func urlSession(
    _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
  ) {
    lock.lock()
    defer { lock.unlock() }
    guard let http = response as? HTTPURLResponse else {
      outcome.failure = FetchError.protocolError(
        url: response.url?.absoluteString ?? "?", detail: "not an HTTP response")
      completionHandler(.cancel)
      return
    }
    outcome.status = http.statusCode
    let url = http.url?.absoluteString ?? "?"
    var start: Int64 = 0
    switch http.statusCode {
    case 206:
      let range = http.value(forHTTPHeaderField: "Content-Range") ?? ""
      // bytes START-END/TOTAL
      guard let s = Self.rangeStart(range), s == offset else {
        outcome.failure = FetchError.protocolError(
          url: url, detail: "asked for bytes from \(offset) on, got Content-Range '\(range)'")
        completionHandler(.cancel)
        return
      }
      start = offset
    case 200:
      if offset > 0 {
        outcome.restarted = true
        progress.note(
          "\(url) ignored the request to resume at byte \(offset) (no HTTP Range support); downloading the whole file again"
        )
        progress.begin(
          file: part.deletingPathExtension().lastPathComponent, total: http.expectedContentLength, already: 0)
      }
      start = 0
    default:
      completionHandler(.cancel)
      return
    }
    do {
      handle = try Downloader.openForAppend(part, at: start)
      done = start
      completionHandler(.allow)
    } catch Downloader.AttemptError.fatal(let e) {
      outcome.failure = e
      completionHandler(.cancel)
    } catch {
      outcome.failure = error
      completionHandler(.cancel)
    }
  }

  static func rangeStart(_ header: String) -> Int64? {
    let h = header.trimmingCharacters(in: .whitespaces)
    guard h.lowercased().hasPrefix("bytes ") else { return nil }
    let spec = h.dropFirst(6)
    guard let dash = spec.firstIndex(of: "-") else { return nil }
    return Int64(spec[..<dash].trimmingCharacters(in: .whitespaces))
  }

  func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
    lock.lock()
    guard let handle, outcome.failure == nil else {
      lock.unlock()
      return
    }
    do {
      try handle.write(contentsOf: data)
      done += Int64(data.count)
      let now = done
      lock.unlock()
      progress.update(done: now)
    } catch {
      outcome.failure = FetchError.cannotWrite(path: part.path, detail: "\(error)")
      lock.unlock()
      dataTask.cancel()
    }
  }

  func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
    lock.lock()
    try? handle?.synchronize()
    try? handle?.close()
    handle = nil
    if let error, (error as NSError).code != URLError.cancelled.rawValue || outcome.status == nil {
      outcome.error = error
    }
    let c = continuation
    continuation = nil
    let result = outcome
    lock.unlock()
    c?.resume(returning: result)
  }
}
