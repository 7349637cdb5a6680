-- Name, company, address and domain keys against the nearest built-in or
-- contrib equivalent: lower(unaccent(text)) (the two-argument form, which
-- skips the dictionary lookup the one-argument form repeats on every call,
-- so the baseline is the fastest way to call it).
--
-- The names are realistic for a CRM in Europe and North America: 88% plain
-- ASCII, 10% with accents or other Latin letters, 2% in other scripts; one
-- in ten has an honorific or a suffix, one in eight is written "Last, First".
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TABLE bench_names AS
WITH a AS (
	SELECT ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth',
	             'William','Barbara','Richard','Susan','Joseph','Jessica','Thomas','Sarah','Charles','Karen',
	             'Daniel','Nancy','Matthew','Lisa','Anthony','Betty','Mark','Sandra','Paul','Ashley',
	             'Steven','Emily','Andrew','Donna','Kenneth','Michelle','Joshua','Carol','Kevin','Amanda'] AS ascii_first,
	       ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez',
	             'Hernandez','Lopez','Gonzalez','Wilson','Anderson','Thomas','Taylor','Moore','Jackson','Martin',
	             'Lee','Perez','Thompson','White','Harris','Sanchez','Clark','Ramirez','Lewis','Robinson',
	             'Walker','Young','Allen','King','Wright','Scott','Torres','Nguyen','Hill','O''Brien'] AS ascii_last,
	       ARRAY['José','François','Zoë','Jürgen','Søren','Łukasz','Ana María','Renée','Björn','Chloé',
	             'Žofie','Mónica','Sébastien','Ørjan','Håkon','Iñaki','Dvořák','Ângela','Noémie','Çağla'] AS latin_first,
	       ARRAY['García-López','Müller','Schäfer','Núñez','Gonçalves','Kovačević','Øvergård','Dubois-Lefèvre',
	             'Weiß','Łaszewski','Açıkgöz','Čapek','Rønning','Fernández','Strauß','Ibáñez'] AS latin_last,
	       ARRAY['Александр Пушкин','Ἀλέξανδρος Παπαδόπουλος','张伟','山田 太郎','محمد علي','김민준',
	             'Ольга Иванова','王芳','Δημήτρης Νικολάου','דוד כהן'] AS other_script
)
SELECT i AS id,
       CASE
         WHEN i % 50 = 7 THEN other_script[1 + i % array_length(other_script, 1)]
         WHEN i % 8 = 3 THEN
           CASE WHEN i % 10 < 1 THEN latin_last[1 + i % array_length(latin_last, 1)] || ', ' || latin_first[1 + (i / 7) % array_length(latin_first, 1)]
                ELSE ascii_last[1 + (i / 3) % array_length(ascii_last, 1)] || ', ' || ascii_first[1 + (i / 11) % array_length(ascii_first, 1)] END
         ELSE
           (CASE i % 10 WHEN 0 THEN 'Dr. ' WHEN 5 THEN 'Mr ' ELSE '' END)
           || CASE WHEN i % 10 = 1 THEN latin_first[1 + (i / 7) % array_length(latin_first, 1)]
                   ELSE ascii_first[1 + (i / 11) % array_length(ascii_first, 1)] END
           || ' '
           || CASE WHEN i % 10 = 1 THEN latin_last[1 + (i / 5) % array_length(latin_last, 1)]
                   ELSE ascii_last[1 + (i / 3) % array_length(ascii_last, 1)] END
           || (CASE WHEN i % 25 = 0 THEN ' Jr.' ELSE '' END)
       END AS name,
       (ARRAY['Acme','Globex','Initech','Umbrella','Stark','Wayne','Müller','Société Générale','Nestlé','Hooli'])[1 + i % 10]
       || ' ' || (ARRAY['Inc.','Corp','GmbH & Co. KG','S.A.','Ltd','LLC','','Holding B.V.'])[1 + (i / 10) % 8] AS company,
       (i % 9000 + 1) || ' ' || (ARRAY['Main','Oak','Pine','Maple','Cedar','Elm','Washington','Lake'])[1 + i % 8]
       || ' ' || (ARRAY['Street','St.','Avenue','Ave','Road','Blvd','Drive','Lane'])[1 + (i / 8) % 8]
       || (CASE WHEN i % 3 = 0 THEN ', Apt ' || (i % 40 + 1) WHEN i % 3 = 1 THEN ' #' || (i % 40 + 1) ELSE '' END) AS address,
       (ARRAY['https://www.', 'http://', '', 'mailto:ann@'])[1 + i % 4]
       || (ARRAY['acme','globex','initech','umbrella','hooli','example'])[1 + i % 6] || (i % 100)
       || (ARRAY['.com','.co.uk','.de','.com.au','.fr'])[1 + (i / 6) % 5]
       || (CASE WHEN i % 4 < 2 THEN '/about' ELSE '' END) AS website
  FROM a, generate_series(1, :rows) AS i;
ANALYZE bench_names;

SELECT bench.compare('normalize_name, realistic mix',
	$q$SELECT count(crm.normalize_name(name)) FROM bench_names$q$,
	'lower(unaccent(name))',
	$q$SELECT count(lower(unaccent('unaccent'::regdictionary, name))) FROM bench_names$q$);

CREATE TABLE bench_accented AS SELECT name FROM bench_names WHERE name !~ '^[ -~]*$' AND name ~ '^[ -~À-ɏ]*$';
SELECT bench.compare('normalize_name, accented Latin only',
	$q$SELECT count(crm.normalize_name(name)) FROM bench_accented$q$,
	'lower(unaccent(name))',
	$q$SELECT count(lower(unaccent('unaccent'::regdictionary, name))) FROM bench_accented$q$);

CREATE TABLE bench_other AS SELECT name FROM bench_names WHERE name !~ '^[ -~À-ɏ]*$';
SELECT bench.compare('normalize_name, non-Latin only',
	$q$SELECT count(crm.normalize_name(name)) FROM bench_other$q$,
	'lower(unaccent(name))',
	$q$SELECT count(lower(unaccent('unaccent'::regdictionary, name))) FROM bench_other$q$);

SELECT bench.compare('company_key',
	$q$SELECT count(crm.company_key(company)) FROM bench_names$q$,
	'lower(unaccent(company))',
	$q$SELECT count(lower(unaccent('unaccent'::regdictionary, company))) FROM bench_names$q$);

SELECT bench.compare('address_key',
	$q$SELECT count(crm.address_key(address)) FROM bench_names$q$,
	'lower(unaccent(address))',
	$q$SELECT count(lower(unaccent('unaccent'::regdictionary, address))) FROM bench_names$q$);

SELECT bench.compare('domain_key',
	$q$SELECT count(crm.domain_key(website)) FROM bench_names$q$,
	'regexp host + lower',
	$q$SELECT count(lower(substring(website from '^(?:[a-z]+://)?(?:[^@/]*@)?(?:www\.)?([^/:?#]+)'))) FROM bench_names$q$);

-- given_names_match per candidate pair, as the dedupe engine calls it.
CREATE TABLE bench_pairs AS
SELECT (ARRAY['Bob','Robert','Bill','William','Liz','Elizabeth','Dave','David','Al','Alfred','Peggy','Margaret','Zoë','Xavier'])[1 + i % 14] AS a,
       (ARRAY['Robert','Bobby','William','Will','Elizabeth','Beth','David','Davy','Albert','Alan','Margaret','Maggie','Zoe','Javier'])[1 + (i / 14) % 14] AS b
  FROM generate_series(1, :rows) AS i;
SELECT bench.compare('given_names_match per pair',
	$q$SELECT count(*) FILTER (WHERE crm.given_names_match(a, b)) FROM bench_pairs$q$,
	'lower(a) = lower(b)',
	$q$SELECT count(*) FILTER (WHERE lower(a) = lower(b)) FROM bench_pairs$q$);
