#!/usr/bin/env bash
# Installs the Debian packages in Scripts/system-packages and the Python packages the tests
# use (Scripts/python-packages, from PyPI). Run as root on Debian 12; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $(grep -v '^#' Scripts/system-packages)
python3 -m pip install -q -r Scripts/python-packages
