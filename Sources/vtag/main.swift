import Foundation
import TensorCore
import VTagCLI

// Before anything else: make OpenBLAS run the best kernels this CPU has (may restart the process once).
BLASStartup.prepare()
let code = await VTag.runMain(Array(CommandLine.arguments.dropFirst()))
exit(code)
