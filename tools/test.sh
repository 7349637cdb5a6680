#!/usr/bin/env bash
# The README's test command: install what is missing, build, stage the
# extension, start a throwaway cluster, run pg_regress and the pgTAP suites,
# stop the cluster (even on failure) and print one line "N passed, N failed".
#
#   VALGRIND=1 tools/test.sh   run the server under valgrind memcheck and fail
#                              on any error report with a crm frame in it
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/tools/setup.sh" || die "set-up failed"
build_and_stage
# pg_cron's launcher works in the pgTAP database, so that the tests can
# schedule the data audit for real; tools/pg.sh start creates it.
export CRM_CRON_DB=crm_tap
"$ROOT/tools/pg.sh" destroy >/dev/null 2>&1 || true
"$ROOT/tools/pg.sh" start || die "could not start the test cluster"
trap '"$ROOT/tools/pg.sh" destroy >/dev/null 2>&1 || true' EXIT

LOG=$PGBASE/logs
rm -rf "$LOG"; mkdir -p "$LOG"
passed=0; failed=0

# pg_regress: one result line per file, "ok" or "FAILED".
rm -rf test/regress
make -s PG_CONFIG="$PG_CONFIG" installcheck >"$LOG/regress.log" 2>&1
regress_status=$?
cat "$LOG/regress.log"
r_ok=$(grep -cE '^(ok|test) .* \.\.\. ok|^ok [0-9]+ ' "$LOG/regress.log" || true)
r_bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' "$LOG/regress.log" || true)
if [ "$regress_status" -ne 0 ] && [ "$r_bad" -eq 0 ]; then r_bad=1; fi
passed=$((passed + r_ok)); failed=$((failed + r_bad))
if [ -s test/regress/regression.diffs ]; then
	echo "---- regression.diffs ----"
	cat test/regress/regression.diffs
fi

# pgTAP: every test/*.sql runs in one database with crm, pgtap and pg_cron
# installed; each file wraps itself in a transaction that it rolls back.
"$PG_BINDIR/psql" -qX -d crm_tap -v ON_ERROR_STOP=1 \
	-c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION crm CASCADE' -c 'CREATE EXTENSION pg_cron' \
	>"$LOG/tap-setup.log" 2>&1 \
	|| { cat "$LOG/tap-setup.log"; failed=$((failed + 1)); }
shopt -s nullglob
tap_files=(test/*.sql)
if [ ${#tap_files[@]} -gt 0 ]; then
	pg_prove --verbose -d crm_tap "${tap_files[@]}" >"$LOG/tap.log" 2>&1
	tap_status=$?
	grep -vE '^ok [0-9]+' "$LOG/tap.log"
	t_ok=$(grep -cE '^ok [0-9]+' "$LOG/tap.log" || true)
	t_bad=$(grep -cE '^not ok [0-9]+' "$LOG/tap.log" || true)
	if [ "$tap_status" -ne 0 ] && [ "$t_bad" -eq 0 ]; then t_bad=1; fi
	passed=$((passed + t_ok)); failed=$((failed + t_bad))
fi

# Docs are part of the feature: every callable function, table, view and
# type of schema crm must be named (as crm.NAME) somewhere in docs/.
undocumented=$("$PG_BINDIR/psql" -X -At -d crm_tap -c "
	SELECT DISTINCT p.proname FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.proname NOT LIKE '\_%'
	   AND p.prorettype <> 'trigger'::regtype
	   AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE p.oid IN (t.typinput, t.typoutput, t.typreceive, t.typsend))
	   AND NOT EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprcode = p.oid)
	   AND NOT EXISTS (SELECT 1 FROM pg_amproc a WHERE a.amproc = p.oid)
	UNION SELECT relname FROM pg_class WHERE relnamespace = 'crm'::regnamespace AND relkind IN ('r', 'p', 'v', 'm')
	UNION SELECT typname FROM pg_type WHERE typnamespace = 'crm'::regnamespace AND typtype IN ('b', 'd', 'e') AND typcategory <> 'A'" |
	while read -r name; do
		grep -rqE "crm\.$name([^a-z0-9_]|\$)" docs/ || echo "$name"
	done)
if [ -n "$undocumented" ]; then
	echo "not ok - docs/ name every callable crm object; missing: $(echo $undocumented)"
	failed=$((failed + 1))
else
	echo "ok - docs/ name every callable crm object"
	passed=$((passed + 1))
fi

if [ "${VALGRIND:-0}" = 1 ]; then
	"$ROOT/tools/pg.sh" stop
	# An error block counts when any frame in it is in crm's library: a
	# frame in crm.so, or one of our source files named with its line.
	ours=$(cd src && ls *.c *.cpp 2>/dev/null | sed 's/\./\\./' | paste -sd'|')
	vg_bad=$(awk -v ours="crm\\.so|[( ](${ours}):[0-9]+" '/^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Mismatched|Source and destination overlap|Syscall param)/{inblock=1; hit=0; next}
		inblock && $0 ~ ours {hit=1}
		inblock && /^==[0-9]+== $/ {if (hit) n++; inblock=0}
		END {print n+0}' "$PGBASE"/valgrind/*.log 2>/dev/null)
	if [ "${vg_bad:-0}" -gt 0 ]; then
		grep -l 'crm\.so' "$PGBASE"/valgrind/*.log | head -5 | xargs cat
		failed=$((failed + vg_bad))
	fi
	echo "valgrind: $vg_bad error(s) involving crm"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
