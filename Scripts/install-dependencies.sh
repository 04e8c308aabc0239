#!/usr/bin/env bash
# Installs the Debian packages Depot needs to build and run (Scripts/depot-packages); with
# --tests, also those the tests need (Scripts/test-packages) and the tests' Python packages
# from PyPI (Scripts/python-packages). Run as root on Debian 12; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
lists=(Scripts/depot-packages)
case "${1:-}" in
    "") ;;
    --tests) lists+=(Scripts/test-packages) ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $(cat "${lists[@]}" | grep -v '^#')
if [ "${1:-}" = --tests ]; then
    python3 -m pip install -q -r Scripts/python-packages
fi
