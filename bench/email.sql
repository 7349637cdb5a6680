-- crm.email: input cost against lower(text), and an equality join on
-- crm.email against the same join on text.  Targets (issue 3): input at
-- most 1.5x lower(text), join at most 1.2x the text join.
SET search_path = public, crm;

-- Addresses as they arrive: mixed case, some white space, a few
-- internationalized domains (1 in 100) and quoted local parts (1 in 1000).
CREATE TABLE bench_email_src AS
SELECT CASE
		WHEN g % 1000 = 0 THEN '"First Last ' || g || '"@Example' || (g % 997) || '.com'
		WHEN g % 100 = 0 THEN 'user' || g || '@bücher' || (g % 97) || '.de'
		WHEN g % 10 = 0 THEN '  First.Last' || g || '@Mail.Example' || (g % 991) || '.co.uk '
		ELSE 'First.Last' || g || '@Example' || (g % 983) || '.com'
	END AS t
  FROM generate_series(1, :rows) AS g;
VACUUM ANALYZE bench_email_src;

SELECT bench.compare('crm.email input',
	$q$SELECT count(crm.email(t)) FROM bench_email_src$q$,
	'lower(text)',
	$q$SELECT count(lower(t)) FROM bench_email_src$q$);

-- Two tables sharing half their addresses, once as crm.email, once as text.
CREATE TABLE bench_email_a AS SELECT crm.email(t) AS e FROM bench_email_src;
CREATE TABLE bench_email_b AS
SELECT crm.email(upper(t)) AS e FROM bench_email_src TABLESAMPLE BERNOULLI (50) REPEATABLE (42);
CREATE TABLE bench_text_a AS SELECT lower(t) AS e FROM bench_email_src;
CREATE TABLE bench_text_b AS
SELECT lower(t) AS e FROM bench_email_src TABLESAMPLE BERNOULLI (50) REPEATABLE (42);
VACUUM ANALYZE bench_email_a, bench_email_b, bench_text_a, bench_text_b;

SET max_parallel_workers_per_gather = 0;
SET work_mem = '256MB';
SELECT bench.compare('crm.email hash join',
	$q$SELECT count(*) FROM bench_email_a a JOIN bench_email_b b ON a.e = b.e$q$,
	'text hash join',
	$q$SELECT count(*) FROM bench_text_a a JOIN bench_text_b b ON a.e = b.e$q$);

SELECT bench.compare('crm.email GROUP BY (hash)',
	$q$SELECT count(*) FROM (SELECT e FROM bench_email_a GROUP BY e) s$q$,
	'text GROUP BY (hash)',
	$q$SELECT count(*) FROM (SELECT e FROM bench_text_a GROUP BY e) s$q$);

SELECT bench.note('crm.email stored size per value',
	(SELECT round(avg(pg_column_size(e)), 1) FROM bench_email_a), 'bytes');
SELECT bench.note('text (lower) stored size per value',
	(SELECT round(avg(pg_column_size(e)), 1) FROM bench_text_a), 'bytes');

-- Domain-list lookups (per-session hash table), against parsing alone.
SELECT bench.compare('crm.email_is_free(crm.email(t))',
	$q$SELECT count(*) FILTER (WHERE crm.email_is_free(crm.email(t))) FROM bench_email_src$q$,
	'crm.email(t) alone',
	$q$SELECT count(*) FILTER (WHERE crm.email(t) IS NOT NULL) FROM bench_email_src$q$);
