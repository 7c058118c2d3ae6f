import Foundation
import VTagCLI

let code = await VTag.runMain(Array(CommandLine.arguments.dropFirst()))
exit(code)
