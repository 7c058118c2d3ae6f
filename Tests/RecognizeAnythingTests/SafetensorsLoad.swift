import Checkpoints
import Foundation

/// Reads one float tensor from a fixture `.safetensors` file.
func fixtureTensor(_ url: URL, _ name: String) throws -> [Float] {
  try SafetensorsFile(path: url.path).floats(name).array
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
  var m: Float = 0
  for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
  return m
}
