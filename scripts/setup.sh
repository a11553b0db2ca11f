#!/usr/bin/env bash
# Installs everything `npm start` and `npm test` need; safe to run repeatedly.
# Usage: scripts/setup.sh [base|test]
source "$(dirname "$0")/lib.sh"
mode="${1:-base}"
ensure_apt "${BASE_APT[@]}"
if [ "$mode" = test ]; then
  # test extras: a real browser, Printrun's pronsole for the benchmark, iproute2 for test namespaces,
  # passwd for useradd/chpasswd of the PAM test accounts.
  ensure_apt chromium iproute2 passwd printrun
  # the group whose members may sign in (PRINTBOX_PAM_GROUPS); tests add temporary accounts to it
  if [ "$(id -u)" = 0 ] && ! getent group printbox >/dev/null; then groupadd --system printbox; fi
fi
ensure_npm
# PAM service of printbox-auth: /etc/pam.d/printbox = common-auth + common-account.
if [ "$(id -u)" = 0 ] && ! cmp -s "$ROOT/services/auth/printbox.pam" /etc/pam.d/printbox; then
  install -m 0644 "$ROOT/services/auth/printbox.pam" /etc/pam.d/printbox
fi
