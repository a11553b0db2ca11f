#!/usr/bin/env bash
# Stage 2: production node_modules for arm64, built INSIDE an arm64 chroot (qemu-user) so the native
# modules (authenticate-pam, sqlite3 against the system libsqlite3; argon2/serialport use their
# linux-arm64 prebuilds) match the image. Build tools live only in this throwaway chroot, never in the
# image. Cached as a tarball keyed by package-lock.json + the base rootfs.
# Usage: image/modules.sh BASE_TAR → prints the path of the cached node_modules tarball.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
source "$HERE/host-tools.sh"
source "$HERE/chroot.sh"
CACHE="${PRINTBOX_IMAGE_CACHE:-/var/cache/printbox-image}"
base="$1"
# What the native modules are built against: Node (its ABI) and the libraries they link, at the versions the
# base holds. A base rebuilt for another reason (a package added to packages.txt) keeps both caches below;
# a new nodejs, libsqlite3, libpam or C/C++ runtime in the base rebuilds them.
native=$(tar -xOf "$base" ./var/lib/dpkg/status | awk '/^Package: /{p=$2} /^Version: /{ if (p ~ /^(nodejs|libnode[0-9]+|libsqlite3-0|libpam0g|libc6|libstdc\+\+6)$/) print p, $2 }' | sort)
[ "$(printf '%s\n' "$native" | wc -l)" -ge 5 ] || { echo "image: cannot read the native library versions from $base" >&2; exit 1; }
key=$(cat "$ROOT/package-lock.json" "$ROOT/package.json" "$HERE/modules.sh" <(printf '%s\n' "$native") | sha256sum | cut -c1-16)
out="$CACHE/node_modules-$key.tar"
if [ -s "$out" ]; then echo "image: arm64 node_modules cached ($out)" >&2; echo "$out"; exit 0; fi
ensure_image_host
work=$(mktemp -d "$CACHE/builder.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
start=$SECONDS
# The builder (base + compilers) is cached too, so a lockfile change costs only the npm step.
builder="$CACHE/builder-$(cat <(printf '%s\n' "$native") <(sed -n '/^BUILD_APT=/p' "$HERE/modules.sh") | sha256sum | cut -c1-16).tar"
BUILD_APT="python3 make g++ libpam0g-dev libsqlite3-dev"
if [ -s "$builder" ]; then
  echo "image: arm64 node_modules: builder chroot cached ($builder)" >&2
  tar -C "$work" -xf "$builder"
else
  echo "image: arm64 node_modules: preparing the builder chroot (apt under qemu-user)…" >&2
  tar -C "$work" -xf "$base"
  rm -f "$work/etc/resolv.conf"; cp -L /etc/resolv.conf "$work/etc/resolv.conf"
  in_chroot "$work" sh -c "DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $BUILD_APT >/dev/null" >&2
  # On a cold cache there is no builder-*.tar yet: ls then fails, which pipefail would make fatal.
  { ls -1t "$CACHE"/builder-*.tar 2>/dev/null || true; } | tail -n +3 | xargs -r rm -f
  tar -C "$work" -cf "$builder.tmp" . && mv "$builder.tmp" "$builder"
fi
rm -f "$work/etc/resolv.conf"; cp -L /etc/resolv.conf "$work/etc/resolv.conf"
# This build host may reach the registry through a TLS-inspecting proxy: trust what the host trusts
# (only inside the throwaway builder; nothing of it reaches the image).
mkdir -p "$work/opt"; cp -L /etc/ssl/certs/ca-certificates.crt "$work/opt/host-ca.pem"
# npm (pure JS) and the Node 20 headers come from the host: N-API/NAN modules only need the headers of
# the same major Node (ABI 115), and nodejs.org is not reachable for node-gyp to download them.
# build_from_source=sqlite3 (a package name, understood by prebuild-install) skips its GitHub download
# while argon2/serialport keep their shipped prebuilds.
mkdir -p "$work/opt/npm" "$work/opt/node-headers/include/node" "$work/build"
cp -a "$(npm root -g)/npm/." "$work/opt/npm/"
cp -a /usr/include/node/. "$work/opt/node-headers/include/node/"
# The package tree is fetched and unpacked by the host's own npm at native speed (npm's JavaScript under
# qemu-user took most of this stage's ~15 min): --cpu/--os pick the arm64 variants of platform-specific
# packages, --ignore-scripts leaves every build step to the arm64 chroot below. `npm install` on the
# lockfile rather than `npm ci`: ci also validates the dev tree and refuses a lock missing another
# platform's optional dev dependency; install keeps every locked version all the same.
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$work/build/"
echo "image: arm64 node_modules: npm install --omit=dev on the host (arm64 packages, no scripts)…" >&2
t0=$SECONDS
(cd "$work/build" && npm install --omit=dev --ignore-scripts --cpu=arm64 --os=linux --no-audit --no-fund --loglevel=warn) >&2
# Then only the packages with install scripts run them, as arm64, in the chroot: argon2 and
# @serialport/bindings-cpp find their shipped linux-arm64 prebuilds; authenticate-pam compiles, and so does
# sqlite3 (build_from_source=sqlite3, understood by prebuild-install, skips its GitHub download; sqlite=/usr
# links the system libsqlite3). They reach the scripts as npm_config_* variables (npm warns, works).
scripted=$(cd "$work/build" && node -e 'const l = require("./package-lock.json");
  console.log(Object.entries(l.packages).filter(([k, v]) => k && v.hasInstallScript && !v.dev).map(([k]) => k.replace(/^.*node_modules\//, "")).join(" "))')
echo "image: arm64 node_modules: host npm $((SECONDS - t0)) s; building ${scripted} under qemu-user…" >&2
in_chroot "$work" sh -c "cd /build && npm_config_nodedir=/opt/node-headers npm_config_sqlite=/usr \
  npm_config_build_from_source=sqlite3 npm_config_cafile=/opt/host-ca.pem NODE_EXTRA_CA_CERTS=/opt/host-ca.pem \
  node /opt/npm/bin/npm-cli.js rebuild --loglevel=warn ${scripted}" >&2
# Smoke-load every native module under arm64 Node before caching, so a broken build never reaches a card.
in_chroot "$work" sh -c 'cd /build && node -e "
  for (const m of [\"authenticate-pam\", \"argon2\", \"sqlite3\", \"@serialport/bindings-cpp\"]) { require(m); }
  console.error(\"image: native modules load on\", process.arch, process.version);"' >&2
tar -C "$work/build" -cf "$out.tmp" node_modules
mv "$out.tmp" "$out"
ls -1t "$CACHE"/node_modules-*.tar 2>/dev/null | tail -n +4 | xargs -r rm -f
echo "image: arm64 node_modules built in $((SECONDS - start)) s ($(du -h "$out" | cut -f1))" >&2
echo "$out"
