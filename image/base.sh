#!/usr/bin/env bash
# Stage 1: the Debian base rootfs as a tarball, built by mmdebstrap from Debian's packages only.
# Cached in $CACHE keyed by packages.txt + this script, because it is the long pole (~9 min under qemu-user).
# Usage: image/base.sh → prints the path of the cached tarball on stdout.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/host-tools.sh"
CACHE="${PRINTBOX_IMAGE_CACHE:-/var/cache/printbox-image}"
SUITE=trixie
MIRROR=http://deb.debian.org/debian
# PRINTBOX_BASE_SERIAL (e.g. a date) forces a fresh base with Debian's newest packages, security fixes
# included, for the next release's bundle (docs/updates.md, "Security updates").
key=$( (cat "$HERE/packages.txt" "$HERE/base.sh" "$HERE/overlay/etc/apt/preferences.d/printbox-kernel.pref"
  echo "${PRINTBOX_BASE_SERIAL:-}") | sha256sum | cut -c1-16)
out="$CACHE/base-$key.tar"
if [ -s "$out" ]; then echo "image: base rootfs cached ($out)" >&2; echo "$out"; exit 0; fi
ensure_image_host
mkdir -p "$CACHE"
pkgs=$(grep -v '^#' "$HERE/packages.txt" | grep -v '^\s*$' | paste -sd, -)
echo "image: building base rootfs with mmdebstrap (several minutes under qemu-user)…" >&2
start=$SECONDS
# Docs, man pages and locales are excluded to keep the card and the .xz small; Recommends are off so
# nothing we did not list (ModemManager, brltty, …) can sneak in.
# Downloaded .debs are kept in $CACHE/debs (mmdebstrap's documented sync-in/sync-out hooks), so a
# changed package list only downloads what is new; apt's cache is still emptied inside the tarball.
mkdir -p "$CACHE/debs"
# The kernel (and the Wi-Fi firmware) comes from trixie-backports: the pin (also on the device, via the
# overlay) keeps apt on the backports kernel, whose RP1 drivers a Pi 5 needs; the rest stays on trixie.
pref="$HERE/overlay/etc/apt/preferences.d/printbox-kernel.pref"
mmdebstrap --arch=arm64 --variant=minbase --components=main,non-free-firmware \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives" "$1/etc/apt/preferences.d"' \
  --setup-hook="copy-in $pref /etc/apt/preferences.d" \
  --setup-hook="sync-in $CACHE/debs /var/cache/apt/archives" \
  --customize-hook="sync-out /var/cache/apt/archives $CACHE/debs" \
  --aptopt='APT::Install-Recommends "false"' --aptopt='APT::Install-Suggests "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --include="$pkgs" \
  "$SUITE" "$CACHE/base-$key.tmp.tar" \
  "deb $MIRROR $SUITE main non-free-firmware" \
  "deb $MIRROR $SUITE-updates main non-free-firmware" \
  "deb $MIRROR $SUITE-backports main non-free-firmware" \
  "deb http://deb.debian.org/debian-security $SUITE-security main non-free-firmware" >&2
mv "$CACHE/base-$key.tmp.tar" "$out"
echo "image: base rootfs built in $((SECONDS - start)) s ($(du -h "$out" | cut -f1))" >&2
# Keep the three newest bases (a branch switch back is then warm) so the cache does not grow without bound.
ls -1t "$CACHE"/base-*.tar 2>/dev/null | grep -v '\.tmp\.tar$' | tail -n +4 | xargs -r rm -f
echo "$out"
