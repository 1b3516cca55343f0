#!/bin/sh
# Static analysis of the C sources: cppcheck and clang-tidy (the checked-in
# .clang-tidy) over server/, plugins/ and include/. Exits non-zero when
# either reports anything. Usage: tests/static-analysis.sh [BUILD_DIR]
# BUILD_DIR holds autoconf.h (default: the source tree, else a stub define).
# Needs: cppcheck, clang-tidy, pkg-config data of jansson, libpq, sqlite3, inih.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src}
cd "$src" || exit 2
jobs=${JOBS:-2}
status=0

incs="-Iinclude -Iserver -Iplugins/static -Iplugins/data -I$build"
files=$(ls server/*.c plugins/*/*.c)

# cppcheck: real defects only (warning, portability), no style opinions.
# invalidPrintfArgType_uint is suppressed: it fires on PH_ABI_MAJOR/MINOR
# (int constants, non-negative) printed with %u, which C11 7.16.1.1 allows.
echo "cppcheck: $(echo "$files" | wc -l) files"
cppcheck -q --std=c11 --enable=warning,portability --inline-suppr --error-exitcode=1 \
    -D_GNU_SOURCE $incs --suppress=missingIncludeSystem \
    --suppress=invalidPrintfArgType_uint -j "$jobs" server plugins include || status=1

# clang-tidy: one process per file, $jobs at a time, with the flags the
# build uses (no compile database: the build is out of tree).
echo "clang-tidy: $(echo "$files" | wc -l) files"
cflags="-std=gnu11 -D_GNU_SOURCE $incs -DPH_PLUGIN_DIR=\"/x\" -DPH_SYSCONF_DIR=\"/y\"
    $(pkg-config --cflags jansson libpq sqlite3 inih 2>/dev/null)"
out=$(mktemp)
echo "$files" | xargs -P "$jobs" -I{} sh -c 'clang-tidy --quiet "$1" -- '"$(echo $cflags)"' 2>/dev/null' _ {} > "$out"
if grep -qE '(warning|error):' "$out"; then
    grep -E -A3 '(warning|error):' "$out"
    echo "clang-tidy: $(grep -cE '(warning|error):' "$out") findings"
    status=1
fi
rm -f "$out"
[ $status -eq 0 ] && echo "static analysis: clean"
exit $status
