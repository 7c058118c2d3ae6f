import Foundation
import RecognizeAnything
import Testing
import VTagTestSupport

/// A tiny fake language model: next-token probabilities chosen by the last token of each beam.
/// Probabilities are turned into logits with `log`, so the search's log-softmax gives them back.
private struct FakeLM {
  var table: [Int: [Double]]
  var fallback: [Double]
  /// Optional override of the rows at the first call, per beam (to check that only beam 0 counts).
  var firstCallRows: [[Double]]? = nil

  func logits(_ probabilities: [Double]) -> [Float] {
    probabilities.map { $0 > 0 ? Float(Foundation.log($0)) : -.infinity }
  }

  func step(_ s: BeamSearchStep) -> [[Float]] {
    if s.index == 0, let rows = firstCallRows { return rows.map(logits) }
    return s.sequences.map { logits(table[$0.last!] ?? fallback) }
  }
}

/// Runs a search and records every step request.
private func run(
  _ lm: FakeLM, prefix: [Int], _ configuration: BeamSearchConfiguration
) throws -> (result: BeamSearchResult, steps: [BeamSearchStep]) {
  var steps: [BeamSearchStep] = []
  let result = try BeamSearch(configuration: configuration).generate(prefix: prefix) { step in
    steps.append(step)
    return lm.step(step)
  }
  return (result, steps)
}

private func config(
  beams: Int = 2, max: Int, min: Int = 0, eos: Int = 2, normalization: BeamLengthNormalization = .totalLength
) -> BeamSearchConfiguration {
  BeamSearchConfiguration(
    numBeams: beams, maxLength: max, minLength: min, eosTokenID: eos, lengthNormalization: normalization)
}

@Suite("BeamSearch")
struct BeamSearchTests {
  @Test("defaults are the Tag2Text settings")
  func defaults() {
    let c = BeamSearchConfiguration.tag2text
    #expect(c.numBeams == 3)
    #expect(c.maxLength == 50)
    #expect(c.minLength == 10)
    #expect(c.eosTokenID == 102)
    #expect(c.lengthPenalty == 1.0)
    #expect(c.lengthNormalization == .totalLength)
  }

  @Test("min_length blocks EOS until the length, prefix included, reaches it")
  func minLengthBlocksEOS() throws {
    // Tokens: 0 a, 1 b, 2 EOS, 3 c. EOS is always the most likely token.
    let lm = FakeLM(table: [:], fallback: [0.2, 0.07, 0.7, 0.03])
    let blocked = try run(lm, prefix: [0], config(max: 10, min: 4))
    #expect(blocked.result.tokens == [0, 0, 0, 0, 2])
    #expect(blocked.result.endedWithEOS)
    #expect(blocked.result.generatedTokens == [0, 0, 0])
    // Done once the second hypothesis cannot beat the first: the step at length 5 is the last.
    #expect(blocked.result.steps == 5)

    let free = try run(lm, prefix: [0], config(max: 10, min: 0))
    #expect(free.result.tokens == [0, 2])
    #expect(free.result.steps == 2)
  }

  @Test("EOS is accepted at rank < numBeams and skipped at rank ≥ numBeams")
  func eosRank() throws {
    // 1000 tokens, EOS = 2. After the first step every token is equally (un)likely, EOS nearly impossible.
    var later = [Double](repeating: 1.0 / 999, count: 1000)
    later[2] = 1e-20
    var accepted = [Double](repeating: 0.32 / 998, count: 1000)
    accepted[1] = 0.35
    accepted[2] = 0.33  // rank 1 < 2 beams
    let lmA = FakeLM(table: [0: accepted], fallback: later)
    let a = try run(lmA, prefix: [0], config(max: 3))
    #expect(a.result.tokens == [0, 2])
    #expect(a.result.endedWithEOS)
    #expect(abs(a.result.score - Foundation.log(0.33)) < 1e-5)

    var skipped = [Double](repeating: 0.0, count: 1000)
    skipped[1] = 0.35
    skipped[3] = 0.34
    skipped[2] = 0.31  // rank 2 ≥ 2 beams
    let lmB = FakeLM(table: [0: skipped], fallback: later)
    let b = try run(lmB, prefix: [0], config(max: 3))
    #expect(!b.result.endedWithEOS)
    #expect(b.result.tokens.count == 3)
    #expect(b.result.tokens[1] == 1)
    // Equal scores rank by beam, then token id: the uniform step extends beam 0 with tokens 0 and 1; both
    // open beams then score the same, and HF's `sorted(...).pop()` returns the one offered last.
    #expect(b.result.tokens == [0, 1, 1])
  }

  @Test("EOS candidates ranked below the beams never finish a hypothesis")
  func eosNeverInTopBeams() throws {
    // Tokens 0…4, EOS = 4 with probability 0.09 behind three better tokens.
    let lm = FakeLM(table: [:], fallback: [0.01, 0.4, 0.3, 0.2, 0.09])
    let r = try run(lm, prefix: [0], config(max: 6, eos: 4))
    #expect(!r.result.endedWithEOS)
    #expect(r.result.tokens == [0, 1, 1, 1, 1, 1])
    #expect(r.result.steps == 5)
  }

  @Test("the length normaliser switch changes the winner")
  func lengthNormalization() throws {
    // Tokens 0 a, 1 b, 2 EOS, 3 c; prefix of four c's. First step: EOS 0.5 (a short hypothesis), a 0.4.
    // Then a → a 0.7 and no EOS. Short: log 0.5 = −0.693; long "aaaa": ≈ −1.987.
    // 4.25.1 (total length): −0.693/4 = −0.173 beats −1.987/8 = −0.248 → the prefix + EOS wins.
    // ≥ 4.35 (generated length): −0.693/1 loses to −1.987/4 = −0.497 → the long beam wins.
    let lm = FakeLM(
      table: [
        3: [0.4, 0.03, 0.5, 0.07],
        0: [0.7, 0.2, 1e-13, 0.1],
        1: [0.3, 0.2, 1e-13, 0.5],
      ], fallback: [0.3, 0.2, 1e-13, 0.5])
    let total = try run(lm, prefix: [3, 3, 3, 3], config(max: 8))
    #expect(total.result.tokens == [3, 3, 3, 3, 2])
    #expect(total.result.endedWithEOS)
    #expect(abs(total.result.score - Foundation.log(0.5) / 4) < 1e-6)

    let generated = try run(lm, prefix: [3, 3, 3, 3], config(max: 8, normalization: .generatedLength))
    #expect(generated.result.tokens == [3, 3, 3, 3, 0, 0, 0, 0])
    #expect(!generated.result.endedWithEOS)
    #expect(abs(generated.result.score - (Foundation.log(0.4) + 3 * Foundation.log(0.7)) / 4) < 1e-5)
  }

  @Test("max_length stops the search and returns the best open beam without EOS")
  func maxLengthStops() throws {
    let lm = FakeLM(table: [:], fallback: [0.5, 0.3, 0, 0.2])  // EOS impossible
    let r = try run(lm, prefix: [7, 7, 7], config(beams: 3, max: 9))
    #expect(r.result.steps == 6)
    #expect(r.steps.count == 6)
    #expect(r.result.tokens == [7, 7, 7, 0, 0, 0, 0, 0, 0])
    #expect(r.result.generatedTokens == [0, 0, 0, 0, 0, 0])
    #expect(!r.result.endedWithEOS)
    #expect(abs(r.result.score - 6 * Foundation.log(0.5) / 9) < 1e-5)
  }

  @Test("the first step expands beam 0 only")
  func firstStepOnlyBeamZero() throws {
    // At the first call beams 1 and 2 claim token 3 is certain; their −1e9 start score must hide it.
    let beam0 = [0.0, 0.5, 0.0, 0.1, 0.4]
    let other = [0.0, 0.0, 0.0, 1.0, 0.0]
    var lm = FakeLM(table: [:], fallback: [0.2, 0.2, 0.2, 0.2, 0.2])
    lm.firstCallRows = [beam0, other, other]
    let r = try run(lm, prefix: [0, 0], config(beams: 3, max: 3, eos: 2))
    #expect(r.steps.count == 1)
    #expect(r.steps[0].index == 0)
    #expect(r.steps[0].parentBeams == [0, 1, 2])
    #expect(r.steps[0].sequences == [[0, 0], [0, 0], [0, 0]])
    #expect(r.result.tokens == [0, 0, 1])

    let longer = try run(lm, prefix: [0, 0], config(beams: 3, max: 4, eos: 2))
    #expect(longer.steps[1].parentBeams == [0, 0, 0])
    #expect(longer.steps[1].lastTokens == [1, 4, 3])
  }

  @Test("done: numBeams hypotheses kept and none of the open beams can beat the worst")
  func doneCriterion() throws {
    // EOS (2) 0.6, a 0.3, b 0.1. Step 1 finishes [0] (−0.511); step 2 finishes [0, a] with
    // (log .3 + log .6)/2 = −0.857, equal to the best candidate / 2, so the search is done after 2 of 20 steps.
    let lm = FakeLM(table: [:], fallback: [0.3, 0.1, 0.6, 0.0])
    let r = try run(lm, prefix: [0], config(max: 20))
    #expect(r.result.steps == 2)
    #expect(r.steps.count == 2)
    #expect(r.result.tokens == [0, 2])
    #expect(abs(r.result.score - Foundation.log(0.6)) < 1e-6)
  }

  @Test("step requests describe a consistent beam reordering")
  func reorderingIsConsistent() throws {
    // A pseudo-random but deterministic LM over 7 tokens, EOS = 2.
    let lm = FakeLM(table: [:], fallback: [])
    var previous: [[Int]] = []
    let search = BeamSearch(configuration: config(beams: 3, max: 12, min: 5))
    let result = try search.generate(prefix: [1, 4]) { step in
      if step.index == 0 {
        #expect(step.parentBeams == [0, 1, 2])
      } else {
        for beam in 0..<3 {
          #expect(step.sequences[beam] == previous[step.parentBeams[beam]] + [step.lastTokens[beam]])
        }
      }
      #expect(step.currentLength == 2 + step.index)
      previous = step.sequences
      return step.sequences.map { sequence in
        let seed = sequence.reduce(17) { ($0 &* 31 &+ $1) % 1009 }
        return lm.logits((0..<7).map { Double(($0 &* 7 &+ seed) % 11 + 1) })
      }
    }
    #expect(result.tokens.prefix(2) == [1, 4])
    #expect(result.tokens.count <= 12)
    #expect(result.minimumDecisionGap >= 0)
  }

  @Test("Tag2Text-sized search: 30524 logits, 3 beams, up to 50 tokens")
  func tag2textSized() throws {
    // Deterministic pseudo-random logits in [-8, 8); EOS (102) is boosted so that it eventually wins.
    let prefix = [30522, 1037, 3861, 1997]
    var calls = 0
    let result = try BeamSearch().generate(prefix: prefix) { step in
      calls += 1
      return step.sequences.map { sequence in
        var state = UInt64(
          truncatingIfNeeded: sequence.reduce(1_469_598_103_934_665_603) { ($0 ^ $1) &* 1_099_511_628_211 })
        var row = [Float](repeating: 0, count: 30524)
        for index in row.indices {
          state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
          row[index] = Float(state >> 40) / Float(1 << 24) * 16 - 8
        }
        row[102] = 9
        return row
      }
    }
    #expect(calls == result.steps)
    #expect(Array(result.tokens.prefix(4)) == prefix)
    #expect(result.endedWithEOS)
    // EOS is the most likely token from the start, so it ends as soon as min_length allows.
    #expect(result.tokens.count == 11)
    #expect(result.tokens.last == 102)
  }

  @Test("bad configurations and logits are rejected")
  func badInput() throws {
    let lm = FakeLM(table: [:], fallback: [0.5, 0.3, 0.2])
    #expect(throws: BeamSearchError.self) { try run(lm, prefix: [0], config(beams: 1, max: 5)) }
    #expect(throws: BeamSearchError.self) { try run(lm, prefix: [], config(max: 5)) }
    #expect(throws: BeamSearchError.self) { try run(lm, prefix: [0, 0, 0, 0, 0], config(max: 5)) }
    #expect(throws: BeamSearchError.self) { try run(lm, prefix: [0], config(max: 5, eos: 3)) }
    #expect(throws: BeamSearchError.self) {
      try BeamSearch(configuration: config(max: 5)).generate(prefix: [0]) { _ in [[0, 0, 0]] }
    }
    #expect(throws: BeamSearchError.self) {
      try BeamSearch(configuration: config(max: 5)).generate(prefix: [0]) { _ in [[0, 0, 0], [0, 0]] }
    }
    struct ModelFailure: Error {}
    #expect(throws: ModelFailure.self) {
      try BeamSearch(configuration: config(max: 5)).generate(prefix: [0]) { _ in throw ModelFailure() }
    }
  }
}
