-- crm.duplicate_summary counts what crm.find_duplicates finds without
-- returning the pairs: the pair count, the distinct ids they name and the
-- first few pairs in find_duplicates' order must be exactly find_duplicates'
-- own, at several thresholds, on a fixture with true duplicates (exact
-- copies, whose equal scores make the order fall to the ids compared as
-- text, and corrupted copies).  The data audit's step 3, which now uses
-- it, must report what it reported from find_duplicates.
BEGIN;
SELECT plan(20);

-- 400 people, an exact copy of every tenth (ties), a corrupted copy of
-- every seventh (a swapped letter, a dropped email, upper case).
CREATE TABLE regress_sum (pid int PRIMARY KEY, first text, last text, mail text, town text);
INSERT INTO regress_sum
SELECT i, g, f, g || '.' || f || (i % 89) || '@mail' || (i % 5) || '.example',
	(ARRAY['leeds','york','bath','hull','derby','ely','wells','ripon','truro','exeter'])[1 + (i * 3) % 10]
  FROM generate_series(1, 400) AS i,
	LATERAL (SELECT (ARRAY['al','be','ca','do','el','fi','go','ha','is','jo','ka'])[1 + i % 11]
				 || (ARRAY['ra','mi','ne','lo','su','ta','vi','re','no','la','de','ko','ma'])[1 + (i / 11) % 13] AS g,
					(ARRAY['bar','cor','dun','fen','gar','hol','kir','lin','mor','pen','ros','sut','tam','wes','yor'])[1 + (i * 7) % 15]
				 || (ARRAY['ley','ton','well','field','ford','by','worth','ham','wick','shaw','dale'])[1 + (i * 3) % 11] AS f) AS n;
INSERT INTO regress_sum SELECT 1000 + pid, first, last, mail, town FROM regress_sum WHERE pid % 10 = 0 AND pid <= 400;
INSERT INTO regress_sum
SELECT 2000 + pid, CASE WHEN pid % 2 = 0 THEN overlay(first placing substr(first, 3, 1) || substr(first, 2, 1) from 2 for 2)
						ELSE first END,
	last, CASE WHEN pid % 3 = 0 THEN NULL ELSE upper(mail) END, town
  FROM regress_sum WHERE pid % 7 = 0 AND pid <= 400;
CREATE TEMP TABLE smap AS SELECT '{"id": "pid", "given_name": "first", "family_name": "last", "email": "mail", "city": "town"}'::jsonb AS m;

-- find_duplicates' answer, summed up the way the audit summed it up
CREATE FUNCTION pg_temp.full_summary(minp float8, n int) RETURNS TABLE (pairs bigint, records bigint, a text[], b text[], p float8[])
LANGUAGE sql AS $$
	WITH d AS MATERIALIZED (SELECT * FROM crm.find_duplicates('regress_sum', (SELECT m FROM smap), minp))
	SELECT (SELECT count(*) FROM d), (SELECT count(DISTINCT x) FROM (SELECT id_a FROM d UNION ALL SELECT id_b FROM d) u(x)),
		   ARRAY(SELECT id_a FROM (SELECT * FROM d LIMIT n) e), ARRAY(SELECT id_b FROM (SELECT * FROM d LIMIT n) e),
		   ARRAY(SELECT probability FROM (SELECT * FROM d LIMIT n) e) $$;
CREATE FUNCTION pg_temp.summary(minp float8, n int) RETURNS TABLE (pairs bigint, records bigint, a text[], b text[], p float8[])
LANGUAGE sql AS $$
	SELECT s.pairs, s.records, s.example_a, s.example_b, s.example_probability
	  FROM crm.duplicate_summary('regress_sum', (SELECT m FROM smap), minp, n) s $$;

SELECT ok((SELECT count(*) FROM crm.find_duplicates('regress_sum', (SELECT m FROM smap), 0.9)) >= 60
		  AND (SELECT count(DISTINCT probability) FROM crm.find_duplicates('regress_sum', (SELECT m FROM smap), 0.5)) > 5
		  AND (SELECT count(*) FROM (SELECT probability FROM crm.find_duplicates('regress_sum', (SELECT m FROM smap), 0.9)
									 GROUP BY 1 HAVING count(*) > 5) x) > 0,
	'the fixture has many true duplicates, with varied scores and ties');
SELECT ok((SELECT a FROM pg_temp.full_summary(0.9, 5))
			 <> ARRAY(SELECT id_a FROM crm.find_duplicates('regress_sum', (SELECT m FROM smap), 0.9)
					   ORDER BY probability DESC, id_a::int, id_b::int LIMIT 5),
	'(ties are ordered by id as text, not as a number)');

SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(0.9, 5) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(0.9, 5) f),
	'at 0.9: the pairs, the distinct ids and the first five are find_duplicates''');
SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(0.5, 25) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(0.5, 25) f),
	'at 0.5, the first 25');
SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(0.999, 3) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(0.999, 3) f),
	'at 0.999');
SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(1e-300, 40) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(1e-300, 40) f),
	'at 1e-300: every candidate pair');
SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(0.9, 0) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(0.9, 0) f),
	'no examples asked for: none');
SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(0.5, 1000) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(0.5, 1000) f),
	'more examples asked for than there are pairs: all of them, in order');
SELECT ok((SELECT pairs < 1000 FROM pg_temp.summary(0.5, 1000)), '(there are fewer than 1000)');

-- After training, with explicit blocking rules and a smaller block size
SELECT crm.train_matcher('regress_sum', (SELECT m FROM smap)) IS NOT NULL AS trained \gset
UPDATE smap SET m = m || '{"blocking": [["family_name:phonetic", "given_name:initial"], ["email"], ["city", "name_initials"]],
	"max_block_size": 30}';
SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(0.9, 5) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(0.9, 5) f),
	'with a trained model and explicit blocking: still find_duplicates''');
SELECT is((SELECT row(s.*)::text FROM pg_temp.summary(0.3, 10) s), (SELECT row(f.*)::text FROM pg_temp.full_summary(0.3, 10) f),
	'and at 0.3');

-- Nothing to find
CREATE TABLE regress_sum_empty (LIKE regress_sum);
SELECT is((SELECT row(s.*)::text FROM crm.duplicate_summary('regress_sum_empty', (SELECT m - 'blocking' - 'max_block_size' FROM smap)) s),
	'(0,0,{},{},{})', 'an empty table: no pairs, no ids, no examples');

-- Bad arguments, as find_duplicates refuses them
SELECT throws_ok($$SELECT crm.duplicate_summary('regress_sum', (SELECT m FROM smap), 0)$$, '22023',
	'min_probability must be greater than 0 and at most 1', 'a threshold of 0 is refused');
SELECT throws_ok($$SELECT crm.duplicate_summary('regress_sum', (SELECT m FROM smap), 0.9, -1)$$, '22023',
	'examples must be between 0 and 1000', 'a negative number of examples is refused');
SELECT throws_ok($$SELECT crm.duplicate_summary('regress_sum', (SELECT m FROM smap), 0.9, NULL)$$, '22023',
	'examples must be between 0 and 1000', 'a null number of examples is refused');
SELECT throws_ok($$SELECT crm._match_run_summary('{id}', '{0}', 'nosuchcursor', 0.9, '{}', 10, 1001)$$, '22023',
	'number of examples must be between 0 and 1000', 'the engine checks the number of examples too');

-- The data audit's step 3 on contacts with true duplicates: what it
-- reported from crm.find_duplicates before
INSERT INTO crm.accounts (id, name) VALUES (7001, 'regress summary');
INSERT INTO crm.contacts (id, given_name, family_name, email, phone, city, account_id)
SELECT 7000 + r.pid, r.first, r.last, r.mail::crm.email, NULL, r.town, 7001 FROM regress_sum r WHERE r.pid <= 400;
INSERT INTO crm.contacts (id, given_name, family_name, email, city, account_id)
SELECT 9 * 10 ^ (1 + r.pid % 4) + r.pid, r.first, r.last, upper(r.mail)::crm.email, r.town, 7001
  FROM regress_sum r WHERE r.pid <= 400 AND r.pid % 6 = 0;
CREATE FUNCTION pg_temp.old_step3() RETURNS jsonb LANGUAGE sql AS $$
	WITH d AS MATERIALIZED (SELECT * FROM crm.find_duplicates('crm.contacts'::regclass))
	SELECT jsonb_build_object('source', 'crm.find_duplicates', 'pairs', (SELECT count(*) FROM d),
		'contacts', (SELECT count(DISTINCT x) FROM (SELECT id_a FROM d UNION ALL SELECT id_b FROM d) u(x)),
		'examples', COALESCE((SELECT jsonb_agg(jsonb_build_object('a', e.id_a, 'b', e.id_b,
			'probability', round(e.probability::numeric, 3))) FROM (SELECT * FROM d LIMIT 5) e), '[]')) $$;
SELECT ok((SELECT (pg_temp.old_step3() ->> 'pairs')::int >= 60), '(the contacts have many duplicates)');
SELECT is(crm.run_data_audit() -> '3_duplicates', pg_temp.old_step3(),
	'the audit''s step 3 is what find_duplicates gave: pairs, contacts and the first five');
DELETE FROM crm.contacts WHERE id >= 7000;
SELECT is(crm.run_data_audit() -> '3_duplicates', pg_temp.old_step3(), 'and with no duplicates among the contacts');
SELECT is(crm.run_data_audit() #> '{3_duplicates,examples}', '[]'::jsonb, '(no examples then)');

SELECT * FROM finish();
ROLLBACK;
