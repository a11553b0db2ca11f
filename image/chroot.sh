#!/usr/bin/env bash
# in_chroot DIR CMD... — runs a command inside an arm64 rootfs through qemu-user (binfmt), with /proc,
# /dev and a private /tmp, all inside a private mount namespace so no mount outlives the command.
in_chroot() {
  local dir="$1"; shift
  unshare --mount --propagation private bash -euc '
    dir="$1"; shift
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    mount -t tmpfs tmpfs "$dir/tmp"
    exec chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
  ' in_chroot "$dir" "$@"
}
