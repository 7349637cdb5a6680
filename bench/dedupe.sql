-- Dedupe at scale: a deterministic generator of :rows synthetic people with
-- realistic corruption (typos, nicknames, swapped names, changed emails and
-- phones, missing fields), then crm.duplicate_clusters end to end, the
-- duplicate check of one contact, and insert throughput with a duplicate
-- rule against without.
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;

-- About 80% originals and 20% corrupted copies of them.
CREATE TABLE bench_people (id bigint PRIMARY KEY, entity bigint, given text, family text, email text,
						   phone text, city text, born date);
CREATE TEMP TABLE given_names AS SELECT * FROM unnest(ARRAY['james','mary','robert','patricia','john','jennifer','michael','linda',
	'william','elizabeth','david','barbara','richard','susan','joseph','jessica','thomas','sarah','charles','karen','daniel','nancy',
	'matthew','lisa','anthony','betty','mark','margaret','donald','sandra','steven','ashley','paul','kimberly','andrew','emily','joshua',
	'donna','kenneth','michelle','kevin','carol','brian','amanda','george','dorothy','timothy','melissa','ronald','deborah','jose',
	'maria','luis','ana','carlos','sofia','jorge','lucia','pedro','elena','ahmed','fatima','wei','li','hiroshi','yuki','olga','ivan',
	'lukasz','agnieszka','sven','ingrid','pierre','amelie','hans','greta','raj','priya','kwame','ama']) WITH ORDINALITY AS g(name, n);
CREATE TEMP TABLE syllables AS SELECT * FROM unnest(ARRAY['an','ber','cal','dor','en','fen','gar','hal','is','jor','kel','lin','mor',
	'nor','ol','par','quin','ros','sut','tal','ur','van','wes','yor','zan','ash','bro','cre','dal','eck']) WITH ORDINALITY AS s(syl, n);

INSERT INTO bench_people
SELECT i, i,
	(SELECT name FROM given_names WHERE n = 1 + (hashint8(i) & 2147483647) % 80),
	(SELECT syl FROM syllables WHERE n = 1 + (hashint8(i * 3) & 2147483647) % 30)
	|| (SELECT syl FROM syllables WHERE n = 1 + (hashint8(i * 5) & 2147483647) % 30)
	|| (ARRAY['', 'son', 'man', 'ton', 'ez', 'ski', 'er', 'ford'])[1 + (hashint8(i * 7) & 2147483647) % 8],
	NULL, '+1' || (2000000000 + (hashint8(i * 11) & 2147483647) % 7999999999)::text,
	(ARRAY['new york','boston','chicago','austin','seattle','denver','miami','atlanta','portland','dallas'])[1 + (hashint8(i * 13) & 2147483647) % 10],
	date '1940-01-01' + ((hashint8(i * 17) & 2147483647) % 25000)::int
  FROM generate_series(1, (:rows * 0.8)::bigint) AS i;
UPDATE bench_people SET email = given || '.' || family || (id % 100) || '@' ||
	(ARRAY['gmail.com','yahoo.com','outlook.com','example.com','mail.example'])[1 + id % 5];

-- Copies: k picks the corruption, several can apply.
INSERT INTO bench_people
SELECT (:rows * 0.8)::bigint + j, p.entity,
	CASE WHEN k % 5 = 0 THEN p.family WHEN k % 7 = 1 THEN NULL
		 WHEN k % 3 = 0 THEN overlay(p.given placing substr(p.given, 3, 1) || substr(p.given, 2, 1) from 2 for 2)
		 WHEN k % 11 = 2 THEN left(p.given, 3) ELSE p.given END,
	CASE WHEN k % 5 = 0 THEN p.given WHEN k % 4 = 1 THEN overlay(p.family placing 'e' from 1 + k % 4 for 1) ELSE p.family END,
	CASE WHEN k % 6 = 2 THEN NULL WHEN k % 6 = 3 THEN 'new.' || p.email WHEN k % 6 = 4 THEN upper(p.email) ELSE p.email END,
	CASE WHEN k % 5 = 3 THEN NULL WHEN k % 5 = 4 THEN '+1' || (2000000000 + k % 7999999999)::text ELSE p.phone END,
	CASE WHEN k % 9 = 5 THEN NULL ELSE p.city END,
	CASE WHEN k % 8 = 6 THEN p.born + 1 ELSE p.born END
  FROM generate_series(1, :rows - (:rows * 0.8)::bigint) AS j
  JOIN bench_people p ON p.id = 1 + (hashint8(-j) & 2147483647) % (:rows * 0.8)::bigint,
  LATERAL (SELECT (hashint8(j * 31) & 2147483647) AS k) kk;
ANALYZE bench_people;

\set mapping '{"id": "id", "given_name": "given", "family_name": "family", "email": "email", "phone": "phone", "city": "city", "birth_date": "born"}'

-- Train once (not timed in the comparison), then cluster end to end.
SELECT crm.train_matcher('bench_people', :'mapping') \gset
CREATE TEMP TABLE timing (what text, ms float8);
-- Also the backend's own CPU time (bench.cpu_ms).
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
	c0 float8 := bench.cpu_ms();
BEGIN
	CREATE TEMP TABLE clusters AS SELECT * FROM crm.duplicate_clusters('bench_people',
		'{"id": "id", "given_name": "given", "family_name": "family", "email": "email", "phone": "phone", "city": "city", "birth_date": "born"}');
	INSERT INTO timing VALUES ('duplicate_clusters', extract(epoch FROM clock_timestamp() - t0) * 1000),
		('duplicate_clusters cpu', bench.cpu_ms() - c0);
END $$;
SELECT bench.note('duplicate_clusters end to end', (SELECT round(ms::numeric) FROM timing WHERE what = 'duplicate_clusters'), 'ms');
SELECT bench.note('duplicate_clusters, backend CPU time', (SELECT round(ms::numeric) FROM timing WHERE what = 'duplicate_clusters cpu'), 'ms');
-- Pairwise quality of the clusters against the generator's entities.
WITH pairs AS (SELECT a.id AS a, b.id AS b FROM clusters a JOIN clusters b ON a.cluster_id = b.cluster_id AND a.id < b.id),
	 truth AS (SELECT a.id::text AS a, b.id::text AS b FROM bench_people a JOIN bench_people b ON a.entity = b.entity AND a.id::text < b.id::text),
	 tp AS (SELECT count(*) AS n FROM pairs JOIN truth USING (a, b))
SELECT bench.note('clusters pairwise precision', round(tp.n::numeric / greatest((SELECT count(*) FROM pairs), 1), 4), ''),
	   bench.note('clusters pairwise recall', round(tp.n::numeric / greatest((SELECT count(*) FROM truth), 1), 4), '')
  FROM tp;

-- The duplicate check of one contact, against crm.contacts holding the people.
INSERT INTO crm.contacts (id, given_name, family_name, email, phone, city)
SELECT id, given, family, crm.try_email(email), crm.try_phone(phone), city FROM bench_people;
ANALYZE crm.contacts;
DO $$
DECLARE
	t0 timestamptz;
	c crm.contacts;
	lat float8[] := '{}';
BEGIN
	-- A session's first calls compile the functions and plan their queries.
	FOR i IN 1..10 LOOP
		SELECT * INTO c FROM crm.contacts WHERE id = i;
		PERFORM * FROM crm.contact_duplicates(c, 0.5);
	END LOOP;
	FOR i IN 1..300 LOOP
		SELECT * INTO c FROM crm.contacts WHERE id = 1 + (hashint8(i * 101) & 2147483647) % (SELECT max(id) FROM bench_people);
		c.id := NULL;
		c.given_name := upper(c.given_name);
		t0 := clock_timestamp();
		PERFORM * FROM crm.contact_duplicates(c, 0.5);
		lat := lat || extract(epoch FROM clock_timestamp() - t0) * 1000;
	END LOOP;
	INSERT INTO timing SELECT 'check p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(lat) x;
	INSERT INTO timing SELECT 'check p99', percentile_cont(0.99) WITHIN GROUP (ORDER BY x) FROM unnest(lat) x;
END $$;
SELECT bench.note('duplicate check of one contact, p50', (SELECT round(ms::numeric, 2) FROM timing WHERE what = 'check p50'), 'ms');
SELECT bench.note('duplicate check of one contact, p99', (SELECT round(ms::numeric, 2) FROM timing WHERE what = 'check p99'), 'ms');

-- Insert throughput, 2,000 new contacts per run, with an alert rule and without.
CREATE TABLE new_people AS
SELECT 100000000 + id AS id, given, family || 'x' AS family, 'n' || email AS email, city
  FROM bench_people WHERE id % ((SELECT count(*) FROM bench_people) / 2000 + 1) = 0 LIMIT 2000;
INSERT INTO crm.duplicate_rules (name, action, min_probability, enabled) VALUES ('bench alert', 'alert', 0.9, false);
CREATE FUNCTION bench_insert(with_rule bool) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE crm.duplicate_rules SET enabled = with_rule WHERE name = 'bench alert';
	INSERT INTO crm.contacts (id, given_name, family_name, email, city)
	SELECT id, given, family, crm.try_email(email), city FROM new_people;
	DELETE FROM crm.contacts WHERE id >= 100000000;
END $$;
SELECT bench.compare('insert 2,000 contacts with an alert rule', $q$SELECT bench_insert(true)$q$,
	'the same without a rule', $q$SELECT bench_insert(false)$q$);
