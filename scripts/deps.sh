#!/bin/sh
# deps.sh: install the Debian 12 packages the build, the stack and the tests need, when any is missing.
#
# Fast when everything is there (one dpkg-query).  Needs root to
# install; otherwise it prints the apt-get line to run.  Services the
# packages would start on their default ports (apache2, lighttpd, redis,
# postgresql) are kept from starting during the install: the project
# runs its own instances.
set -eu

PKGS="build-essential pkg-config libfcgi-dev libfcgi-bin spawn-fcgi libpq-dev
libhiredis-dev libjson-c-dev libcurl4-openssl-dev libjwt-dev libssl-dev
libev-dev libwslay-dev libhttp-parser-dev
postgresql postgresql-contrib redis-server lighttpd lighttpd-modules-lua apache2 libapache2-mod-fcgid
openssl curl xxd iproute2 perl wrk slowhttptest clang libclang-rt-14-dev
debhelper lintian systemd logrotate chromium"

missing=$(for p in $PKGS; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || printf '%s ' "$p"
done)
# Node.js 20 and npm come with the machine, not from Debian (whose
# nodejs is older); only the broadcaster's tests need them.
command -v node >/dev/null && command -v npm >/dev/null ||
	echo "deps: warning: node and npm are missing; the socket.io tests will fail" >&2

# From the npm registry, each with its lockfile committed: the official
# socket.io-client and playwright-core (which drives Debian's chromium)
# for the tests, in tests/node; socket.io-client's browser build for the
# page, in www/.  Installed again when the lockfile is newer than the
# installed tree.
root=$(cd "$(dirname "$0")/.." && pwd)
for d in "$root/tests/node" "$root/www"; do
	[ -f "$d/node_modules/.package-lock.json" ] && [ ! "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ] &&
	    continue
	command -v npm >/dev/null || break
	echo "deps: npm ci in ${d#"$root"/}" >&2
	(cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
	    echo "deps: warning: npm ci in ${d#"$root"/} failed; the page and the node tests will fail" >&2
done

[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages; as root run:" >&2
	echo "  apt-get install -y $missing" >&2
	exit 1
fi
echo "deps: installing $missing" >&2
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	made_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || true
rc=0
apt-get install -y -q --no-install-recommends $missing >/dev/null || rc=$?
[ $made_policy = 1 ] && rm -f "$policy"
exit $rc
