#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian packages, npm modules),
# then runs the type-check, the linters and every test (unit + integration against real
# OVS, SQLite, etcd and the openstack CLI). Ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

echo "== type-check"; npx tsc -p tsconfig.json --noEmit
echo "== lint"
# Each on its own line: under `set -e` a failure inside an `a && b` list would not stop the run.
npx eslint .
npx prettier --check . >/dev/null
echo "eslint and prettier: clean"

echo "== tests"
mkdir -p .test-results
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".test-results/vitest.json", "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit "$status"
