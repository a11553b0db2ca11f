#!/usr/bin/env bash
# Stage 2: production node_modules for arm64. The package tree is fetched by the host's npm; every native
# module (authenticate-pam, argon2, serialport, and sqlite3 against the system libsqlite3) is cross-compiled
# from its sources by Debian's aarch64 toolchain against the base's own arm64 libraries, and then loaded by
# the base's arm64 Node (qemu-user) before the tarball is cached. Shipped prebuilds are not used: argon2's
# linux-arm64 one crashes the moment it is loaded under qemu-user, so no test here could vouch for it.
# Cached keyed by package-lock.json, this script, the compiler and the base's versions of what the modules link.
# Usage: image/modules.sh BASE_TAR → prints the path of the cached node_modules tarball.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
source "$HERE/host-tools.sh"
source "$HERE/chroot.sh"
CACHE="${PRINTBOX_IMAGE_CACHE:-/var/cache/printbox-image}"
base="$1"
ensure_image_host
# What the native modules are built against: Node (its ABI) and the libraries they link, at the versions the
# base holds. A base rebuilt for another reason (a package added to packages.txt) keeps this cache; a new
# nodejs, libsqlite3, libpam or C/C++ runtime in the base, or another cross compiler, rebuilds it.
native=$(tar -xOf "$base" ./var/lib/dpkg/status | awk '/^Package: /{p=$2} /^Version: /{ if (p ~ /^(nodejs|libnode[0-9]+|libsqlite3-0|libpam0g|libc6|libstdc\+\+6)$/) print p, $2 }' | sort)
[ "$(printf '%s\n' "$native" | wc -l)" -ge 5 ] || { echo "image: cannot read the native library versions from $base" >&2; exit 1; }
toolchain="$(aarch64-linux-gnu-g++ --version | head -1); node $(node -p process.versions.node)"
key=$(cat "$ROOT/package-lock.json" "$ROOT/package.json" "$HERE/modules.sh" <(printf '%s\n%s\n' "$native" "$toolchain") | sha256sum | cut -c1-16)
out="$CACHE/node_modules-$key.tar"
if [ -s "$out" ]; then echo "image: arm64 node_modules cached ($out)" >&2; echo "$out"; exit 0; fi
work=$(mktemp -d "$CACHE/modules.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
start=$SECONDS
mkdir -p "$work/build" "$work/arm64-lib" "$work/node/include"
# The package tree by the host's npm at native speed: --cpu/--os pick the arm64 variants of platform-specific
# packages, --ignore-scripts leaves the native builds to the cross compiler below. `npm install` on the
# lockfile rather than `npm ci`: ci also validates the dev tree and refuses a lock missing another platform's
# optional dev dependency; install keeps every locked version all the same.
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$work/build/"
(cd "$work/build" && npm install --omit=dev --ignore-scripts --cpu=arm64 --os=linux --no-audit --no-fund --loglevel=warn) >&2
echo "image: arm64 node_modules: host npm $((SECONDS - start)) s" >&2
# The base's arm64 root: what the modules link against, and the Node that loads them afterwards.
mkdir -p "$work/root"
tar -C "$work/root" -xf "$base"
for lib in libpam libsqlite3; do
  so=$(ls "$work/root/usr/lib/aarch64-linux-gnu/$lib.so."[0-9] | head -1)
  cp -L "$so" "$work/arm64-lib/$lib.so"
done
# Node's headers from the host: N-API/NAN modules only need the headers of the same major Node (ABI 115),
# and nodejs.org is not reachable for node-gyp to download them. Architecture-independent headers (PAM,
# SQLite) come from the host's -dev packages, as Debian's multiarch cross compiler expects.
ln -s /usr/include/node "$work/node/include/node"
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
scripted=$(cd "$work/build" && node -e 'const l = require("./package-lock.json");
  console.log(Object.entries(l.packages).filter(([k, v]) => k && v.hasInstallScript && !v.dev).map(([k]) => k).join(" "))')
for dir in $scripted; do
  name=${dir#node_modules/}
  [ -f "$work/build/$dir/binding.gyp" ] || { echo "image: $name has an install script but no binding.gyp: not a native module this stage knows" >&2; exit 1; }
  extra=(); [ "$name" = sqlite3 ] && extra=(--sqlite=/usr)   # the system libsqlite3, not the bundled copy
  echo "image: $name: cross-compiling for arm64" >&2
  (cd "$work/build/$dir" && CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
    LDFLAGS="-L$work/arm64-lib" node "$gyp" rebuild --arch=arm64 --nodedir="$work/node" "${extra[@]}" --loglevel=warn) >&2
  # node-gyp-build loads build/Release before prebuilds/; the intermediate objects are not needed on the card
  rm -rf "$work/build/$dir/build/Release/obj.target" "$work/build/$dir/build/Release/.deps"
done
# Smoke-load every native module under the base's arm64 Node before caching, so a broken build never reaches a card.
mkdir -p "$work/root/build"
cp -a "$work/build/node_modules" "$work/root/build/"
in_chroot "$work/root" sh -c 'cd /build && node -e "
  for (const m of [\"authenticate-pam\", \"sqlite3\", \"@serialport/bindings-cpp\"]) { require(m); }
  require(\"argon2\").hash(\"smoke\").then((h) => { if (!h.startsWith(\"\$argon2\")) throw new Error(h); });
  const db = new (require(\"sqlite3\").Database)(\":memory:\");
  db.get(\"select sqlite_version() as v\", (e, r) => { if (e) throw e; console.error(\"image: native modules load on\", process.arch, process.version, \"sqlite\", r.v); });"' >&2
tar -C "$work/build" -cf "$out.tmp" node_modules
mv "$out.tmp" "$out"
ls -1t "$CACHE"/node_modules-*.tar 2>/dev/null | tail -n +4 | xargs -r rm -f
echo "image: arm64 node_modules built in $((SECONDS - start)) s ($(du -h "$out" | cut -f1))" >&2
echo "$out"
