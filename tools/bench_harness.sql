-- Benchmark harness, loaded by tools/bench.sh into each benchmark database.
-- bench.compare() runs our statement and the nearest built-in or contrib
-- equivalent alternately, `loops` times each, and keeps the medians.
CREATE SCHEMA bench;

CREATE TABLE bench.results (
	seq serial,
	label text NOT NULL,
	ours_ms float8,
	baseline_label text,
	baseline_ms float8,
	value numeric,
	unit text
);

CREATE FUNCTION bench.median(float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE
RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest($1) AS x);

CREATE FUNCTION bench.compare(label text, ours text, baseline_label text, baseline text,
							  loops int DEFAULT 3)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	a float8[] := '{}';
	b float8[] := '{}';
BEGIN
	FOR i IN 1..loops LOOP
		t0 := clock_timestamp();
		EXECUTE baseline;
		b := b || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
		t0 := clock_timestamp();
		EXECUTE ours;
		a := a || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
	END LOOP;
	INSERT INTO bench.results (label, ours_ms, baseline_label, baseline_ms)
	VALUES (label, bench.median(a), baseline_label, bench.median(b));
	RETURN format('%s: %s ms vs %s %s ms', label, round(bench.median(a)::numeric, 1),
				  baseline_label, round(bench.median(b)::numeric, 1));
END $$;

CREATE FUNCTION bench.note(label text, value numeric, unit text) RETURNS text
LANGUAGE sql
BEGIN ATOMIC
	INSERT INTO bench.results (label, value, unit) VALUES (label, value, unit);
	SELECT format('%s: %s %s', label, value, unit);
END;
