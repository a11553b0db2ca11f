#!/usr/bin/env bash
# `npm start`: install what is missing (apt packages, npm deps, /etc/pam.d/printbox), build the UI
# if it is not built yet, then run the appliance locally (scripts/dev.ts): web on 8080/8443,
# a virtual printer, offline mode, data in ./.printbox.
source "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/setup.sh" base
cd "$ROOT"
if [ -f web/vite.config.ts ] && [ ! -f web/dist/index.html ]; then npm run --silent build:web; fi
exec node --import tsx scripts/dev.ts "$@"
