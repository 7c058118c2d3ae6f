import Foundation

/// Download progress and notes on standard error: a redrawn bar with bytes, rate and ETA on a
/// terminal; otherwise an occasional plain line (every 10 % or 15 s) so logs stay short.
public final class FetchProgress: @unchecked Sendable {
  private let lock = NSLock()
  private let interactive: Bool
  private let quiet: Bool
  private var file = ""
  private var total: Int64 = 0
  private var startBytes: Int64 = 0
  private var started = Date()
  private var lastDraw = Date.distantPast
  private var lastPlainFraction = -1.0
  private var barShown = false
  /// Rate estimate (bytes per second), smoothed.
  private var rate = 0.0
  private var rateBytes: Int64 = 0
  private var rateTime = Date()

  /// `interactive` draws a bar (default: when standard error is a terminal); `quiet` prints only notes.
  public init(interactive: Bool = isatty(2) == 1, quiet: Bool = false) {
    self.interactive = interactive
    self.quiet = quiet
  }

  private func write(_ s: String) {
    FileHandle.standardError.write(Data(s.utf8))
  }

  /// Prints a line (clearing a bar being drawn).
  public func note(_ message: String) {
    lock.lock()
    defer { lock.unlock() }
    clearBar()
    write("vtag: \(message)\n")
  }

  private func clearBar() {
    if barShown {
      write("\r\u{1B}[K")
      barShown = false
    }
  }

  /// Starts a file transfer of `total` bytes, `already` of which are on disk (a resumed download).
  public func begin(file: String, total: Int64, already: Int64) {
    lock.lock()
    defer { lock.unlock() }
    self.file = file
    self.total = total
    startBytes = already
    started = Date()
    rate = 0
    rateBytes = already
    rateTime = started
    lastDraw = .distantPast
    lastPlainFraction = -1
    if !interactive && !quiet && total >= 10_000_000 {
      lastDraw = started
      let resumed = already > 0 ? ", resuming at \(ByteFormat.string(already))" : ""
      write("vtag: downloading \(file) (\(ByteFormat.string(total))\(resumed))\n")
      lastPlainFraction = total > 0 ? Double(already) / Double(total) : 0
    }
  }

  /// `done` bytes of the current file are on disk.
  public func update(done: Int64) {
    lock.lock()
    defer { lock.unlock() }
    let now = Date()
    let dt = now.timeIntervalSince(rateTime)
    if dt >= 0.5 {
      let instant = Double(done - rateBytes) / dt
      rate = rate == 0 ? instant : 0.7 * rate + 0.3 * instant
      rateBytes = done
      rateTime = now
    }
    if quiet { return }
    if interactive {
      guard now.timeIntervalSince(lastDraw) >= 0.2 || done == total else { return }
      lastDraw = now
      write("\r\u{1B}[K" + line(done: done, now: now, width: 24))
      barShown = true
    } else {
      guard total >= 10_000_000 else { return }
      let fraction = total > 0 ? Double(done) / Double(total) : 1
      guard fraction - lastPlainFraction >= 0.1 || now.timeIntervalSince(lastDraw) >= 15 else { return }
      guard done < total else { return }
      lastDraw = now
      lastPlainFraction = fraction
      write("vtag: " + line(done: done, now: now, width: 0) + "\n")
    }
  }

  /// The current transfer stopped (an error follows): clears the bar.
  public func abandon() {
    lock.lock()
    defer { lock.unlock() }
    clearBar()
  }

  /// The current file is on disk; `verb` says what happened.
  public func end(_ verb: String = "downloaded") {
    lock.lock()
    defer { lock.unlock() }
    clearBar()
    if quiet { return }
    let secs = Date().timeIntervalSince(started)
    let moved = total - startBytes
    let speed = secs > 0 ? " at \(ByteFormat.string(Int64(Double(moved) / secs)))/s" : ""
    write("vtag: \(verb) \(file) (\(ByteFormat.string(moved))\(moved > 0 ? speed : ""))\n")
  }

  private func line(done: Int64, now: Date, width: Int) -> String {
    let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
    var s = "\(file) "
    if width > 0 {
      let filled = Int(fraction * Double(width))
      s += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
    }
    s += String(format: "%3.0f%% ", fraction * 100)
    s += "\(ByteFormat.string(done)) / \(ByteFormat.string(total))"
    if rate > 0 {
      s += "  \(ByteFormat.string(Int64(rate)))/s  ETA \(ByteFormat.duration(Double(total - done) / rate))"
    }
    return s
  }
}
