#!/usr/bin/env bash
# Re-creates the .deb fixtures in this folder. The output is committed; run this only to
# change a fixture. Needs: dpkg-deb, ar (binutils), tar, gzip, xz, zstd, bzip2, lz4, python3.
#
#   good/   packages dpkg-deb built: every compression, Architecture all and amd64, an epoch,
#           a tilde version, a multi-line description, relationship fields
#   real/   small packages from Debian itself (apt-get download; skipped when offline)
#   bad/    inputs Depot must refuse with a clear error
set -euo pipefail
cd "$(dirname "$0")"
export SOURCE_DATE_EPOCH=1700000000 LC_ALL=C.UTF-8 TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf good bad
mkdir -p good bad real

# build NAME VERSION ARCH COMPRESSION [extra control lines...]: a package made by dpkg-deb.
build() {
    local name=$1 version=$2 arch=$3 compression=$4
    shift 4
    local root="$work/$name-$arch"
    rm -rf "$root"
    mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
    {
        echo "Package: $name"
        echo "Version: $version"
        echo "Architecture: $arch"
        echo "Maintainer: Depot Fixtures <fixtures@depot.example>"
        echo "Installed-Size: 1"
        for line in "$@"; do echo "$line"; done
        echo "Description: $name, a Depot test fixture"
        echo " This package exists to exercise Depot's readers."
        echo " ."
        echo " It installs one documentation file."
    } >"$root/DEBIAN/control"
    echo "$name $version for $arch" >"$root/usr/share/doc/$name/README"
    local file="${name}_${version#*:}_${arch}.deb"
    dpkg-deb --root-owner-group -Z"$compression" --build "$root" "good/$file" >/dev/null
}

build hello-depot 1.0-1 all gzip "Section: misc" "Priority: optional"
build snowbird 1.4.2-1 amd64 xz "Section: net" "Source: snowbird-src (1.4.2-1)" \
    "Depends: libsnow1 (>= 1.0~rc1), hello-depot | hello, python3:any" \
    "Recommends: curl" "Conflicts: snowbird-legacy (<< 1.0)" \
    "Provides: snowbird-client (= 1.4.2-1)"
build snowbird 1.4.2-1 arm64 xz "Section: net" "Source: snowbird-src (1.4.2-1)" \
    "Depends: libsnow1 (>= 1.0~rc1), hello-depot | hello, python3:any"
build libsnow1 1.0~rc1-1 amd64 none "Section: libs" "Pre-Depends: libc6 (>= 2.34)"
build epochal 2:3.1-1 amd64 zstd "Section: utils" "Breaks: snowbird (<< 1.4)"

# assemble OUT DEBIAN_BINARY CONTROL_MEMBER CONTROL_FILE [DATA_MEMBER]: an ar archive put
# together by hand, for what dpkg-deb refuses to build.
assemble() {
    local out=$1 debian_binary=$2 control_member=$3 control_file=$4 data_member=${5:-data.tar.gz}
    local dir="$work/assemble"
    rm -rf "$dir" && mkdir -p "$dir/control" "$dir/data"
    printf '%b' "$debian_binary" >"$dir/debian-binary"
    cp "$control_file" "$dir/control/control"
    local tarflags=(--sort=name --mtime=@$SOURCE_DATE_EPOCH --owner=0 --group=0 --numeric-owner --format=gnu)
    tar "${tarflags[@]}" -C "$dir/control" -cf "$dir/control.tar" ./control
    tar "${tarflags[@]}" -C "$dir/data" -cf "$dir/data.tar" .
    compress "$dir/control.tar" "$control_member" "$dir"
    compress "$dir/data.tar" "$data_member" "$dir"
    local members=(debian-binary "$control_member")
    [ "$data_member" != "-" ] && members+=("$data_member")
    rm -f "$out"
    (cd "$dir" && ar qcD "$OLDPWD/$out" "${members[@]}")
}

# compress TAR MEMBER_NAME DIR: writes DIR/MEMBER_NAME compressed as its suffix says.
compress() {
    local tarfile=$1 member=$2 dir=$3
    case "$member" in
        -) ;;
        *.gz) gzip -9n <"$tarfile" >"$dir/$member" ;;
        *.xz) xz -c <"$tarfile" >"$dir/$member" ;;
        *.zst) zstd -q -c <"$tarfile" >"$dir/$member" ;;
        *.bz2) bzip2 -c <"$tarfile" >"$dir/$member" ;;
        *.lz4) lz4 -q -c <"$tarfile" >"$dir/$member" ;;
        *.tar) cp "$tarfile" "$dir/$member" ;;
    esac
}

control() {
    local file="$work/control-$1"
    shift
    printf '%s\n' "$@" >"$file"
    echo "$file"
}

ok=$(control ok "Package: bzipped" "Version: 1.0-1" "Architecture: amd64" \
    "Maintainer: Depot Fixtures <fixtures@depot.example>" "Description: data.tar.bz2, made by hand")
# dpkg-deb no longer builds bzip2 members but still reads data.tar.bz2 (never control.tar.bz2).
assemble good/bzipped_1.0-1_amd64.deb '2.0\n' control.tar.gz "$ok" data.tar.bz2

# Bad inputs.
: >bad/empty.deb
python3 -c 'import random, sys; r = random.Random(822); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(4096)))' >bad/random-bytes.deb
good=good/hello-depot_1.0-1_all.deb
head -c $(($(stat -c %s $good) / 2)) $good >bad/truncated.deb
echo "not a package" >"$work/notes.txt"
(cd "$work" && rm -f not-a-deb.a && ar qcD not-a-deb.a notes.txt) && cp "$work/not-a-deb.a" bad/not-a-deb.deb
assemble bad/wrong-debian-binary.deb '3.0\n' control.tar.gz "$ok"
assemble bad/no-control-member.deb '2.0\n' data.tar.gz "$ok" -
assemble bad/no-data-member.deb '2.0\n' control.tar.gz "$ok" -
assemble bad/unknown-compression.deb '2.0\n' control.tar.lz4 "$ok"
assemble bad/control-bzip2.deb '2.0\n' control.tar.bz2 "$ok"
assemble bad/compression-mismatch.deb '2.0\n' control.tar.gz "$ok"
# Rename the gzip member inside the archive to .xz: same bytes, a lying name.
python3 - bad/compression-mismatch.deb <<'EOF'
import sys
path = sys.argv[1]
data = bytearray(open(path, 'rb').read())
i = data.index(b'control.tar.gz/ ')
data[i:i + 16] = b'control.tar.xz/ '
open(path, 'wb').write(data)
EOF
assemble bad/duplicate-field.deb '2.0\n' control.tar.gz \
    "$(control dup "Package: dup" "Version: 1.0" "Architecture: amd64" "Version: 1.1" "Description: twice")"
assemble bad/missing-package.deb '2.0\n' control.tar.gz \
    "$(control nopkg "Version: 1.0" "Architecture: amd64" "Description: nameless")"
assemble bad/missing-version.deb '2.0\n' control.tar.gz \
    "$(control nover "Package: nover" "Architecture: amd64" "Description: versionless")"
assemble bad/missing-architecture.deb '2.0\n' control.tar.gz \
    "$(control noarch "Package: noarch" "Version: 1.0" "Description: archless")"
assemble bad/invalid-name-case.deb '2.0\n' control.tar.gz \
    "$(control upper "Package: Upper_Case" "Version: 1.0" "Architecture: amd64" "Description: shouting")"
assemble bad/invalid-name-path.deb '2.0\n' control.tar.gz \
    "$(control path "Package: ../x" "Version: 1.0" "Architecture: amd64" "Description: escaping")"
assemble bad/invalid-source-path.deb '2.0\n' control.tar.gz \
    "$(control srcpath "Package: sneaky" "Source: ../../etc" "Version: 1.0" "Architecture: amd64" "Description: escaping")"
assemble bad/invalid-version.deb '2.0\n' control.tar.gz \
    "$(control badver "Package: badver" "Version: 1.0:a" "Architecture: amd64" "Description: odd")"
huge="$work/control-huge"
{
    printf 'Package: huge\nVersion: 1.0\nArchitecture: amd64\nDescription: a control file over 1 MiB\n'
    python3 -c 'print("\n".join(" line %d of padding, padding, padding, padding, padding, padding" % i for i in range(24000)))'
} >"$huge"
assemble bad/oversized-control.deb '2.0\n' control.tar.xz "$huge"

# A control archive whose first entry expands to 256 MiB of zeros before 'control'.
python3 - "$work/bomb.tar.xz" "$ok" <<'EOF'
import io, lzma, sys, tarfile
class Zeros(io.RawIOBase):
    def __init__(self, size): self.left = size
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
size = 256 << 20
with lzma.open(sys.argv[1], 'wb', preset=1) as xz, tarfile.open(fileobj=xz, mode='w', format=tarfile.GNU_FORMAT) as tar:
    info = tarfile.TarInfo('./zeros'); info.size = size; info.mtime = 1700000000
    tar.addfile(info, io.BufferedReader(Zeros(size), 1 << 20))
    info = tarfile.TarInfo('./control'); data = open(sys.argv[2], 'rb').read(); info.size = len(data); info.mtime = 1700000000
    tar.addfile(info, io.BytesIO(data))
EOF
assemble bad/decompression-bomb.deb '2.0\n' control.tar.xz "$ok"
dir="$work/assemble"
cp "$work/bomb.tar.xz" "$dir/control.tar.xz"
rm -f bad/decompression-bomb.deb
(cd "$dir" && ar qcD "$OLDPWD/bad/decompression-bomb.deb" debian-binary control.tar.xz data.tar.gz)

# Real packages from Debian: kept once fetched, since the archive moves on.
if [ -z "$(ls real/*.deb 2>/dev/null)" ]; then
    (cd real && apt-get download hello hostname sensible-utils 2>/dev/null) || echo "note: no real packages fetched (offline?)" >&2
fi
ls -l good bad real
