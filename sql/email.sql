-- crm.email: input, comparison, operator classes, casts and functions.
SET search_path = public, crm;

--
-- What people type: accepted, and printed back as typed.
--
SELECT v::crm.email AS shown, crm.email_local(v::crm.email) AS local,
       crm.email_domain(v::crm.email) AS domain
  FROM (VALUES ('ann@example.com'),
               ('  Ann.Lee@Example.COM  '),
               (E'\tann@example.com\n'),
               ('mailto:ann@example.com'),
               ('MAILTO:ann%2Bnews@example.com?subject=Hello'),
               ('ann+tag@sub.example.co.uk'),
               ('o''brien@example.ie'),
               ('a!#$%&''*+-/=?^_`{|}~@example.com'),
               ('"ann lee"@example.com'),
               ('"ann@home"@example.com'),
               ('"quote\"inside"@example.com'),
               ('"plain"@example.com'),
               ('anna@bücher.de'),
               ('anna@xn--bcher-kva.de'),
               ('josé@café.fr'),
               ('用户@例子.广告'),
               ('ann@ＥＸＡＭＰＬＥ.com'),
               ('ann@[192.0.2.1]'),
               ('ann@[IPv6:2001:DB8:0:0::1]'),
               ('ann@a-b.c-d.example'),
               ('x@xn--80ak6aa92e.com'),
               (repeat('a', 64) || '@example.com'),
               ('a@' || repeat('b', 63) || '.com')) AS t(v);

-- Surrounding no-break and zero-width spaces and a byte-order mark are dropped.
SELECT (E'\u00a0\u200bann@example.com\ufeff')::crm.email::text = 'ann@example.com' AS trimmed;

-- The longest address: 64 + 1 + 189 octets.
SELECT length((repeat('a', 64) || '@' || repeat('b', 63) || '.' || repeat('c', 63) || '.' || repeat('d', 57) || '.com')::crm.email::text);

--
-- Bad input, one literal per line: a catalogue of the error messages.
--
SELECT ''::crm.email;
SELECT '   '::crm.email;
SELECT 'ann'::crm.email;
SELECT 'ann.example.com'::crm.email;
SELECT '@example.com'::crm.email;
SELECT 'ann@'::crm.email;
SELECT 'ann@@example.com'::crm.email;
SELECT 'ann@example.com, bob@example.com'::crm.email;
SELECT 'ann@example.com bob@example.com'::crm.email;
SELECT 'ann lee@example.com'::crm.email;
SELECT '.ann@example.com'::crm.email;
SELECT 'ann.@example.com'::crm.email;
SELECT 'ann..lee@example.com'::crm.email;
SELECT 'ann(comment)@example.com'::crm.email;
SELECT 'ann\lee@example.com'::crm.email;
SELECT 'ann"lee@example.com'::crm.email;
SELECT '"ann@example.com'::crm.email;
SELECT '"ann"lee@example.com'::crm.email;
SELECT '""@example.com'::crm.email;
SELECT E'"ann\tlee"@example.com'::crm.email;
SELECT E'ann\u200b@example.com'::crm.email;
SELECT 'ann@example'::crm.email;
SELECT 'ann@localhost'::crm.email;
SELECT 'ann@192.0.2.1'::crm.email;
SELECT 'ann@.example.com'::crm.email;
SELECT 'ann@example..com'::crm.email;
SELECT 'ann@example.com.'::crm.email;
SELECT 'ann@-example.com'::crm.email;
SELECT 'ann@example-.com'::crm.email;
SELECT 'ann@exa_mple.com'::crm.email;
SELECT 'ann@exa mple.com'::crm.email;
SELECT 'ann@exa%mple.com'::crm.email;
SELECT 'ann@xn--zz.com'::crm.email;
SELECT 'ann@xn--.com'::crm.email;
SELECT E'ann@ex\u200dample.com'::crm.email;
SELECT 'ann@bü<cher.de'::crm.email;
SELECT E'ann@bü\ufffdcher.de'::crm.email;
SELECT E'ann@\u0301b.de'::crm.email;
SELECT 'ann@[192.0.2.1'::crm.email;
SELECT 'ann@[192.0.2.256]'::crm.email;
SELECT 'ann@[192.0.2]'::crm.email;
SELECT 'ann@[IPv6:2001:db8::g]'::crm.email;
SELECT 'ann@[tag:content]'::crm.email;
SELECT 'mailto:'::crm.email;
SELECT 'mailto:ann%4@example.com'::crm.email;
SELECT 'mailto:ann@example.com,bob@example.com'::crm.email;
SELECT (repeat('a', 65) || '@example.com')::crm.email;
SELECT ('a@' || repeat('b', 64) || '.com')::crm.email;
SELECT (repeat('a', 64) || '@' || repeat('b', 63) || '.' || repeat('c', 63) || '.' || repeat('d', 58) || '.com')::crm.email;
SELECT ('a@' || repeat('b.', 130) || 'com')::crm.email;
SELECT ('a@' || repeat('b', 2000) || '.com')::crm.email;

-- The error carries the SQLSTATE for invalid text representation.
DO $$
BEGIN
	PERFORM 'nope'::crm.email;
EXCEPTION WHEN invalid_text_representation THEN
	RAISE NOTICE 'caught invalid_text_representation';
END $$;

--
-- Equality: local part case-insensitive, domain case-insensitive and IDN-equal.
--
SELECT a, b, a::crm.email = b::crm.email AS eq, a::crm.email < b::crm.email AS lt,
       crm.email_hash(a::crm.email) = crm.email_hash(b::crm.email) AS same_hash,
       crm.email_hash_extended(a::crm.email, 7) = crm.email_hash_extended(b::crm.email, 7) AS same_hash64
  FROM (VALUES ('a@x.com', 'A@X.COM'),
               ('anna@bücher.de', 'ANNA@XN--BCHER-KVA.DE'),
               ('anna@BÜCHER.de', 'anna@bücher.de'),
               ('José@x.com', 'JOSÉ@X.COM'),
               ('"ann"@x.com', 'ann@x.com'),
               ('"Ann Lee"@x.com', '"ann lee"@x.com'),
               ('ann@[IPv6:2001:db8::1]', 'ann@[ipv6:2001:DB8:0:0:0:0:0:1]'),
               ('ann@[192.0.2.1]', 'ann@[192.000.002.001]'),
               ('mailto:ann@x.com', ' ann@x.com '),
               ('ann@x.com', 'ann@y.com'),
               ('ann@x.com', 'anne@x.com'),
               ('ann.lee@gmail.com', 'annlee@gmail.com'),
               ('ann+a@x.com', 'ann+b@x.com')) AS t(a, b);

SELECT 'a@x.com'::crm.email <> 'A@x.com'::crm.email AS ne,
       'a@x.com'::crm.email <= 'A@x.com'::crm.email AS le,
       'b@x.com'::crm.email > 'a@y.com'::crm.email AS gt,
       'a@x.com'::crm.email >= 'a@y.com'::crm.email AS ge,
       crm.email_cmp('a@y.com', 'a@x.com') AS cmp;

-- Ordering: by folded local part, then by ASCII domain.
SELECT e FROM unnest('{b@x.com,A@y.com,a@x.com,ab@a.com,a.b@a.com,Zed@a.com}'::crm.email[]) AS e ORDER BY e;

--
-- Casts: text becomes an address on assignment or explicitly, not implicitly.
--
CREATE TABLE email_cast (e crm.email, t text, v varchar(60));
INSERT INTO email_cast (e, t, v) VALUES ('Ann@Example.com', 'x', 'y');
INSERT INTO email_cast (e) SELECT 'bob@example.com'::text;
INSERT INTO email_cast (e) SELECT 'carl@example.com'::varchar;
UPDATE email_cast SET t = e, v = e;
SELECT e, t, v FROM email_cast ORDER BY e;
SELECT crm.email('  dora@example.com ') AS via_function, crm.email_text('Ed@Example.com') AS as_text;
SELECT e FROM email_cast WHERE e = 'ANN@EXAMPLE.COM';
-- No implicit cast: comparing with a text column needs an explicit one.
SELECT e FROM email_cast WHERE e = t;
SELECT e FROM email_cast WHERE e = t::crm.email ORDER BY e;
INSERT INTO email_cast (e) VALUES ('not an address');
DROP TABLE email_cast;

--
-- Binary COPY round trip, and binary input is checked like text input.
--
CREATE TABLE email_bin (id int, e crm.email);
INSERT INTO email_bin VALUES (1, 'Ann@Example.COM'), (2, 'anna@bücher.de'), (3, '"a b"@x.com'),
	(4, 'x@[IPv6:2001:db8::1]'), (5, '  mailto:eve@example.com ');
\copy email_bin TO 'test/regress/email_bin.copy' WITH (FORMAT binary)
CREATE TABLE email_bin2 (LIKE email_bin);
\copy email_bin2 FROM 'test/regress/email_bin.copy' WITH (FORMAT binary)
SELECT a.id, a.e::text = b.e::text AS same_text, a.e = b.e AS same_value, b.e
  FROM email_bin a JOIN email_bin2 b USING (id) ORDER BY a.id;
-- text and crm.email share the binary format, so a bad text value in binary
-- form must be refused by crm.email_recv.
CREATE TABLE email_bin_text (id int, e text);
INSERT INTO email_bin_text VALUES (1, 'fine@example.com'), (2, 'ann@@example.com');
\copy email_bin_text TO 'test/regress/email_bin_bad.copy' WITH (FORMAT binary)
TRUNCATE email_bin2;
\copy email_bin2 FROM 'test/regress/email_bin_bad.copy' WITH (FORMAT binary)
SELECT count(*) AS loaded FROM email_bin2;
DROP TABLE email_bin, email_bin2, email_bin_text;

--
-- Indexes, joins and aggregates.
--
CREATE TABLE email_people (id int PRIMARY KEY, e crm.email UNIQUE);
INSERT INTO email_people VALUES (1, 'a@x.com');
INSERT INTO email_people VALUES (2, 'A@X.com');
INSERT INTO email_people VALUES (3, 'anna@bücher.de');
INSERT INTO email_people VALUES (4, 'Anna@XN--BCHER-KVA.DE');
INSERT INTO email_people SELECT g, 'user' || g || '@example.com' FROM generate_series(10, 2000) g;
CREATE INDEX email_people_hash ON email_people USING hash (e);
ANALYZE email_people;

SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM email_people WHERE e = 'USER77@example.com';
SELECT id FROM email_people WHERE e = 'USER77@example.com';
DROP INDEX email_people_hash;
EXPLAIN (COSTS OFF) SELECT id FROM email_people WHERE e = 'USER77@example.com';
SELECT id FROM email_people WHERE e = 'USER77@example.com';
EXPLAIN (COSTS OFF) SELECT id FROM email_people WHERE e < 'user101@example.com' ORDER BY e;
SELECT id, e FROM email_people WHERE e < 'user101@example.com' ORDER BY e;
RESET enable_seqscan;
RESET enable_bitmapscan;

CREATE TABLE email_orders (e crm.email, amount int);
INSERT INTO email_orders SELECT upper('user' || (g % 50 + 10) || '@EXAMPLE.com'), g FROM generate_series(1, 500) g;
INSERT INTO email_orders VALUES ('ANNA@bücher.de', 7), ('nobody@example.com', 1);
ANALYZE email_orders;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT p.id, sum(o.amount) FROM email_people p JOIN email_orders o ON o.e = p.e GROUP BY p.id;
SELECT count(*), sum(o.amount) FROM email_people p JOIN email_orders o ON o.e = p.e;
RESET enable_mergejoin;
RESET enable_nestloop;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT e, count(*) FROM email_orders GROUP BY e;
SELECT count(*) AS groups, sum(n) AS rows FROM (SELECT e, count(*) AS n FROM email_orders GROUP BY e) s;
RESET enable_sort;
SELECT count(DISTINCT e) FROM email_orders;
DROP TABLE email_people, email_orders;

-- Every operator class passes the access method's own checks.
SELECT opc.opcname, am.amname, amvalidate(opc.oid)
  FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
 WHERE opc.opcnamespace = 'crm'::regnamespace AND opc.opcintype = 'crm.email'::regtype
 ORDER BY am.amname;

--
-- Functions.
--
SELECT v, crm.email_canonical(v::crm.email)
  FROM (VALUES ('Ann.Lee+news@Gmail.com'), ('a.n.n@googlemail.com'), ('ann+x@outlook.com'),
               ('ann+x@icloud.com'), ('ann+x@proton.me'), ('ann.lee+x@example.com'),
               ('Ann@BÜCHER.de'), ('"Ann Lee"@gmail.com'), ('+tag@gmail.com'),
               ('ann-x@yahoo.com')) AS t(v);

SELECT v, crm.email_is_role(v::crm.email)
  FROM (VALUES ('info@example.com'), ('Sales@example.com'), ('noreply@example.com'),
               ('no-reply+bounce@example.com'), ('support@example.com'), ('ann@example.com'),
               ('information.desk@example.com'), ('"info"@example.com')) AS t(v);

SELECT v, crm.email_is_free(v::crm.email) AS free, crm.email_is_disposable(v::crm.email) AS disposable,
       crm.email_domain_kind(v::crm.email) AS kind
  FROM (VALUES ('ann@gmail.com'), ('ann@GMX.de'), ('ann@acme-corp.example'), ('ann@mailinator.com'),
               ('ann@sub.mailinator.com'), ('ann@sify.com'), ('ann@[192.0.2.1]')) AS t(v);

SELECT crm.email_domain_suffixes('a@x.y.example.co.uk'), crm.email_domain_suffixes('a@example.com'),
       crm.email_domain_suffixes('a@[192.0.2.1]');

-- The shipped lists are loaded and marked built in.
SELECT kind, builtin, count(*) > 1000 AS many FROM crm.email_domains GROUP BY kind, builtin ORDER BY kind;

-- Admin rows are normalized, win over built-in rows and are the only ones dumped.
BEGIN;
INSERT INTO crm.email_domains (domain, kind) VALUES (' @Bücher.DE ', 'free');
INSERT INTO crm.email_domains (domain, kind) VALUES ('gmail.com', 'ordinary');
INSERT INTO crm.email_domains (domain, kind) VALUES ('eu.mailinator.com', 'ordinary');
SELECT domain, kind, builtin FROM crm.email_domains WHERE NOT builtin ORDER BY domain;
SELECT crm.email_is_free('anna@bücher.de') AS buecher_free, crm.email_is_free('a@gmail.com') AS gmail_free,
       crm.email_is_disposable('a@x.mailinator.com') AS x_disposable,
       crm.email_is_disposable('a@eu.mailinator.com') AS eu_disposable;
SAVEPOINT s;
INSERT INTO crm.email_domains (domain, kind) VALUES ('example', 'free');
ROLLBACK TO s;
INSERT INTO crm.email_domains (domain, kind) VALUES ('example.com', 'spam');
ROLLBACK;
SELECT c.relname, x.cond
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(reloid, cond)
  JOIN pg_class c ON c.oid = x.reloid
 WHERE e.extname = 'crm' AND c.relname = 'email_domains';

SELECT v, crm.email_from_display(v)
  FROM (VALUES ('"Ann Lee" <ann@example.com>'), ('Ann Lee <Ann@Example.com>'),
               ('ann@example.com (Ann Lee)'), ('  ann@example.com  '), ('"Lee, Ann" <ann@example.com>'),
               ('<mailto:ann@example.com>')) AS t(v);
SELECT crm.email_from_display('Ann Lee <ann@example.com');
SELECT crm.email_from_display('"Ann Lee <ann@example.com>');
SELECT crm.email_from_display('Ann <ann@example.com>, Bob <bob@example.com>');
SELECT crm.email_from_display('Ann Lee <ann@@example.com>');
SELECT crm.email_from_display('Ann Lee');

SELECT v, crm.try_email(v), crm.email_problem(v)
  FROM (VALUES ('ann@example.com'), (' Ann@Example.com '), ('ann@example'), ('ann'), (''),
               ('ann@exa_mple.com'), (NULL)) AS t(v);

-- Declarations: volatility, strictness and parallel safety.
SELECT p.oid::regprocedure, p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p
 WHERE p.pronamespace = 'crm'::regnamespace AND p.proname LIKE '%email%'
 ORDER BY p.proname, p.oid::regprocedure::text;

-- Unicode local parts fold fully (ß = ss) and canonically (NFD then NFC).
SELECT 'Straße@x.com'::crm.email = 'STRASSE@x.com'::crm.email AS sharp_s,
       E'e\u0301@x.com'::crm.email = E'\u00c9@x.com'::crm.email AS composed,
       E'\u00df\u0301@x.com'::crm.email = E'S\u015b@x.com'::crm.email AS fold_then_compose;
-- A local part that folds past 64 bytes is its own canonical form.
SELECT crm.email_canonical((repeat('ΐ', 32) || '@x.com')::crm.email)::text = repeat('ΐ', 32) || '@x.com' AS kept;

-- Addresses typed in their key form store only the key; ASCII addresses
-- that differ from it only by letter case store a bitmap of the capitals.
SELECT pg_column_size('ann@example.com'::crm.email) AS key_only,
       pg_column_size('Ann@example.com'::crm.email) AS with_typed;
SELECT 'ann@example.com'::crm.email::text, crm.email_local('ann@example.com'), crm.email_local('"a b"@x.com');

-- Lookups use a per-session copy of crm.email_domains that follows changes:
-- at once within the transaction, and back again after a rollback.
SELECT crm.email_is_free('ann@gmail.com') AS before;
BEGIN;
TRUNCATE crm.email_domains;
SELECT crm.email_is_free('ann@gmail.com') AS after_truncate;
INSERT INTO crm.email_domains (domain, kind) VALUES ('gmail.com', 'disposable');
SELECT crm.email_is_disposable('ann@gmail.com') AS after_insert;
DELETE FROM crm.email_domains;
SELECT crm.email_domain_kind('ann@gmail.com') AS after_delete;
ROLLBACK;
SELECT crm.email_is_free('ann@gmail.com') AS after_rollback, count(*) > 12000 AS all_rows_back FROM crm.email_domains;

-- Every way of storing the typed form prints it back exactly.
SELECT v, v::crm.email::text = v AS exact, pg_column_size(v::crm.email) AS size
  FROM (VALUES ('ann@example.com'), ('Ann@example.com'), ('ann@example.coM'),
               ('ANN.LEE@EXAMPLE.COM'), (repeat('a', 63) || 'B@' || repeat('c', 60) || '.COM'),
               ('"Ann"@example.com'), ('"a b"@Example.com'), ('anna@Bücher.de'),
               ('Anna@xn--bcher-kva.DE'), ('José@x.com'), ('Ann@[IPv6:2001:DB8::1]'),
               ('ann@[192.0.2.1]')) AS t(v);

-- The same for random mixed-case addresses (fixed seed).
SELECT setseed(0.42);
SELECT count(*) AS addresses, count(*) FILTER (WHERE e::text = v) AS printed_exactly,
       count(*) FILTER (WHERE e = lower(v)::crm.email) AS equal_to_lower_case
  FROM (SELECT v, v::crm.email AS e
          FROM (SELECT string_agg(CASE WHEN random() < 0.3 THEN upper(c) ELSE c END, '' ORDER BY i) AS v
                  FROM generate_series(1, 500) AS g,
                       LATERAL (SELECT i, substr('first.last' || g || '@mail' || (g % 7) || '.example.com', i, 1) AS c
                                  FROM generate_series(1, length('first.last' || g || '@mail' || (g % 7) || '.example.com')) AS i) s
                 GROUP BY g) r) t;

-- Sorting with abbreviated keys gives the same order as the comparison
-- function (many shared 8-byte prefixes, and keys shorter than 8 bytes).
CREATE TABLE email_sort AS
SELECT (CASE g % 4 WHEN 0 THEN 'first.last' WHEN 1 THEN 'First.Las' WHEN 2 THEN 'a' ELSE 'FIRST' END
        || (g % 37) || '@Example' || (g % 11) || '.com')::crm.email AS e, g
  FROM generate_series(1, 3000) g;
SELECT count(*) AS pairs_out_of_order
  FROM (SELECT e, lead(e) OVER (ORDER BY e, g) AS next FROM email_sort) s
 WHERE crm.email_cmp(e, next) > 0;
CREATE INDEX email_sort_idx ON email_sort (e);
SET enable_seqscan = off;
SELECT count(*) AS found_via_index FROM email_sort WHERE e = 'FIRST.LAST4@example4.com';
RESET enable_seqscan;
SELECT count(*) AS found_via_scan FROM email_sort WHERE crm.email_eq(e, 'FIRST.LAST4@example4.com');
DROP TABLE email_sort;

-- Parallel workers build their own copy of the domain lists.
CREATE TABLE email_par AS
SELECT crm.email('u' || g || CASE g % 3 WHEN 0 THEN '@gmail.com' WHEN 1 THEN '@sub.mailinator.com' ELSE '@acme.example' END) AS e
  FROM generate_series(1, 30000) g;
ANALYZE email_par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT count(*) FILTER (WHERE crm.email_is_free(e)) AS free,
       count(*) FILTER (WHERE crm.email_is_disposable(e)) AS disposable,
       count(*) FILTER (WHERE crm.email_domain_kind(e) IS NULL) AS unlisted
  FROM email_par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE email_par;

-- In a database whose encoding is not UTF-8, values are converted on the
-- way in and out, and messages show the parts in the database encoding.
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_email_latin1;
RESET client_min_messages;
CREATE DATABASE regress_email_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c regress_email_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION crm;
SET search_path = public, crm;
SELECT e, crm.email_local(e), crm.email_domain(e), e = 'JOSÉ@XN--BCHER-KVA.DE'::crm.email AS eq,
       e::text = 'José@Bücher.de' AS text_back, pg_column_size(e) AS size
  FROM (SELECT 'José@Bücher.de'::crm.email AS e) s;
SELECT 'Jo sé@Bücher.de'::crm.email;
SELECT crm.email_problem('José@Bü_cher.de');
CREATE TABLE email_latin1 (id int, e crm.email);
INSERT INTO email_latin1 VALUES (1, 'José@Bücher.de'), (2, 'Ann@Example.COM'), (3, '"Zoë Ü"@x.com');
\copy email_latin1 TO 'test/regress/email_latin1.copy' WITH (FORMAT binary)
CREATE TABLE email_latin1_2 (LIKE email_latin1);
\copy email_latin1_2 FROM 'test/regress/email_latin1.copy' WITH (FORMAT binary)
SELECT a.id, b.e, a.e::text = b.e::text AS same_text FROM email_latin1 a JOIN email_latin1_2 b USING (id) ORDER BY a.id;
\c :regress_db
DROP DATABASE regress_email_latin1;
