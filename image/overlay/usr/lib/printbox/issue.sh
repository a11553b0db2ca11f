#!/bin/bash
# printbox-issue: shows the device's TLS certificate fingerprint and addresses on the console login
# screen (/etc/issue.d), so a user can compare it with what the browser shows before trusting it.
set -uo pipefail
DATA="${PRINTBOX_DATA_DIR:-/var/lib/printbox}"
cert=""
for _ in $(seq 1 120); do   # the web creates its certificate on first start
  cert=$(find "$DATA" -name cert.pem -type f 2>/dev/null | head -1)
  [ -n "$cert" ] && break
  sleep 1
done
mkdir -p /etc/issue.d
{
  echo "PrintBox — open https://$(hostname).local/ or https://\4/ in a browser"
  if [ -n "$cert" ]; then
    echo "TLS certificate SHA-256 fingerprint:"
    openssl x509 -in "$cert" -noout -fingerprint -sha256 | cut -d= -f2
  else
    echo "(the web service has not created its TLS certificate yet)"
  fi
  echo
} > /etc/issue.d/50-printbox.issue.tmp && mv /etc/issue.d/50-printbox.issue.tmp /etc/issue.d/50-printbox.issue
# agetty re-reads issue files when asked; harmless if no getty is running
command -v agetty >/dev/null && agetty --reload 2>/dev/null || true
