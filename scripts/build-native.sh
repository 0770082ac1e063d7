#!/bin/sh
# Builds the C shim, native/build/lxt-shim, with the system C compiler.
# Fast when up to date; run by npm install and by the test script.
set -eu
cd "$(dirname "$0")/.."
out=native/build/lxt-shim
if [ -x "$out" ] && [ -z "$(find native -name '*.c' -newer "$out" -print -quit)" ]; then exit 0; fi
command -v cc >/dev/null 2>&1 || { echo "build-native: no C compiler (cc); run scripts/setup as root" >&2; exit 1; }
mkdir -p native/build
cc -O2 -Wall -Wextra -Werror -o "$out.tmp" native/*.c
mv "$out.tmp" "$out"
echo "build-native: $out"
