#!/usr/bin/env bash
# Installs the Debian packages in Scripts/system-packages. Run as root on Debian 12; safe to
# run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $(grep -v '^#' Scripts/system-packages)
