import Checkpoints
import Foundation

/// Helpers for making and converting bundles.
public enum BundleSynthesis {
  /// The stored tensors a model of `config` reads from `archive`, in layout order: its weights,
  /// minus recomputed buffers; for Tag2Text also the tag encoder and text decoder (captioning).
  /// RAM's unused tag encoder and text decoder are left out.
  public static func usedTensorNames(config: ModelConfig, archive: any TensorArchive) throws -> [String] {
    let store = WeightStore(archive: archive)
    _ = try TaggingModel(config: config, weights: store)
    var used = store.usedNames
    if config.architecture == .tag2text {
      for item in CheckpointLayout.items(config) where !item.isBuffer {
        if item.name.hasPrefix("tag_encoder.") || item.name.hasPrefix("text_decoder.") {
          guard let stored = store.storedName(item.name) else {
            throw BundleError.missingKey(file: archive.path, key: item.name)
          }
          used.insert(stored)
        }
      }
    }
    let order = CheckpointLayout.items(config).compactMap { store.storedName($0.name) }
    var seen = Set<String>()
    var names: [String] = []
    for n in order where used.contains(n) && seen.insert(n).inserted { names.append(n) }
    for n in used.sorted() where seen.insert(n).inserted { names.append(n) }
    return names
  }

  /// Writes tags.txt (and tags_zh.txt, thresholds.txt, vocab.txt as the config names them), copied
  /// from the official data files in `data` when given, else synthetic.
  public static func writeDataFiles(config: ModelConfig, to dir: URL, from data: URL?) throws {
    let files = config.files ?? [:]
    let k = config.numClasses
    func copyOrMake(_ role: String, _ official: String, _ make: () -> String) throws {
      guard let name = files[role] ?? (role == "tags" ? "tags.txt" : nil) else { return }
      let dest = dir.appendingPathComponent(name)
      if let data, FileManager.default.fileExists(atPath: data.appendingPathComponent(official).path) {
        if FileManager.default.fileExists(atPath: dest.path) { try FileManager.default.removeItem(at: dest) }
        try FileManager.default.copyItem(at: data.appendingPathComponent(official), to: dest)
      } else {
        try Data(make().utf8).write(to: dest)
      }
    }
    let tagFile = config.architecture == .tag2text ? "tag2text_ori_tag_list.txt" : "ram_tag_list.txt"
    try copyOrMake("tags", tagFile) { (0..<k).map { "tag \($0)" }.joined(separator: "\n") }
    try copyOrMake("tags_zh", "ram_tag_list_chinese.txt") { (0..<k).map { "标签\($0)" }.joined(separator: "\n") + "\n" }
    try copyOrMake("thresholds", "ram_tag_list_threshold.txt") {
      String(repeating: "\(config.threshold.default)\n", count: k)
    }
    try copyOrMake("vocab", "vocab.txt") { syntheticVocabulary(size: (config.vocabSize ?? 30524) - 2) }
  }

  /// A BERT-style vocabulary with the special tokens at their usual ids and filler word pieces.
  public static func syntheticVocabulary(size: Int) -> String {
    var v: [String] = []
    for i in 0..<size {
      switch i {
      case 0: v.append("[PAD]")
      case 100: v.append("[UNK]")
      case 101: v.append("[CLS]")
      case 102: v.append("[SEP]")
      case 103: v.append("[MASK]")
      case 1..<100: v.append("[unused\(i - 1)]")
      default: v.append(i % 2 == 0 ? "w\(i)" : "##w\(i)")
      }
    }
    return v.joined(separator: "\n") + "\n"
  }

  /// Writes `weights` as an official-layout `.pth` checkpoint (`{"model": state_dict, ...}` in
  /// torch's zip format, tied tensors sharing one storage). With `optimizer`, adds an AdamW-style
  /// `optimizer` entry (zero `exp_avg`/`exp_avg_sq` per trainable tensor, as the training scripts save)
  /// plus `config` and `epoch`, so the file has the official files' layout and roughly their size.
  public static func writePth(_ weights: SyntheticWeights, to path: String, optimizer: Bool = false) throws {
    var writer = PthWriter(path: path)
    var storageOf: [String: PthWriter.StorageID] = [:]
    var trainable: [(Int, [Int])] = []
    for item in weights.layout {
      let owner = item.tiedTo ?? item.name
      let storage: PthWriter.StorageID
      if let id = storageOf[owner] {
        storage = id
      } else {
        let count = item.shape.reduce(1, *)
        let name = item.name
        let data: TensorData =
          item.dtype == .i64
          ? .fillInt64({ buf in _ = buf.update(fromContentsOf: try weights.int64s(name)) })
          : .floatBuffer({ try weights.floats(owner) })
        storage = writer.addStorage(dtype: item.dtype, count: count, data: data)
        storageOf[owner] = storage
        if !item.isBuffer && owner != "label_embed" { trainable.append((trainable.count, item.shape)) }
      }
      writer.addTensor(item.name, storage: storage, shape: item.shape)
    }
    if optimizer {
      var state: [(PthWriter.Value, PthWriter.Value)] = []
      for (index, shape) in trainable {
        let count = shape.reduce(1, *)
        func zeros() -> PthWriter.Value {
          let id = writer.addStorage(dtype: .f32, count: count, data: .fillFloat32({ _ in }))
          return .tensor(PthWriter.TensorRef(storage: id, shape: shape))
        }
        state.append(
          (
            .int(index),
            .dict([(.string("step"), .float(1)), (.string("exp_avg"), zeros()), (.string("exp_avg_sq"), zeros())])
          ))
      }
      writer.setExtra(
        "optimizer",
        .dict([
          (.string("state"), .dict(state)),
          (
            .string("param_groups"),
            .list([
              .dict([
                (.string("lr"), .float(1e-6)), (.string("betas"), .tuple([.float(0.9), .float(0.999)])),
                (.string("weight_decay"), .float(0.05)), (.string("params"), .list(trainable.map { .int($0.0) })),
              ])
            ])
          ),
        ]))
      writer.setExtra("config", .dict([(.string("note"), .string("synthesized by vtag models synth"))]))
      writer.setExtra("epoch", .int(1))
    }
    try writer.write()
  }
}
