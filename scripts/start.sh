#!/usr/bin/env bash
# The README's first command: installs what sgflow needs on a fresh Debian machine, then
# runs the whole system in one process (API + embedded SQLite + agent) against a private
# userspace Open vSwitch with two demo VMs in network namespaces. Ctrl-C stops and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
exec ./bin/sgflow up --sandbox "$@"
