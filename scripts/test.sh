#!/usr/bin/env bash
# Runs vtag's tests on a Debian 12 machine: installs the Debian packages, builds, runs the Swift
# test suite, then checks the command line end to end against the parity fixtures in
# ../shared/fixtures/ram-parity (skipped with a message when that folder is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"

swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test.log
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then exit "$status"; fi

fixtures=../shared/fixtures/ram-parity
if [ -d "$fixtures" ]; then
  echo "== command-line parity (vtag image --json --all-scores) against $fixtures"
  bin=$(swift build --show-bin-path)/vtag
  python3 ../shared/tools/check_cli_parity.py --vtag "$bin" --fixtures "$fixtures" --models "${VTAG_PARITY_MODELS:-ram_plus,ram,tag2text}"
else
  echo "skipped: command-line parity needs $fixtures, which is absent"
fi
