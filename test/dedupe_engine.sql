-- The finders' engine (src/match_cluster.c) against the slow path: every
-- candidate pair that the SQL blocking of training proposes
-- (crm._match_pairs_sql), scored one by one with crm.match_weight and
-- clustered with crm.match_clusters.  The engine keeps each field's
-- distinct values once and compares records by value ids, stops comparing
-- a pair once its fate is settled, and groups the blocking keys itself; none
-- of that may change a pair, a probability or a cluster.
BEGIN;
SELECT plan(17);

-- 600 people: ASCII and non-ASCII names, names of several words, phones
-- with and without a country code, e-mails with +tags and capitals, empty
-- strings and NULLs, values shared by many records; then 150 copies with
-- typos, swapped names, day and month swapped, changed or missing values.
CREATE TABLE regress_engine (pid int PRIMARY KEY, first text, last text, mail text, tel text,
							 town text, born date, code text);
INSERT INTO regress_engine
SELECT i,
	CASE WHEN i % 41 = 0 THEN NULL WHEN i % 53 = 0 THEN '' ELSE
	(ARRAY['Ann', 'Robert', 'José', 'Zoë', 'Mary Jane', 'Bob', 'Ümit', 'Wei', 'Renée', 'Jean-Luc', 'Li', 'Åsa',
	       'Robbie', 'Anne', 'Jose', 'Olga'])[1 + (i * 7) % 16] END,
	CASE WHEN i % 37 = 0 THEN NULL ELSE
	(ARRAY['Smith', 'Müller', 'García López', 'O''Neil', 'Nguyen', 'Smyth', 'Mueller', 'Øster', 'Van der Berg',
	       'Kowalski', 'Schmidt', 'Jones', 'Brown', 'Dubois'])[1 + (i * 11) % 14]
	|| (ARRAY['', 'son', 'er', ''])[1 + i % 4] END,
	CASE WHEN i % 9 = 0 THEN NULL
		 ELSE 'user' || (i % 173) || (ARRAY['', '+crm', '.x', ''])[1 + i % 4] || '@' || (ARRAY['mail.example', 'post.example', 'gmail.com'])[1 + i % 3] END,
	CASE WHEN i % 7 = 0 THEN NULL WHEN i % 5 = 0 THEN '0' || (20000000 + (i * 7919) % 9999999)::text
		 ELSE '+44 20 ' || (70000000 + (i * 104729) % 2999999)::text END,
	CASE WHEN i % 11 = 0 THEN NULL ELSE (ARRAY['Leeds', 'York', 'Zürich', 'São Paulo', 'Leads', 'york'])[1 + i % 6] END,
	CASE WHEN i % 13 = 0 THEN NULL ELSE date '1950-01-01' + (i * 97) % 20000 END,
	CASE WHEN i % 3 = 0 THEN NULL ELSE 'LS' || (i % 29) || ' ' || (i % 7) || 'AB' END
  FROM generate_series(1, 600) AS i;
INSERT INTO regress_engine
SELECT 1000 + p.pid,
	CASE k WHEN 0 THEN p.last WHEN 1 THEN upper(p.first) WHEN 2 THEN left(p.first, 1) ELSE p.first END,
	CASE k WHEN 0 THEN p.first WHEN 3 THEN overlay(p.last placing 'e' from 2 for 1) ELSE p.last END,
	CASE k WHEN 1 THEN NULL WHEN 2 THEN upper(p.mail) ELSE p.mail END,
	CASE k WHEN 2 THEN NULL WHEN 3 THEN replace(p.tel, '7', '1') ELSE p.tel END,
	p.town,
	CASE k WHEN 1 THEN make_date(extract(year FROM p.born)::int, least(extract(day FROM p.born)::int, 12),
								 extract(month FROM p.born)::int)
		 ELSE p.born END,
	CASE k WHEN 0 THEN NULL ELSE p.code END
  FROM regress_engine p, LATERAL (SELECT (p.pid / 4) % 4 AS k) kk
 WHERE p.pid % 4 = 1;

CREATE TEMP TABLE emap AS SELECT '{"id": "pid", "given_name": "first", "family_name": "last", "email": "mail",
	"phone": "tel", "city": "town", "birth_date": "born", "postcode": "code"}'::jsonb AS m;

-- The slow path: SQL blocking, then every candidate pair scored whole.
CREATE FUNCTION pg_temp.slow_pairs(src regclass, mapping jsonb)
	RETURNS TABLE (ra int, rb int, id_a text, id_b text, p float8) LANGUAGE plpgsql AS $$
DECLARE
	m jsonb := crm.match_mapping(src, mapping);
	w float8[] := (SELECT mm.weights FROM crm._match_model(m) mm);
BEGIN
	RETURN QUERY EXECUTE pg_catalog.format(
		'WITH rec AS MATERIALIZED (%s), %s
		 SELECT a.rid, b.rid, a.id, b.id, 1.0 / (1.0 + pg_catalog.power(2.0::float8, -crm.match_weight($1, a.f, b.f, $2)))
		   FROM pairs p JOIN rec a ON a.rid = p.ra JOIN rec b ON b.rid = p.rb',
		crm._match_records_sql(m), crm._match_pairs_sql(m))
	USING crm._match_mapping_kinds(m), w;
END $$;

-- Clusters of the slow pairs, named and ordered as crm.duplicate_clusters does.
CREATE FUNCTION pg_temp.slow_clusters(src regclass, mapping jsonb, minp float8)
	RETURNS TABLE (cluster_id bigint, id text, probability float8) LANGUAGE sql AS $$
	WITH p AS MATERIALIZED (SELECT * FROM pg_temp.slow_pairs(src, mapping)),
		 g AS (SELECT u.r::int AS rid, u.grp
				 FROM pg_catalog.unnest(crm.match_clusters((SELECT array_agg(ra) FROM p), (SELECT array_agg(rb) FROM p),
					   (SELECT array_agg(p.p) FROM p), (SELECT max(rb) FROM p), minp)) WITH ORDINALITY AS u(grp, r)),
		 big AS (SELECT grp FROM g GROUP BY grp HAVING count(*) > 1),
		 inside AS (SELECT p.ra, p.rb, p.id_a, p.id_b, p.p FROM p
					  JOIN g ga ON ga.rid = p.ra JOIN g gb ON gb.rid = p.rb AND gb.grp = ga.grp),
		 best AS (SELECT rid, id, max(p) AS p
					FROM (SELECT ra AS rid, id_a AS id, p FROM inside UNION ALL SELECT rb, id_b, p FROM inside) s
				   GROUP BY rid, id)
	SELECT pg_catalog.dense_rank() OVER (ORDER BY g.grp)::bigint, best.id, best.p
	  FROM g JOIN big USING (grp) JOIN best ON best.rid = g.rid
	 ORDER BY 1, 2
$$;

CREATE TEMP TABLE slow AS SELECT * FROM pg_temp.slow_pairs('regress_engine', (SELECT m FROM emap));
SELECT ok((SELECT count(*) FROM slow) > 1000 AND (SELECT count(*) FROM slow WHERE p >= 0.5) > 100,
	'the fixture has many candidate pairs, a good share of them matches');

-- Pairs: the same ones, with the same probabilities, at three thresholds.
SELECT set_eq(
	$$SELECT id_a, id_b, probability FROM crm.find_duplicates('regress_engine', (SELECT m FROM emap), 0.5)$$,
	$$SELECT id_a, id_b, p FROM slow WHERE p >= 0.5$$,
	'find_duplicates at 0.5 returns exactly the candidate pairs scoring 0.5 or more, scored in full');
SELECT set_eq(
	$$SELECT id_a, id_b, probability FROM crm.find_duplicates('regress_engine', (SELECT m FROM emap), 0.95)$$,
	$$SELECT id_a, id_b, p FROM slow WHERE p >= 0.95$$,
	'and at 0.95');
SELECT set_eq(
	$$SELECT id_a, id_b, probability FROM crm.find_duplicates('regress_engine', (SELECT m FROM emap), 0.001)$$,
	$$SELECT id_a, id_b, p FROM slow WHERE p >= 0.001$$,
	'and at 0.001');

-- Clusters: the same members, cluster numbers and strongest links.
SELECT results_eq(
	$$SELECT * FROM crm.duplicate_clusters('regress_engine', (SELECT m FROM emap), 0.9)$$,
	$$SELECT * FROM pg_temp.slow_clusters('regress_engine', (SELECT m FROM emap), 0.9)$$,
	'duplicate_clusters at 0.9 equals clustering every candidate pair scored in full');
SELECT results_eq(
	$$SELECT * FROM crm.duplicate_clusters('regress_engine', (SELECT m FROM emap), 0.5)$$,
	$$SELECT * FROM pg_temp.slow_clusters('regress_engine', (SELECT m FROM emap), 0.5)$$,
	'and at 0.5');

-- After training (other weights, other early stops), and with explicit
-- blocking rules that use every transform.
SELECT crm.train_matcher('regress_engine', (SELECT m FROM emap)) IS NOT NULL AS trained \gset
UPDATE emap SET m = m || '{"blocking": [["family_name:phonetic", "given_name:initial"], ["name_initials", "city"],
	["name_phonetic"], ["email"], ["phone"], ["postcode", "birth_date"], ["given_name:exact", "city:initial"]],
	"max_block_size": 40}';
SELECT set_eq(
	$$SELECT id_a, id_b, probability FROM crm.find_duplicates('regress_engine', (SELECT m FROM emap), 0.5)$$,
	$$SELECT id_a, id_b, p FROM pg_temp.slow_pairs('regress_engine', (SELECT m FROM emap)) WHERE p >= 0.5$$,
	'with a trained model and explicit blocking rules, the pairs are the same');
SELECT results_eq(
	$$SELECT * FROM crm.duplicate_clusters('regress_engine', (SELECT m FROM emap), 0.8)$$,
	$$SELECT * FROM pg_temp.slow_clusters('regress_engine', (SELECT m FROM emap), 0.8)$$,
	'and so are the clusters');

-- Given names compare through the nickname table as the run starts: a
-- nickname added in this transaction links Olga and Wei (one family name,
-- so blocked together) in the engine as in crm.given_names_match.
UPDATE emap SET m = '{"id": "pid", "given_name": "first", "family_name": "last", "email": "mail",
	"phone": "tel", "city": "town", "birth_date": "born", "postcode": "code"}';
CREATE FUNCTION pg_temp.olga_wei() RETURNS TABLE (level text, probability float8) LANGUAGE sql AS $$
	SELECT f.evidence -> 'fields' -> 0 ->> 'level', f.probability
	  FROM crm.find_duplicates('regress_engine', (SELECT m FROM emap), 1e-300) f
	 WHERE (f.id_a, f.id_b) = ('1', '57') $$;
CREATE TEMP TABLE before_nick AS SELECT * FROM pg_temp.olga_wei();
INSERT INTO crm.nicknames (name, nickname) VALUES ('Olga', 'Wei');
SELECT ok((SELECT level FROM before_nick) = 'different' AND (SELECT level FROM pg_temp.olga_wei()) = 'nickname match'
		  AND (SELECT probability FROM pg_temp.olga_wei()) > (SELECT probability FROM before_nick),
	'a nickname added before the run links the names it names');
SELECT set_eq(
	$$SELECT id_a, id_b, probability FROM crm.find_duplicates('regress_engine', (SELECT m FROM emap), 0.001)$$,
	$$SELECT id_a, id_b, p FROM pg_temp.slow_pairs('regress_engine', (SELECT m FROM emap)) WHERE p >= 0.001$$,
	'and the engine agrees with crm.given_names_match pair by pair');

-- The finders' preparation in C is the SQL it replaced: names (memoized per
-- query, so each value twice), phones, single date columns.
CREATE TEMP TABLE prep_in AS
SELECT x FROM (SELECT first FROM regress_engine UNION ALL SELECT last FROM regress_engine
			   UNION ALL SELECT first FROM regress_engine) s(x)
UNION ALL VALUES ('  Dr. José  GARCÍA-López '), ('O''Neil'), ('Øyvind Ærø'), ('---'), (''), ('王小明'), ('Mr'),
	('+44 (20) 7946-0958'), ('+44 20 7946 0958 ext. 12'), ('020 7946 0958;ext=3'), ('#12'), ('+'), ('++1 2'),
	('٠١٢٣'), ('12a34'), ('tel: +1 555'), (' +1 555 '), ('1-800-FLOWERS'), (NULL);
SELECT is_empty($$SELECT x FROM prep_in
	WHERE crm._match_prepare_name(x) IS DISTINCT FROM crm.match_fold(crm.normalize_name(x))
	   OR crm._match_prepare_fold(x) IS DISTINCT FROM crm.match_fold(x)$$,
	'crm._match_prepare_name is crm.match_fold(crm.normalize_name(x)), crm._match_prepare_fold crm.match_fold(x)');
SELECT is_empty($$SELECT x FROM prep_in
	WHERE crm._match_prepare_phone(x) IS DISTINCT FROM
		  NULLIF(NULLIF(CASE WHEN x LIKE '+%' THEN '+' ELSE '~' END
				|| regexp_replace(regexp_replace(x, '[A-Za-z;#].*$', ''), '[^0-9]', '', 'g'), '+'), '~')$$,
	'crm._match_prepare_phone is the two regular expressions it replaced');
SELECT is_empty($$SELECT d FROM (VALUES (date '1980-01-02'), (date '0044-03-15 BC'), (date '12345-06-07'),
		('infinity'::date), ('-infinity'::date), (NULL::date)) t(d)
	WHERE to_char(d, 'YYYYMMDD') IS DISTINCT FROM
		  NULLIF(regexp_replace(NULLIF(btrim(to_char(d, 'YYYYMMDD')), ''), '[^0-9]', '', 'g'), '')$$,
	'a date column is prepared by to_char alone');

-- Organisations: full names, companies, websites, addresses, regions,
-- countries and external ids, under the default rules (company:phonetic,
-- website, address, address with postcode, full_name:phonetic, ...).
CREATE TABLE regress_orgs (oid_ int PRIMARY KEY, contact text, org text, web text, street text, zip text,
						   state text, land text, ref text);
INSERT INTO regress_orgs
SELECT i,
	CASE WHEN i % 17 = 0 THEN NULL ELSE (ARRAY['Ann Lee', 'Lee, Ann', 'Dr. José García', 'Jose Garcia', 'Mary Jane Smith',
		'Wei Li', 'Li Wei', 'Renée Dubois'])[1 + i % 8] END,
	(ARRAY['Acme Ltd', 'ACME Limited', 'Müller GmbH', 'Mueller GmbH', 'Blue Sky Inc.', 'Bluesky Inc', 'Nguyen & Sons',
		'Ørsted A/S'])[1 + (i * 3) % 8] || CASE WHEN i % 5 = 0 THEN '' ELSE ' ' || (i % 23) END,
	CASE WHEN i % 6 = 0 THEN NULL ELSE (ARRAY['https://www.acme.example/about', 'acme.example', 'http://blue.example:8080',
		'müller.example', 'WWW.NGUYEN.EXAMPLE'])[1 + i % 5] END,
	CASE WHEN i % 10 = 0 THEN '' ELSE (i % 40) || ' ' || (ARRAY['High St', 'High Street', 'Rue de la Paix', 'Hauptstraße',
		'Main Rd'])[1 + i % 5] END,
	CASE WHEN i % 7 = 0 THEN NULL ELSE (ARRAY['2000', '2000-123', 'LS1 4AB', '8001'])[1 + i % 4] END,
	(ARRAY['NSW', 'nsw', 'Yorkshire', 'ZH'])[1 + i % 4],
	(ARRAY['AU', 'GB', 'CH', NULL])[1 + i % 4],
	CASE WHEN i % 4 = 0 THEN NULL ELSE 'R-' || (i % 50) || CASE WHEN i % 3 = 0 THEN 'x' ELSE '' END END
  FROM generate_series(1, 400) AS i;
UPDATE emap SET m = '{"id": "oid_", "full_name": "contact", "company": "org", "website": "web",
	"address": ["street", "zip"], "postcode": "zip", "region": "state", "country": "land", "external_id": "ref"}';
SELECT set_eq(
	$$SELECT id_a, id_b, probability FROM crm.find_duplicates('regress_orgs', (SELECT m FROM emap), 0.5)$$,
	$$SELECT id_a, id_b, p FROM pg_temp.slow_pairs('regress_orgs', (SELECT m FROM emap)) WHERE p >= 0.5$$,
	'organisations: the same pairs');
SELECT results_eq(
	$$SELECT * FROM crm.duplicate_clusters('regress_orgs', (SELECT m FROM emap), 0.7)$$,
	$$SELECT * FROM pg_temp.slow_clusters('regress_orgs', (SELECT m FROM emap), 0.7)$$,
	'and the same clusters');

-- The engine's cursor protocol is checked row by row: a record number
-- outside 1..200,000,000 is an error, never a write outside its arrays.
DECLARE regress_c0 CURSOR FOR SELECT 0::int, 'a'::text, ARRAY['a', 'ann']::text[];
DECLARE regress_cm CURSOR FOR SELECT 3::int, 'a'::text, ARRAY['a', 'ann']::text[]
	UNION ALL SELECT -5, 'b', ARRAY['b', 'ann'];
SELECT throws_ok($$SELECT * FROM crm._match_run_clusters(ARRAY['id', 'given_name'], '{0,1,1,1,1,1,1,1}',
		'regress_c0', 0.5, ARRAY['given_name'], 10)$$,
	'22023', 'record number 0 is out of range', 'record number 0 is refused');
SELECT throws_ok($$SELECT * FROM crm._match_run_pairs(ARRAY['id', 'given_name'], '{0,1,1,1,1,1,1,1}',
		'regress_cm', 0.5, ARRAY['given_name'], 10)$$,
	'22023', 'record number -5 is out of range', 'and so is a negative one');

SELECT * FROM finish();
ROLLBACK;
