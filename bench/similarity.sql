-- String similarity against the contrib baselines on the same :rows pairs
-- of names: crm.damerau_levenshtein vs fuzzystrmatch levenshtein (with and
-- without a maximum), crm.jaro_winkler and crm.name_similarity vs pg_trgm
-- similarity, crm.phonetic_key vs fuzzystrmatch dmetaphone.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Realistic pairs: a given and family name, and a copy with one typo
-- (transposition, deletion or substitution) in half of the rows.
CREATE TABLE pairs AS
SELECT a, CASE i % 4
		WHEN 0 THEN a
		WHEN 1 THEN overlay(a placing substr(a, 4, 1) || substr(a, 3, 1) from 3 for 2)
		WHEN 2 THEN overlay(a placing '' from 1 + i % length(a) for 1)
		ELSE overlay(a placing 'x' from 1 + i % length(a) for 1) END AS b
  FROM (SELECT i,
	(ARRAY['james','mary','robert','patricia','john','jennifer','michael','linda','william','elizabeth',
	       'david','barbara','richard','susan','joseph','jessica','thomas','sarah','charles','karen'])[1 + i % 20]
	|| ' ' ||
	(ARRAY['smith','johnson','williams','brown','jones','garcia','miller','davis','rodriguez','martinez',
	       'hernandez','lopez','gonzalez','wilson','anderson','thomas','taylor','moore','jackson','martin',
	       'lee','perez','thompson','white','harris'])[1 + (i * 7) % 25] AS a
	FROM generate_series(1, :rows) AS i) s;
ANALYZE pairs;

SELECT bench.compare('crm.damerau_levenshtein(a, b)',
	$q$SELECT sum(crm.damerau_levenshtein(a, b)) FROM pairs$q$,
	'fuzzystrmatch levenshtein(a, b)',
	$q$SELECT sum(levenshtein(a, b)) FROM pairs$q$);
SELECT bench.compare('crm.damerau_levenshtein(a, b, 2)',
	$q$SELECT sum(crm.damerau_levenshtein(a, b, 2)) FROM pairs$q$,
	'levenshtein_less_equal(a, b, 2)',
	$q$SELECT sum(levenshtein_less_equal(a, b, 2)) FROM pairs$q$);
SELECT bench.compare('crm.jaro_winkler(a, b)',
	$q$SELECT sum(crm.jaro_winkler(a, b)) FROM pairs$q$,
	'pg_trgm similarity(a, b)',
	$q$SELECT sum(similarity(a, b)) FROM pairs$q$);
SELECT bench.compare('crm.name_similarity(a, b)',
	$q$SELECT sum(crm.name_similarity(a, b)) FROM pairs$q$,
	'pg_trgm similarity(a, b)',
	$q$SELECT sum(similarity(a, b)) FROM pairs$q$);
SELECT bench.compare('crm.phonetic_key(a)',
	$q$SELECT count(DISTINCT crm.phonetic_key(a)) FROM pairs$q$,
	'fuzzystrmatch dmetaphone(a)',
	$q$SELECT count(DISTINCT dmetaphone(a)) FROM pairs$q$);
