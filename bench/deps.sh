#!/bin/sh
# Installs the Debian 12 packages the benchmark needs (anchor servers with
# their TLS modules, load generators wrk and h2load, openssl for the TLS
# scenarios' certificate, chart, profiler). Idempotent: when everything is present it does
# nothing, otherwise it runs apt-get update once and installs only what is
# missing. Installing a server package must not start its system service, so a
# policy-rc.d that forbids starts is put in place for the duration.
#
# `deps.sh data [DIR]` installs what bench/data needs instead: wrk,
# PostgreSQL, the SQLite and libpq headers for bench/data_floor.c, Node.js
# and npm, and then json-server into DIR (default /tmp/plughttpd-bench-npm)
# with `npm ci` from bench/jsonserver/, whose lock file pins its version and
# its dependencies'.
set -e
PACKAGES="nginx lighttpd lighttpd-modules-lua lighttpd-mod-openssl h2o wrk nghttp2-client openssl gnuplot-nox curl procps util-linux python3"
OPTIONAL="linux-perf"
NPM_DIR=""
if [ "$1" = data ]; then
    PACKAGES="wrk postgresql libpq-dev libsqlite3-dev gcc pkg-config procps util-linux python3"
    # A Node.js from elsewhere (its own nodejs package bundles npm and
    # conflicts with Debian's npm) is used as it is.
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
    OPTIONAL=""
    NPM_DIR="${2:-/tmp/plughttpd-bench-npm}"
fi

# json-server from the lock file; again only when it is missing or differs.
npm_install() {
    [ -n "$NPM_DIR" ] || return 0
    here="$(dirname "$0")/jsonserver"
    if [ -f "$NPM_DIR/package-lock.json" ] && cmp -s "$here/package-lock.json" "$NPM_DIR/package-lock.json" \
        && [ -f "$NPM_DIR/node_modules/json-server/package.json" ]; then
        return 0
    fi
    mkdir -p "$NPM_DIR"
    cp "$here/package.json" "$here/package-lock.json" "$NPM_DIR/"
    (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
}

installed() {
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed'
}

missing=""
for p in $PACKAGES; do
    installed "$p" || missing="$missing $p"
done
opt_missing=""
for p in $OPTIONAL; do
    installed "$p" || opt_missing="$opt_missing $p"
done
if [ -z "$missing$opt_missing" ]; then
    npm_install
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing$opt_missing (run as root to install)" >&2
    [ -z "$missing" ] && npm_install && exit 0
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Another apt run may hold the lock (CI images install in parallel): wait.
APT="apt-get -o DPkg::Lock::Timeout=900 -y --no-install-recommends"
if [ -n "$missing" ]; then
    apt-get -o DPkg::Lock::Timeout=900 update
    $APT install $missing
fi
if [ -n "$opt_missing" ]; then
    # The profiler is a nice-to-have: its absence must not stop the benchmark.
    # Without a missing required package there was no update: an install
    # from a stale index may fail, and that is fine.
    $APT install $opt_missing 2>/dev/null || echo "deps.sh: optional$opt_missing not installed" >&2
fi
npm_install
