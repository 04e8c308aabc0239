#!/usr/bin/env bash
# The README's first command on a fresh Debian 12 machine: install what Depot needs, build
# it, make a demo repository with the three distributions, push the fixture packages through
# them, and serve it for apt-get on http://127.0.0.1:8080/ until Ctrl-C.
#
#   DEMO_ROOT   where the repository goes (default: ./demo, removed and made again)
#   DEMO_PORT   the port to serve on (default: 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
root=${DEMO_ROOT:-$PWD/demo}
port=${DEMO_PORT:-8080}

Scripts/install-dependencies.sh
# Depot as a Debian package (the binary with the Swift runtime linked in): the demo pushes it
# into its own repository, so the demo's apt clients can install Depot from Depot.
deb=$(Scripts/build-deb.sh --debug)
depot=$PWD/.build-static/debug/depot

rm -rf "$root"
"$depot" --root "$root" init --origin "Depot Demo" --architectures amd64,arm64
# CI pushes every build into development; the tested ones move on to staging and production.
"$depot" --root "$root" push development Fixtures/good/*.deb Fixtures/real/*.deb "$deb" --note "demo: first builds"
"$depot" --root "$root" promote libsnow1 hello-depot depot --from development --note "demo: tested in development"
"$depot" --root "$root" promote hello-depot --from staging --note "demo: released"
"$depot" --root "$root" list
"$depot" --root "$root" verify
token=$("$depot" --root "$root" token create demo --allow 'push:*' --allow 'promote:*' --allow 'rollback:*' \
    --allow 'approve:*' --allow 'read:*')

cat <<MSG

The demo repository is in $root. On a client:

  curl -fsSL http://127.0.0.1:$port/archive-key.asc -o /etc/apt/keyrings/depot.asc
  echo "deb [signed-by=/etc/apt/keyrings/depot.asc] http://127.0.0.1:$port/ staging main" \\
      > /etc/apt/sources.list.d/depot.list
  apt-get update && apt-get install hello-depot depot

The dashboard is http://127.0.0.1:$port/: sign in with this token (made for the demo) to
promote, roll back and phase from it. The API takes the same token:

  $token


  curl -H "Authorization: Bearer $token" http://127.0.0.1:$port/api/v1/history
  curl -H "Authorization: Bearer $token" --data-binary @Fixtures/good/epochal_3.1-1_amd64.deb \\
      http://127.0.0.1:$port/api/v1/distributions/staging/packages

Serving $root on http://127.0.0.1:$port/ (Ctrl-C stops).
MSG
exec "$depot" --root "$root" serve --listen "127.0.0.1:$port"
