import ArgumentParser
import Foundation
import RecognizeAnything
import TaggingPipeline
import TensorCore

/// `vtag bench`: forward-pass speed per model, thread count and batch size, next to the machine's
/// sgemm rate measured in the same run on the model's own matrix shapes.
struct BenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the forward pass against the machine's sgemm rate on the model's own shapes.",
    discussion: """
      For each model, thread count and batch size: the median seconds per image over the repetitions,
      split by stage; the GFLOP/s achieved; the sgemm GFLOP/s of the same products run back to back
      (measured in this run); their ratio (the roofline ratio); model load time and peak resident memory.
      Make full-size bundles with `vtag models synth --preset NAME -o DIR`.
      """)

  @Option(name: .long, help: "Bundle directories, comma-separated.")
  var model: String?

  @Flag(name: .long, help: "Time each hand-written kernel against the code it replaced.")
  var kernels = false

  @Option(name: .long, help: "OpenBLAS thread counts, comma-separated.")
  var threads: String = "\(ProcessInfo.processInfo.activeProcessorCount)"

  @Option(name: .long, help: "Batch sizes, comma-separated.")
  var batch: String = "1"

  @Option(name: .long, help: "Timed repetitions per configuration (after one warm-up).")
  var repetitions: Int = 3

  @Option(name: .long, help: "Output format: md, json or csv.")
  var output: String = "md"

  @Flag(name: .long, help: "Tag2Text: also time the caption (tag encoder + beam search).")
  var caption = false

  @Flag(name: .long, help: "Also print the sgemm rate of every distinct product shape of the model.")
  var shapes = false

  @Option(
    name: .long,
    help: "Precisions of the large products, comma-separated: fp32, bf16, auto (each measured in this run).")
  var precision: String = "fp32"

  var precisions: [Precision]? {
    let v = precision.split(separator: ",").map { Precision(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
    guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else { return nil }
    return v.map { $0! }
  }

  func validate() throws {
    guard ["md", "json", "csv"].contains(output) else { throw ValidationError("--output must be md, json or csv") }
    guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
    if model == nil && !kernels { throw ValidationError("give --model DIR[,DIR...] and/or --kernels") }
    guard precisions != nil else { throw ValidationError("--precision takes fp32, bf16 or auto (comma-separated)") }
    guard parseList(threads) != nil, parseList(batch) != nil else {
      throw ValidationError("--threads and --batch take comma-separated positive integers")
    }
  }

  func parseList(_ s: String) -> [Int]? {
    let v = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !v.isEmpty, v.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
    return v.map { $0! }
  }

  struct Row {
    var model: String
    var precision: Precision
    var architecture: String
    var threads: Int
    var batch: Int
    var secondsPerImage: Double
    var gflops: Double
    var sgemmGflops: Double
    var loadSeconds: Double
    var peakRSS: Int
    var stages: [(String, Double)]
    var captionSeconds: Double?
  }

  func run() async throws {
    var rows: [Row] = []
    let status = BLASStartup.status
    if output == "md" {
      Output.line("CPU: \(status.cpu) (\(CPUFeatures.vendor)); features: \(status.cpuFeatures.joined(separator: " "))")
      Output.line(
        "OpenBLAS: \(BLAS.configuration); core \(status.core) (\(status.source.rawValue): \(status.reason)); "
          + "self-check \(status.selfCheckPassed ? "passed" : "FAILED"); AVX2 kernels: \(Ops.simd ? "yes" : "no")")
    } else if output == "json" {
      Output.line(JSONValue.object([("blas", ComputeInfo.blasJSON(status))]).serialized)
    }
    if kernels {
      for t in parseList(threads)! {
        BLAS.setThreads(t)
        let results = KernelBench.run(reps: repetitions)
        for r in results {
          if output == "json" {
            Output.line(
              JSONValue.object([
                ("kernel", .string(r.name)), ("threads", .int(t)), ("baseline", .string(r.baseline)),
                ("baseline_seconds", .double(r.baselineSeconds)), ("kernel_seconds", .double(r.kernelSeconds)),
                ("speedup", .double(r.baselineSeconds / r.kernelSeconds)),
              ]).serialized)
          } else {
            Output.line(
              "| \(r.name) | \(t) | \(r.baseline) \(String(format: "%.4f", r.baselineSeconds)) s | \(String(format: "%.4f", r.kernelSeconds)) s | \(String(format: "%.1f×", r.baselineSeconds / r.kernelSeconds)) |"
            )
          }
        }
      }
    }
    for dir in (model ?? "").split(separator: ",").map(String.init) {
      for p in precisions! {
        BLAS.setThreads(parseList(threads)!.max()!)
        let started = Date()
        let ram = try RecognizeAnythingModel(directory: URL(fileURLWithPath: dir), captions: caption, precision: p)
        let load = Date().timeIntervalSince(started)
        for t in parseList(threads)! {
          BLAS.setThreads(t)
          for b in parseList(batch)! {
            rows.append(try measure(ram, name: dir, threads: t, batch: b, load: load))
            if output == "json" { Output.line(json(rows.last!).serialized) }
          }
        }
      }
    }
    switch output {
    case "csv":
      Output.line(
        "model,precision,architecture,threads,batch,seconds_per_image,gflops,sgemm_gflops,roofline_ratio,load_seconds,peak_rss_bytes"
      )
      for r in rows {
        Output.line(
          "\(r.model),\(r.precision),\(r.architecture),\(r.threads),\(r.batch),\(r.secondsPerImage),\(r.gflops),\(r.sgemmGflops),\(r.gflops / r.sgemmGflops),\(r.loadSeconds),\(r.peakRSS)"
        )
      }
    case "md":
      Output.line("")
      Output.line(
        "| model | precision | threads | batch | s/image | GFLOP/s | sgemm GFLOP/s (same shapes) | roofline | load s | peak RSS MB | stages (s/image) |"
      )
      Output.line("|---|---|---|---|---|---|---|---|---|---|---|")
      for r in rows {
        let stages = r.stages.map { "\($0.0) \(String(format: "%.3f", $0.1))" }.joined(separator: ", ")
        Output.line(
          "| \(r.model) | \(r.precision) | \(r.threads) | \(r.batch) | \(String(format: "%.3f", r.secondsPerImage)) | \(String(format: "%.1f", r.gflops)) | \(String(format: "%.1f", r.sgemmGflops)) | \(String(format: "%.1f %%", 100 * r.gflops / r.sgemmGflops)) | \(String(format: "%.2f", r.loadSeconds)) | \(r.peakRSS >> 20) | \(stages) |"
        )
      }
    default: break
    }
  }

  func json(_ r: Row) -> JSONValue {
    var fields: [(String, JSONValue)] = [
      ("model", .string(r.model)), ("precision", .string(r.precision.rawValue)), ("architecture", .string(r.architecture)), ("threads", .int(r.threads)),
      ("batch", .int(r.batch)), ("seconds_per_image", .double(r.secondsPerImage)), ("gflops", .double(r.gflops)),
      ("sgemm_gflops", .double(r.sgemmGflops)), ("roofline_ratio", .double(r.gflops / r.sgemmGflops)),
      ("load_seconds", .double(r.loadSeconds)), ("peak_rss_bytes", .int(r.peakRSS)),
      ("stages", .object(r.stages.map { ($0.0, .double($0.1)) })),
    ]
    if let c = r.captionSeconds { fields.append(("caption_seconds", .double(c))) }
    return .object(fields)
  }

  func measure(_ ram: RecognizeAnythingModel, name: String, threads: Int, batch: Int, load: Double) throws -> Row {
    let size = ram.imageSize
    let pixels = Tensor(uninitialized: [batch, 3, size, size])
    var rng: UInt64 = 42
    for i in 0..<pixels.count {
      rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      pixels.data[i] = Float(Int(rng >> 40) % 512) / 128 - 2
    }
    let profile = ComputeProfile.tagging(ram.bundle.config, batch: batch)
    let clock = StageClock()
    ram.tagging.swin.observer = { name, _ in clock.mark(name) }
    ram.tagging.onStage = { name in clock.mark(name) }
    defer {
      ram.tagging.swin.observer = nil
      ram.tagging.onStage = nil
    }
    var times: [Double] = []
    var stageRuns: [[(String, Double)]] = []
    var captionTimes: [Double] = []
    for rep in 0...repetitions {
      clock.start()
      let embeds = ram.tagging.imageEmbeddings(pixels: UnsafePointer(pixels.data), batch: batch)
      let outputs = ram.tagging.tag(imageEmbeddings: embeds, batch: batch)
      let elapsed = clock.elapsed()
      var captionTime: Double?
      if let captioner = ram.captioner {
        let t0 = Date()
        let tags = ram.decide(outputs[0])
        _ = try captioner.caption(
          imageEmbeddings: embeds.data, tokens: ram.tagging.swin.outputTokens, tagText: tags.tagString)
        captionTime = Date().timeIntervalSince(t0)
      }
      if rep > 0 {
        times.append(elapsed / Double(batch))
        stageRuns.append(clock.stages().map { ($0.0, $0.1 / Double(batch)) })
        if let captionTime { captionTimes.append(captionTime) }
      }
    }
    let median = times.sorted()[times.count / 2]
    let medianIndex = times.firstIndex(of: median)!
    let sgemmSeconds = SgemmRoofline.seconds(for: profile) { g, seconds in
      if shapes {
        Output.line(
          "  sgemm \(g.m)×\(g.n)×\(g.k)\(g.transB ? " (B transposed)" : "") ×\(g.count) [\(g.stage)]: "
            + String(format: "%.1f GFLOP/s, %.4f s", g.flops / seconds / 1e9, seconds))
      }
    }
    let flopsPerImage = profile.flops / Double(batch)
    return Row(
      model: name, precision: ram.precision, architecture: ram.architecture.rawValue, threads: threads, batch: batch, secondsPerImage: median,
      gflops: flopsPerImage / median / 1e9, sgemmGflops: profile.flops / sgemmSeconds / 1e9, loadSeconds: load,
      peakRSS: ProcessMemory.peakResidentBytes(), stages: stageRuns[medianIndex],
      captionSeconds: captionTimes.isEmpty ? nil : captionTimes.sorted()[captionTimes.count / 2])
  }
}

/// Times named stage boundaries of one forward pass.
final class StageClock: @unchecked Sendable {
  private var t0 = DispatchTime.now().uptimeNanoseconds
  private var last = DispatchTime.now().uptimeNanoseconds
  private var marks: [(String, Double)] = []

  func start() {
    t0 = DispatchTime.now().uptimeNanoseconds
    last = t0
    marks = []
  }

  func mark(_ name: String) {
    let now = DispatchTime.now().uptimeNanoseconds
    let stage =
      name.hasSuffix("_merged")
      ? String(name.dropLast("_merged".count)) : name.replacingOccurrences(of: "_blocks", with: "")
    if let i = marks.firstIndex(where: { $0.0 == stage }) {
      marks[i].1 += Double(now - last) / 1e9
    } else {
      marks.append((stage, Double(now - last) / 1e9))
    }
    last = now
  }

  func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
  func stages() -> [(String, Double)] { marks }
}

/// The time the model's matrix products take as bare back-to-back `cblas_sgemm` calls.
enum SgemmRoofline {
  static func seconds(for profile: ComputeProfile, report: (ComputeProfile.Gemm, Double) -> Void = { _, _ in })
    -> Double
  {
    var total = 0.0
    for g in profile.distinctShapes {
      let a = Tensor(zeros: [g.m, g.k])
      let b = Tensor(zeros: [g.transB ? g.n : g.k, g.transB ? g.k : g.n])
      let c = Tensor(zeros: [g.m, g.n])
      for i in 0..<a.count { a.data[i] = Float(i % 17) * 0.01 }
      for i in 0..<b.count { b.data[i] = Float(i % 13) * 0.01 }
      func once() {
        BLAS.sgemm(
          transB: g.transB, m: g.m, n: g.n, k: g.k, a: a.data, lda: g.k, b: b.data, ldb: g.transB ? g.k : g.n,
          c: c.data,
          ldc: g.n)
      }
      once()
      // Enough calls for ≥ 20 ms, at most the model's own count.
      let reps = max(1, min(g.count, Int(2e10 / max(g.flops / Double(g.count), 1))))
      var best = Double.infinity
      for _ in 0..<3 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps { once() }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(reps))
      }
      total += best * Double(g.count)
      report(g, best * Double(g.count))
    }
    return total
  }
}

/// Resident memory of this process.
enum ProcessMemory {
  /// Peak resident set size (VmHWM) in bytes, from /proc/self/status.
  static func peakResidentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
      let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
      return kb * 1024
    }
    return 0
  }
}

