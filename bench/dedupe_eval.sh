#!/usr/bin/env bash
# Dedupe quality on public labelled data: pairwise precision, recall and F1
# of crm.find_duplicates at probability >= 0.5, with a model trained without
# labels and with labels, printed beside Splink's published figures.
#
#   bench/dedupe_eval.sh            build, start a throwaway cluster, evaluate
#   DATA=/path/to/shared/data bench/dedupe_eval.sh
#
# Data sets (see ../shared/data/*/README.md): Febrl 0.2.1 dataset3 (5,000
# people, 6,538 true pairs), Splink's fake_1000 (1,000 people, 2,031 true
# pairs) and dedupe's csv_example (3,337 Chicago sites, 6,608 true pairs).
# Every data set goes through the same code: a mapping of its columns to
# field kinds, the default blocking rules, crm.train_matcher, then
# crm.find_duplicates.  "With labels" trains m on the true pairs of half
# of the entities (even entity numbers; fake_1000: its published clerical
# labels) and is scored on all records.
set -uo pipefail
. "$(dirname "$0")/../tools/lib.sh"
cd "$ROOT"

DATA=${DATA:-}
for d in "$ROOT/../shared/data" "$ROOT/../../shared/data" /work/shared/data; do
	[ -z "$DATA" ] && [ -f "$d/febrl/dataset3.csv" ] && DATA=$(cd "$d" && pwd)
done
[ -n "$DATA" ] || die "shared data not found; set DATA=/path/to/shared/data"

"$ROOT/tools/setup.sh" || die "set-up failed"
build_and_stage
"$ROOT/tools/pg.sh" destroy >/dev/null 2>&1 || true
"$ROOT/tools/pg.sh" start || die "could not start the cluster"
trap '"$ROOT/tools/pg.sh" destroy >/dev/null 2>&1 || true' EXIT

psql() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -d postgres -c "DROP DATABASE IF EXISTS crm_eval" -c "CREATE DATABASE crm_eval" >/dev/null
psql -d crm_eval -c "CREATE EXTENSION crm CASCADE" >/dev/null

# Febrl: ", "-separated, no quoting; trim every field.
psql -d crm_eval -c "CREATE TABLE febrl3 (rec_id text PRIMARY KEY, given_name text, surname text,
	street_number text, address_1 text, address_2 text, suburb text, postcode text, state text,
	date_of_birth text, soc_sec_id text)"
sed 1d "$DATA/febrl/dataset3.csv" | sed 's/ *, */,/g; s/^ *//; s/ *$//' |
	psql -d crm_eval -c "\\copy febrl3 FROM STDIN WITH (FORMAT csv)"
psql -d crm_eval -c "CREATE TABLE fake_1000 (unique_id int PRIMARY KEY, first_name text, surname text,
	dob text, city text, email text, cluster int)" \
	-c "\\copy fake_1000 FROM '$DATA/splink_datasets/fake_1000.csv' WITH (FORMAT csv, HEADER)" \
	-c "CREATE TABLE fake_1000_labels (unique_id_l int, source_dataset_l text, unique_id_r int,
	source_dataset_r text, clerical_match_score float8)" \
	-c "\\copy fake_1000_labels FROM '$DATA/splink_datasets/fake_1000_labels.csv' WITH (FORMAT csv, HEADER)"
# csv_example: RFC 4180 with newlines inside quoted fields.
cols=$(head -1 "$DATA/dedupe_csv_example/csv_example_input_with_true_ids.csv" | tr -d '\r' |
	sed 's/"\([^"]*\)"/"\1" text/g')
psql -d crm_eval -c "CREATE TABLE csv_example ($cols)" \
	-c "\\copy csv_example FROM '$DATA/dedupe_csv_example/csv_example_input_with_true_ids.csv' WITH (FORMAT csv, HEADER)"

psql -d crm_eval <<'SQL'
CREATE TABLE eval_sets (name text PRIMARY KEY, source regclass, mapping jsonb, truth text, labels text, splink_f1 numeric);
INSERT INTO eval_sets VALUES
('febrl3', 'febrl3',
 '{"id": "rec_id", "given_name": "given_name", "family_name": "surname",
   "address": ["street_number", "address_1", "address_2"], "city": "suburb", "postcode": "postcode",
   "region": "state", "birth_date": "date_of_birth", "external_id": "soc_sec_id"}',
 $$SELECT a.rec_id AS a, b.rec_id AS b FROM febrl3 a JOIN febrl3 b
     ON substring(a.rec_id FROM '^rec-(\d+)-') = substring(b.rec_id FROM '^rec-(\d+)-') AND a.rec_id < b.rec_id$$,
 $$SELECT a.rec_id AS id_a, b.rec_id AS id_b, true AS is_match FROM febrl3 a JOIN febrl3 b
     ON substring(a.rec_id FROM '^rec-(\d+)-') = substring(b.rec_id FROM '^rec-(\d+)-') AND a.rec_id < b.rec_id
    WHERE substring(a.rec_id FROM '^rec-(\d+)-')::int % 2 = 0$$,
 0.993),
('fake_1000', 'fake_1000',
 '{"id": "unique_id", "given_name": "first_name", "family_name": "surname", "birth_date": "dob",
   "city": "city", "email": "email"}',
 $$SELECT a.unique_id::text AS a, b.unique_id::text AS b FROM fake_1000 a JOIN fake_1000 b
     ON a.cluster = b.cluster AND a.unique_id::text < b.unique_id::text$$,
 $$SELECT unique_id_l AS id_a, unique_id_r AS id_b, clerical_match_score >= 0.5 AS is_match FROM fake_1000_labels$$,
 0.806),
('dedupe_csv_example', 'csv_example',
 '{"id": "Id", "company": "Site name", "address": "Address", "postcode": "Zip", "phone": "Phone",
   "website": "Website", "email": "Email Address"}',
 $$SELECT a."Id" AS a, b."Id" AS b FROM csv_example a JOIN csv_example b
     ON a."True Id" = b."True Id" AND a."Id" < b."Id"$$,
 $$SELECT a."Id" AS id_a, b."Id" AS id_b, true AS is_match FROM csv_example a JOIN csv_example b
     ON a."True Id" = b."True Id" AND a."Id" < b."Id" WHERE a."True Id"::bigint % 2 = 0$$,
 NULL);

CREATE TABLE eval_results (name text, training text, pairs_true int, pairs_found int, tp int,
	precision numeric, recall numeric, f1 numeric, train_s numeric, find_s numeric, splink_f1 numeric);

CREATE FUNCTION eval_run(s eval_sets, with_labels bool) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	t1 timestamptz;
	t2 timestamptz;
	nt int;
	nf int;
	ntp int;
BEGIN
	EXECUTE 'DROP TABLE IF EXISTS eval_truth, eval_found, eval_labels';
	EXECUTE 'CREATE TEMP TABLE eval_truth AS ' || s.truth;
	t0 := clock_timestamp();
	IF with_labels THEN
		EXECUTE 'CREATE TEMP TABLE eval_labels AS ' || s.labels;
		PERFORM crm.train_matcher(s.source, s.mapping, 'eval_labels');
	ELSE
		PERFORM crm.train_matcher(s.source, s.mapping);
	END IF;
	t1 := clock_timestamp();
	CREATE TEMP TABLE eval_found AS
		SELECT least(id_a, id_b) AS a, greatest(id_a, id_b) AS b FROM crm.find_duplicates(s.source, s.mapping, 0.5);
	t2 := clock_timestamp();
	SELECT count(*) INTO nt FROM eval_truth;
	SELECT count(*) INTO nf FROM eval_found;
	SELECT count(*) INTO ntp FROM eval_found f JOIN eval_truth t ON (least(t.a, t.b), greatest(t.a, t.b)) = (f.a, f.b);
	INSERT INTO eval_results VALUES (s.name, CASE WHEN with_labels THEN 'labels' ELSE 'no labels' END, nt, nf, ntp,
		round(ntp::numeric / greatest(nf, 1), 4), round(ntp::numeric / greatest(nt, 1), 4),
		round(2.0 * ntp / greatest(nf + nt, 1), 4),
		round(extract(epoch FROM t1 - t0)::numeric, 2), round(extract(epoch FROM t2 - t1)::numeric, 2),
		CASE WHEN NOT with_labels THEN s.splink_f1 END);
END $$;

SET client_min_messages = warning;
\o /dev/null
SELECT eval_run(s, false) FROM eval_sets s;
SELECT eval_run(s, true) FROM eval_sets s;
\o
\pset footer off
SELECT name AS "data set", training, pairs_true AS "true pairs", pairs_found AS "found",
       precision, recall, f1 AS "F1", coalesce(splink_f1::text, '') AS "Splink F1",
       train_s AS "train s", find_s AS "find s"
  FROM eval_results ORDER BY training DESC, name;
SQL
