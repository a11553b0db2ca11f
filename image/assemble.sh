#!/usr/bin/env bash
# Stage 3: PrintBox on top of the cached base: /opt/printbox (compiled JS, web/dist, arm64 node_modules),
# units, users, overlay; then the MBR disk image (FAT32 boot + ext4 root) without loop mounts.
# Usage: image/assemble.sh BASE_TAR MODULES_TAR OUT_DIR → OUT_DIR/printbox-arm64.img (+ kernel/initrd for QEMU)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
source "$HERE/host-tools.sh"
source "$HERE/chroot.sh"
CACHE="${PRINTBOX_IMAGE_CACHE:-/var/cache/printbox-image}"
base="$1" modules="$2" out="$3"
mkdir -p "$out"
work=$(mktemp -d "$CACHE/assemble.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
rootfs="$work/root"; mkdir -p "$rootfs"
step() { echo "image: [$((SECONDS))s] $*" >&2; }

step "unpacking the base rootfs"
tar -C "$rootfs" -xf "$base"

step "compiling PrintBox (tsc) and the web UI"
app="$rootfs/opt/printbox"; mkdir -p "$app"
# tsc emits even when another area is mid-edit; a type error is reported, a missing entry point fails below.
(cd "$ROOT" && npx tsc -p tsconfig.build.json --outDir "$app/build") >&2 || echo "image: WARNING: tsc reported errors" >&2
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$app/"
# compiled code finds its version (require("../../package.json")) and "type": "module" next to build/services
cp "$ROOT/package.json" "$app/build/package.json"
if [ -f "$ROOT/web/vite.config.ts" ]; then
  (cd "$ROOT" && npx vite build --config web/vite.config.ts --outDir "$app/web/dist" --emptyOutDir --logLevel warn) >&2 \
    || echo "image: WARNING: web UI build failed; the image has no UI bundle" >&2
fi
tar -C "$app" -xf "$modules"
for svc in web auth printer linker cli; do
  [ -f "$app/build/services/$svc/main.js" ] || echo "image: WARNING: services/$svc/main.ts not present yet; its unit will fail" >&2
done
if [ -f "$app/build/services/cli/main.js" ]; then
  printf '#!/bin/sh\nexec /usr/bin/node /opt/printbox/build/services/cli/main.js "$@"\n' > "$rootfs/usr/local/bin/printbox"
  chmod 755 "$rootfs/usr/local/bin/printbox"
fi

step "overlay, units, users"
cp -a "$HERE/overlay/." "$rootfs/"
install -m 644 "$ROOT/services/auth/printbox.pam" "$rootfs/etc/pam.d/printbox"   # one source for dev and image
install -m 644 "$ROOT"/systemd/*.service "$ROOT"/systemd/*.socket "$ROOT"/systemd/*.path "$ROOT"/systemd/*.target "$rootfs/usr/lib/systemd/system/"
echo printbox > "$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tprintbox\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
cat > "$rootfs/etc/fstab" <<'FSTAB'
# <device>      <mount>         <type> <options>                               <dump> <pass>
LABEL=PBROOT    /               ext4   defaults,noatime,commit=60              0      1
# printbox.txt may hold secrets until first boot consumes them: root only
LABEL=PBBOOT    /boot/firmware  vfat   defaults,noatime,umask=0077,flush       0      2
FSTAB
# Future kernel upgrades on the device keep booting from our root label.
sed -i 's/^#\?ROOTPART=.*/ROOTPART=LABEL=PBROOT/' "$rootfs/etc/default/raspi-firmware"
in_chroot "$rootfs" sh -euc '
  systemd-sysusers
  systemctl enable printbox.target printbox-init.service printbox-web.service printbox-auth.socket \
    printbox-printer.service printbox-firstboot.service printbox-issue.service \
    NetworkManager.service systemd-timesyncd.service ssh.service avahi-daemon.service >/dev/null
  systemctl set-default multi-user.target >/dev/null 2>&1
  # wait-online would hold network-online.target for 2 min while Wi-Fi is unconfigured; the linker
  # retries on its own, so nothing needs to wait for an address.
  systemctl mask NetworkManager-wait-online.service >/dev/null 2>&1 || true
  # Exposure <= 2.5 for the web and printer units, as rated by the systemd of the image
  # (reported here; test/image/boot.test.ts asserts it on the booted device)
  for u in printbox-web printbox-printer printbox-auth; do
    systemd-analyze security --offline=true --no-pager /usr/lib/systemd/system/$u.service 2>&1 | tail -1 || true
  done
' >&2
step "per-device identity removed (regenerated on first boot)"
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs"/etc/ssh/ssh_host_*
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/*.log
for bad in modemmanager brltty; do
  if chroot "$rootfs" /usr/bin/dpkg-query -W -f='${Status}' "$bad" 2>/dev/null | grep -q 'ok installed'; then echo "image: $bad must not be installed" >&2; exit 1; fi
done

step "boot partition contents"
bootdir="$work/bootfs"; mkdir -p "$bootdir"
cp -a "$rootfs/boot/firmware/." "$bootdir/"
rm -rf "${rootfs:?}/boot/firmware/"*
install -m 644 "$HERE/boot/printbox.txt" "$bootdir/printbox.txt"
# Raspberry Pi Imager 1.9 picks the customisation format of a local image file by this file: "pi-gen"
# in it means firstrun.sh (which PrintBox applies), anything else cloud-init (which it does not).
printf 'PrintBox %s (Debian trixie arm64). Not built with pi-gen, but applies the firstrun.sh OS customisation of Raspberry Pi Imager as pi-gen images do.\n' \
  "$(node -p 'require("'"$ROOT"'/package.json").version')" > "$bootdir/issue.txt"
# Debian's generated line with our root label (what raspi-firmware writes on the next kernel upgrade);
# root starts read-only so systemd can fsck it.
echo "console=tty0 root=LABEL=PBROOT rootfstype=ext4 fsck.repair=yes net.ifnames=0 cma=64M rootwait" > "$bootdir/cmdline.txt"
cp "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -1)" "$out/printbox-arm64.vmlinuz"
cp "$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -1)" "$out/printbox-arm64.initrd"
# The firmware boots the copies on the FAT; the generated initrd in /boot would only duplicate ~37 MB
# in the .xz (update-initramfs makes a new one with the next kernel).
rm -f "$rootfs"/boot/initrd.img-*

step "disk image: FAT32 boot + ext4 root (mkfs.vfat/mcopy, mke2fs -d, sfdisk — no loop mounts)"
MiB=$((1024 * 1024))
boot_mib=256
root_mib=$(( ($(du -s --block-size=1M "$rootfs" | cut -f1) * 13 / 10) + 256 ))
img="$out/printbox-arm64.img"
rm -f "$img" "$work/boot.fat" "$work/root.ext4"
mkfs.vfat -F 32 -n PBBOOT -C "$work/boot.fat" $((boot_mib * 1024)) >/dev/null
mcopy -s -i "$work/boot.fat" "$bootdir"/* ::/
mke2fs -q -t ext4 -L PBROOT -m 1 -d "$rootfs" "$work/root.ext4" "${root_mib}M"
truncate -s $(( (4 + boot_mib + root_mib) * MiB )) "$img"
sfdisk -q "$img" <<SFDISK
label: dos
label-id: 0x5072426f
start=4MiB, size=${boot_mib}MiB, type=c, bootable
start=$((4 + boot_mib))MiB, type=83
SFDISK
dd if="$work/boot.fat" of="$img" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$img" bs=1M seek=$((4 + boot_mib)) conv=notrunc,sparse status=none
step "image ready: $img ($(( $(stat -c %s "$img") / MiB )) MiB)"
