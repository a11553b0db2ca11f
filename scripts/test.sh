#!/usr/bin/env bash
# `npm test`: the full fast suite (unit, integration, browser) with node's test runner.
source "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/setup.sh" test
cd "$ROOT"
npx tsc --noEmit -p .
# Imports point one way: no cycles, shared imports no service, services only talk over IPC (.dependency-cruiser.cjs).
npx depcruise services web/src scripts test bench --config .dependency-cruiser.cjs
[ -f web/vite.config.ts ] && npm run --silent check:web
[ -f web/vite.config.ts ] && npm run --silent build:web
mapfile -t files < <(find test/unit test/integration test/browser -name '*.test.ts' 2>/dev/null | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no tests found" >&2; exit 1; fi
# Integration tests share real system resources (PAM accounts, ports, ptys): run files one at a time.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" "${files[@]}"
