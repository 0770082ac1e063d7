#!/bin/sh
# `npm test`: installs what the suite needs on a fresh Debian 12 machine
# (host packages, npm deps, the native shim, the compiled CLI), then runs
# every test under Bun's runner and prints one closing line
# "N passed, M failed, K skipped".
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
  sh scripts/setup
fi
if [ ! -x node_modules/.bin/bun ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
sh scripts/build-native.sh
sh scripts/build-cli.sh

exec node_modules/.bin/bun scripts/run-tests.ts "$@"
