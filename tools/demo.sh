#!/usr/bin/env bash
# The README's "run it" command: set everything up, start the local cluster,
# create database crm_demo with the extension and the sample data, and show
# what crm does with it, then stop the cluster.  --keep leaves it running so
# you can explore (tools/pg.sh stop ends it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

keep=false
case "${1:-}" in
	--keep) keep=true ;;
	"") ;;
	*) echo "usage: tools/demo.sh [--keep]" >&2; exit 2 ;;
esac

"$ROOT/tools/setup.sh"
build_and_stage
"$ROOT/tools/pg.sh" start
$keep || trap '"$ROOT/tools/pg.sh" stop >/dev/null 2>&1 || true' EXIT

psql() { "$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 -P pager=off "$@"; }
# pg_cron's launcher stays connected to crm_demo (tools/pg.sh), hence FORCE.
psql -q -d postgres -c 'SET client_min_messages = warning' \
	-c 'DROP DATABASE IF EXISTS crm_demo WITH (FORCE)' -c 'CREATE DATABASE crm_demo'
psql -q -d crm_demo -c 'CREATE EXTENSION crm CASCADE' \
	-c 'ALTER DATABASE crm_demo SET search_path = "$user", public, crm'
# pg_cron repeats the data audit (tools/demo/60_scoring.sql schedules it).  A
# cluster started with another CRM_CRON_DB cannot have it here; the demo then
# shows the audit unscheduled.
psql -q -d crm_demo -c 'CREATE EXTENSION pg_cron' 2>/dev/null \
	|| say "note: pg_cron is not available in crm_demo; restart the cluster with CRM_CRON_DB=crm_demo to use it"

# Each feature adds a section tools/demo/NN_name.sql; they run in order.
for f in tools/demo/[0-9]*.sql; do
	echo
	echo "=================== $(sed -n '1s/^-- *//p' "$f")"
	psql -d crm_demo -f "$f"
done

if $keep; then
	cat <<MSG

The demo cluster is still running.
  Connect:  tools/pg.sh psql                  (database crm_demo)
       or:  eval "\$(tools/pg.sh env)"; psql -d crm_demo
  Stop:     tools/pg.sh stop                  (tools/pg.sh destroy also deletes it)
MSG
else
	echo
	echo "Demo done; stopping its cluster (tools/demo.sh --keep leaves it running to explore)."
fi
