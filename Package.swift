// swift-tools-version: 6.0
// vtag: tags what is seen in video with the Recognize Anything models (RAM++, RAM, Tag2Text).
import PackageDescription

let package = Package(
  name: "vtag",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "vtag", targets: ["vtag"]),
    .library(name: "RecognizeAnything", targets: ["RecognizeAnything"]),
    .library(name: "TaggingPipeline", targets: ["TaggingPipeline"]),
    .library(name: "Index", targets: ["Index"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    // The searchable index (SQLite with FTS5 through the system libsqlite3). Clean debug build ≈ 37 s.
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
  ],
  targets: [
    // C shims over the system libraries (module maps + inline wrappers for macros Swift cannot import).
    .systemLibrary(
      name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat",
      providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
    .systemLibrary(
      name: "CV4L2", path: "Sources/CV4L2", pkgConfig: "libv4l2",
      providers: [.apt(["libv4l-dev"])]),
    .systemLibrary(
      name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
      providers: [.apt(["libjpeg62-turbo-dev"])]),
    .systemLibrary(name: "CZLib", path: "Sources/CZLib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

    // Tensor core: fp32 buffers, BLAS-backed linear algebra, LayerNorm/GELU/softmax/attention.
    // Element-wise kernels in C: AVX2+FMA versions picked at run time, portable fallbacks otherwise.
    // Always optimised (debug test runs would crawl otherwise).
    .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
    .target(
      name: "TensorCore", dependencies: ["COpenBLAS", "CKernels"],
      swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
    // PyTorch .pth (zip + restricted unpickler) and safetensors readers/writers.
    .target(name: "Checkpoints"),
    // RGB images, PIL-exact resize, normalisation.
    .target(name: "ImageCore"),
    // The models: bundles, Swin, BERT blocks, RAM++, RAM, Tag2Text, tokenizer, beam search.
    .target(
      name: "RecognizeAnything",
      dependencies: ["TensorCore", "Checkpoints", "ImageCore", .product(name: "Logging", package: "swift-log")]),
    // Open-set tags: CLIP's BPE tokenizer and text tower, the tag-set builder.
    .target(name: "CLIPText", dependencies: ["TensorCore", "Checkpoints", "RecognizeAnything", "ModelFetch", "CZLib"]),
    // The streaming pipeline: sampler, smoother, segmenter, timeline records, sinks, runner.
    .target(name: "TaggingPipeline", dependencies: ["RecognizeAnything", "MediaIO", "ImageCore", "TensorCore"]),
    // Getting models: the manifest, resumable verified downloads (URLSession), SHA-256.
    .target(name: "ModelFetch", dependencies: ["RecognizeAnything"]),
    // The searchable index of timelines: storage protocol, SQLite backend (GRDB, FTS5), query language, clips.
    .target(
      name: "Index",
      dependencies: ["TaggingPipeline", "ModelFetch", "CFFmpeg", .product(name: "GRDB", package: "GRDB.swift")]),
    // Media input: still images (libjpeg-turbo, FFmpeg), video (FFmpeg), cameras (libv4l2).
    .target(name: "MediaIO", dependencies: ["CFFmpeg", "CJPEG", "CV4L2", "ImageCore"]),
    // The command line as a library, so tests can run commands in-process.
    .target(
      name: "VTagCLI",
      dependencies: [
        "RecognizeAnything", "CLIPText", "TaggingPipeline", "ModelFetch", "MediaIO", "Index", "TensorCore", "Checkpoints",
        "ImageCore",
        .product(name: "Yams", package: "Yams"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .executableTarget(name: "vtag", dependencies: ["VTagCLI", "TensorCore"]),

    // Examples of the library API (built with everything else, so they keep compiling).
    .executableTarget(name: "example-custom-sink", dependencies: ["TaggingPipeline"], path: "examples/custom-sink"),
    .executableTarget(name: "example-read-timeline", dependencies: ["TaggingPipeline"], path: "examples/read-timeline"),

    // Tests.
    .target(name: "VTagTestSupport", path: "Tests/VTagTestSupport"),
    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "VTagTestSupport"]),
    .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "VTagTestSupport"]),
    .testTarget(
      name: "ImageCoreTests", dependencies: ["ImageCore", "MediaIO", "Checkpoints", "VTagTestSupport"],
      resources: [.copy("Resources")]),
    .testTarget(
      name: "RecognizeAnythingTests",
      dependencies: ["RecognizeAnything", "Checkpoints", "ImageCore", "MediaIO", "TensorCore", "VTagTestSupport"]),
    .testTarget(
      name: "TaggingPipelineTests", dependencies: ["TaggingPipeline", "RecognizeAnything", "VTagTestSupport"],
      exclude: ["Golden"]),
    .testTarget(name: "MediaIOTests", dependencies: ["MediaIO", "VTagTestSupport"]),
    .testTarget(name: "CLIPTextTests", dependencies: ["CLIPText", "Checkpoints", "RecognizeAnything", "VTagTestSupport"]),
    .testTarget(
      name: "CLITests",
      dependencies: [
        "VTagCLI", "ModelFetch", "TaggingPipeline", "VTagTestSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .testTarget(name: "IndexTests", dependencies: ["Index", "TaggingPipeline", "VTagCLI", "VTagTestSupport"]),
    .testTarget(name: "ModelFetchTests", dependencies: ["ModelFetch", "RecognizeAnything", "VTagTestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
