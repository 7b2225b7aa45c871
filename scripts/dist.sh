#!/bin/bash
# dist.sh: what make install puts where (the FHS layout), the files it generates from httpd-conf/dist and httpd-conf/routes, and make install / uninstall themselves.
#
# Usage: scripts/dist.sh programs|manifest|render NAME|install|uninstall
#   programs    the endpoint programs httpd-conf/routes names (no bench
#               route, not the broadcaster): the ones installed
#   manifest    every file installed, one a line: MODE PATH SOURCE [keep]
#               (SOURCE a built or tracked file, or render:NAME)
#   render NAME print one generated file (see render() below)
#   install     install the manifest under DESTDIR; app.conf only when
#               absent.  Without DESTDIR, as root, then run the installed
#               setup (system user, directories, generated secrets).
#   uninstall   remove what install put there; app.conf, the secrets,
#               the logs and the data stay.
# The Makefile passes the layout in the environment: BUILD DESTDIR
# PREFIX BINDIR SBINDIR LIBDIR DATADIR MANDIR CONFDIR LOGDIR STATEDIR RUNDIR
# SYSTEMDUNITDIR APACHECONFDIR LIGHTTPDCONFDIR CRONDIR LOGROTATEDIR
# APPUSER WEBGROUP LOGGROUP PUSH_LISTEN SPAWN_FCGI.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIST=$ROOT/httpd-conf/dist
ROUTES=$ROOT/httpd-conf/routes
DESTDIR=${DESTDIR:-}

die() { printf 'dist: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }

LAYOUT="BUILD PREFIX BINDIR SBINDIR LIBDIR DATADIR MANDIR CONFDIR LOGDIR STATEDIR RUNDIR SYSTEMDUNITDIR
APACHECONFDIR LIGHTTPDCONFDIR CRONDIR LOGROTATEDIR APPUSER WEBGROUP LOGGROUP PUSH_LISTEN SPAWN_FCGI"
need_layout() {
	local v
	for v in $LAYOUT; do
		[ -n "${!v:-}" ] || die "$v is not set (run it through make install)"
		export "${v?}"
	done
	case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
	export CONF=$CONFDIR/app.conf SQLDIR=$DATADIR/sql
}

# The programs the routes name, in order, once each.
programs() {
	awk '!/^#/ && NF >= 2 && $2 != "push" && $3 != "bench" && !seen[$2]++ { print $2 }' "$ROUTES"
}

manifest() {
	local p f
	for p in $(programs); do
		echo "0755 $LIBDIR/cgi-bin/$p $BUILD/cgi-bin/$p"
	done
	for f in "$ROOT"/cron/*.c; do
		f=$(basename "$f" .c)
		echo "0755 $LIBDIR/cron/$f $BUILD/cron/$f"
	done
	echo "0755 $LIBDIR/push/broadcaster $BUILD/push/broadcaster"
	echo "0755 $LIBDIR/tools/publish $BUILD/tools/publish"
	echo "0755 $LIBDIR/tools/check-config $BUILD/tools/check-config"
	echo "0755 $LIBDIR/setup render:setup"
	echo "0755 $SBINDIR/upwork-api-broadcaster render:broadcaster"
	echo "0755 $SBINDIR/upwork-api-migrate render:migrate"
	echo "0755 $BINDIR/upwork-api-publish render:publish"
	echo "0755 $SBINDIR/upwork-api-check-config render:check-config"
	for f in "$ROOT"/sql/bootstrap.sql "$ROOT"/sql/[0-9][0-9][0-9][0-9]-*.sql; do
		echo "0644 $DATADIR/sql/$(basename "$f") $f"
	done
	echo "0644 $DATADIR/crontab render:crontab"
	echo "0644 $DATADIR/openapi.yaml $ROOT/docs/openapi.yaml"
	for f in "$ROOT"/httpd-conf/errors/api-error-*.html "$ROOT"/httpd-conf/errors/request-id.lua; do
		echo "0644 $DATADIR/errors/$(basename "$f") $f"
	done
	for f in "$ROOT"/docs/man/*.[1-8]; do
		f=$(basename "$f")
		echo "0644 $MANDIR/man${f##*.}/$f render:man:$f"
	done
	echo "0640 $CONFDIR/app.conf render:appconf keep"
	echo "0644 $APACHECONFDIR/upwork-api.conf render:apache"
	echo "0644 $LIGHTTPDCONFDIR/50-upwork-api.conf render:lighttpd"
	echo "0644 $CRONDIR/upwork-api render:crond"
	echo "0644 $LOGROTATEDIR/upwork-api render:logrotate"
	echo "0644 $SYSTEMDUNITDIR/upwork-api-fcgi@.service render:fcgi-unit"
	echo "0644 $SYSTEMDUNITDIR/upwork-api-broadcaster.service render:broadcaster-unit"
	echo "0644 $SYSTEMDUNITDIR/upwork-api.target render:target"
}

# --- generated files ---------------------------------------------------------

# Replace every @NAME@ of the layout (and CONF, SQLDIR) by its value;
# a placeholder left over is a bug.
subst() {
	awk -v names="$LAYOUT CONF SQLDIR" -v what="$1" '
		BEGIN { n = split(names, k, /[ \n]+/) }
		{
			for (i = 1; i <= n; i++) {
				if (k[i] == "") continue
				pat = "@" k[i] "@"; out = ""; s = $0
				while ((j = index(s, pat)) > 0) {
					out = out substr(s, 1, j - 1) ENVIRON[k[i]]
					s = substr(s, j + length(pat))
				}
				$0 = out s
			}
			if (match($0, /@[A-Z_]+@/)) {
				printf "dist: %s: %s is not filled in\n", what, substr($0, RSTART, RLENGTH) > "/dev/stderr"
				bad = 1
			}
			print
		}
		END { exit bad }'
}

# A template with the line @NAME@ replaced by what a function prints.
expand() {
	local tpl=$1 name=$2 fn=$3 text
	text=$($fn)
	# ENVIRON, not -v: awk would undo the backslashes of the routes.
	TEXT=$text awk -v name="@$name@" '$0 == name { print ENVIRON["TEXT"]; next } { print }' "$tpl"
}

# Apache: one ProxyPassMatch per route, first match wins, as in routes.
apache_routes() {
	awk -v run="$RUNDIR" -v push="$PUSH_LISTEN" '
		!/^#/ && NF >= 2 && $2 == "push" {
			# mod_proxy_http; no $1 in the target, so the whole path is
			# appended.  The worker parameters go with its first route:
			# upgrade=websocket lets WebSocket upgrades through.
			printf "ProxyPassMatch \"%s\" \"http://%s\"%s\n", $1, push, (pushed++ ? "" : " upgrade=websocket") " mapping=encoded"
			next
		}
		!/^#/ && NF >= 2 && $3 != "bench" {
			printf "ProxyPassMatch \"%s\" \"unix:%s/%s/fcgi.sock|fcgi://upwork-api-%s/\"%s mapping=encoded\n", \
			    $1, run, $2, $2, (seen[$2]++ ? "" : " flushpackets=on")
			if ($3 == "local")
				local[++nlocal] = $1
		}
		END {
			# From the loopback address only (mod_authz_host,
			# on by default in Debian); the program checks
			# metrics_allow too.  Add the address of a Prometheus host here.
			for (i = 1; i <= nlocal; i++)
				printf "<LocationMatch \"%s\">\n    <IfModule mod_authz_host.c>\n        Require ip 127.0.0.1 ::1\n    </IfModule>\n</LocationMatch>\n", local[i]
		}' "$ROUTES"
}

# lighttpd: a chain of url conditions, first match wins, as in routes.
lighttpd_routes() {
	local host=${PUSH_LISTEN%:*} port=${PUSH_LISTEN##*:}
	host=${host#[}
	host=${host%]}
	awk -v run="$RUNDIR" -v host="$host" -v port="$port" '
		!/^#/ && NF >= 2 && ($2 == "push" || $3 != "bench") {
			printf "%s$HTTP[\"url\"] =~ \"%s\" {\n", (n++ ? "else " : ""), $1
			print "    server.stream-response-body = 2"
			if ($2 == "push") {
				# The broadcaster over HTTP; its own pings and
				# keep-alives bound idle connections.
				printf "    proxy.server = ( \"\" => ( ( \"host\" => \"%s\", \"port\" => %s ) ) )\n", host, port
				if ($3 == "websocket")
					print "    proxy.header = ( \"upgrade\" => \"enable\" )"
				print "    server.max-read-idle = 3600\n    server.max-write-idle = 3600"
			} else {
				# "local": from the loopback address only (no
				# handler otherwise: a 404); add a Prometheus host here.
				if ($3 == "local")
					print "    $HTTP[\"remoteip\"] =~ \"^(127\\.0\\.0\\.1|::1)$\" {"
				printf "    fastcgi.server = ( \"/\" => ( ( \"socket\" => \"%s/%s/fcgi.sock\",\n", run, $2
				print  "                                    \"check-local\" => \"disable\" ) ) )"
				if ($3 == "local")
					print "    }"
			}
			print "}"
		}' "$ROUTES"
}

target_wants() {
	local p
	echo "Wants=upwork-api-broadcaster.service"
	for p in $(programs); do
		echo "Wants=upwork-api-fcgi@$p.service"
	done
}

# cron.d from cron/crontab: its variables, then each job with the user
# field and a test that the binary is still installed (a removed but not
# purged package keeps this file), commented out.
crond_env() {
	awk '/^[A-Z_]+=/' "$ROOT/cron/crontab"
}
crond_jobs() {
	awk -v user="$APPUSER" '
		/^[ \t]*(#|$)/ || /^[A-Z_]+=/ { next }
		{
			cmd = $0
			for (i = 1; i <= 5; i++) sub(/^[ \t]*[^ \t]+/, "", cmd)
			sub(/^[ \t]+/, "", cmd)
			bin = cmd; sub(/[ \t].*/, "", bin)
			printf "#%-5s %-2s %-3s %-3s %-4s %-11s [ -x %s ] && %s\n", $1, $2, $3, $4, $5, user, bin, cmd
		}' "$ROOT/cron/crontab"
}

# app.conf: every knob, as the programs know them (check-config
# --print-knobs), commented out at its default, but for the @SET lines
# of the template, which are set.
knobs() {
	env -u APP_CONFIG "$BUILD/tools/check-config" --print-knobs
}
appconf() {
	local table
	table=$(knobs) || die "cannot list the knobs"
	TABLE=$table awk '
		/^@SET / { line = substr($0, 6); k = line; sub(/[ \t]*=.*/, "", k); set[k] = line; next }
		$0 != "@KNOBS@" { print; next }
		{
			n = split(ENVIRON["TABLE"], rows, "\n")
			for (i = 1; i <= n; i++) {
				split(rows[i], f, "\t")
				key = f[1]; def = f[2]; doc = f[3]
				group = key; sub(/_.*/, "", group)
				if (group != last) print ""
				last = group
				# The description, wrapped at 76 columns.
				text = doc (def == "" ? "" : " (default: " def ")")
				while (length(text) > 74) {
					cut = 74
					while (cut > 20 && substr(text, cut, 1) != " ") cut--
					print "# " substr(text, 1, cut - 1)
					text = substr(text, cut + 1)
				}
				print "# " text
				if (key in set) { print set[key]; used[key] = 1 }
				else print "#" key " =" (def == "" ? "" : " " def)
			}
			for (k in set)
				if (!(k in used)) { printf "dist: app.conf sets %s, which no program knows\n", k > "/dev/stderr"; bad = 1 }
		}
		END { exit bad }' "$DIST/app.conf.in"
}

# A command of bin/ or sbin/: the program under LIBDIR with the
# installed configuration.
wrapper() {
	local name=$1 what=$2 target=$3
	cat <<EOF
#!/bin/sh
# upwork-api-$name: $what, with the installed configuration ($CONF; APP_CONFIG overrides).
APP_CONFIG=\${APP_CONFIG:-$CONF} exec $target "\$@"
EOF
}

render() {
	case $1 in
	apache) expand "$DIST/apache-upwork-api.conf.in" ROUTES apache_routes | subst "$1" ;;
	lighttpd) expand "$DIST/lighttpd-upwork-api.conf.in" ROUTES lighttpd_routes | subst "$1" ;;
	fcgi-unit) subst "$1" <"$DIST/upwork-api-fcgi@.service.in" ;;
	broadcaster-unit) subst "$1" <"$DIST/upwork-api-broadcaster.service.in" ;;
	target) expand "$DIST/upwork-api.target.in" WANTS target_wants | subst "$1" ;;
	crond) expand "$DIST/cron.d.in" ENV crond_env | expand /dev/stdin JOBS crond_jobs | subst "$1" ;;
	crontab) subst "$1" <"$ROOT/cron/crontab" ;;
	logrotate) subst "$1" <"$DIST/logrotate.in" ;;
	appconf) appconf | subst "$1" ;;
	setup) subst "$1" <"$ROOT/scripts/setup.sh" ;;
	man:*) subst "$1" <"$ROOT/docs/man/${1#man:}" ;;
	migrate) subst "$1" <"$ROOT/scripts/migrate.sh" ;;
	broadcaster) wrapper broadcaster "the realtime broadcaster (Socket.IO, Server-Sent Events; it does not fork)" \
	    "$LIBDIR/push/broadcaster" ;;
	publish) wrapper publish "publish one realtime event through Redis (--help for usage)" \
	    "$LIBDIR/tools/publish" ;;
	check-config) wrapper check-config "check the configuration as the programs read it (--print-knobs lists every knob)" \
	    "$LIBDIR/tools/check-config" ;;
	*) die "render: no file named $1" ;;
	esac
}

# --- install, uninstall ---------------------------------------------------------

install_all() {
	local mode dest src keep target
	manifest >/dev/null
	while read -r mode dest src keep; do
		target=$DESTDIR$dest
		if [ "$keep" = keep ] && [ -e "$target" ]; then
			say "install: $dest exists: kept (the new one is $target.dist)"
			render "${src#render:}" >"$target.dist.tmp"
			chmod "$mode" "$target.dist.tmp"
			mv -f "$target.dist.tmp" "$target.dist"
			continue
		fi
		# mkdir, not install -d: existing directories keep their mode
		# (Debian's /usr/local ones are 2775).
		(umask 022 && mkdir -p "$(dirname "$target")")
		# Into a new file, then renamed: a running program keeps its
		# old binary, and a failure leaves nothing half-written.
		case $src in
		render:*) render "${src#render:}" >"$target.tmp" ;;
		*) [ -f "$src" ] || die "$src is missing (make all)"; cp "$src" "$target.tmp" ;;
		esac
		chmod "$mode" "$target.tmp"
		mv -f "$target.tmp" "$target"
	done < <(manifest)
	if [ -n "$DESTDIR" ]; then
		return 0
	fi
	if [ "$(id -u)" = 0 ]; then
		"$LIBDIR/setup"
	else
		say "install: not root: run $LIBDIR/setup as root to create the user $APPUSER, its directories and secrets"
	fi
}

uninstall_all() {
	local mode dest src keep d link
	while read -r mode dest src keep; do
		[ "$keep" = keep ] && continue
		rm -f "$DESTDIR$dest"
	done < <(manifest)
	rm -f "$DESTDIR$CONFDIR/app.conf.dist"
	# An enabled web server snippet now points nowhere, which stops the
	# server from starting: the link goes too.
	for link in "$DESTDIR${APACHECONFDIR%/*}/conf-enabled/upwork-api.conf" \
	    "$DESTDIR${LIGHTTPDCONFDIR%/*}/conf-enabled/50-upwork-api.conf"; do
		if [ -L "$link" ] && [ ! -e "$link" ]; then
			rm -f "$link"
			say "uninstall: removed $link (it named the removed snippet)"
		fi
	done
	for d in "$LIBDIR/cgi-bin" "$LIBDIR/cron" "$LIBDIR/push" "$LIBDIR/tools" "$LIBDIR" \
	    "$DATADIR/sql" "$DATADIR"; do
		rmdir "$DESTDIR$d" 2>/dev/null || true
	done
	say "uninstall: kept $CONFDIR (app.conf, secrets), $LOGDIR, $STATEDIR and the user $APPUSER"
	[ ! -L "$DESTDIR/etc/systemd/system/multi-user.target.wants/upwork-api.target" ] ||
	    say "uninstall: upwork-api.target is still enabled: systemctl disable upwork-api.target"
}

case ${1:-} in
programs) programs ;;
manifest) need_layout; manifest ;;
render) [ $# = 2 ] || die "usage: $0 render NAME"; need_layout; render "$2" ;;
install) need_layout; install_all ;;
uninstall) need_layout; uninstall_all ;;
*) die "usage: $0 programs|manifest|render NAME|install|uninstall" ;;
esac
