#!/bin/sh
# The main job on a fresh machine: install what lxt needs, build it, then
# create a busybox container, start it, run a command in it, show its info,
# stop and destroy it.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (containers need it)" >&2; exit 1; }
sh scripts/setup
[ -x node_modules/.bin/bun ] || npm install --no-audit --no-fund
sh scripts/build-native.sh
sh scripts/build-cli.sh
lxt=./dist/lxt
name=${1:-demo}
set -x
$lxt create -n "$name" -t busybox
$lxt start -n "$name"
$lxt attach -n "$name" -- /bin/sh -c 'echo "hello from $(hostname)"; ps'
$lxt info -n "$name"
$lxt ls --fancy
$lxt stop -n "$name"
$lxt destroy -n "$name"
