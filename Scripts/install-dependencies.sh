#!/usr/bin/env bash
# Installs the Debian packages Depot builds against and its tests use. Run as root on
# Debian 12; safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
    # libraries Depot links (systemLibrary targets)
    libarchive-dev libgpgme-dev liblzma-dev libbz2-dev zlib1g-dev libsqlite3-dev pkg-config
    # signing and verifying
    gnupg gpgv
    # the tests compare against Debian's own tools and read apt's index of the archive
    dpkg-dev binutils xz-utils bzip2 zstd lz4 apt ca-certificates python3
)
apt-get update -q
apt-get install -y -q --no-install-recommends "${packages[@]}"
