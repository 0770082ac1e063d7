#!/bin/sh
# Compiles the CLI into one executable, dist/lxt-bun (DESIGN.md: a compiled Bun
# binary starts in ~4 ms against ~8 ms for 60 unbundled modules). dist/lxt,
# the command users run, is the native front (scripts/build-native.sh): it
# serves a plain attach itself and runs dist/lxt-bun for everything else.
# Rebuilt only when a source file is newer than the binary.
set -eu
cd "$(dirname "$0")/.."
out=dist/lxt-bun
if [ -x "$out" ] && [ -z "$(find src package.json -newer "$out" -print -quit)" ]; then
  exit 0
fi
mkdir -p dist
node_modules/.bin/bun build --compile --bytecode --no-compile-autoload-dotenv --no-compile-autoload-bunfig src/cli/main.ts --outfile "$out.tmp" >/dev/null
mv "$out.tmp" "$out"
echo "build-cli: $out"
