#!/usr/bin/env bash
# `npm run test:image`: build the image (stages cached in /var/cache/printbox-image), then
# boot it under QEMU and check it end to end from the host (test/image/*.test.ts).
source "$(dirname "$0")/lib.sh"
source "$ROOT/image/host-tools.sh"
cd "$ROOT"
ensure_apt "${IMAGE_TEST_APT[@]}"
bash scripts/build-image.sh
mapfile -t files < <(find test/image -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" "${files[@]}"
