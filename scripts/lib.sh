#!/usr/bin/env bash
# Shared helpers for PrintBox scripts: idempotent installs of Debian packages and npm deps,
# so a fresh machine needs nothing done by hand (README: two commands).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ensure_apt pkg... — installs only what is missing; runs apt-get update once per call when needed.
ensure_apt() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# ensure_npm — npm ci when node_modules does not match package-lock.json (stamp = lockfile hash).
ensure_npm() {
  cd "$ROOT"
  local want have=""
  want=$(sha256sum package-lock.json package.json | sha256sum | cut -c1-16)
  [ -f node_modules/.printbox-stamp ] && have=$(cat node_modules/.printbox-stamp)
  if [ "$want" != "$have" ]; then
    echo "setup: installing npm dependencies" >&2
    # npm ci refuses a lockfile without entries for optional platform packages the registry lacks
    # (vite's napi-windows-process-start-time is a 404 on some mirrors); npm install tolerates that.
    if ! npm ci --no-audit --no-fund > /tmp/printbox-npm-ci.log 2>&1; then
      echo "setup: npm ci refused the lockfile ($(grep -m1 'Missing:' /tmp/printbox-npm-ci.log || echo 'see /tmp/printbox-npm-ci.log')); using npm install" >&2
      npm install --no-audit --no-fund >&2
    fi
    # after the install: npm install may have rewritten the lockfile, and the stamp must match what is on disk
    sha256sum package-lock.json package.json | sha256sum | cut -c1-16 > node_modules/.printbox-stamp
  fi
}

# Packages every PrintBox run needs on the host: PAM headers (authenticate-pam builds against them),
# openssl (TLS tooling), udev (serialport's port listing calls udevadm).
BASE_APT=(libpam0g-dev openssl udev python3 make g++ ca-certificates)
