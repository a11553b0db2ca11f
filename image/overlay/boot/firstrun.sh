#!/bin/sh
# Raspberry Pi Imager's OS customisation ("init_format": "systemd" in printbox-arm64.os_list.json).
# Imager writes firstrun.sh to the FAT and appends to cmdline.txt
#   systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target
# so systemd-run-generator boots once into kernel-command-line.target, runs that path, then reboots.
# Imager assumes the FAT is /boot; here (Debian's raspi-firmware layout) it is /boot/firmware. This file
# stands at the path Imager names and runs Imager's script with its paths moved to the FAT, as Raspberry
# Pi OS does in its initramfs (raspberrypi-sys-mods: imager_fixup).
# Whatever the script does, firstrun.sh and the systemd.run arguments leave the FAT afterwards (the
# script holds the password hash and the Wi-Fi key), and this exits 0: on a failure systemd would take
# the default systemd.run_failure_action (exit: shut down) instead of the reboot into PrintBox.
# The log goes to the console and /var/log/printbox-imager.log; printbox-init repeats it into the
# journal on the next boot (this boot's journal is in RAM only).
# PRINTBOX_BOOT_DIR, PRINTBOX_ROOT: a test's boot partition and root prefix (default /boot/firmware, /).
set -u
umask 077
FW="${PRINTBOX_BOOT_DIR:-/boot/firmware}"
ROOT="${PRINTBOX_ROOT:-}"
SCRIPT="$FW/firstrun.sh"
LOG="$ROOT/var/log/printbox-imager.log"

log() { echo "printbox-firstrun: $*"; }

run_imager_script() {
  if [ ! -f "$SCRIPT" ]; then
    log "error: $SCRIPT is missing (was the card written completely?); nothing applied"
    return
  fi
  work=$(mktemp "${TMPDIR:-/run}/printbox-firstrun.XXXXXX") || { log "error: no temp file"; return; }
  # Imager writes LF; a CR left by an editor would break every line of the script. Its own
  # `rm -f /boot/firstrun.sh` removes this copy; clean_up overwrites the FAT file before deleting it.
  tr -d '\r' < "$SCRIPT" | sed -e "s|/boot/firstrun\.sh|$work|g" -e "s|/boot/cmdline\.txt|$FW/cmdline.txt|g" > "$work"
  log "applying Raspberry Pi Imager's settings ($(wc -c < "$SCRIPT") bytes, $(head -c 40 "$work" | head -1))"
  # /run is noexec: the copy runs through the interpreter its first line names (bash from Imager 1.9,
  # sh from 2.0), and only through a shell.
  interp=$(head -1 "$work" | sed -n 's|^#! *\(/[^ ]*\).*|\1|p')
  case "$interp" in /bin/bash|/usr/bin/bash|/bin/sh|/usr/bin/sh) ;; *) interp=/bin/sh ;; esac
  "$interp" "$work"
  log "firstrun.sh finished with status $?"
  rm -f "$work"
}

clean_up() {
  # Zeros first: FAT overwrites in place, so the hash and the Wi-Fi key do not stay in free clusters.
  if [ -f "$SCRIPT" ]; then
    dd if=/dev/zero of="$SCRIPT" bs=1 count="$(wc -c < "$SCRIPT")" conv=notrunc,fsync status=none
    rm -f "$SCRIPT"
  fi
  # The script's own last line does this; it is missing when the script was cut short.
  if grep -q ' systemd\.run' "$FW/cmdline.txt" 2>/dev/null; then
    sed -i 's| systemd\.run.*||g' "$FW/cmdline.txt" && log "systemd.run removed from cmdline.txt"
  fi
  # Keys given without an account to hold them (Imager 1.9 with SSH keys but no user): root takes
  # them, key-only, like printbox.txt's ssh_authorized_key.
  pending="$ROOT/var/lib/printbox-init/imager-authorized-keys"
  if [ -s "$pending" ]; then
    mkdir -p "$ROOT/root/.ssh" && chmod 700 "$ROOT/root/.ssh"
    cat "$pending" >> "$ROOT/root/.ssh/authorized_keys" && chmod 600 "$ROOT/root/.ssh/authorized_keys"
    rm -f "$pending"
    log "no user was configured in Imager: its SSH keys were given to root (key-only login)"
  fi
  sync
}

mkdir -p "$(dirname "$LOG")"
# The tools' output goes through tee into the log file, not straight to the journal: plain lines.
unset JOURNAL_STREAM
{
  log "$(date -u +%FT%TZ) first boot with Raspberry Pi Imager's settings"
  run_imager_script
  clean_up
} 2>&1 | tee -a "$LOG"
exit 0
