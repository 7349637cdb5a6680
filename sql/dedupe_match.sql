-- The record matcher: field kinds and levels, mappings and their errors,
-- comparison vectors, weights and evidence.

\set SHOW_CONTEXT never
-- Every kind has levels, and the shipped parameters cover each level.
SELECT k AS kind, crm.match_kind_levels(k) AS levels,
       jsonb_array_length(crm.match_default_params() -> k -> 'm') = cardinality(crm.match_kind_levels(k))
   AND jsonb_array_length(crm.match_default_params() -> k -> 'u') = cardinality(crm.match_kind_levels(k))
       AS defaults_fit
  FROM unnest(crm.match_kinds()) AS k;
-- Shipped m and u are probability distributions.
SELECT k, round(s.m, 6) AS sum_m, round(t.u, 6) AS sum_u
  FROM unnest(crm.match_kinds()) AS k,
       LATERAL (SELECT sum(x::numeric) AS m FROM jsonb_array_elements_text(crm.match_default_params() -> k -> 'm') x) AS s(m),
       LATERAL (SELECT sum(x::numeric) AS u FROM jsonb_array_elements_text(crm.match_default_params() -> k -> 'u') x) AS t(u)
 WHERE k <> 'id' AND (round(s.m, 6) <> 1 OR round(t.u, 6) <> 1);
SELECT crm.match_kind_levels('nickname');

-- Folding for comparison.
SELECT x, crm.match_fold(x) FROM (VALUES ('  Dr. José  GARCÍA-López '), ('O''Neil'), ('Øyvind Ærø'), ('---'), ('')) AS t(x);

-- Comparison vectors of prepared records.
SELECT crm.match_levels(ARRAY['given_name', 'family_name', 'birth_date'], a, b) AS levels
  FROM (VALUES
	(ARRAY['robert', 'smith', '19800102'], ARRAY['robert', 'smith', '19800102']),
	(ARRAY['robert', 'smith', '19800102'], ARRAY['smith', 'robert', '19800201']),
	(ARRAY['robert', 'smith', '19800102'], ARRAY['roberta', 'smyth', '19810102']),
	(ARRAY['robert', 'smith', '19800102'], ARRAY['r', 'jones', '20011231']),
	(ARRAY['robert', NULL, ''], ARRAY['bert', 'smith', '19800102'])) AS t(a, b);
SELECT crm.match_levels(ARRAY['email'], ARRAY[a], ARRAY[b]) AS email_level, a, b
  FROM (VALUES ('ann@x.com' || chr(31) || 'ann@x.com', 'ann@x.com' || chr(31) || 'ann@x.com'),
               ('a.nn@gmail.com' || chr(31) || 'ann@gmail.com', 'ann@gmail.com' || chr(31) || 'ann@gmail.com'),
               ('ann@x.com' || chr(31) || 'ann@x.com', 'ann@y.org' || chr(31) || 'ann@y.org'),
               ('ann.lee@x.com' || chr(31) || 'ann.lee@x.com', 'ann.le@x.com' || chr(31) || 'ann.le@x.com'),
               ('ann@x.com' || chr(31) || 'ann@x.com', 'bob@y.org' || chr(31) || 'bob@y.org'),
               ('ann+crm@x.com' || chr(31) || 'ann+crm@x.com', 'ann@x.com' || chr(31) || 'ann@x.com'),
               ('ann.lee84@harris.net' || chr(31) || 'ann.lee84@harris.net', 'ann.le84@haris.net' || chr(31) || 'ann.le84@haris.net'),
               ('ann.lee84@x.com' || chr(31) || 'ann.lee84@x.com', 'ann.lee85@x.com' || chr(31) || 'ann.lee85@x.com'),
               ('john.smith12@gmail.com' || chr(31) || 'john.smith12@gmail.com', 'john.smith57@yahoo.com' || chr(31) || 'john.smith57@yahoo.com')) AS t(a, b);
SELECT crm.match_levels(ARRAY['phone'], ARRAY[a], ARRAY[b]) AS phone_level, a, b
  FROM (VALUES ('+61270611981', '+61270611981'), ('+61270611981', '+6170611981'),
               ('~0270611981', '~270611981'), ('~0270611981', '~0270611982'), ('+61270611981', '+14155552671')) AS t(a, b);
SELECT crm.match_levels(ARRAY['external_id', 'postcode', 'region', 'website'], a, b)
  FROM (VALUES (ARRAY['1234567', '2000', 'nsw', 'acme.com'], ARRAY['1234576', '2001', 'vic', 'acme.com']),
               (ARRAY['1234567', '2000', 'nsw', 'acme.com'], ARRAY['7654321', '3000', 'nsw', 'acme.org'])) AS t(a, b);

-- Weights: prior plus one weight per level, looked up by the levels.
SELECT cardinality(crm.match_model_weights(ARRAY['id', 'given_name', 'email'], '{}', 0.001)) AS nweights;
SELECT round(crm.match_weight(ARRAY['given_name', 'family_name'], ARRAY['ann', 'lee'], ARRAY['ann', 'lee'], w)::numeric, 3)
     = round(crm.match_levels_weight(ARRAY['given_name', 'family_name'], '{0,0}', w)::numeric, 3) AS same_weight
  FROM crm.match_model_weights(ARRAY['given_name', 'family_name'], '{}', 0.001) AS w;
SELECT crm.match_weight(ARRAY['given_name'], ARRAY['ann'], ARRAY['ann'], '{1, 2}');
SELECT crm.match_weight(ARRAY['given_name'], ARRAY['ann', 'x'], ARRAY['ann'], crm.match_model_weights(ARRAY['given_name'], '{}', 0.5));
SELECT crm.match_weight(ARRAY['nickname'], ARRAY['ann'], ARRAY['ann'], '{0}');
SELECT crm.match_levels_weight(ARRAY['region'], '{2}', crm.match_model_weights(ARRAY['region'], '{}', 0.5));

-- Evidence in words.
SELECT jsonb_pretty(crm.match_explain(ARRAY['id', 'given_name', 'family_name', 'city'],
	ARRAY['1', 'bob', 'smith', NULL], ARRAY['2', 'bob', 'smyth', 'leeds'],
	crm.match_model_weights(ARRAY['id', 'given_name', 'family_name', 'city'], '{}', 0.01)));

-- Mappings over a user table.
CREATE TABLE people (pid int PRIMARY KEY, first text, last text, street text, town text, born date, mail text);
INSERT INTO people VALUES
	(1, 'Robert', 'Smith', '12 High St', 'Leeds', '1980-01-02', 'rob.smith@example.com'),
	(2, 'Robert', 'Smith', '12 High Street', 'Leeds', '1980-01-02', 'Rob.Smith+crm@example.com'),
	(3, 'Anna', 'Jones', '3 Low Rd', 'York', '1975-05-06', 'anna@jones.org');
SELECT jsonb_pretty(crm.match_mapping('people', '{"id": "pid", "given_name": "first", "family_name": "last", "address": ["street", "town"], "birth_date": "born", "email": "mail"}'));
SELECT crm.match_mapping('people', '{"id": "pid", "nickname": "first"}');
SELECT crm.match_mapping('people', '{"id": "pid", "given_name": "firstname"}');
SELECT crm.match_mapping('people', '{"id": "pid", "address": ["street", "postcode"]}');
SELECT crm.match_mapping('people', '{"given_name": "first"}');
SELECT crm.match_mapping('people', '{"id": "pid"}');
SELECT crm.match_mapping('people', '{"id": ["pid", "first"], "given_name": "first"}');
SELECT crm.match_mapping('people', '{"id": "pid", "given_name": 42}');
SELECT crm.match_mapping('people', '{"id": "pid", "given_name": []}');
SELECT crm.match_mapping('people', '["pid"]');
SELECT crm.match_mapping('people', NULL);
SELECT crm.match_mapping('people', '{"id": "pid", "city": "town"}');
SELECT crm.match_mapping('people', '{"id": "pid", "city": "town", "blocking": [["email"]]}');
SELECT crm.match_mapping('people', '{"id": "pid", "city": "town", "blocking": [["city:soundex"]]}');
SELECT crm.match_mapping('people', '{"id": "pid", "city": "town", "blocking": []}');
SELECT crm.match_mapping('people', '{"id": "pid", "city": "town", "blocking": [["city"]], "max_block_size": 1}');
SELECT crm.match_mapping('people', '{"id": "pid", "city": "town", "blocking": [["city"]], "model": 999999}');
SELECT crm.find_duplicates('people', '{"id": "pid", "given_name": "first"}', 0);
SELECT crm.find_duplicates('people', '{"id": "pid", "given_name": "first"}', 1.5);
-- Quoted identifiers are safe.
CREATE TABLE "odd ""table""" ("the id" int, "Given; DROP TABLE people; --" text);
INSERT INTO "odd ""table""" VALUES (1, 'Zoë'), (2, 'Zoe'), (3, 'Max');
SELECT id_a, id_b, round(probability::numeric, 3) AS p
  FROM crm.find_duplicates('"odd ""table"""', '{"id": "the id", "given_name": "Given; DROP TABLE people; --", "blocking": [["given_name:initial"]]}', 0.0001);
SELECT count(*) AS people_still_there FROM people;

-- Finding the pair with the shipped defaults, and its evidence.
SELECT id_a, id_b, probability > 0.99 AS sure,
       jsonb_path_query_array(evidence, '$.fields[*].text') AS evidence
  FROM crm.find_duplicates('people', '{"id": "pid", "given_name": "first", "family_name": "last", "address": ["street", "town"], "birth_date": "born", "email": "mail"}');
SELECT crm.match_probability('people'::regclass, 1, 3, '{"id": "pid", "given_name": "first", "family_name": "last", "birth_date": "born"}') < 0.01 AS different;
SELECT crm.match_evidence('people'::regclass, 1, 99, '{"id": "pid", "given_name": "first"}');
DROP TABLE people, "odd ""table""";
