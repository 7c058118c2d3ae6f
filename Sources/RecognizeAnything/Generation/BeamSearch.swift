import Foundation

/// How a finished hypothesis' summed log-probability is normalised before hypotheses are compared.
public enum BeamLengthNormalization: Sendable, Equatable {
  /// transformers 4.25.1 (the Recognize Anything reference): divide by the whole sequence length, prefix
  /// included and EOS excluded; the "done" test divides by the current length the same way.
  case totalLength
  /// transformers ≥ 4.35 (checked against 4.40.2): divide by the number of generated tokens, the EOS token
  /// counted and the prefix not; the "done" test uses the same count, and open beams at `maxLength` are
  /// divided by `maxLength − prefix length`.
  case generatedLength
}

/// Settings of a beam search; the defaults are the Tag2Text captioning settings.
public struct BeamSearchConfiguration: Sendable, Equatable {
  /// Number of beams kept at every step and of finished hypotheses kept (`num_beams`). At least 2: HF runs
  /// greedy search, a different algorithm, for one beam.
  public var numBeams: Int
  /// Longest output, prefix included (`max_length`).
  public var maxLength: Int
  /// EOS is impossible while the current length, prefix included, is below this (`min_length`).
  public var minLength: Int
  /// The end-of-sequence token (`[SEP]` = 102 for Tag2Text).
  public var eosTokenID: Int
  /// Exponent of the length normaliser (`length_penalty`).
  public var lengthPenalty: Double
  /// Which length divides a hypothesis' summed log-probability.
  public var lengthNormalization: BeamLengthNormalization

  /// Creates a configuration; every default is the Tag2Text reference value.
  public init(
    numBeams: Int = 3, maxLength: Int = 50, minLength: Int = 10, eosTokenID: Int = 102,
    lengthPenalty: Double = 1.0, lengthNormalization: BeamLengthNormalization = .totalLength
  ) {
    self.numBeams = numBeams
    self.maxLength = maxLength
    self.minLength = minLength
    self.eosTokenID = eosTokenID
    self.lengthPenalty = lengthPenalty
    self.lengthNormalization = lengthNormalization
  }

  /// `inference_tag2text`: 3 beams, max length 50, min length 10, EOS 102, length penalty 1, 4.25.1 scoring.
  public static let tag2text = BeamSearchConfiguration()
}

/// What the beam search asks the model for at one step.
///
/// The model must return, for every beam `b` in `0..<numBeams`, the next-token logits after `sequences[b]`.
/// A model with a key/value cache keeps one cache row per beam: before running the step it reorders the rows
/// so that new row `b` is a copy of old row `parentBeams[b]` (several beams may share a parent, some parents may be
/// dropped), then feeds `lastTokens[b]` at position `sequences[b].count − 1`. On the first step (`index == 0`)
/// every beam holds the prefix, `parentBeams` is the identity and there is no cache yet: the model runs the whole
/// prefix. All beams are identical then, so computing beam 0 once and copying its logits is exact.
public struct BeamSearchStep: Sendable {
  /// 0 for the first call, then 1, 2, …
  public let index: Int
  /// The full token sequence of every beam (prefix + tokens generated so far); all have the same length.
  public let sequences: [[Int]]
  /// For every beam, the beam of the previous call that it extends (identity on the first call).
  public let parentBeams: [Int]

  /// Length of every sequence (the reference's `cur_len`).
  public var currentLength: Int { sequences.first?.count ?? 0 }
  /// The last token of every beam: the token appended since the previous call (the last prefix token at first).
  public var lastTokens: [Int] { sequences.map { $0.last ?? -1 } }
}

/// The outcome of a beam search.
public struct BeamSearchResult: Sendable, Equatable {
  /// The reference `generate()` output: prefix, generated tokens, and the EOS token when the best hypothesis
  /// ended with EOS (the EOS is re-appended as HF `finalize` does; a beam cut at `maxLength` has none).
  public let tokens: [Int]
  /// The tokens after the prefix, EOS excluded.
  public let generatedTokens: [Int]
  /// True when the best hypothesis ended with EOS.
  public let endedWithEOS: Bool
  /// The best hypothesis' score: summed log-probability divided by its normalising length^lengthPenalty.
  public let score: Double
  /// Number of model calls made.
  public let steps: Int
  /// Smallest gap between consecutive scores among the best `2·numBeams + 1` candidates over all steps (finite
  /// scores only; `.infinity` if none). A small value means float rounding could change the result.
  public let minimumDecisionGap: Float
}

/// Errors of `BeamSearch.generate`.
public enum BeamSearchError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The configuration or prefix cannot be searched.
  case invalidConfiguration(String)
  /// The step closure returned logits of the wrong shape.
  case invalidLogits(String)

  /// A human-readable explanation.
  public var description: String {
    switch self {
    case .invalidConfiguration(let message): return "invalid beam search configuration: \(message)"
    case .invalidLogits(let message): return "invalid logits from the beam search step: \(message)"
    }
  }
}

/// Model-independent beam search with the semantics of transformers 4.25.1 `generate(num_beams: …)` for a
/// batch of one (`BeamSearchScorer` + `BeamHypotheses`, `MinLengthLogitsProcessor`, `MaxLengthCriteria`,
/// `early_stopping=False`).
///
/// Per step: log-softmax of every beam's logits (float32 values, sum of exponentials accumulated in double);
/// EOS set to −∞ while the current length is below `minLength`; the beam's running float32 score added (beam
/// scores start `[0, −1e9, …]`, so the first step only expands beam 0); the best `2·numBeams` of the flattened
/// `[numBeams·V]` scores taken in descending order (equal scores: lower beam, then lower token id first — torch's
/// CPU `topk` does not specify an order for ties); candidates walked in rank order: an EOS at rank < `numBeams`
/// offers the beam's sequence (without EOS) as a finished hypothesis, an EOS at a lower rank is skipped, other
/// tokens fill the next beams until `numBeams` are chosen. The search is done when `numBeams` hypotheses are kept
/// and the worst of them scores ≥ best candidate score / current length^lengthPenalty; it also stops at
/// `maxLength`, where every open beam is offered as a hypothesis. Hypothesis scores and the done test use doubles
/// (Python floats), as the reference does.
public struct BeamSearch: Sendable {
  /// The settings used by `generate`.
  public var configuration: BeamSearchConfiguration

  /// Creates a beam search with the given settings (Tag2Text's by default).
  public init(configuration: BeamSearchConfiguration = .tag2text) {
    self.configuration = configuration
  }

  /// Runs the search from `prefix` (e.g. Tag2Text's `[30522, 1037, 3861, 1997]`).
  ///
  /// - Parameter step: given the beams' sequences and parents (see `BeamSearchStep`), returns the next-token
  ///   logits `[numBeams][V]` (every row the same width `V`, at least 2 and above `eosTokenID`).
  /// - Throws: `BeamSearchError` for an unusable configuration (fewer than 2 beams, empty prefix, prefix not
  ///   shorter than `maxLength`, negative EOS id) or badly shaped logits; anything `step` throws.
  public func generate(prefix: [Int], step: (BeamSearchStep) throws -> [[Float]]) throws -> BeamSearchResult {
    let config = configuration
    let numBeams = config.numBeams
    guard numBeams >= 2 else {
      throw BeamSearchError.invalidConfiguration("numBeams must be at least 2 (got \(numBeams))")
    }
    guard !prefix.isEmpty else { throw BeamSearchError.invalidConfiguration("the prefix is empty") }
    guard prefix.count < config.maxLength else {
      throw BeamSearchError.invalidConfiguration(
        "the prefix (\(prefix.count) tokens) must be shorter than maxLength (\(config.maxLength))")
    }
    guard config.eosTokenID >= 0 else {
      throw BeamSearchError.invalidConfiguration("eosTokenID must not be negative")
    }

    let prefixLength = prefix.count
    let candidateCount = 2 * numBeams
    var sequences = [[Int]](repeating: prefix, count: numBeams)
    var parents = Array(0..<numBeams)
    var beamScores = [Float](repeating: -1e9, count: numBeams)
    beamScores[0] = 0
    var hypotheses = Hypotheses(numBeams: numBeams, lengthPenalty: config.lengthPenalty)
    var done = false
    var stepIndex = 0
    var minimumGap = Float.infinity
    var vocabularySize: Int?

    while true {
      let currentLength = sequences[0].count
      let logits = try step(BeamSearchStep(index: stepIndex, sequences: sequences, parentBeams: parents))
      guard logits.count == numBeams else {
        throw BeamSearchError.invalidLogits("expected \(numBeams) rows, got \(logits.count)")
      }
      let width = logits[0].count
      guard width >= 2, config.eosTokenID < width else {
        throw BeamSearchError.invalidLogits("rows of width \(width) cannot hold EOS id \(config.eosTokenID)")
      }
      if let expected = vocabularySize, expected != width {
        throw BeamSearchError.invalidLogits("row width changed from \(expected) to \(width)")
      }
      vocabularySize = width

      // Log-softmax, min-length EOS mask, running beam score; keep the best 2·numBeams (+1 for the gap).
      var top = TopCandidates(capacity: candidateCount + 1)
      for beam in 0..<numBeams {
        let row = logits[beam]
        guard row.count == width else {
          throw BeamSearchError.invalidLogits("row \(beam) has width \(row.count), row 0 has \(width)")
        }
        var logProbabilities = Self.logSoftmax(row)
        if currentLength < config.minLength { logProbabilities[config.eosTokenID] = -.infinity }
        let base = beamScores[beam]
        for token in 0..<width {
          top.offer(score: logProbabilities[token] + base, beam: beam, token: token)
        }
      }
      let ranked = top.items
      for index in 1..<ranked.count {
        let gap = ranked[index - 1].score - ranked[index].score
        if gap.isFinite { minimumGap = min(minimumGap, gap) }
      }
      let candidates = ranked.prefix(candidateCount)

      // BeamSearchScorer.process.
      var nextScores: [Float] = []
      var nextTokens: [Int] = []
      var nextParents: [Int] = []
      for (rank, candidate) in candidates.enumerated() {
        if candidate.token == config.eosTokenID {
          if rank >= numBeams { continue }
          let length: Int
          switch config.lengthNormalization {
          case .totalLength: length = currentLength
          case .generatedLength: length = currentLength + 1 - prefixLength
          }
          hypotheses.add(sequences[candidate.beam], sumLogProbability: Double(candidate.score), length: length)
        } else {
          nextScores.append(candidate.score)
          nextTokens.append(candidate.token)
          nextParents.append(candidate.beam)
        }
        if nextTokens.count == numBeams { break }
      }
      guard nextTokens.count == numBeams else {
        throw BeamSearchError.invalidLogits(
          "fewer than \(numBeams) non-EOS candidates among the best \(candidateCount)")
      }
      let doneLength: Int
      switch config.lengthNormalization {
      case .totalLength: doneLength = currentLength
      case .generatedLength: doneLength = currentLength + 1 - prefixLength
      }
      done = done || hypotheses.isDone(bestSumLogProbability: Double(candidates[0].score), length: doneLength)

      sequences = (0..<numBeams).map { sequences[nextParents[$0]] + [nextTokens[$0]] }
      parents = nextParents
      beamScores = nextScores
      stepIndex += 1
      if done || sequences[0].count >= config.maxLength { break }
    }

    // BeamSearchScorer.finalize: offer the open beams unless done, then take the best hypothesis.
    if !done {
      for beam in 0..<numBeams {
        let length: Int
        switch config.lengthNormalization {
        case .totalLength: length = sequences[beam].count
        case .generatedLength: length = sequences[beam].count - prefixLength
        }
        hypotheses.add(sequences[beam], sumLogProbability: Double(beamScores[beam]), length: length)
      }
    }
    let best = hypotheses.best
    let endedWithEOS = best.tokens.count < config.maxLength
    let tokens = endedWithEOS ? best.tokens + [config.eosTokenID] : best.tokens
    return BeamSearchResult(
      tokens: tokens, generatedTokens: Array(best.tokens.dropFirst(prefixLength)), endedWithEOS: endedWithEOS,
      score: best.score, steps: stepIndex, minimumDecisionGap: minimumGap)
  }

  /// `log_softmax` of one row in float32: `x − (max + log Σ exp(x − max))`, the sum accumulated in double.
  static func logSoftmax(_ row: [Float]) -> [Float] {
    var maximum = -Float.infinity
    for value in row where value > maximum { maximum = value }
    if maximum == -.infinity { return [Float](repeating: .nan, count: row.count) }
    let maxDouble = Double(maximum)
    var sum = 0.0
    for value in row { sum += Foundation.exp(Double(value) - maxDouble) }
    let logNormalizer = Float(maxDouble + Foundation.log(sum))
    return row.map { $0 - logNormalizer }
  }
}

/// The best `capacity` candidates seen, best first; equal scores keep the earlier offer (lower beam, lower token).
private struct TopCandidates {
  struct Item {
    var score: Float
    var beam: Int
    var token: Int
  }

  let capacity: Int
  private(set) var items: [Item] = []

  init(capacity: Int) {
    self.capacity = capacity
    items.reserveCapacity(capacity + 1)
  }

  mutating func offer(score: Float, beam: Int, token: Int) {
    if items.count == capacity {
      // Strictly better than the current last, or it does not get in (ties keep the earlier index).
      guard let last = items.last, Self.isBetter(score, than: last.score) else { return }
    }
    var position = items.count
    while position > 0, Self.isBetter(score, than: items[position - 1].score) { position -= 1 }
    items.insert(Item(score: score, beam: beam, token: token), at: position)
    if items.count > capacity { items.removeLast() }
  }

  /// Descending order; NaN ranks above everything, as in torch's `topk`.
  private static func isBetter(_ a: Float, than b: Float) -> Bool {
    if a.isNaN { return !b.isNaN }
    return a > b
  }
}

/// `BeamHypotheses` of transformers: the best `numBeams` finished sequences and their scores.
private struct Hypotheses {
  struct Hypothesis {
    var score: Double
    var tokens: [Int]
  }

  let numBeams: Int
  let lengthPenalty: Double
  private(set) var beams: [Hypothesis] = []
  private var worstScore = 1e9

  init(numBeams: Int, lengthPenalty: Double) {
    self.numBeams = numBeams
    self.lengthPenalty = lengthPenalty
  }

  /// Adds a hypothesis scored `sumLogProbability / length^lengthPenalty` if it is among the best `numBeams`.
  mutating func add(_ tokens: [Int], sumLogProbability: Double, length: Int) {
    let score = sumLogProbability / Foundation.pow(Double(length), lengthPenalty)
    guard beams.count < numBeams || score > worstScore else { return }
    beams.append(Hypothesis(score: score, tokens: tokens))
    if beams.count > numBeams {
      // Python `sorted((score, index))`: lowest score first, ties by insertion index.
      let order = beams.indices.sorted { (beams[$0].score, $0) < (beams[$1].score, $1) }
      worstScore = beams[order[1]].score
      beams.remove(at: order[0])
    } else {
      worstScore = min(score, worstScore)
    }
  }

  /// True when `numBeams` hypotheses are kept and none of the open beams can beat the worst of them.
  func isDone(bestSumLogProbability: Double, length: Int) -> Bool {
    guard beams.count >= numBeams else { return false }
    return worstScore >= bestSumLogProbability / Foundation.pow(Double(length), lengthPenalty)
  }

  /// The highest-scoring hypothesis; among equal scores the one added last (Python `sorted(...).pop()`).
  var best: Hypothesis {
    var bestIndex = 0
    for index in beams.indices where beams[index].score >= beams[bestIndex].score { bestIndex = index }
    return beams[bestIndex]
  }
}
