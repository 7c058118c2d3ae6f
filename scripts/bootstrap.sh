#!/usr/bin/env bash
# Sets up vtag on a fresh Debian 12 machine: Debian packages, then a release build of `vtag`
# at .build/release/vtag.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product vtag
echo "built $(swift build -c release --show-bin-path)/vtag"
