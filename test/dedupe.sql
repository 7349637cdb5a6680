-- Dedupe across tables: training, finding, clusters, model versions, labels.
BEGIN;
SELECT plan(24);




-- 300 people with made-up names, 10 namesakes of some of them (same given
-- and family name, a different person), and 60 corrupted duplicates of
-- every fifth person, four kinds of corruption.
CREATE TABLE regress_people (pid int PRIMARY KEY, first text, last text, born date, mail text, town text);
INSERT INTO regress_people
SELECT i, g, f, make_date(1940 + (i * 13) % 61, 1 + i % 12, 1 + (i * 5 + 3) % 12),
	g || '.' || f || (i % 97) || '@mail' || (i % 7) || '.example',
	(ARRAY['leeds','york','bath','hull','derby','ely','wells','ripon','truro','exeter',
	       'lincoln','salford','preston','durham','carlisle','chester','norwich','oxford','sheffield','bristol'])[1 + (i * 3) % 20]
  FROM generate_series(1, 300) AS i,
	LATERAL (SELECT (ARRAY['al','be','ca','do','el','fi','go','ha','is','jo','ka'])[1 + i % 11]
	             || (ARRAY['ra','mi','ne','lo','su','ta','vi','re','no','la','de','ko','ma'])[1 + (i / 11) % 13] AS g,
	                (ARRAY['bar','cor','dun','fen','gar','hol','kir','lin','mor','pen','ros','sut','tam','wes','yor','zan','quil'])[1 + (i * 7) % 17]
	             || (ARRAY['ley','ton','well','field','ford','by','worth','ham','wick','shaw','dale','more','croft','stone','wood','brook','cliffe','gate','hurst'])[1 + (i * 3) % 19] AS f) AS n;
INSERT INTO regress_people
SELECT 300 + j, p.first, p.last, make_date(1990 + j % 10, 1 + j % 12, 1 + j % 28),
	'namesake' || j || '@other.example', 'london'
  FROM generate_series(1, 10) AS j JOIN regress_people p ON p.pid = j * 7;
INSERT INTO regress_people
SELECT 1000 + p.pid,
	CASE k WHEN 1 THEN p.last WHEN 3 THEN left(p.first, 3) ELSE p.first END,
	CASE k WHEN 0 THEN overlay(p.last placing substr(p.last, 3, 1) || substr(p.last, 2, 1) from 2 for 2)
	       WHEN 1 THEN p.first ELSE p.last END,
	CASE k WHEN 2 THEN make_date(extract(year FROM p.born)::int, extract(day FROM p.born)::int,
	                             extract(month FROM p.born)::int)
	       ELSE p.born END,
	CASE k WHEN 2 THEN 'other' || p.pid || '@elsewhere.example' WHEN 3 THEN NULL ELSE upper(p.mail) END,
	p.town
  FROM regress_people p, LATERAL (SELECT (p.pid / 5) % 4 AS k) kk
 WHERE p.pid % 5 = 0 AND p.pid <= 300;
CREATE TEMP TABLE truth AS SELECT pid::text AS a, (1000 + pid)::text AS b FROM regress_people WHERE pid % 5 = 0 AND pid < 1000;

CREATE TEMP TABLE map AS SELECT '{"id": "pid", "given_name": "first", "family_name": "last", "birth_date": "born", "email": "mail", "city": "town"}'::jsonb AS m;

-- Before training: the shipped defaults already find the obvious pairs.
CREATE TEMP TABLE found0 AS SELECT * FROM crm.find_duplicates('regress_people', (SELECT m FROM map));
SELECT ok((SELECT count(*) FROM found0 f JOIN truth t ON (t.a, t.b) = (f.id_a, f.id_b)) >= 40,
	'default parameters find most planted pairs before any training');
SELECT is((SELECT DISTINCT evidence -> 'model' FROM found0), 'null'::jsonb, 'and say no trained model was used');

-- Training without labels.
SELECT crm.train_matcher('regress_people', (SELECT m FROM map)) AS model1 \gset
SELECT is((SELECT version FROM crm.matcher_models WHERE id = :model1), 1, 'the first model of a table is version 1');
SELECT is((SELECT trained_with FROM crm.matcher_models WHERE id = :model1), 'unsupervised', 'trained without labels');
SELECT ok((SELECT (params -> 'fields' -> 'given_name' -> 'm' ->> 0)::float8 > (params -> 'fields' -> 'given_name' -> 'u' ->> 0)::float8 * 10
             FROM crm.matcher_models WHERE id = :model1),
	'exact given names are far likelier among matches than among non-matches');
SELECT ok((SELECT (params ->> 'prior')::float8 BETWEEN 1e-5 AND 1e-2 FROM crm.matcher_models WHERE id = :model1),
	'the prior is near the planted match rate (60 of 68,265 pairs)');
SELECT is((SELECT (stats ->> 'records')::int FROM crm.matcher_models WHERE id = :model1), 370, 'stats count the records');

CREATE TEMP TABLE found AS SELECT * FROM crm.find_duplicates('regress_people', (SELECT m FROM map), 0.5);
SELECT is((SELECT DISTINCT (evidence ->> 'model')::bigint FROM found), :model1::bigint, 'finding uses the trained model');
SELECT ok((SELECT count(*) FROM found f JOIN truth t ON (t.a, t.b) = (f.id_a, f.id_b))::numeric / 60 >= 0.9,
	'recall of planted pairs is at least 0.9');
SELECT ok((SELECT count(*) FROM found f JOIN truth t ON (t.a, t.b) = (f.id_a, f.id_b))::numeric
          / greatest((SELECT count(*) FROM found), 1) >= 0.95,
	'precision is at least 0.95 although 10 people have namesakes');
SELECT ok(NOT EXISTS (SELECT 1 FROM found WHERE probability < 0.5 OR probability > 1), 'probabilities respect the threshold');
SELECT is((SELECT count(DISTINCT (least(id_a, id_b), greatest(id_a, id_b))) FROM found), (SELECT count(*) FROM found), 'each pair once');
SELECT ok((SELECT evidence -> 'fields' @> '[{"field": "family_name", "level": "swapped with given name"}]'
             FROM found WHERE (id_a, id_b) = ('5', '1005')),
	'swapped names are recognised in the evidence');
SELECT matches((SELECT string_agg(x ->> 'text', '; ') FROM found, jsonb_array_elements(evidence -> 'fields') x
                 WHERE (id_a, id_b) = ('10', '1010')),
	'birth dates: day and month swapped \(\d+ ~ \d+\), \+\d+\.\d',
	'evidence reads as words with a signed weight');

-- Clusters: each planted pair is one cluster, nothing else joins.
CREATE TEMP TABLE clus AS SELECT * FROM crm.duplicate_clusters('regress_people', (SELECT m FROM map), 0.5);
SELECT ok((SELECT count(*) FROM truth t JOIN clus a ON a.id = t.a JOIN clus b ON b.id = t.b AND b.cluster_id = a.cluster_id) >= 54,
	'planted pairs land in one cluster');
SELECT is((SELECT max(n) FROM (SELECT count(*) AS n FROM clus GROUP BY cluster_id) s), 2::bigint, 'no cluster grows beyond a pair');

-- Pairs are compared only as far as their fate needs, but a strong link is
-- always compared in full: each member's probability is its strongest link
-- inside the cluster as crm.find_duplicates scores it, and that is the score
-- crm.match_explain gives comparing every field.
CREATE TEMP TABLE clus9 AS SELECT * FROM crm.duplicate_clusters('regress_people', (SELECT m FROM map), 0.9);
CREATE TEMP TABLE found9 AS SELECT * FROM crm.find_duplicates('regress_people', (SELECT m FROM map), 0.9);
SELECT ok((SELECT count(*) FROM clus9) > 40 AND NOT EXISTS (
		SELECT 1 FROM clus9 c
		 WHERE c.probability IS DISTINCT FROM (
			SELECT max(f.probability) FROM found9 f JOIN clus9 o ON o.cluster_id = c.cluster_id AND o.id <> c.id
			 WHERE (f.id_a, f.id_b) IN ((c.id, o.id), (o.id, c.id)))),
	'cluster probabilities are the scores of the strongest links');
SELECT ok((SELECT count(*) FROM found9) > 20 AND NOT EXISTS (
		SELECT 1 FROM found9 WHERE abs(probability - (evidence ->> 'probability')::float8) > 1e-6),
	'and those are full scores: the evidence, compared field by field, agrees');

-- The chaining guard, on hand-made scores: 1~2 and 2~3 are strong, 1 vs 3
-- was scored and found different, so 3 stays out; unscored, it joins.
SELECT is(crm.match_clusters('{1,2,1}', '{2,3,3}', '{0.99,0.98,0.001}', 4, 0.9), '{1,1,3,4}', 'a contradicted chain is not followed');
SELECT is(crm.match_clusters('{1,2}', '{2,3}', '{0.99,0.98}', 4, 0.9), '{1,1,1,4}', 'an uncontradicted chain is');

-- A second training is a new version; labels give a labelled model.
CREATE TEMP TABLE regress_labels AS
SELECT a::int AS id_a, b::int AS id_b, true AS is_match FROM truth
UNION ALL SELECT 1, 2, false;
SELECT crm.train_matcher('regress_people', (SELECT m FROM map), 'regress_labels') AS model2 \gset
SELECT is((SELECT version FROM crm.matcher_models WHERE id = :model2), 2, 'training again adds version 2');
SELECT is((SELECT trained_with FROM crm.matcher_models WHERE id = :model2), 'labels', 'trained with labels');
SELECT ok((SELECT count(*) FROM crm.find_duplicates('regress_people', (SELECT m FROM map), 0.5) f
             JOIN truth t ON (t.a, t.b) = (f.id_a, f.id_b)) >= 54,
	'the labelled model finds the planted pairs too');

-- Models are not writable by everyone.
SELECT ok(NOT has_table_privilege('public', 'crm.matcher_models', 'INSERT'), 'PUBLIC cannot write models');

SELECT * FROM finish();
ROLLBACK;
