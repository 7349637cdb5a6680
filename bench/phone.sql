-- crm.phone: parse speed against a digits-only regexp_replace, the cheapest
-- thing people do to "normalize" phone numbers in SQL; and the costs of the
-- type once parsed (output, E.164 input as in COPY and restore, joins).
-- The inputs are :rows numbers written the ways people type them, in ten
-- countries, all valid, with crm.default_region = 'US' for the national ones.

SET crm.default_region = 'US';
-- One process per statement, so the figures are per core.
SET max_parallel_workers_per_gather = 0;

CREATE TABLE phone_inputs AS
SELECT g, CASE g % 14
	WHEN 0 THEN format('(%s) %s-%s', a, e, l)
	WHEN 1 THEN format('%s.%s.%s', a, e, l)
	WHEN 2 THEN format('%s-%s-%s ext. %s', a, e, l, g % 900 + 100)
	WHEN 3 THEN format('+1 %s %s %s', a, e, l)
	WHEN 4 THEN format('tel:+1-%s-%s-%s', a, e, l)
	WHEN 5 THEN format('+44 20 7946 %s', lpad((g % 10000)::text, 4, '0'))
	WHEN 6 THEN format('0044 7400 1%s', lpad((g % 100000)::text, 5, '0'))
	WHEN 7 THEN format('+49 30 %s', 2000000 + g % 7000000)
	WHEN 8 THEN format('+33 6 %s %s %s %s', 10 + g % 50, 10 + (g / 90) % 90, 10 + (g / 8100) % 90, 10 + g % 89)
	WHEN 9 THEN format('+91 98%s %s', lpad((g % 1000)::text, 3, '0'), lpad((g % 100000)::text, 5, '0'))
	WHEN 10 THEN format('+55 11 9%s-%s', 6000 + g % 4000, lpad((g % 10000)::text, 4, '0'))
	WHEN 11 THEN format('+61 2 9%s %s', 100 + g % 900, lpad((g % 10000)::text, 4, '0'))
	WHEN 12 THEN format('+81 3-%s-%s', 1000 + g % 9000, lpad((g % 10000)::text, 4, '0'))
	ELSE format('+1%s%s%s', a, e, l)
	END AS x
FROM (SELECT g,
			 (ARRAY['415', '212', '312', '646', '617', '206', '303', '512'])[1 + g % 8] AS a,
			 -- exchange: never N11 (411, 911, ...), which are not numbers
			 (2 + (g / 8) % 8) * 100 + ((g / 64) % 10) * 10 + 2 + (g / 640) % 8 AS e,
			 lpad(((g::bigint * 7919) % 10000)::text, 4, '0') AS l
		FROM generate_series(1, :rows) g) s;
ANALYZE phone_inputs;

-- Every input is valid, so the parse benchmark measures parsing, not errors.
SELECT count(*) AS invalid_inputs FROM phone_inputs WHERE crm.try_phone(x) IS NULL;

SELECT bench.compare('crm.phone(text) parse',
	$q$SELECT count(crm.phone(x)) FROM phone_inputs$q$,
	'regexp_replace(x, ''\D'', '''', ''g'')',
	$q$SELECT count(regexp_replace(x, '\D', '', 'g')) FROM phone_inputs$q$);
SELECT bench.note('crm.phone parse, values/s (1 core)',
	round((count(*) / (SELECT ours_ms / 1000 FROM bench.results WHERE label = 'crm.phone(text) parse'))::numeric),
	'values/s')
FROM phone_inputs;

-- Validation level: possible skips libphonenumber's range patterns.
SET crm.phone_validation = possible;
SELECT bench.compare('crm.phone parse, validation=possible',
	$q$SELECT count(crm.phone(x)) FROM phone_inputs$q$,
	'regexp_replace digits-only',
	$q$SELECT count(regexp_replace(x, '\D', '', 'g')) FROM phone_inputs$q$);
RESET crm.phone_validation;

-- Stored numbers.
CREATE TABLE phones AS SELECT g, p, p::text AS t FROM (SELECT g, crm.phone(x) AS p FROM phone_inputs) s;
ANALYZE phones;

-- E.164 text, as COPY and pg_restore read it back: a fast path, no parser.
SELECT bench.compare('E.164 text -> crm.phone (restore)',
	$q$SELECT count(t::crm.phone) FROM phones$q$,
	'regexp_replace digits-only',
	$q$SELECT count(regexp_replace(t, '\D', '', 'g')) FROM phones$q$);

SELECT bench.compare('crm.phone output',
	$q$SELECT count(p::text) FROM phones$q$,
	'bigint output',
	$q$SELECT count(g::text) FROM phones$q$);

SELECT bench.compare('crm.phone_format(p, ''international'')',
	$q$SELECT count(crm.phone_format(p, 'international')) FROM phones$q$,
	'regexp_replace digits-only',
	$q$SELECT count(regexp_replace(t, '\D', '', 'g')) FROM phones$q$);

-- Equality hash join on the 16-byte type against the same join on text.
SELECT bench.compare('hash join on crm.phone',
	$q$SELECT count(*) FROM phones a JOIN phones b ON a.p OPERATOR(crm.=) b.p$q$,
	'hash join on E.164 text',
	$q$SELECT count(*) FROM phones a JOIN phones b ON a.t = b.t$q$);
