#!/usr/bin/env bash
# The README's second command on a fresh Debian 12 machine: install what the tests need
# (Debian's packages and the Python ones from PyPI), then run every test. .ci/run runs
# exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-dependencies.sh --tests
swift test "$@"
