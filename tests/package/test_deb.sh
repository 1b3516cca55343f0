#!/usr/bin/env bash
# The Debian package, end to end, on this machine (run as root; CI pass
# "package" of .ci/run):
#   1. builds plughttpd and plughttpd-dev with dpkg-buildpackage -us -uc -b
#      from a clean copy of the source tree (git's files, uncommitted
#      changes included; no build products);
#   2. runs lintian on the result: any E: fails, warnings are printed;
#   3. installs both with dpkg -i (twice: the maintainer scripts run again
#      on an existing user and folders) and checks the layout (FHS paths, the
#      conffile, the unit enabled, the system user, man pages, pkg-config),
#      builds the -dev package's echo example against the installed API,
#      and a plugin project plughttpd-plugin writes, with its make check;
#   4. runs the installed /usr/sbin/plughttpd -t on /etc/plughttpd/server.ini,
#      then starts it in the foreground on the installed configuration with
#      only the listen address changed (a free port on 127.0.0.1), GETs the
#      default page and compares the body with the packaged file, checks the
#      privilege drop to the plughttpd user and the access log, rotates
#      the log with the logrotate file (where logrotate is installed: its
#      SIGUSR1 must make the server write a new access.log), stops it by
#      PID;
#   5. purges both packages and checks that none of their files, folders,
#      state, logs or unit links remain (the system user stays, as Debian
#      leaves system users).
# Usage: tests/package/test_deb.sh [WORKDIR]   (default: _ci/package)
# Prints "PASS: package" or "FAIL: package: REASON" last; exit status 0 on
# success.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$top/_ci/package}
t_start=$(date +%s)
pid=""

stamp() { echo "--- $(($(date +%s) - t_start)) s: $*"; }
fail() {
    echo "FAIL: package: $*"
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (dpkg -i)"
for tool in dpkg-buildpackage lintian curl python3; do
    command -v "$tool" >/dev/null || fail "$tool not installed (sh .ci/deps)"
done

# Leftovers of an interrupted earlier run would hide what this one installs.
for p in plughttpd-dev plughttpd; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv '^unknown ok not-installed'; then
        echo "purging $p left installed by an earlier run"
        dpkg --purge "$p" || fail "cannot purge the earlier $p"
    fi
done

# --- 1. build from a clean copy ----------------------------------------------
version=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$top/debian/changelog")
arch=$(dpkg --print-architecture)
rm -rf "$work"
src="$work/plughttpd-$version"
mkdir -p "$src"
stamp "copying the source tree to $src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked and untracked-but-not-ignored files (deleted ones are
    # skipped), but for out-of-tree build folders (a config.status inside)
    builds='^$'
    for d in "$top"/*/; do
        [ -f "$d/config.status" ] && builds="$builds|^$(basename "$d")/"
    done
    (cd "$top" && git ls-files -z --cached --others --exclude-standard | grep -zvE "$builds" |
        tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$src" ||
        fail "copying the tree"
else
    (cd "$top" && tar --exclude=./_ci --exclude=./.git --exclude=./_b -cf - .) | tar -xf - -C "$src" ||
        fail "copying the tree"
    (cd "$src" && { [ ! -f Makefile ] || make distclean >/dev/null 2>&1; }) || true
fi
[ -x "$src/debian/rules" ] || fail "no debian/rules in the copy"

stamp "dpkg-buildpackage -us -uc -b"
if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=2" dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    fail "dpkg-buildpackage failed (log: $work/build.log)"
fi
deb="$work/plughttpd_${version}_${arch}.deb"
devdeb="$work/plughttpd-dev_${version}_${arch}.deb"
changes="$work/plughttpd_${version}_${arch}.changes"
for f in "$deb" "$devdeb" "$changes"; do [ -f "$f" ] || fail "not built: $f"; done

# --- 2. lintian ---------------------------------------------------------------
stamp "lintian"
lintian --info --display-info --pedantic "$changes" > "$work/lintian.log" 2>&1
echo "lintian: $(grep -c '^E:' "$work/lintian.log") errors, $(grep -c '^W:' "$work/lintian.log") warnings," \
     "$(grep -c '^I:' "$work/lintian.log") info, $(grep -c '^P:' "$work/lintian.log") pedantic"
grep -E '^[EWIP]:' "$work/lintian.log" | sed -e 's/^/  /'
grep -q '^E:' "$work/lintian.log" && fail "lintian reports errors"

# --- 3. install -------------------------------------------------------------
stamp "dpkg -i"
dpkg -i "$deb" "$devdeb" > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i failed"; }
# again, as an upgrade to the same version runs the maintainer scripts: the
# user and the folders exist by then
dpkg -i "$deb" "$devdeb" >> "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i a second time failed"; }
conf=/etc/plughttpd/server.ini
for f in /usr/sbin/plughttpd "$conf" /etc/plughttpd/schema.sql /usr/lib/plughttpd/plugins/static.so \
         /usr/lib/plughttpd/plugins/echo.so /usr/lib/plughttpd/plugins/data.so /usr/lib/plughttpd/plugins/proxy.so \
         /usr/lib/plughttpd/plugins/pubsub.so /usr/lib/plughttpd/plugins/status.so /usr/share/plughttpd/www/index.html \
         /lib/systemd/system/plughttpd.service /lib/systemd/system/plughttpd.socket /etc/logrotate.d/plughttpd \
         /usr/share/man/man8/plughttpd.8.gz /usr/share/man/man5/server.ini.5.gz \
         /usr/share/man/man3/plughttpd-plugin.3.gz /usr/include/plughttpd/plugin.h \
         /usr/share/pkgconfig/plughttpd-plugin.pc /usr/share/doc/plughttpd-dev/examples/echo.c \
         /usr/share/doc/plughttpd-dev/examples/counter.c \
         /usr/share/doc/plughttpd-dev/examples/Makefile /usr/include/plughttpd/test.h \
         /usr/share/pkgconfig/plughttpd-test.pc /usr/lib/libplughttpd-test.so /usr/bin/plughttpd-plugin \
         /usr/share/man/man3/plughttpd-test.3.gz /usr/share/doc/plughttpd-dev/examples/skeleton/skeleton.c; do
    [ -e "$f" ] || fail "not installed: $f"
done
dpkg-query -W -f='${Conffiles}\n' plughttpd | grep -q "^ $conf " || fail "$conf is not a conffile"
grep -q '^ */usr/share/man/man3/plughttpd-plugin.3.gz$' <(dpkg -L plughttpd-dev) || fail "plughttpd-plugin(3) not in -dev"
getent passwd plughttpd >/dev/null || fail "no plughttpd user"
grep -qx 'User=plughttpd' /lib/systemd/system/plughttpd.service || fail "the unit does not run as plughttpd"
grep -qx 'user = plughttpd' "$conf" || fail "server.ini does not name user plughttpd"
grep -q '^ProtectSystem=strict$' /lib/systemd/system/plughttpd.service || fail "the unit lost its hardening"
[ -L /etc/systemd/system/multi-user.target.wants/plughttpd.service ] || fail "plughttpd.service not enabled"
[ ! -e /etc/systemd/system/sockets.target.wants/plughttpd.socket ] || fail "plughttpd.socket enabled"
for d in /var/lib/plughttpd /var/log/plughttpd; do
    [ "$(stat -c %U "$d" 2>/dev/null)" = plughttpd ] || fail "$d is not the plughttpd user's"
done
[ "$(pkg-config --variable=plugindir plughttpd-plugin)" = /usr/lib/plughttpd/plugins ] || fail "pkg-config plugindir"
man -l --warnings /usr/share/man/man5/server.ini.5.gz 2>&1 >/dev/null | grep . && fail "server.ini(5) renders with warnings"
if command -v logrotate >/dev/null; then
    logrotate -d /etc/logrotate.d/plughttpd > "$work/logrotate.log" 2>&1 || { cat "$work/logrotate.log"; fail "logrotate -d"; }
fi
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify --man=no /lib/systemd/system/plughttpd.service || fail "systemd-analyze verify"
    # as hardened as the upstream unit (tests/integration/test_install.py: at most 2.0)
    exposure=$(systemd-analyze security --offline=yes /lib/systemd/system/plughttpd.service 2>&1 |
        sed -n 's/.*Overall exposure level for plughttpd.service: \([0-9.]*\).*/\1/p')
    echo "systemd-analyze security: exposure $exposure"
    [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "unit exposure ${exposure:-unknown} above 2.0"
fi

stamp "the -dev example against the installed API"
ex="$work/echo-example"
cp -r /usr/share/doc/plughttpd-dev/examples "$ex" && gunzip -f "$ex"/*.gz 2>/dev/null
make -s -C "$ex" > "$work/example.log" 2>&1 || { cat "$work/example.log"; fail "the echo example does not build"; }
/usr/sbin/plughttpd --check-plugin "$ex/echo.so" >> "$work/example.log" 2>&1 ||
    { cat "$work/example.log"; fail "the echo example does not load"; }

stamp "plughttpd-plugin new, make check against the installed harness"
kit="$work/kit"
mkdir -p "$kit"
(cd "$kit" && plughttpd-plugin new hello && make -C hello && make -C hello check) > "$work/kit.log" 2>&1 ||
    { cat "$work/kit.log"; fail "the scaffold's make check fails against the installed -dev package"; }
/usr/sbin/plughttpd --check-plugin "$kit/hello/hello.so" >> "$work/kit.log" 2>&1 ||
    { cat "$work/kit.log"; fail "the scaffold's plugin does not load"; }

# --- 4. run the installed server ---------------------------------------------
stamp "plughttpd -t on $conf"
/usr/sbin/plughttpd -t -c "$conf" || fail "plughttpd -t $conf"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run="$work/run"
mkdir -p "$run"
# the installed file with only the listen address changed; schema.sql is
# read after the drop to user plughttpd, so it is named where it is; a
# pid_file for the logrotate file's postrotate (as without systemd)
sed -e "s|^listen = .*|listen = 127.0.0.1:$port\npid_file = /run/plughttpd.pid|" \
    -e 's|^schema = schema.sql$|schema = /etc/plughttpd/schema.sql|' "$conf" > "$run/server.ini"
[ "$(diff "$conf" "$run/server.ini" | grep -c '^>')" = 3 ] ||
    fail "the configuration copy changed more than listen, pid_file and schema"
stamp "starting /usr/sbin/plughttpd on 127.0.0.1:$port"
/usr/sbin/plughttpd -c "$run/server.ini" > "$run/server.log" 2>&1 &
pid=$!
up=""
for _ in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$up" ] || { cat "$run/server.log"; fail "the server did not answer on 127.0.0.1:$port"; }
code=$(curl -s -m 10 -o "$run/body" -w '%{http_code}' "http://127.0.0.1:$port/")
[ "$code" = 200 ] || fail "GET / answered $code"
cmp -s "$run/body" /usr/share/plughttpd/www/index.html || fail "GET / body differs from /usr/share/plughttpd/www/index.html"
cmp -s "$run/body" "$top/www/index.html" || fail "GET / body differs from www/index.html"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/notes")
[ "$code" = 200 ] || fail "GET /api/notes answered $code (the data plugin's state folder)"
[ "$(stat -c %U "/proc/$pid")" = plughttpd ] || fail "the server did not become user plughttpd"
# the logrotate file: the log moves aside, SIGUSR1 (postrotate, by the
# pid file) makes the server open a new one, which the next request reaches
if command -v logrotate >/dev/null; then
    logrotate -f -s "$run/logrotate.status" /etc/logrotate.d/plughttpd > "$run/logrotate.log" 2>&1 ||
        { cat "$run/logrotate.log"; fail "logrotate -f"; }
    grep -q '"GET / HTTP/1.1" 200' /var/log/plughttpd/access.log.1 || fail "logrotate: no access.log.1 with GET /"
    curl -s -m 10 -o /dev/null "http://127.0.0.1:$port/?rotated" || fail "GET /?rotated"
    for _ in $(seq 50); do grep -qs 'GET /?rotated' /var/log/plughttpd/access.log && break; sleep 0.1; done
    grep -qs 'GET /?rotated' /var/log/plughttpd/access.log || fail "after logrotate and SIGUSR1: no new access.log"
    echo "logrotate -f: access.log rotated, reopened on SIGUSR1"
else
    echo "logrotate not installed: the logrotate file's rotation not tried"
fi
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the server did not stop within 10 s of SIGTERM"
wait "$pid"
rc=$?
pid=""
[ "$rc" = 0 ] || { cat "$run/server.log"; fail "the server exited $rc"; }
grep -q '"GET / HTTP/1.1" 200' /var/log/plughttpd/access.log* || fail "no GET / in /var/log/plughttpd/access.log"
# after the drop to plughttpd the server may not unlink its pid file in
# root's /run: it stays, stale, as documented (server.c)
rm -f /run/plughttpd.pid
echo "GET / on the installed server: 200, $(wc -c < "$run/body") bytes, as packaged"

# --- 5. purge -----------------------------------------------------------------
stamp "dpkg --purge"
listed=$(dpkg -L plughttpd plughttpd-dev)
dpkg --purge plughttpd-dev plughttpd > "$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge failed"; }
left=""
while read -r f; do
    [ -n "$f" ] || continue
    # a folder others share (/usr/share/man/man5, /lib/systemd/system...) stays
    if [ -d "$f" ]; then
        case "$f" in *plughttpd*) ;; *) continue ;; esac
    fi
    [ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <<< "$listed"
# everything named after the package, wherever maintainer scripts put it
# (state, logs, unit links, deb-systemd-helper's records, dpkg's own)
found=$(find /etc /usr /lib /var /run -xdev -path "$top" -prune -o -path "$work" -prune -o \
        -name '*plughttpd*' -print 2>/dev/null)
left="$left $found"
left=$(echo $left)
[ -z "$left" ] || fail "left after purge: $left"
getent passwd plughttpd >/dev/null && echo "the plughttpd system user stays (Debian policy: system users are not removed)"

stamp "done"
echo "PASS: package"
