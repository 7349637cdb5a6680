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

-- A random element of an array, for generating data.
CREATE FUNCTION bench.pick(a text[]) RETURNS text
LANGUAGE sql VOLATILE
RETURN a[1 + floor(random() * cardinality(a))::int];

-- One timed run of a statement, as an absolute figure.
CREATE FUNCTION bench.time_once(label text, stmt text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE stmt;
	PERFORM bench.note(label, round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 1), 'ms');
END $$;

-- The backend's own CPU time so far, user + system, in ms (from /proc; the
-- benchmarks run as a superuser): other work on a shared machine inflates
-- it much less than the wall clock.
CREATE FUNCTION bench.cpu_ms() RETURNS float8
LANGUAGE sql VOLATILE
RETURN (SELECT (f[12]::float8 + f[13]::float8) * 1000 / 100
		  FROM (SELECT string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ')
					   AS f) x);

-- The backend CPU time of one run of a statement, as an absolute figure.
CREATE FUNCTION bench.cpu_once(label text, stmt text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	c0 float8 := bench.cpu_ms();
BEGIN
	EXECUTE stmt;
	PERFORM bench.note(label, round((bench.cpu_ms() - c0)::numeric), 'ms CPU');
END $$;
