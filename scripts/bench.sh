#!/usr/bin/env bash
# `npm run bench`: PrintBox's sender vs Printrun's pronsole against the virtual Marlin (bench/bench.ts).
source "$(dirname "$0")/lib.sh"
ensure_apt pronsole python3
cd "$ROOT"
exec node --import tsx bench/bench.ts "$@"
