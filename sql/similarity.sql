-- String similarity: crm.jaro_winkler, crm.damerau_levenshtein,
-- crm.name_similarity, crm.phonetic_key.

-- Jaro-Winkler: the textbook pairs (Winkler 1990).
SELECT a, b, round(crm.jaro_winkler(a, b)::numeric, 4) AS jw
  FROM (VALUES ('MARTHA', 'MARHTA'), ('DWAYNE', 'DUANE'), ('DIXON', 'DICKSONX'),
               ('JELLYFISH', 'SMELLYFISH'), ('abc', 'abc'), ('abc', 'xyz'),
               ('', ''), ('', 'a'), ('a', 'a'), ('rob', 'robert')) AS t(a, b);
-- Symmetric, and counts characters, not bytes.
SELECT crm.jaro_winkler('Müller', 'Muller') = crm.jaro_winkler('Muller', 'Müller') AS symmetric,
       round(crm.jaro_winkler('Müller', 'Muller')::numeric, 4) AS umlaut,
       round(crm.jaro_winkler('Möller', 'Müller')::numeric, 4) AS one_letter,
       crm.jaro_winkler('東京都', '東京都') AS cjk_equal,
       round(crm.jaro_winkler('東京都', '東京府')::numeric, 4) AS cjk_one_off;
SELECT crm.jaro_winkler(NULL, 'a') IS NULL AS strict;

-- Optimal string alignment distance.
SELECT a, b, crm.damerau_levenshtein(a, b) AS d
  FROM (VALUES ('kitten', 'sitting'), ('ca', 'ac'), ('ca', 'abc'), ('abcdef', 'badcfe'),
               ('', 'abc'), ('abc', ''), ('', ''), ('same', 'same'),
               ('Müller', 'Muller'), ('Müller', 'Mülelr'), ('ÅÄÖ', 'AAO'),
               ('東京', '京東')) AS t(a, b);
-- With a maximum: exact up to max, max + 1 beyond it.
SELECT a, b, m, crm.damerau_levenshtein(a, b, m) AS d_max, crm.damerau_levenshtein(a, b) AS d
  FROM (VALUES ('kitten', 'sitting', 0), ('kitten', 'sitting', 2), ('kitten', 'sitting', 3),
               ('kitten', 'sitting', 10), ('abc', 'abcdefgh', 2), ('abc', 'abc', 0),
               ('ab', 'ba', 1), ('abcdefghij', 'jihgfedcba', 4)) AS t(a, b, m);
-- The bounded form agrees with the unbounded one on random strings.
SELECT count(*) AS disagreements
  FROM (SELECT substr(md5(i::text), 1, 1 + i % 12) AS a, substr(md5((i * 7)::text), 1, 1 + i % 9) AS b,
               i % 6 AS m FROM generate_series(1, 2000) AS i) t
 WHERE crm.damerau_levenshtein(a, b, m) <> least(crm.damerau_levenshtein(a, b), m + 1);
-- Bad arguments.
SELECT crm.damerau_levenshtein('a', 'b', -1);
SELECT crm.damerau_levenshtein('a', 'b', 100000);
SELECT crm.damerau_levenshtein(repeat('a', 100001), 'a');
SELECT crm.jaro_winkler(repeat('x', 100001), 'x');

-- Names: word order, middle names, initials and punctuation.
SELECT a, b, round(crm.name_similarity(a, b)::numeric, 4) AS sim
  FROM (VALUES ('John Smith', 'Smith, John'), ('John Michael Smith', 'John Smith'),
               ('J. Smith', 'John Smith'), ('Jon Smyth', 'John Smith'),
               ('Mary Jones', 'John Smith'), ('José García', 'Jose Garcia'),
               ('O''Brien, Seán', 'Sean OBrien'), ('', ''), ('', 'Ann'), ('---', 'Ann')) AS t(a, b);

-- Phonetic keys: spelling variants agree, other scripts are transliterated.
SELECT n, crm.phonetic_key(n) AS key
  FROM (VALUES ('Smith'), ('Smyth'), ('Schmidt'), ('Müller'), ('Mueller'), ('Catherine'),
               ('Kathryn'), ('Knight'), ('Philips'), ('Phillips'), ('Thompson'), ('Wright'),
               ('Xavier'), ('José García'), ('Иванов'), ('Ivanov'), ('Γιώργος'), ('张伟'),
               ('Zhang Wei'), (''), ('123'), ('--')) AS t(n);
SELECT crm.phonetic_key('Иванов') = crm.phonetic_key('Ivanov') AS cyrillic_agrees,
       crm.phonetic_key('Müller') = crm.phonetic_key('Mueller') AS umlaut_agrees;

-- Declarations.
SELECT p.oid::regprocedure, p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p
 WHERE p.pronamespace = 'crm'::regnamespace
   AND p.proname IN ('jaro_winkler', 'damerau_levenshtein', 'name_similarity', 'phonetic_key')
 ORDER BY 1::text;
