#!/bin/bash
# printbox-init: the OS half of first boot, run by printbox-init.service on every boot.
# Every step checks before it acts, so a power cut at any point is repaired by the next boot
# (STYLE.md: idempotent first-boot steps, no "disable my own unit and hope").
#   1. grow the data partition to the card, and the root file system to its slot
#   2. SSH host keys unique to this device (the image ships none)
#   3. the admin account from printbox.txt (admin_user/admin_password) or Imager's userconf.txt
#   4. the log of Raspberry Pi Imager's firstrun.sh (the boot before) repeated into the journal
# The cloud link (and hostname, Wi-Fi, SSH key) is printbox-firstboot's job; it runs after us.
set -uo pipefail
BOOT="${PRINTBOX_BOOT_DIR:-/boot/firmware}"
STATE=/var/lib/printbox-init
CFG="$BOOT/printbox.txt"
log() { echo "printbox-init: $*"; }

grow_storage() {
  [ -e "$STATE/storage-grown" ] && return 0
  local root data disk num
  root=$(findmnt -no SOURCE /) && data=$(findmnt -no SOURCE /data) || { log "no /data mounted: storage not grown"; return 1; }
  disk="/dev/$(lsblk -no PKNAME "$data" | head -1)"
  num=$(cat "/sys/class/block/$(basename "$data")/partition")
  # The data partition is the card's last: sfdisk rewrites only the table, partx tells the running kernel,
  # ext4 grows online. The root slots keep their size; the root file system fills its own.
  if echo ", +" | sfdisk --no-reread --no-tell-kernel -q -N "$num" "$disk" && partx -u -n "$num" "$disk" \
    && resize2fs "$data" && resize2fs "$root"; then
    touch "$STATE/storage-grown"
    log "data grown to $(df -h --output=size /data | tail -1 | tr -d ' '), root to $(df -h --output=size / | tail -1 | tr -d ' ')"
  else
    log "could not grow $data and $root on $disk (will retry next boot)"
  fi
}

ssh_keys() {
  # Missing keys only; the build removed the image's so every card gets its own.
  ssh-keygen -A >/dev/null && log "ssh host keys: $(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2)"
}

# cfg_get KEY — value of KEY in printbox.txt: tolerates a UTF-8 BOM, CRLF, spaces and surrounding quotes.
cfg_get() {
  [ -f "$CFG" ] || return 1
  sed -e '1s/^\xEF\xBB\xBF//' -e 's/\r$//' "$CFG" | awk -v k="$1" '
    /^[ \t]*#/ { next }
    { i = index($0, "="); if (!i) next
      key = substr($0, 1, i - 1); gsub(/^[ \t]+|[ \t]+$/, "", key)
      if (key != k) next
      v = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v)
      if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2)
      print v; found = 1; exit }
    END { exit !found }'
}

# cfg_replace KEY COMMENT — replaces KEY's line with a comment, atomically (temp file + rename on the FAT).
cfg_replace() {
  local tmp="$BOOT/.printbox.txt.tmp"
  sed -e "s/^\(\xEF\xBB\xBF\)\?[ \t]*$1[ \t]*=.*\$/# $1 = $2/" "$CFG" > "$tmp" && sync "$tmp" && mv "$tmp" "$CFG" && sync "$BOOT"
}

cfg_note() { [ -f "$CFG" ] && { cat "$CFG"; printf '# printbox-init: %s\n' "$1"; } > "$BOOT/.printbox.txt.tmp" && mv "$BOOT/.printbox.txt.tmp" "$CFG"; }

ensure_admin() { # ensure_admin USER — creates the account if needed: login group, web admin role, sudo
  local user="$1"
  if ! [[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || [ "$user" = root ]; then
    log "error: admin_user \"$user\" is not a valid account name"; cfg_note "error: admin_user is not a valid account name (lowercase letters, digits, _ and -)"; return 1
  fi
  if id "$user" >/dev/null 2>&1; then
    if [ "$(id -u "$user")" -lt 1000 ]; then log "error: $user is a system account"; cfg_note "error: admin_user $user is a system account"; return 1; fi
  else
    useradd -m -s /bin/bash -G printbox,printbox-admins,sudo "$user" || return 1
    log "created admin account $user"
  fi
  usermod -aG printbox,printbox-admins,sudo "$user"
}

admin_account() {
  local user pass
  if user=$(cfg_get admin_user) && pass=$(cfg_get admin_password) && [ -n "$pass" ]; then
    if [ ${#pass} -lt 8 ]; then
      log "error: admin_password is shorter than 8 characters; account not changed"
      cfg_replace admin_password "(removed: shorter than 8 characters, account not changed)"; return 1
    fi
    ensure_admin "$user" || { cfg_replace admin_password "(removed: account not created, see the note below)"; return 1; }
    # the password travels on stdin, never in argv or the journal
    printf '%s:%s\n' "$user" "$pass" | chpasswd || { log "error: could not set the password of $user"; return 1; }
    cfg_replace admin_password "(removed after use: password of $user set $(date -u +%F))"
    log "password of $user set from printbox.txt"
  fi
  # Raspberry Pi Imager's userconf.txt: one line "user:crypted-password"; consumed like Raspberry Pi OS does.
  if [ -f "$BOOT/userconf.txt" ]; then
    local line; line=$(tr -d '\r' < "$BOOT/userconf.txt" | head -1)
    user=${line%%:*}; pass=${line#*:}
    if [ -n "$user" ] && [ -n "$pass" ] && [ "$user" != "$line" ] && ensure_admin "$user"; then
      printf '%s:%s\n' "$user" "$pass" | chpasswd -e && log "admin account $user set from userconf.txt"
    fi
    rm -f "$BOOT/userconf.txt"
  fi
}

# Imager's settings are applied in a boot of their own (/boot/firstrun.sh) whose journal lived in RAM:
# repeat that log once, so what Imager applied and any error show up in the journal of a normal boot.
imager_report() {
  local f=/var/log/printbox-imager.log
  [ -f "$f" ] && [ "$f" -nt "$STATE/imager-reported" ] || return 0
  sed 's/^/imager: /' "$f"
  touch "$STATE/imager-reported"
}

# Sourced by test/image/init-config.test.ts to exercise the parsing on the host; executed by the unit.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  mkdir -p "$STATE"
  grow_storage
  ssh_keys
  admin_account
  imager_report
  exit 0
fi
