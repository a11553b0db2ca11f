#!/usr/bin/env bash
# Stage 3: PrintBox on top of the cached base: /opt/printbox (compiled JS, web/dist, arm64 node_modules),
# units, users, overlay; then the MBR disk image without loop mounts: FAT32 boot, root slots A and B, data
# (docs/updates.md, "The card").
# Usage: image/assemble.sh BASE_TAR MODULES_TAR OUT_DIR → OUT_DIR/printbox-arm64.img, the root file system
# alone as OUT_DIR/printbox-arm64.rootfs.ext4 (what an update bundle carries), kernel/initrd for QEMU
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
install -m 644 "$ROOT"/systemd/*.service "$ROOT"/systemd/*.socket "$ROOT"/systemd/*.path "$ROOT"/systemd/*.timer "$ROOT"/systemd/*.target "$rootfs/usr/lib/systemd/system/"
echo printbox > "$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tprintbox\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
# Root is whichever slot U-Boot started (root=PARTUUID=… on the kernel line): /dev/root, not a label both
# slots carry. What must outlive an update lives on the data partition, bound where the system expects it.
cat > "$rootfs/etc/fstab" <<'FSTAB'
# <device>      <mount>         <type> <options>                               <dump> <pass>
/dev/root       /               ext4   defaults,noatime,commit=60              0      1
# printbox.txt may hold secrets until first boot consumes them: root only
LABEL=PBBOOT    /boot/firmware  vfat   defaults,noatime,umask=0077,flush       0      2
LABEL=PBDATA    /data           ext4   defaults,noatime,commit=60              0      2
/data/printbox       /var/lib/printbox       none bind 0 0
/data/printbox-init  /var/lib/printbox-init  none bind 0 0
/data/printbox-auth  /var/lib/printbox-auth  none bind 0 0
/data/rauc           /var/lib/rauc           none bind 0 0
/data/home           /home                   none bind 0 0
FSTAB
# The Pi 5 starts the kernel on the FAT directly: its cmdline.txt names slot A, and so does the next
# kernel upgrade's (Debian's hook writes ROOTPART into it).
sed -i 's/^#\?ROOTPART=.*/ROOTPART=PARTUUID=5072426f-02/' "$rootfs/etc/default/raspi-firmware"
# The update engine trusts one CA: the release's (PRINTBOX_UPDATE_KEYS, never in the repo) or, for
# development builds, the test fixtures' own.
if [ -n "${PRINTBOX_UPDATE_KEYS:-}" ]; then
  install -m 644 "$PRINTBOX_UPDATE_KEYS/ca.cert.pem" "$rootfs/etc/rauc/keyring.pem"
else
  echo "image: WARNING: no PRINTBOX_UPDATE_KEYS: this image trusts update bundles signed with the development keys" >&2
  install -m 644 "$ROOT/test/fixtures/update-keys/dev-ca.cert.pem" "$rootfs/etc/rauc/keyring.pem"
fi
in_chroot "$rootfs" sh -euc '
  systemd-sysusers
  systemctl enable printbox.target printbox-init.service printbox-web.service printbox-auth.socket \
    printbox-printer.service printbox-firstboot.service printbox-issue.service \
    printbox-update.service printbox-update.socket printbox-update.timer printbox-trial.timer \
    NetworkManager.service systemd-timesyncd.service ssh.service avahi-daemon.service >/dev/null
  systemctl set-default multi-user.target >/dev/null 2>&1
  # wait-online would hold network-online.target for 2 min while Wi-Fi is unconfigured; the linker
  # retries on its own, so nothing needs to wait for an address.
  systemctl mask NetworkManager-wait-online.service >/dev/null 2>&1 || true
  # rauc-mark-good would mark every boot good; printbox-update keeps a new version only after its trial.
  systemctl mask rauc-mark-good.service >/dev/null 2>&1 || true
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

step "kernel links, boot partition contents, U-Boot"
kver=$(ls "$rootfs"/boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
# /boot/vmlinuz and /boot/initrd.img (link_in_boot, overlay /etc/kernel-img.conf): U-Boot loads these from
# the slot it boots. Then Debian's raspi-firmware hook again, now that the overlay's
# /etc/default/raspi-firmware-custom (U-Boot on the Pi 3, Zero 2 W and 4) and ROOTPART are in place.
in_chroot "$rootfs" sh -euc "linux-update-symlinks install $kver /boot/vmlinuz-$kver
  DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware $kver" >&2
[ -e "$rootfs/boot/vmlinuz" ] && [ -e "$rootfs/boot/initrd.img" ] || { echo "image: /boot/vmlinuz or /boot/initrd.img missing" >&2; exit 1; }
bootdir="$work/bootfs"; mkdir -p "$bootdir"
cp -a "$rootfs/boot/firmware/." "$bootdir/"
rm -rf "${rootfs:?}/boot/firmware/"*
grep -q '^kernel=u-boot.bin' "$bootdir/config.txt" || { echo "image: config.txt does not start U-Boot" >&2; exit 1; }
install -m 644 "$rootfs/usr/lib/u-boot/rpi_arm64/u-boot.bin" "$bootdir/u-boot.bin"
mkimage -q -A arm64 -T script -C none -n "PrintBox A/B" -d "$HERE/boot/boot.cmd" "$bootdir/boot.scr"
install -m 644 "$HERE/boot/printbox.txt" "$bootdir/printbox.txt"
# Raspberry Pi Imager 1.9 picks the customisation format of a local image file by this file: "pi-gen"
# in it means firstrun.sh (which PrintBox applies), anything else cloud-init (which it does not).
printf 'PrintBox %s (Debian trixie arm64). Not built with pi-gen, but applies the firstrun.sh OS customisation of Raspberry Pi Imager as pi-gen images do.\n' \
  "$(node -p 'require("'"$ROOT"'/package.json").version')" > "$bootdir/issue.txt"
# Debian's generated line (what raspi-firmware writes on the next kernel upgrade), slot A's root for the
# Pi 5; U-Boot appends the slot it chose, and the kernel takes the last root=. Root starts read-only so
# systemd can fsck it.
echo "console=tty0 root=PARTUUID=5072426f-02 rootfstype=ext4 fsck.repair=yes net.ifnames=0 cma=64M rootwait" > "$bootdir/cmdline.txt"
cp "$rootfs/boot/vmlinuz-$kver" "$out/printbox-arm64.vmlinuz"
cp "$rootfs/boot/initrd.img-$kver" "$out/printbox-arm64.initrd"

step "data partition: what outlives an update"
datadir="$work/data"; mkdir -p "$datadir"
# printbox-auth holds the PAM helper's stamp key: a new key in the new slot would end every signed-in session.
for d in printbox printbox-init printbox-auth rauc home; do
  case $d in home) src="$rootfs/home" ;; *) src="$rootfs/var/lib/$d" ;; esac
  mkdir -p "$src" "$datadir/$d"
  cp -a "$src/." "$datadir/$d/"
  find "$src" -mindepth 1 -delete
done
mkdir -p "$rootfs/data"

step "disk image: FAT32 boot, root slots A and B, data (mkfs.vfat/mcopy, mke2fs -d, sfdisk — no loop mounts)"
MiB=$((1024 * 1024))
boot_mib=256
slot_mib=${PRINTBOX_SLOT_MIB:-2048}
data_mib=128
# Root is as small as its contents (plus room for first-boot files); it grows to its slot on the device,
# and so does every root an update writes (RAUC's resize=true).
root_mib=$(( ($(du -s --block-size=1M "$rootfs" | cut -f1) * 115 / 100) + 128 ))
[ "$root_mib" -le "$slot_mib" ] || { echo "image: root needs ${root_mib} MiB, a slot has ${slot_mib} (PRINTBOX_SLOT_MIB)" >&2; exit 1; }
img="$out/printbox-arm64.img"
rootimg="$out/printbox-arm64.rootfs.ext4"
rm -f "$img" "$rootimg" "$work/boot.fat" "$work/data.ext4"
mkfs.vfat -F 32 -n PBBOOT -C "$work/boot.fat" $((boot_mib * 1024)) >/dev/null
mcopy -s -i "$work/boot.fat" "$bootdir"/* ::/
mke2fs -q -t ext4 -L PBROOT -m 1 -d "$rootfs" "$rootimg" "${root_mib}M"
mke2fs -q -t ext4 -L PBDATA -m 1 -d "$datadir" "$work/data.ext4" "${data_mib}M"
a=$((4 + boot_mib)) b=$((4 + boot_mib + slot_mib)) d=$((4 + boot_mib + 2 * slot_mib))
truncate -s $(( (d + data_mib) * MiB )) "$img"
# The disk id names the partitions (PARTUUID 5072426f-0N) for U-Boot, RAUC and cmdline.txt.
sfdisk -q "$img" <<SFDISK
label: dos
label-id: 0x5072426f
start=4MiB, size=${boot_mib}MiB, type=c, bootable
start=${a}MiB, size=${slot_mib}MiB, type=83
start=${b}MiB, size=${slot_mib}MiB, type=83
start=${d}MiB, type=83
SFDISK
dd if="$work/boot.fat" of="$img" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$rootimg" of="$img" bs=1M seek=$a conv=notrunc,sparse status=none
dd if="$work/data.ext4" of="$img" bs=1M seek=$d conv=notrunc,sparse status=none
step "image ready: $img ($(( $(stat -c %s "$img") / MiB )) MiB; root ${root_mib} MiB in a ${slot_mib} MiB slot)"
