#!/usr/bin/env bash
# in_chroot DIR CMD... — runs a command inside an arm64 rootfs through qemu-user (binfmt), with /proc
# and /dev mounted and the host's DNS, all inside a private mount namespace so nothing leaks on exit.
in_chroot() {
  local dir="$1"; shift
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf.host" 2>/dev/null || true
  unshare --mount --propagation private bash -euc '
    dir="$1"; shift
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    mount -t tmpfs tmpfs "$dir/tmp"
    [ -e "$dir/etc/resolv.conf.host" ] && mount --bind "$dir/etc/resolv.conf.host" "$dir/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
  ' in_chroot "$dir" "$@"
  local rc=$?
  rm -f "$dir/etc/resolv.conf.host"
  return $rc
}
