#!/usr/bin/env bash
# Install test of the TypeScript SDK: installs the package the ways a user would and runs
# the API reference's JavaScript / TypeScript example against a real server.
#
#   1. `npm pack` sdks/typescript (its `prepare` builds dist/) and check the tarball;
#   2. a consumer project `npm install`s the .tgz;
#   3. a second consumer `npm install`s the sdks/typescript folder (dist/ removed first,
#      so its `prepare` must build it);
#   4. a third installs a copy of the folder without node_modules (a fresh checkout:
#      `prepare` installs the build's devDependencies itself).
# Each consumer runs the example as ESM (reference-example.mjs, `import`) and as
# CommonJS (reference-example.cjs, `require`) with a kc_test_ key against one server
# (fresh SQLite database, port 0, fast simulator): both place calls and wait for the
# summary. The example is also type-checked as .mts and .cts against the installed types.
#
# Usage: tests/install/typescript.sh PATH_TO_KAICALLS_BINARY [PATH_TO_SDK]
# Needs node >= 20 and npm; the SDK folder's devDependencies installed (npm ci) for tsc.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 PATH_TO_KAICALLS_BINARY [PATH_TO_SDK]" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
sdk=$(cd "${2:-$here/../../sdks/typescript}" && pwd)
tsc="$sdk/node_modules/.bin/tsc"
[ -x "$tsc" ] || { echo "no $tsc: run npm ci in $sdk first" >&2; exit 2; }
started=$SECONDS

# shellcheck source=server.sh
. "$here/server.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/kaicalls-install-ts.XXXXXX")
cleanup() {
  kc_server_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

npm_quiet=(--no-audit --no-fund --loglevel=error)

echo "==> install test: server ($bin)"
kc_server_start "$bin" "$work/server"
echo "    listening on $KC_BASE_URL"

echo "==> install test: npm pack (prepare builds dist/)"
mkdir -p "$work/pack"
(cd "$sdk" && npm pack --pack-destination "$work/pack" "${npm_quiet[@]}" >/dev/null)
tgz=$(ls "$work"/pack/kaicalls-*.tgz)
tar -tzf "$tgz" >"$work/pack/files.txt"
for f in dist/index.js dist/index.d.ts dist/cjs/index.js dist/cjs/index.d.ts \
  dist/cjs/package.json package.json README.md; do
  grep -qx "package/$f" "$work/pack/files.txt" \
    || { echo "$(basename "$tgz") lacks $f" >&2; exit 1; }
done
tar -xzOf "$tgz" package/dist/cjs/package.json | grep -q '"type": *"commonjs"' \
  || { echo "dist/cjs/package.json does not say \"type\": \"commonjs\"" >&2; exit 1; }
echo "    $(basename "$tgz"): $(wc -l <"$work/pack/files.txt") files"

# consumer NAME INSTALL_SPEC: a new project that installs the SDK from INSTALL_SPEC and
# runs the example with `import` and `require`, and type-checks it as .mts and .cts.
consumer() {
  local name=$1 spec=$2 dir="$work/$1" step=$SECONDS
  echo "==> install test [$name]: npm install $spec"
  mkdir -p "$dir"
  printf '{\n  "name": "kaicalls-install-test-%s",\n  "version": "1.0.0",\n  "private": true\n}\n' \
    "$name" >"$dir/package.json"
  cp "$here"/reference-example.{mjs,cjs,mts,cts} "$dir/"
  (cd "$dir" && npm install "${npm_quiet[@]}" "$spec")
  for ext in mjs cjs; do
    echo "==> install test [$name]: node reference-example.$ext"
    (cd "$dir" && env KAICALLS_BASE_URL="$KC_BASE_URL" KAICALLS_API_KEY="$KC_TEST_KEY" \
      KAICALLS_AGENT_ID="$KC_AGENT_ID" KAICALLS_BUSINESS_ID="$KC_BUSINESS_ID" \
      node "reference-example.$ext") || {
      echo "reference-example.$ext failed; server log:" >&2
      kc_server_log >&2
      return 1
    }
  done
  echo "==> install test [$name]: tsc --noEmit reference-example.mts reference-example.cts"
  (cd "$dir" && "$tsc" --noEmit --strict --target es2022 --lib es2022 \
    --module nodenext --moduleResolution nodenext \
    --typeRoots "$sdk/node_modules/@types" --types node \
    --explainFiles reference-example.mts reference-example.cts >"$dir/tsc.log") || {
    grep -E 'error TS' "$dir/tsc.log" >&2 || cat "$dir/tsc.log" >&2
    return 1
  }
  # Each file got its own declarations: `import` the ESM ones, `require` the CommonJS ones.
  grep -A3 -E '(^|/)dist/index\.d\.ts$' "$dir/tsc.log" | grep -q "from file 'reference-example.mts'" \
    || { echo "reference-example.mts did not get dist/index.d.ts" >&2; return 1; }
  grep -A3 -E '(^|/)dist/cjs/index\.d\.ts$' "$dir/tsc.log" | grep -q "from file 'reference-example.cts'" \
    || { echo "reference-example.cts did not get dist/cjs/index.d.ts" >&2; return 1; }
  echo "    [$name] passed in $((SECONDS - step))s"
}

consumer from-tarball "$tgz"

# The folder itself, as `npm install /path/to/sdks/typescript` links it: its prepare
# must (re)build dist/.
rm -rf "$sdk/dist"
consumer from-folder "$sdk"
[ -f "$sdk/dist/index.js" ] && [ -f "$sdk/dist/cjs/index.js" ] \
  || { echo "installing $sdk did not build its dist/" >&2; exit 1; }

# A fresh checkout of the folder: no node_modules, no dist.
mkdir -p "$work/checkout"
(cd "$sdk" && tar --exclude=./node_modules --exclude=./dist --exclude=./dist-test \
  --exclude='./*.tgz' -cf - .) | tar -xf - -C "$work/checkout"
consumer from-fresh-checkout "$work/checkout"

echo "==> install test passed in $((SECONDS - started))s"
