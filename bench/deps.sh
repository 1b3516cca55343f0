#!/bin/sh
# Installs the Debian 12 packages the benchmark needs (anchor servers with
# their TLS modules, load generators wrk and h2load, openssl for the TLS
# scenarios' certificate, chart, profiler). Idempotent: when everything is present it does
# nothing, otherwise it runs apt-get update once and installs only what is
# missing. Installing a server package must not start its system service, so a
# policy-rc.d that forbids starts is put in place for the duration.
set -e
PACKAGES="nginx lighttpd lighttpd-modules-lua lighttpd-mod-openssl h2o wrk nghttp2-client openssl gnuplot-nox curl procps util-linux python3"
OPTIONAL="linux-perf"

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
[ -z "$missing$opt_missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing$opt_missing (run as root to install)" >&2
    [ -z "$missing" ] && exit 0
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
