-- Type crm.phone: input, output, errors, functions, indexes and operators.
-- GUC-dependent behaviour is also covered by test/phone.sql (pgTAP).

-- Operators are found through search_path, as for any extension schema.
SET search_path = public, crm;

-- Load the library first, so SET of its GUCs is checked at once.
SELECT crm.version() IS NOT NULL AS loaded;

-- Without a default region (the default), numbers must carry a country code.
SHOW crm.default_region;
SHOW crm.phone_validation;
SELECT '+1 415 555 2671'::crm.phone;
SELECT '(415) 555-2671'::crm.phone;

SET crm.default_region = 'us';
SHOW crm.default_region;

-- What people type.
SELECT '(415) 555-2671'::crm.phone;
SELECT '415.555.2671'::crm.phone;
SELECT '415.555.2671 ext. 12'::crm.phone;
SELECT '415-555-2671 x12'::crm.phone;
SELECT '1 415 555 2671'::crm.phone;
SELECT '+1 415 555 2671'::crm.phone;
SELECT '  +1 415 555 2671  '::crm.phone;
SELECT '+44 20 7946 0958'::crm.phone;
SELECT '0044 20 7946 0958'::crm.phone;
SELECT '011 44 20 7946 0958'::crm.phone;
SELECT 'tel:+1-415-555-2671'::crm.phone;
SELECT 'TEL:+1-415-555-2671;ext=12'::crm.phone;
SELECT 'tel:415-555-2671;phone-context=+1'::crm.phone;
SELECT '+1 415 555 2671;ext=0012'::crm.phone;
SELECT '+1 415 555 2671 ext. ١٢'::crm.phone;
SELECT '＋４４ ２０ ７９４６ ０９５８'::crm.phone;
SELECT '1-800-FLOWERS'::crm.phone;
SELECT '+39 06 1234 5678'::crm.phone;
SELECT '+800 1234 5678'::crm.phone;
SELECT '+49 30 901820'::crm.phone;
SELECT '+81 3-1234-5678'::crm.phone;
SELECT '+61 2 9876 5432'::crm.phone;
SELECT '+91 98765 43210'::crm.phone;
SELECT '+55 11 91234-5678'::crm.phone;
SELECT '+1 415 555 2671 ext. 123456789'::crm.phone;
-- A national prefix written after the country code is dropped, with or
-- without spaces; Italian numbers keep their leading 0.
SELECT '+49 030 901820'::crm.phone;
SELECT '+49030901820'::crm.phone;
SELECT '+44 (0)20 7946 0958'::crm.phone;
SELECT '+4402079460958'::crm.phone;
SELECT '+390612345678'::crm.phone;

-- What is refused, and why: one literal per line.
SELECT ''::crm.phone;
SELECT '   '::crm.phone;
SELECT 'abc'::crm.phone;
SELECT 'hello 415 555 2671'::crm.phone;
SELECT 'Phone: +1 415 555 2671'::crm.phone;
SELECT '+'::crm.phone;
SELECT '--'::crm.phone;
SELECT '+999 123 456'::crm.phone;
SELECT '+1'::crm.phone;
SELECT '00 1'::crm.phone;
SELECT '12'::crm.phone;
SELECT '7'::crm.phone;
SELECT '555-2671'::crm.phone;
SELECT '+1 415 055 2671'::crm.phone;
SELECT '+44 20 7946 095'::crm.phone;
SELECT '+44 20 7946 0958 0958'::crm.phone;
SELECT '+1 415 555 2671 9999999999'::crm.phone;
SELECT '4155552671 and 4155552672'::crm.phone;
SELECT '415 555 2671 ext. 1234567890'::crm.phone;
SELECT '0044 20 7946 09'::crm.phone;
SELECT repeat('1', 251)::crm.phone;

-- crm.phone_validation = possible checks lengths only.
SET crm.phone_validation = possible;
SELECT '+1 415 055 2671'::crm.phone;
SELECT '555-2671'::crm.phone;
SELECT '+44 20 7946 0958 0958'::crm.phone;
RESET crm.phone_validation;

-- Settings are checked.
SET crm.default_region = 'XX';
SET crm.default_region = 'USA';
SET crm.default_region = '001';
SET crm.phone_validation = 'strict';
SHOW crm.default_region;

-- crm.phone(text, region), crm.try_phone, crm.phone_problem.
SELECT crm.phone('020 7946 0958', 'GB');
SELECT crm.phone('020 7946 0958', 'gb');
SELECT crm.phone('+1 415 555 2671', 'GB');
SELECT crm.phone('(415) 555-2671', '');
SELECT crm.phone('020 7946 0958', 'XX');
SELECT crm.phone('020 7946 0958', NULL);
SELECT crm.phone(NULL, 'GB');
SELECT crm.try_phone('(415) 555-2671');
SELECT crm.try_phone('020 7946 0958', 'GB');
SELECT crm.try_phone('not a phone') IS NULL AS is_null;
SELECT crm.try_phone(NULL) IS NULL AS is_null;
SELECT crm.try_phone('020 7946 0958', 'XX');
SELECT crm.phone_problem('(415) 555-2671');
SELECT crm.phone_problem('020 7946 0958', 'GB');
SELECT crm.phone_problem('020 7946 0958');
SELECT crm.phone_problem('(415) 555-2671', '');
SELECT crm.phone_problem(NULL);
SELECT x AS input, crm.phone_problem(x) AS problem
FROM (VALUES ('555-2671'), ('+1 415 055 2671'), ('12'), ('+999 12'), ('abc'),
			 ('415 555 2671 ext. 1234567890')) v(x);

-- Casts.
SELECT '(415) 555-2671'::text::crm.phone;
SELECT '+14155552671;ext=12'::crm.phone::text;
CREATE TABLE phone_cast (p crm.phone, t text);
INSERT INTO phone_cast (p, t) VALUES ('(415) 555-2671'::text, '+44 20 7946 0958'::crm.phone);
SELECT * FROM phone_cast;
DROP TABLE phone_cast;

-- Formats.
SELECT p, crm.phone_format(p, 'e164') AS e164, crm.phone_format(p, 'international') AS international,
	   crm.phone_format(p, 'national') AS national, crm.phone_format(p, 'rfc3966') AS rfc3966
FROM unnest('{+14155552671;ext=12,+442079460958,+390612345678,+80012345678,+81312345678}'::crm.phone[]) p;
SELECT crm.phone_format('+14155552671', 'E164');
SELECT crm.phone_format('+14155552671', 'dialable');
SELECT crm.phone_format('+14155552671', '');

-- Region, country code, extension, type.
SELECT p, crm.phone_region(p) AS region, crm.phone_country_code(p) AS cc,
	   crm.phone_extension(p) AS ext, crm.phone_type(p) AS type
FROM unnest('{+14155552671;ext=0012,+16135550123,+442079460958,+447400123456,+448001234567,+449012345678,+80012345678,+390612345678,+33612345678,+4930901820}'::crm.phone[]) p;
SET crm.phone_validation = possible;
SELECT crm.phone_region('+1 415 055 2671') IS NULL AS no_region, crm.phone_type('+1 415 055 2671');
RESET crm.phone_validation;

-- Matching, as libphonenumber's IsNumberMatch (no default region).
SELECT a, b, crm.phone_match(a, b)
FROM (VALUES ('+1 415 555 2671', '+1 (415) 555-2671'),
			 ('415 555 2671', '+1 415 555 2671'),
			 ('555 2671', '+1 415 555 2671'),
			 ('+1 415 555 2671 ext. 12', '+1 415 555 2671'),
			 ('+1 415 555 2671 ext. 12', '+1 415 555 2671 ext. 13'),
			 ('+44 20 7946 0958', '+1 415 555 2671'),
			 ('020 7946 0958', '+44 20 7946 0958')) v(a, b);
SELECT crm.phone_match('+14155552671'::crm.phone, '415 555 2671');
SELECT crm.phone_match('+14155552671'::crm.phone, '+1 415 555 2671');
SELECT crm.phone_match('+14155552671'::crm.phone, '+14155552671;ext=1'::crm.phone);
SELECT crm.phone_match('+14155552671'::crm.phone, '+442079460958'::crm.phone);
SELECT crm.phone_match('abc', '+1 415 555 2671');
SELECT crm.phone_match('+1 415 555 2671', 'hello 4155552671');
SELECT crm.phone_match('+999 1', '+1 415 555 2671');
SELECT crm.phone_match('+14155552671'::crm.phone, '');

-- Equality and order: number and extension.
SELECT '(415) 555-2671'::crm.phone = '+1 415 555 2671'::crm.phone AS same,
	   '(415) 555-2671'::crm.phone = '(415) 555-2671 x1'::crm.phone AS ext_differs,
	   '+1 415 555 2671 x01'::crm.phone = '+1 415 555 2671 x1'::crm.phone AS ext_digits_count;
SET crm.phone_validation = possible;
SELECT '+39 06 1234 5678'::crm.phone = '+39 6 1234 5678'::crm.phone AS same_without_zero,
	   '+39 6 1234 5678'::crm.phone AS without_zero;
RESET crm.phone_validation;
SELECT p FROM unnest('{+442079460958,+14155552671;ext=2,+14155552671,+14155552671;ext=10,+390612345678,+14155552670}'::crm.phone[]) p
ORDER BY p;

-- UNIQUE, and an index scan for equality.
CREATE TABLE phone_book (id int PRIMARY KEY, p crm.phone UNIQUE);
INSERT INTO phone_book VALUES (1, '(415) 555-2671'), (2, '+44 20 7946 0958'), (3, '415 555 2671 ext. 12');
INSERT INTO phone_book VALUES (4, '+1 415.555.2671');
INSERT INTO phone_book SELECT 100 + g, ('+1 212 555 ' || lpad(g::text, 4, '0'))::crm.phone FROM generate_series(0, 999) g;
ANALYZE phone_book;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM phone_book WHERE p = '+1 (415) 555-2671';
SELECT id FROM phone_book WHERE p = '+1 (415) 555-2671';
EXPLAIN (COSTS OFF) SELECT id FROM phone_book WHERE p = crm.phone('020 7946 0958', 'GB');
SELECT id FROM phone_book WHERE p = crm.phone('020 7946 0958', 'GB');
SELECT count(*) FROM phone_book WHERE p BETWEEN '+12125550100' AND '+12125550199';
RESET enable_seqscan;

-- Hash join and hash aggregate.
CREATE TABLE phone_calls (p crm.phone);
INSERT INTO phone_calls SELECT ('+1 212 555 ' || lpad((g % 50)::text, 4, '0'))::crm.phone FROM generate_series(1, 500) g;
INSERT INTO phone_calls VALUES ('415-555-2671'), ('(415) 555 2671');
ANALYZE phone_calls;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT b.id, count(*) FROM phone_book b JOIN phone_calls c ON b.p = c.p GROUP BY b.id;
SELECT count(*), count(DISTINCT b.id) FROM phone_book b JOIN phone_calls c ON b.p = c.p;
EXPLAIN (COSTS OFF) SELECT p, count(*) FROM phone_calls GROUP BY p;
SELECT p, count(*) FROM phone_calls GROUP BY p HAVING count(*) >= 2 ORDER BY count(*) DESC, p LIMIT 3;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET enable_sort;
CREATE INDEX phone_calls_hash ON phone_calls USING hash (p);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM phone_calls WHERE p = '+12125550007';
SELECT count(*) FROM phone_calls WHERE p = '+12125550007';
RESET enable_seqscan;
RESET enable_bitmapscan;

-- The operator classes pass amvalidate.
SELECT a.amname, c.opcname, amvalidate(c.oid)
FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE c.opcintype = 'crm.phone'::regtype ORDER BY 1;

-- Binary COPY round trip (the file lives in pg_regress's output folder).
CREATE TABLE phone_copy (p crm.phone);
\copy phone_book (p) TO 'test/regress/phone.bin' WITH (FORMAT binary)
\copy phone_copy FROM 'test/regress/phone.bin' WITH (FORMAT binary)
SELECT count(*) AS copied,
	   count(*) FILTER (WHERE p IN (SELECT p FROM phone_book)) AS found,
	   (SELECT count(*) FROM phone_book) AS original
FROM phone_copy;
SELECT p FROM phone_copy WHERE crm.phone_extension(p) IS NOT NULL;

-- Every value reads back to itself from its text form (dump and restore).
SELECT count(*) AS same FROM phone_copy WHERE p::text::crm.phone = p;
SET crm.phone_validation = possible;
SELECT p, p::text::crm.phone = p AS same
FROM unnest('{+610490958,+490958,+39000000,+5214420790958,+14150552671;ext=007}'::crm.phone[]) p;
RESET crm.phone_validation;

-- Binary input is checked like text input.  Each file: COPY header, one
-- row of one 16-byte field (country code, leading zeros, extension digits,
-- national number, extension), trailer.
CREATE FUNCTION pg_temp.phone_copy_file(fields text) RETURNS text
	LANGUAGE sql AS
$$ SELECT translate(encode(decode('5047434f50590aff0d0a00' || '0000000000000000' || '0001' ||
	lpad(to_hex(length(fields) / 2), 8, '0') || fields || 'ffff', 'hex'), 'base64'), E'\n', '') $$;
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '02' || '00000000f7b0b39f' || '0000000c')) TO PROGRAM 'base64 -d > test/regress/phone_good.bin'
\copy phone_copy FROM 'test/regress/phone_good.bin' WITH (FORMAT binary)
SELECT p FROM phone_copy WHERE p = '+14155552671;ext=12';
-- country code 0
\copy (SELECT pg_temp.phone_copy_file('0000' || '00' || '00' || '00000000f7b0b39f' || '00000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- country code 999 (unassigned)
\copy (SELECT pg_temp.phone_copy_file('03e7' || '00' || '00' || '00000000f7b0b39f' || '00000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- 10 extension digits
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '0a' || '00000000f7b0b39f' || '0000000c')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- extension 12 with one digit
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '01' || '00000000f7b0b39f' || '0000000c')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- extension value without digits
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '00' || '00000000f7b0b39f' || '00000001')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- national number of 18 digits
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '00' || '016345785d8a0000' || '00000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- 17 leading zeros
\copy (SELECT pg_temp.phone_copy_file('0027' || '11' || '00' || '0000000000000001' || '00000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- well formed, but not a valid number (+1 415 055 2671)
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '00' || '00000000f764685f' || '00000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- +49 030901820: possible, but its text form reads as +49 30901820
SET crm.phone_validation = possible;
\copy (SELECT pg_temp.phone_copy_file('0031' || '01' || '00' || '0000000001d7863c' || '00000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
RESET crm.phone_validation;
-- 15 bytes instead of 16
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '00' || '00000000f7b0b39f' || '000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)
-- 17 bytes instead of 16
\copy (SELECT pg_temp.phone_copy_file('0001' || '00' || '00' || '00000000f7b0b39f' || '0000000000')) TO PROGRAM 'base64 -d > test/regress/phone_bad.bin'
\copy phone_copy FROM 'test/regress/phone_bad.bin' WITH (FORMAT binary)

DROP TABLE phone_copy;
DROP TABLE phone_calls;
DROP TABLE phone_book;
RESET crm.default_region;
