#!/usr/bin/env bash
# The README's first command: install what Depot needs, build it, and show it at work.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-dependencies.sh
swift build --product depot
depot=.build/debug/depot
"$depot" --version
"$depot" --help
