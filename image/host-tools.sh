#!/usr/bin/env bash
# Host tools for building and booting the image, all from Debian ("the script installs its own host tools").
# qemu-user-static + binfmt let us run the arm64 chroot; no loop mounts are used anywhere. The aarch64 cross
# compiler and the SQLite headers build the native Node modules (image/modules.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
IMAGE_HOST_APT=(mmdebstrap qemu-user-static binfmt-support dosfstools mtools fdisk e2fsprogs xz-utils
  debian-archive-keyring arch-test rauc squashfs-tools u-boot-tools g++-aarch64-linux-gnu libsqlite3-dev)
# u-boot-qemu: the guest firmware of the A/B boot tests (real U-Boot); u-boot-tools (mkimage) makes boot.scr;
# chromium drives the System screen against the booted guest (test/image/admin-checks.ts)
IMAGE_TEST_APT=(qemu-system-arm openssh-client sshpass socat openssl u-boot-qemu u-boot-tools chromium)

ensure_binfmt() {
  # In containers binfmt_misc may not be mounted; qemu-user-static's F (fix-binary) flag means the
  # interpreter works inside the chroot without copying it in.
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    as_root update-binfmts --enable qemu-aarch64 || as_root update-binfmts --import qemu-aarch64
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "image: cannot register qemu-aarch64 binfmt" >&2; exit 1; }
}

ensure_image_host() {
  ensure_apt "${IMAGE_HOST_APT[@]}"
  ensure_binfmt
}
