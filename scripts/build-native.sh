#!/bin/sh
# Builds the C programs with the system C compiler: native/build/lxt-shim
# (the shim and monitor; copied to dist/lxt as lxt's native front) and native/build/lxt-user-nic (setuid root when
# built by root: veths for unprivileged containers). Fast when up to date;
# run by npm install and by the test script.
set -eu
cd "$(dirname "$0")/.."
command -v cc >/dev/null 2>&1 || { echo "build-native: no C compiler (cc); run scripts/setup as root" >&2; exit 1; }
mkdir -p native/build
build() { # SOURCE OUTPUT [static]
  if [ -x "$2" ] && [ ! "$1" -nt "$2" ] && [ ! "$0" -nt "$2" ]; then return 0; fi
  # the shim static when libc.a is there (libc6-dev): no dynamic loader on every
  # `lxt` (it is the native front) and a smaller resident monitor
  if [ "${3:-}" = static ] && cc -O2 -Wall -Wextra -Werror -static -o "$2.tmp" "$1" 2>/dev/null; then :
  else cc -O2 -Wall -Wextra -Werror -o "$2.tmp" "$1"; fi
  mv "$2.tmp" "$2"
  echo "build-native: $2"
}
build native/shim.c native/build/lxt-shim static
# dist/lxt: the same binary as lxt's native front (shim.c cmd_front: a plain
# attach without Bun, everything else handed to dist/lxt-bun)
mkdir -p dist
if [ ! -x dist/lxt ] || [ native/build/lxt-shim -nt dist/lxt ] || ! cmp -s native/build/lxt-shim dist/lxt; then
  cp native/build/lxt-shim dist/lxt.tmp && mv dist/lxt.tmp dist/lxt
  echo "build-native: dist/lxt (the native front)"
fi
build native/user-nic.c native/build/lxt-user-nic
if [ "$(id -u)" = 0 ]; then chown root:root native/build/lxt-user-nic && chmod 4755 native/build/lxt-user-nic; fi
