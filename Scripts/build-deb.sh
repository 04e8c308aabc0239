#!/usr/bin/env bash
# Builds depot_<version>_<arch>.deb: the depot binary (the Swift runtime linked in, so the
# server needs no Swift), its man pages, a hardened systemd unit running 'depot serve' as the
# system user depot on /var/lib/depot, and /etc/default/depot. depot-bench is not in it.
#
# usage: Scripts/build-deb.sh [--debug] [--output DIR]
#   --debug       a debug build (faster to compile; the tests use it), in .build-static/
#   --output DIR  where the .deb goes (default: .build-deb/)
# Needs dpkg-dev (dpkg-shlibdeps) and binutils (strip). Prints the .deb's path.
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=release
output=.build-deb
# Who the package names as its maintainer: DEBFULLNAME and DEBEMAIL, as dch reads them.
maintainer="${DEBFULLNAME:-Depot maintainers} <${DEBEMAIL:-depot@example.com}>"
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) configuration=debug ;;
        --output) output="$2"; shift ;;
        *) echo "usage: $0 [--debug] [--output DIR]" >&2; exit 2 ;;
    esac
    shift
done

swift build -c "$configuration" --static-swift-stdlib --product depot --scratch-path .build-static >&2
binary=".build-static/$configuration/depot"
version=$("$binary" --version)
architecture=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install -D -m 755 "$binary" "$stage/usr/bin/depot"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/depot"
install -d "$stage/usr/share/man/man1" "$stage/usr/share/man/man5"
gzip -9n < man/depot.1 > "$stage/usr/share/man/man1/depot.1.gz"
gzip -9n < man/depot.conf.5 > "$stage/usr/share/man/man5/depot.conf.5.gz"
install -D -m 644 Packaging/depot.service "$stage/lib/systemd/system/depot.service"
install -D -m 644 Packaging/default "$stage/etc/default/depot"
install -D -m 644 Packaging/copyright "$stage/usr/share/doc/depot/copyright"
install -D -m 644 Packaging/README.Debian "$stage/usr/share/doc/depot/README.Debian"
install -D -m 644 Packaging/lintian-overrides "$stage/usr/share/lintian/overrides/depot"
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
printf 'depot (%s) unstable; urgency=medium\n\n  * Depot %s.\n\n -- %s  %s\n' \
    "$version" "$version" "$maintainer" "$date" | gzip -9n > "$stage/usr/share/doc/depot/changelog.gz"

# The libraries the binary links, as dpkg-shlibdeps names their packages.
shlibs=$(mkdir -p "$stage/debian" && printf 'Source: depot\n\nPackage: depot\nArchitecture: any\n' > "$stage/debian/control" \
    && cd "$stage" && dpkg-shlibdeps -O usr/bin/depot 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$stage/debian"
size=$(du -k -s --exclude=DEBIAN "$stage" | cut -f1)

install -d "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: depot
Version: $version
Architecture: $architecture
Maintainer: $maintainer
Installed-Size: $size
Depends: $shlibs, adduser, gnupg
Section: admin
Priority: optional
Homepage: https://github.com/depot/depot
Description: Debian package repository manager with distribution promotion
 Depot keeps a signed apt repository: CI pushes .deb files into a development
 distribution, and they are promoted, byte for byte, to staging and production.
 Every change is recorded and can be rolled back, and the served tree is never
 half-written. It serves apt, a JSON API and a dashboard, with phased rollouts,
 promotion gates, webhooks and Prometheus metrics; the tree may live in an S3
 bucket and the store in PostgreSQL, for several nodes.
CONTROL
install -m 755 Packaging/postinst Packaging/prerm Packaging/postrm "$stage/DEBIAN/"
echo /etc/default/depot > "$stage/DEBIAN/conffiles"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles"

mkdir -p "$output"
deb="$output/depot_${version}_${architecture}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
