import Foundation
import VTagCLI

setvbuf(stdout, nil, _IOFBF, 1 << 16)
let code = await VTag.runMain(Array(CommandLine.arguments.dropFirst()))
fflush(stdout)
exit(code)
