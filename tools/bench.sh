#!/usr/bin/env bash
# Run the benchmarks in bench/ against a throwaway cluster and print one
# table: each figure beside its baseline measured in the same run, and the
# ratio.  tools/bench.sh [NAME...] runs only bench/NAME.sql.
# BENCH_ROWS sets the data size (psql variable :rows, default 1000000).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

ROWS=${BENCH_ROWS:-1000000}
"$ROOT/tools/setup.sh" || die "set-up failed"
build_and_stage
"$ROOT/tools/pg.sh" destroy >/dev/null 2>&1 || true
"$ROOT/tools/pg.sh" start || die "could not start the bench cluster"
trap '"$ROOT/tools/pg.sh" destroy >/dev/null 2>&1 || true' EXIT

if [ $# -gt 0 ]; then files=(); for n in "$@"; do files+=("bench/$n.sql"); done
else files=(bench/*.sql); fi

OUT=$PGBASE/bench-results.txt
: >"$OUT"
psql() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
status=0
for f in "${files[@]}"; do
	[ -f "$f" ] || die "no such benchmark: $f"
	name=$(basename "$f" .sql)
	db=crm_bench_$name
	echo "== $name (rows=$ROWS)" >&2
	psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	psql -d "$db" -c 'CREATE EXTENSION crm CASCADE' -f tools/bench_harness.sql >/dev/null
	if ! psql -d "$db" -v rows="$ROWS" -f "$f" >"$PGBASE/bench-$name.log" 2>&1; then
		cat "$PGBASE/bench-$name.log" >&2
		status=1
	fi
	psql -d "$db" -At -F $'\t' -c "SELECT '$name', label, ours_ms, baseline_label, baseline_ms, value, unit
		FROM bench.results ORDER BY seq" >>"$OUT"
	psql -d postgres -c "DROP DATABASE $db" >/dev/null
done

awk -F'\t' -v rows="$ROWS" '
BEGIN {
	printf "\n%-12s %-44s %12s  %-30s %12s %8s\n", "bench", "benchmark (rows=" rows ")", "ms", "baseline", "ms", "ratio"
	printf "%s\n", "------------------------------------------------------------------------------------------------------------------------------"
}
$3 != "" {
	printf "%-12s %-44s %12.1f  %-30s %12.1f %7.2fx\n", $1, $2, $3, $4, $5, ($5 > 0 ? $3 / $5 : 0)
}
$3 == "" {
	printf "%-12s %-44s %12s  %s\n", $1, $2, $6, $7
}' "$OUT"
exit $status
