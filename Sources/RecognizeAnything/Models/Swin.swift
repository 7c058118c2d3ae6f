import Foundation
import TensorCore

/// The Swin Transformer v1 backbone (`visual_encoder.*`), as the reference runs it at inference:
/// patch embedding, four stages of (shifted-)window attention blocks with patch merging between
/// them, a final LayerNorm, and the average-pooled token prepended (output `[B, 1 + H·W, C]`).
public final class SwinTransformer: @unchecked Sendable {
  /// One (shifted-)window attention block.
  struct Block {
    let norm1: LayerNorm
    let qkv: Linear
    let proj: Linear
    let norm2: LayerNorm
    let fc1: Linear
    let fc2: Linear
    let heads: Int
    let shift: Int
    /// Relative position bias expanded to `[heads, N, N]` (N = window²).
    let positionBias: Tensor
  }

  struct Stage {
    let side: Int
    let width: Int
    let window: Int
    let blocks: [Block]
    /// Shift masks `[windows, N, N]` (0 / −100), for stages with shifted blocks.
    let shiftMask: Tensor?
    let mergeNorm: LayerNorm?
    let mergeReduction: Linear?
  }

  public let imageSize: Int
  public let patchSize: Int
  public let embedDim: Int
  public let outputWidth: Int
  /// Tokens per image in the output (1 pooled + the final grid).
  public let outputTokens: Int
  let patchWeight: Weight  // [C1, 3·p·p]
  let patchBias: Weight
  let patchNorm: LayerNorm
  let stages: [Stage]
  let finalNorm: LayerNorm

  /// Optional observer of intermediate outputs (debugging and parity tests): called with a
  /// name (`patch_embed`, `stage{i}_blocks`, `stage{i}_merged`, `final_norm`) and a `[B, tokens, C]` tensor.
  public var observer: (@Sendable (String, Tensor) -> Void)?

  /// Builds the backbone from `visual_encoder.*` weights, checking every shape against `config`.
  public init(config: ModelConfig.Vision, imageSize: Int, weights: WeightScope) throws {
    let eps = Float(config.layerNormEps ?? 1e-5)
    self.imageSize = imageSize
    patchSize = config.patchSize
    embedDim = config.embedDim
    let p = config.patchSize
    patchWeight = try weights.weight("patch_embed.proj.weight", [embedDim, 3, p, p])
    patchBias = try weights.weight("patch_embed.proj.bias", [embedDim])
    patchNorm = try LayerNorm(weights.scope("patch_embed.norm"), dim: embedDim, eps: eps)

    var stages: [Stage] = []
    var side = imageSize / p
    var width = embedDim
    for (i, depth) in config.depths.enumerated() {
      let heads = config.numHeads[i]
      let window = min(config.windowSize, side)
      let shiftable = side > config.windowSize
      let n = window * window
      let layer = weights.scope("layers.\(i)")
      var blocks: [Block] = []
      for j in 0..<depth {
        let b = layer.scope("blocks.\(j)")
        let table = try b.weight("attn.relative_position_bias_table", [(2 * window - 1) * (2 * window - 1), heads])
        blocks.append(
          Block(
            norm1: try LayerNorm(b.scope("norm1"), dim: width, eps: eps),
            qkv: try Linear(b.scope("attn.qkv"), in: width, out: 3 * width),
            proj: try Linear(b.scope("attn.proj"), in: width, out: width),
            norm2: try LayerNorm(b.scope("norm2"), dim: width, eps: eps),
            fc1: try Linear(b.scope("mlp.fc1"), in: width, out: Int(Double(width) * config.mlpRatio)),
            fc2: try Linear(b.scope("mlp.fc2"), in: Int(Double(width) * config.mlpRatio), out: width),
            heads: heads,
            shift: (shiftable && j % 2 == 1) ? config.windowSize / 2 : 0,
            positionBias: Self.expandPositionBias(table: table, window: window, heads: heads)))
      }
      let hasShift = blocks.contains { $0.shift > 0 }
      let last = i == config.depths.count - 1
      stages.append(
        Stage(
          side: side, width: width, window: window, blocks: blocks,
          shiftMask: hasShift ? Self.shiftMask(side: side, window: window, shift: config.windowSize / 2) : nil,
          mergeNorm: last ? nil : try LayerNorm(layer.scope("downsample.norm"), dim: 4 * width, eps: eps),
          mergeReduction: last
            ? nil : try Linear(layer.scope("downsample.reduction"), in: 4 * width, out: 2 * width, bias: false)))
      _ = n
      if !last {
        side /= 2
        width *= 2
      }
    }
    self.stages = stages
    outputWidth = width
    outputTokens = 1 + side * side
    finalNorm = try LayerNorm(weights.scope("norm"), dim: width, eps: eps)
  }

  /// `bias[h, i, j] = table[(yi−yj+w−1)·(2w−1) + (xi−xj+w−1), h]`.
  static func expandPositionBias(table: Weight, window w: Int, heads: Int) -> Tensor {
    let n = w * w
    let out = Tensor(uninitialized: [heads, n, n])
    for i in 0..<n {
      let yi = i / w
      let xi = i % w
      for j in 0..<n {
        let idx = (yi - j / w + w - 1) * (2 * w - 1) + (xi - j % w + w - 1)
        for h in 0..<heads { out.data[(h * n + i) * n + j] = table.data[idx * heads + h] }
      }
    }
    return out
  }

  /// The shifted-window attention mask `[windows, N, N]`: 0 within a region, −100 across regions.
  static func shiftMask(side: Int, window w: Int, shift s: Int) -> Tensor {
    func region(_ v: Int) -> Int { v < side - w ? 0 : (v < side - s ? 1 : 2) }
    let perRow = side / w
    let n = w * w
    let mask = Tensor(zeros: [perRow * perRow, n, n])
    var labels = [Int](repeating: 0, count: n)
    for wy in 0..<perRow {
      for wx in 0..<perRow {
        for t in 0..<n { labels[t] = 3 * region(wy * w + t / w) + region(wx * w + t % w) }
        let m = mask.data + (wy * perRow + wx) * n * n
        for i in 0..<n {
          for j in 0..<n where labels[i] != labels[j] { m[i * n + j] = -100 }
        }
      }
    }
    return mask
  }

  /// Runs the backbone on `batch` images of normalised pixels `[B, 3, S, S]`; returns `[B, 1 + H·W, C]`.
  public func forward(pixels: UnsafePointer<Float>, batch: Int) -> Tensor {
    var x = patchEmbed(pixels: pixels, batch: batch)
    for (i, stage) in stages.enumerated() {
      for block in stage.blocks { run(block, stage: stage, x: x, batch: batch) }
      observer?("stage\(i + 1)_blocks", x)
      if let norm = stage.mergeNorm, let reduction = stage.mergeReduction {
        x = merge(x, stage: stage, batch: batch, norm: norm, reduction: reduction)
        observer?("stage\(i + 1)_merged", x)
      }
    }
    let tokens = stages.last!.side * stages.last!.side
    let c = outputWidth
    finalNorm(x.data, rows: batch * tokens, into: x.data)
    observer?("final_norm", x)
    let out = Tensor(uninitialized: [batch, tokens + 1, c])
    for b in 0..<batch {
      let src = x.data + b * tokens * c
      let dst = out.data + b * (tokens + 1) * c
      var mean = [Double](repeating: 0, count: c)
      for t in 0..<tokens {
        let row = src + t * c
        for j in 0..<c { mean[j] += Double(row[j]) }
      }
      for j in 0..<c { dst[j] = Float(mean[j] / Double(tokens)) }
      (dst + c).update(from: src, count: tokens * c)
    }
    return out
  }

  /// Conv2d(3→C, kernel p, stride p) as a matmul over non-overlapping patches, then LayerNorm.
  func patchEmbed(pixels: UnsafePointer<Float>, batch: Int) -> Tensor {
    let p = patchSize
    let grid = imageSize / p
    let k = 3 * p * p
    let patches = Tensor(uninitialized: [batch * grid * grid, k])
    for b in 0..<batch {
      let img = pixels + b * 3 * imageSize * imageSize
      for gy in 0..<grid {
        for gx in 0..<grid {
          let row = patches.data + ((b * grid + gy) * grid + gx) * k
          for c in 0..<3 {
            for ky in 0..<p {
              let src = img + (c * imageSize + gy * p + ky) * imageSize + gx * p
              for kx in 0..<p { row[c * p * p + ky * p + kx] = src[kx] }
            }
          }
        }
      }
    }
    let out = Tensor(uninitialized: [batch, grid * grid, embedDim])
    BLAS.linear(
      patches.data, rows: batch * grid * grid, inFeatures: k, weight: patchWeight.data, bias: patchBias.data,
      outFeatures: embedDim, into: out.data)
    patchNorm(out.data, rows: batch * grid * grid, into: out.data)
    observer?("patch_embed", out)
    return out
  }

  /// One block, updating `x` `[B, side², C]` in place.
  func run(_ block: Block, stage: Stage, x: Tensor, batch: Int) {
    let side = stage.side
    let c = stage.width
    let w = stage.window
    let n = w * w
    let perRow = side / w
    let windows = perRow * perRow
    let tokens = side * side
    let s = block.shift
    // LN1, then cyclic shift by −s and window partition in one gather.
    let normed = Tensor(uninitialized: [batch * tokens, c])
    block.norm1(x.data, rows: batch * tokens, into: normed.data)
    let windowed = Tensor(uninitialized: [batch * windows * n, c])
    // sourceIndex[t] = token index in the map for windowed position t (same for every image).
    var sourceIndex = [Int](repeating: 0, count: tokens)
    for wy in 0..<perRow {
      for wx in 0..<perRow {
        for t in 0..<n {
          let yy = (wy * w + t / w + s) % side
          let xx = (wx * w + t % w + s) % side
          sourceIndex[(wy * perRow + wx) * n + t] = yy * side + xx
        }
      }
    }
    for b in 0..<batch {
      let src = normed.data + b * tokens * c
      let dst = windowed.data + b * tokens * c
      for t in 0..<tokens { (dst + t * c).update(from: src + sourceIndex[t] * c, count: c) }
    }
    // Window attention.
    let qkv = Tensor(uninitialized: [batch * tokens, 3 * c])
    block.qkv(windowed.data, rows: batch * tokens, into: qkv.data)
    let context = Tensor(uninitialized: [batch * tokens, c])
    let heads = block.heads
    let dh = c / heads
    let scale = 1 / Float(dh).squareRoot()
    // Windows are independent: split them over the workers, each running its windows' small
    // products with OpenBLAS in single-threaded mode (threading each 144×144 product inside OpenBLAS
    // costs more than it gains). Shifted blocks add the window's −100 mask to every head.
    let positionBias = UnsafePointer(block.positionBias.data)
    let mask = s > 0 ? stage.shiftMask.map { UnsafePointer($0.data) } : nil
    let qkvData = qkv.data
    let contextData = context.data
    BLAS.singleThreaded {
      Parallel.forRange(batch * windows, grain: 1) { start, end in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { scratch.deallocate() }
        for pair in start..<end {
          let win = pair % windows
          let row0 = pair * n
          let base = qkvData + row0 * 3 * c
          Attention.multiHead(
            q: base, ldq: 3 * c, k: base + c, ldk: 3 * c, v: base + 2 * c, ldv: 3 * c, nq: n, nk: n,
            heads: heads, headDim: dh, scale: scale, bias: positionBias, sharedBias: mask.map { $0 + win * n * n },
            out: contextData + row0 * c, ldo: c, scratch: scratch)
        }
      }
    }
    let projected = Tensor(uninitialized: [batch * tokens, c])
    block.proj(context.data, rows: batch * tokens, into: projected.data)
    // Reverse partition and shift, residual add.
    for b in 0..<batch {
      let src = projected.data + b * tokens * c
      let dst = x.data + b * tokens * c
      for t in 0..<tokens {
        Ops.add(src + t * c, into: dst + sourceIndex[t] * c, count: c)
      }
    }
    // MLP.
    block.norm2(x.data, rows: batch * tokens, into: normed.data)
    let hidden = Tensor(uninitialized: [batch * tokens, block.fc1.outFeatures])
    block.fc1(normed.data, rows: batch * tokens, into: hidden.data)
    Ops.gelu(hidden.data, count: hidden.count)
    block.fc2(hidden.data, rows: batch * tokens, into: projected.data)
    Ops.add(projected.data, into: x.data, count: x.count)
  }

  /// Patch merging: concat (even,even), (odd row,even col), (even row,odd col), (odd,odd) → LN(4C) → Linear(4C→2C).
  func merge(_ x: Tensor, stage: Stage, batch: Int, norm: LayerNorm, reduction: Linear) -> Tensor {
    let side = stage.side
    let half = side / 2
    let c = stage.width
    let gathered = Tensor(uninitialized: [batch * half * half, 4 * c])
    let offsets = [(0, 0), (1, 0), (0, 1), (1, 1)]  // (row, col)
    for b in 0..<batch {
      let src = x.data + b * side * side * c
      for y in 0..<half {
        for xx in 0..<half {
          let dst = gathered.data + ((b * half + y) * half + xx) * 4 * c
          for (q, (dy, dx)) in offsets.enumerated() {
            (dst + q * c).update(from: src + ((2 * y + dy) * side + 2 * xx + dx) * c, count: c)
          }
        }
      }
    }
    norm(gathered.data, rows: batch * half * half, into: gathered.data)
    let out = Tensor(uninitialized: [batch, half * half, 2 * c])
    reduction(gathered.data, rows: batch * half * half, into: out.data)
    return out
  }
}
