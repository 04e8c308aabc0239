#!/usr/bin/env bash
# The README's second command on a fresh Debian 12 machine: install what the tests need
# (Debian's packages and the Python ones from PyPI), then run every test. .ci/run runs
# exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-dependencies.sh --tests
# Depot's own .deb (DebianPackageTests install it in a Debian 12 chroot), built before the
# tests so that its compile does not run beside them; the test's own build is then a no-op.
Scripts/build-deb.sh --debug >/dev/null
swift test "$@"
