#!/usr/bin/env bash
# Manage crm's throwaway PostgreSQL cluster: start, stop, status, psql, env.
#
#   tools/pg.sh start [--tcp]   initdb if needed and start (Unix socket only,
#                               unless --tcp: then also 127.0.0.1)
#   tools/pg.sh stop            stop it
#   tools/pg.sh status
#   tools/pg.sh psql [ARGS]     connect (database crm_demo unless -d is given)
#   tools/pg.sh env             print the exports that make plain psql connect
#   tools/pg.sh destroy         stop and delete the cluster
#
# It only ever touches the cluster it created: the data directory carries a
# marker file, and nothing without that marker is stopped or deleted.
# VALGRIND=1 starts the server under valgrind memcheck (see docs/testing.md).
#
# pg_cron is preloaded, and its launcher works in database CRM_CRON_DB
# (default crm_demo; tools/test.sh uses crm_tap).  pg_cron reads that setting
# only at server start, so start rewrites it in postgresql.conf every time and
# creates the database right away (the launcher fails and retries each second
# while its database is missing).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MARKER=$PGDATA_DIR/crm_throwaway_cluster
CRON_DB=${CRM_CRON_DB:-crm_demo}
case $CRON_DB in *[!a-z0-9_]*|'') die "CRM_CRON_DB must be a plain lower-case database name";; esac

ours() { [ -f "$MARKER" ]; }
running() { ours && as_pg "$STAGE_BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

cmd_start() {
	local tcp=no
	[ "${1:-}" = --tcp ] && tcp=yes
	[ -x "$STAGE_BINDIR/postgres" ] || die "no staged install in $STAGE; run tools/test.sh or tools/demo.sh first"
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGBASE"
		chown postgres: "$PGBASE"
	fi
	if [ -d "$PGDATA_DIR" ] && ! ours; then
		die "$PGDATA_DIR exists but was not created by crm; not touching it"
	fi
	if running; then say "cluster already running ($PGDATA_DIR)"; return; fi
	if [ ! -d "$PGDATA_DIR" ]; then
		as_pg mkdir -p "$PGDATA_DIR" "$PGSOCK_DIR"
		as_pg "$STAGE_BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -A trust \
			-E UTF8 --locale=C.UTF-8 >"$PGBASE/initdb.log" 2>&1 \
			|| { cat "$PGBASE/initdb.log" >&2; die "initdb failed"; }
		as_pg touch "$MARKER"
		as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null <<-CONF
		# crm throwaway cluster
		unix_socket_directories = '$PGSOCK_DIR'
		port = $PGPORT
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		shared_buffers = 512MB
		max_connections = 50
		log_min_messages = warning
		jit = off
		lc_messages = 'C'
		CONF
	fi
	# The pg_cron lines carry a tag so each start replaces them.  Jobs connect
	# over our Unix socket (cron.host), since the cluster has no TCP by default.
	as_pg sed -i '/# crm-cron$/d' "$PGDATA_DIR/postgresql.conf"
	as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null <<-CONF
	shared_preload_libraries = 'pg_cron'	# crm-cron
	cron.database_name = '$CRON_DB'	# crm-cron
	cron.host = '$PGSOCK_DIR'	# crm-cron
	CONF
	as_pg chmod 700 "$PGDATA_DIR"
	as_pg mkdir -p "$PGSOCK_DIR"
	local listen="''"
	[ $tcp = yes ] && listen=127.0.0.1
	if [ "${VALGRIND:-0}" = 1 ]; then
		as_pg mkdir -p "$PGBASE/valgrind"
		rm -f "$PGBASE"/valgrind/*.log
		as_pg bash -c "nohup valgrind --quiet --trace-children=yes --track-origins=yes \
			--read-var-info=no --num-callers=30 --leak-check=no \
			--suppressions='$ROOT/tools/valgrind.supp' \
			--log-file='$PGBASE/valgrind/%p.log' \
			'$STAGE_BINDIR/postgres' -D '$PGDATA_DIR' -c listen_addresses=$listen \
			>'$PGBASE/server.log' 2>&1 &"
		for _ in $(seq 1 120); do
			"$STAGE_BINDIR/pg_isready" -q -h "$PGSOCK_DIR" -p "$PGPORT" && break
			sleep 1
		done
	else
		as_pg "$STAGE_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$PGBASE/server.log" -w -t 60 \
			-o "-c listen_addresses=$listen" start >/dev/null \
			|| { tail -20 "$PGBASE/server.log" >&2; die "server did not start"; }
	fi
	"$STAGE_BINDIR/pg_isready" -q -h "$PGSOCK_DIR" -p "$PGPORT" || die "server did not come up; see $PGBASE/server.log"
	if [ -z "$("$PG_BINDIR/psql" -XAt -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$CRON_DB'")" ]; then
		"$PG_BINDIR/psql" -qX -d postgres -c "CREATE DATABASE $CRON_DB" >/dev/null \
			|| die "could not create database $CRON_DB for pg_cron"
	fi
}

cmd_stop() {
	ours || { say "no crm cluster at $PGDATA_DIR"; return 0; }
	running || return 0
	as_pg "$STAGE_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 120 stop >/dev/null
}

cmd_status() {
	if running; then echo "running: $PGDATA_DIR (socket $PGSOCK_DIR, port $PGPORT)"
	elif ours; then echo "stopped: $PGDATA_DIR"
	else echo "no cluster"; fi
}

cmd_psql() {
	local has_db=no
	for a in "$@"; do case $a in -d|--dbname=*|-l) has_db=yes;; esac; done
	if [ $has_db = yes ]; then exec "$PG_BINDIR/psql" "$@"; fi
	exec "$PG_BINDIR/psql" -d crm_demo "$@"
}

cmd_env() {
	echo "export PGHOST='$PGSOCK_DIR' PGPORT=$PGPORT PGUSER=postgres"
}

cmd_destroy() {
	cmd_stop
	if ours; then rm -rf "$PGDATA_DIR"; fi
}

case ${1:-} in
	start) shift; cmd_start "$@";;
	stop) cmd_stop;;
	status) cmd_status;;
	psql) shift; cmd_psql "$@";;
	env) cmd_env;;
	destroy) cmd_destroy;;
	*) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2;;
esac
