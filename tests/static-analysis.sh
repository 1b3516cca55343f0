#!/bin/sh
# Static analysis of the C sources: cppcheck and clang-tidy (the checked-in
# .clang-tidy) over server/, harness/, plugins/ and include/, and
# tests/check_stack_writes.py (no write into a fixed-size stack array at a
# computed offset outside the bounded writer). Exits non-zero when any of
# them reports anything. Usage: tests/static-analysis.sh [BUILD_DIR]
# BUILD_DIR holds autoconf.h (default: the source tree, else a stub define).
# Needs: cppcheck, clang-tidy, pkg-config data of jansson, libpq, sqlite3, inih,
# libmariadb.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src}
cd "$src" || exit 2
jobs=${JOBS:-2}
status=0

incs="-Iinclude -Iserver -Iplugins/static -Iplugins/data -I$build"
files=$(ls server/*.c harness/*.c plugins/*/*.c)

# cppcheck: real defects only (warning, portability), no style opinions.
echo "cppcheck: $(echo "$files" | wc -l) files"
cppcheck -q --std=c11 --enable=warning,portability --inline-suppr --error-exitcode=1 \
    -D_GNU_SOURCE $incs --suppress=missingIncludeSystem \
    -j "$jobs" server harness plugins include || status=1

# clang-tidy: a compile database in a temp folder (the build is out of
# tree and has none) with the flags the build uses, then one process per
# file, $jobs at a time.
tmp=$(mktemp -d)
out="$tmp/out"
echo "clang-tidy: $(echo "$files" | wc -l) files"
SRC="$src" BUILD="$build" FILES="$files" EXTRA="$(pkg-config --cflags jansson libpq sqlite3 inih libmariadb 2>/dev/null)" \
python3 - "$tmp/compile_commands.json" <<'PY'
import json, os, shlex, sys
src, build = os.environ["SRC"], os.environ["BUILD"]
args = ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-DPH_PLUGIN_DIR=\"/x\"", "-DPH_SYSCONF_DIR=\"/y\"",
        "-Iinclude", "-Iserver", "-Iplugins/static", "-Iplugins/data", "-I" + build]
# Libraries' headers are system headers: their own style is not ours to
# check (libmariadb's live in /usr/include/mariadb, reached through -I).
args += ["-isystem" + a[2:] if a.startswith("-I") else a for a in shlex.split(os.environ["EXTRA"])]
db = [{"directory": src, "file": f, "arguments": args + ["-c", f]} for f in os.environ["FILES"].split()]
json.dump(db, open(sys.argv[1], "w"), indent=1)
PY
echo "$files" | xargs -P "$jobs" -n 4 clang-tidy --quiet -p "$tmp" > "$out" 2>/dev/null
if grep -qE '(warning|error):' "$out"; then
    grep -E -A3 '(warning|error):' "$out"
    echo "clang-tidy: $(grep -cE '(warning|error):' "$out") findings"
    status=1
fi
rm -rf "$tmp"

# Computed-offset writes into stack arrays (the access-log overflow's
# pattern): first proof that the checker still recognises it, then the
# sources. Prints FILE:LINE per hit.
echo "check_stack_writes: $(echo "$files" | wc -l) files"
self=$(python3 tests/check_stack_writes.py --self-test 2>&1) || { echo "$self"; status=1; }
# shellcheck disable=SC2086 # one file name per word
python3 tests/check_stack_writes.py $files || status=1
[ $status -eq 0 ] && echo "static analysis: clean"
exit $status
