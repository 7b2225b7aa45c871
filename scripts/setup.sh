#!/bin/sh
# setup.sh: the installed setup (LIBDIR/setup): the system user, its directories and the generated secrets, whatever is missing; run as root by make install and the package's postinst.
#
# make install fills in the paths.  Idempotent: what exists is
# left alone (an admin's ownership and modes included), so it runs on
# every install and upgrade.  It starts nothing.
set -eu

APPUSER='@APPUSER@'
LOGGROUP='@LOGGROUP@'
CONFDIR='@CONFDIR@'
LOGDIR='@LOGDIR@'
STATEDIR='@STATEDIR@'

[ "$(id -u)" = 0 ] || { echo "setup: run me as root" >&2; exit 1; }

# The system user and its group: Debian's adduser, else useradd.
if ! getent passwd "$APPUSER" >/dev/null; then
	if [ -e /etc/adduser.conf ] && command -v adduser >/dev/null; then
		adduser --system --group --quiet --home "$STATEDIR" --no-create-home \
		    --comment 'Upwork agent API' "$APPUSER"
	else
		useradd --system --user-group --home-dir "$STATEDIR" --no-create-home \
		    --shell /usr/sbin/nologin --comment 'Upwork agent API' "$APPUSER"
	fi
fi
getent group "$LOGGROUP" >/dev/null || LOGGROUP=$APPUSER

# The user's home (nothing in it yet) and the cron jobs' logs (adm may
# read them, as other logs).
[ -d "$STATEDIR" ] || install -d -o "$APPUSER" -g "$APPUSER" -m 0750 "$STATEDIR"
[ -d "$LOGDIR" ] || install -d -o "$APPUSER" -g "$LOGGROUP" -m 0750 "$LOGDIR"
# The counters of /metrics (metrics_dir), written by every program.
[ -d "$STATEDIR/metrics" ] || install -d -o "$APPUSER" -g "$APPUSER" -m 0750 "$STATEDIR/metrics"

# app.conf is installed root's; the programs read it through the group.
if [ -f "$CONFDIR/app.conf" ] && [ "$(stat -c %g "$CONFDIR/app.conf")" = 0 ]; then
	chgrp "$APPUSER" "$CONFDIR/app.conf"
	chmod 0640 "$CONFDIR/app.conf"
fi

# Secrets, generated once: the HS256 key (tokens of an issuer you run),
# the key that seals Upwork tokens at rest, and upwork_app's database
# password, in a libpq password file (which libpq ignores unless only
# its owner can read it).
[ -d "$CONFDIR/secrets" ] || install -d -o root -g "$APPUSER" -m 0750 "$CONFDIR/secrets"
random_hex() {
	head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'
}
# secret NAME OWNER MODE: the file from stdin, unless it exists.
secret() {
	f=$CONFDIR/secrets/$1
	if [ -s "$f" ]; then
		cat >/dev/null
		return 0
	fi
	(umask 077; cat >"$f.tmp")
	chown "$2" "$f.tmp"
	chmod "$3" "$f.tmp"
	mv -f "$f.tmp" "$f"
}
random_hex 48 | secret jwt-hs256.key "root:$APPUSER" 0640
random_hex 32 | secret upwork-token.key "root:$APPUSER" 0640
printf '*:*:*:upwork_app:%s\n' "$(random_hex 24)" | secret pgpass "$APPUSER:$APPUSER" 0600
