#!/usr/bin/env bash
# A signed RAUC update bundle of a root file system image, in the plain format (image/overlay/etc/rauc/system.conf
# says why): what a device on the same compatible installs into its other slot (docs/updates.md "Bundles").
# Usage: image/bundle.sh ROOTFS_EXT4 VERSION OUT.raucb [KEY_DIR]
# KEY_DIR holds signer.cert.pem, signer.key.pem and ca.cert.pem (PRINTBOX_UPDATE_KEYS); without it the
# development keys of test/fixtures/update-keys sign, and the bundle says so in its description.
# PRINTBOX_BUNDLE_MKSQUASHFS_ARGS: mksquashfs options (the image tests' own bundles use a fast compressor).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
rootfs="$1" version="$2" out="$3" keys="${4:-${PRINTBOX_UPDATE_KEYS:-}}"
if [ -n "$keys" ]; then
  cert="$keys/signer.cert.pem" key="$keys/signer.key.pem" ca="$keys/ca.cert.pem" desc="PrintBox $version"
else
  dev="$ROOT/test/fixtures/update-keys"
  cert="$dev/dev-signer.cert.pem" key="$dev/dev-signer.key.pem" ca="$dev/dev-ca.cert.pem" desc="PrintBox $version (development keys)"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/printbox-bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
# a hard link when on the same file system: the root image is hundreds of megabytes
ln "$rootfs" "$work/rootfs.ext4" 2>/dev/null || cp "$rootfs" "$work/rootfs.ext4"
cat > "$work/manifest.raucm" <<MANIFEST
[update]
compatible=${PRINTBOX_UPDATE_COMPATIBLE:-printbox-rpi-arm64}
version=$version
description=$desc
build=$(date -u +%Y%m%dT%H%M%SZ)

[bundle]
format=plain

[image.rootfs]
filename=rootfs.ext4
MANIFEST
rm -f "$out"
rauc bundle --cert="$cert" --key="$key" --keyring="$ca" \
  ${PRINTBOX_BUNDLE_MKSQUASHFS_ARGS:+--mksquashfs-args="$PRINTBOX_BUNDLE_MKSQUASHFS_ARGS"} "$work" "$out" >&2
