// swift-tools-version: 6.0
// vtag: tags what is seen in video with the Recognize Anything models (RAM++, RAM, Tag2Text).
import PackageDescription

let package = Package(
  name: "vtag",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "vtag", targets: ["vtag"]),
    .library(name: "RecognizeAnything", targets: ["RecognizeAnything"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
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

    // Tensor core: fp32 buffers, BLAS-backed linear algebra, LayerNorm/GELU/softmax/attention.
    .target(name: "TensorCore", dependencies: ["COpenBLAS"]),
    // PyTorch .pth (zip + restricted unpickler) and safetensors readers/writers.
    .target(name: "Checkpoints"),
    // RGB images, PIL-exact resize, normalisation.
    .target(name: "ImageCore"),
    // The models: bundles, Swin, BERT blocks, RAM++, RAM, Tag2Text, tokenizer, beam search.
    .target(
      name: "RecognizeAnything",
      dependencies: ["TensorCore", "Checkpoints", "ImageCore", .product(name: "Logging", package: "swift-log")]),
    // Getting models: the manifest, resumable verified downloads (URLSession), SHA-256.
    .target(name: "ModelFetch", dependencies: ["RecognizeAnything"]),
    // Media input: still images (libjpeg-turbo, FFmpeg), video (FFmpeg), cameras (libv4l2).
    .target(name: "MediaIO", dependencies: ["CFFmpeg", "CJPEG", "CV4L2", "ImageCore"]),
    // The command line as a library, so tests can run commands in-process.
    .target(
      name: "VTagCLI",
      dependencies: [
        "RecognizeAnything", "ModelFetch", "MediaIO", "TensorCore", "Checkpoints", "ImageCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .executableTarget(name: "vtag", dependencies: ["VTagCLI"]),

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
    .testTarget(name: "MediaIOTests", dependencies: ["MediaIO", "VTagTestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["VTagCLI", "ModelFetch", "VTagTestSupport"]),
    .testTarget(name: "ModelFetchTests", dependencies: ["ModelFetch", "RecognizeAnything", "VTagTestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
