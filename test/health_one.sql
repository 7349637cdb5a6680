-- crm.record_health(id) computes one contact's health from its own row and
-- index probes for its duplicates, not by filtering crm.contact_health.  It
-- must still be exactly the view's health for that contact: checked for
-- every contact of a fixture with suspected duplicates of both kinds the
-- view recognises (the same email under crm.=, the same name at the same
-- company under lower()), near misses that are not duplicates, contacts
-- without either, bounces, leavers and disposable addresses; as a
-- superuser and as CRM roles that see different slices (a duplicate the
-- caller cannot see does not count, a contact the caller cannot see has no
-- health), with unknown ids, and without a settings row.
BEGIN;
\ir fixtures/model.sql
SELECT plan(37);

SELECT setseed(0.17);
CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE
	AS $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;
CREATE FUNCTION pg_temp.maybe(p float8, v anyelement) RETURNS anyelement LANGUAGE sql VOLATILE
	AS $$ SELECT CASE WHEN random() < p THEN v END $$;

INSERT INTO crm.accounts (id, name, owner_id) SELECT 20 + g, 'regress one ' || g, pg_temp.uid('regress_rep3')
  FROM generate_series(1, 6) g;

-- Generated: few distinct emails and names, so many collide by chance,
-- spread over owners (so each role sees a different slice) and stages.
INSERT INTO crm.contacts (id, given_name, family_name, email, phone, title, job_function, account_id, country, city,
						  postcode, lead_source, owner_id, lifecycle_stage, email_verified_at, title_verified_at,
						  created_at)
SELECT * FROM (SELECT 3000 + g,
	pg_temp.maybe(0.9, pg_temp.pick('{Ivan,IVAN,ivan,Ärger,ÄRGER,äRGER,İlker,ılker,Test,"",Ana,Bo,Zoë}')),
	pg_temp.maybe(0.85, pg_temp.pick('{Ng,NG,Roe,roe,Müller,MÜLLER,Lee,xxx}')),
	pg_temp.maybe(0.8, (pg_temp.pick('{a,B,c,D}') || (g % 60) || '@'
		|| pg_temp.pick('{example.com,EXAMPLE.com,mailinator.com,gmail.com}'))::crm.email),
	pg_temp.maybe(0.5, ('+1415555' || lpad((g % 300)::text, 4, '0'))::crm.phone),
	pg_temp.maybe(0.7, pg_temp.pick('{Engineer,"VP Sales",test,"N/A",CTO}')),
	pg_temp.maybe(0.6, pg_temp.pick('{sales,it,marketing}')),
	pg_temp.maybe(0.7, pg_temp.pick('{1,2,3,4,21,22,23,24}')::bigint),
	pg_temp.maybe(0.6, pg_temp.pick('{US,GB,DE}')),
	pg_temp.maybe(0.3, 'City'::text), pg_temp.maybe(0.3, '12345'::text),
	pg_temp.maybe(0.5, pg_temp.pick('{web,referral,event}')),
	pg_temp.uid(pg_temp.pick('{regress_rep1,regress_rep2,regress_rep3,regress_mgr,regress_admin}')),
	pg_temp.pick('{subscriber,lead,mql,sql,opportunity,customer,evangelist}'),
	pg_temp.maybe(0.6, now() - random() * interval '2000 days' + interval '30 days'),
	pg_temp.maybe(0.4, now() - random() * interval '2000 days'),
	now() - random() * interval '3000 days'
  FROM generate_series(1, 1500) g) f(id, given_name, family_name, email, phone)
 WHERE num_nonnulls(f.given_name, f.family_name, f.email, f.phone) > 0;

-- By hand: each kind of suspect, and near misses (at accounts 25 and 26,
-- which the generated contacts do not use, or none; owned by rep1 unless
-- said otherwise).
INSERT INTO crm.contacts (id, given_name, family_name, email, account_id, owner_id) VALUES
	-- the same mailbox, spelled differently
	(2001, 'Una', 'Ode', 'una.x@dup.example', NULL, pg_temp.uid('regress_rep1')),
	(2002, 'Ulla', 'Pax', 'UNA.X@Dup.Example', NULL, pg_temp.uid('regress_rep1')),
	-- an email nobody else has
	(2003, 'Vic', 'Quo', 'solo@dup.example', NULL, pg_temp.uid('regress_rep1')),
	-- the same name at the same company, in other cases, ASCII and not
	(2004, 'Ivan', 'Roe', NULL, 25, pg_temp.uid('regress_rep1')),
	(2005, 'IVAN', 'roe', NULL, 25, pg_temp.uid('regress_rep1')),
	(2006, 'Ärger', 'Öz', NULL, 25, pg_temp.uid('regress_rep1')),
	(2007, 'äRGER', 'ÖZ', NULL, 25, pg_temp.uid('regress_rep1')),
	-- no given name and an empty one are the same
	(2008, NULL, 'Lin', NULL, 25, pg_temp.uid('regress_rep1')),
	(2009, '', 'Lin', NULL, 25, pg_temp.uid('regress_rep1')),
	-- near misses: another company, no company, no family name, a letter off
	(2010, 'Ivan', 'Roe', NULL, 26, pg_temp.uid('regress_rep1')),
	(2011, 'Kai', NULL, 'kai1@dup.example', 26, pg_temp.uid('regress_rep1')),
	(2012, 'Kai', NULL, 'kai2@dup.example', 26, pg_temp.uid('regress_rep1')),
	(2013, 'Mo', 'Sun', NULL, NULL, pg_temp.uid('regress_rep1')),
	(2014, 'Mo', 'Sun', NULL, NULL, pg_temp.uid('regress_rep1')),
	(2015, 'Ïvan', 'Roe', NULL, 26, pg_temp.uid('regress_rep1')),
	-- a twin rep1 cannot see (rep2's), by email and by name
	(2016, 'Tia', 'Vale', 'twin@dup.example', 26, pg_temp.uid('regress_rep1')),
	(2017, 'Tom', 'Wolf', 'twin@dup.example', NULL, pg_temp.uid('regress_rep2')),
	(2018, 'Nia', 'Yu', NULL, 26, pg_temp.uid('regress_rep1')),
	(2019, 'NIA', 'YU', NULL, 26, pg_temp.uid('regress_rep2')),
	-- both kinds at once
	(2020, 'Zed', 'Ax', 'zed@dup.example', 26, pg_temp.uid('regress_rep1')),
	(2021, 'zed', 'ax', 'ZED@dup.example', 26, pg_temp.uid('regress_rep1'));
INSERT INTO crm.invalidating_events (contact_id, kind, occurred_at)
SELECT c.id, k.kind, now() - random() * interval '1500 days'
  FROM crm.contacts c CROSS JOIN (VALUES ('email_bounced'), ('left_company')) k(kind)
 WHERE c.id >= 3000 AND random() < 0.2;

-- Every contact, visible or not, with its health by both ways as the
-- current role; the ids come from a table every role may read.
CREATE TEMP TABLE one_ids AS SELECT id FROM crm.contacts UNION ALL SELECT -1;
GRANT SELECT ON one_ids TO PUBLIC;
CREATE FUNCTION pg_temp.differing() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM pg_temp.one_ids i
	  LEFT JOIN crm.contact_health h ON h.contact_id = i.id
	 WHERE crm.record_health(i.id) IS DISTINCT FROM h.health $$;
CREATE FUNCTION pg_temp.healths(ids bigint[]) RETURNS numeric[] LANGUAGE sql AS $$
	SELECT array_agg(crm.record_health(i) ORDER BY o) FROM unnest(ids) WITH ORDINALITY u(i, o) $$;
CREATE FUNCTION pg_temp.view_healths(ids bigint[]) RETURNS numeric[] LANGUAGE sql AS $$
	SELECT array_agg(h.health ORDER BY o) FROM unnest(ids) WITH ORDINALITY u(i, o)
	  LEFT JOIN crm.contact_health h ON h.contact_id = u.i $$;

SELECT ok((SELECT count(*) FILTER (WHERE uniqueness = 0) > 100 AND count(*) FILTER (WHERE uniqueness = 1) > 100
				  AND count(*) FILTER (WHERE validity < 1) > 100 AND count(*) FILTER (WHERE email_confidence = 0) > 10
				  AND count(*) > 1300
			 FROM crm.contact_health WHERE contact_id >= 3000),
	'the generated contacts have duplicates, unique ones, invalid ones and bounced emails');
SELECT is(pg_temp.differing(), 0::bigint, 'superuser: crm.record_health(id) is the view''s health for every contact');

-- Only the duplicate part: health is 100 * uniqueness
UPDATE crm.health_settings SET confidence_weight = 0, completeness_weight = 0, validity_weight = 0, uniqueness_weight = 1;
SELECT is(pg_temp.healths('{2001,2002,2003,2004,2005,2006,2007,2008,2009,2020,2021}'),
	'{0,0,100,0,0,0,0,0,0,0,0}'::numeric[],
	'the same mailbox, the same name at a company (any case, no given name as empty), both at once: suspected');
SELECT is(pg_temp.healths('{2010,2011,2012,2013,2014,2015}'), '{100,100,100,100,100,100}'::numeric[],
	'the same name at another company, without a family name or a company, or a letter off: not suspected');
SELECT is(pg_temp.healths('{2016,2017,2018,2019}'), '{0,0,0,0}'::numeric[],
	'superuser: both twins of rep1 and rep2 are suspected');
SELECT is(pg_temp.differing(), 0::bigint, 'uniqueness only: still the view''s for every contact');
SELECT ok((SELECT count(*) FILTER (WHERE crm.record_health(id) = 0) > 100
				  AND count(*) FILTER (WHERE crm.record_health(id) = 100) > 100
			 FROM crm.contacts WHERE id >= 3000),
	'(and the generated contacts have both answers)');
UPDATE crm.health_settings SET confidence_weight = 0.4, completeness_weight = 0.25, validity_weight = 0.2,
	uniqueness_weight = 0.15;

-- A disposable domain overridden as ordinary is no longer invalid
INSERT INTO crm.email_domains (domain, kind) VALUES ('mailinator.com', 'ordinary');
SELECT is(pg_temp.differing(), 0::bigint, 'a disposable domain overridden as ordinary: still the view''s');
DELETE FROM crm.email_domains WHERE domain = 'mailinator.com' AND NOT builtin;

SELECT is(crm.record_health(-1), NULL, 'an unknown id: null');
SELECT is(crm.record_health(NULL), NULL, 'a null id: null');

-- As CRM roles: each sees its slice, and only its slice's duplicates
SET ROLE regress_rep1;
SELECT ok((SELECT count(*) FROM crm.contacts) BETWEEN 100 AND 1400, 'rep1 sees some contacts, not all');
SELECT is(pg_temp.differing(), 0::bigint, 'rep1: crm.record_health(id) is the view''s health for every id');
RESET ROLE;
UPDATE crm.health_settings SET confidence_weight = 0, completeness_weight = 0, validity_weight = 0, uniqueness_weight = 1;
SET ROLE regress_rep1;
SELECT is(pg_temp.healths('{2016,2017,2018,2019,2001}'), '{100,NULL,100,NULL,0}'::numeric[],
	'rep1: its twins'' other halves are rep2''s, so they have no health and its own are not suspected');
SELECT is(pg_temp.view_healths('{2016,2017,2018,2019,2001}'), '{100,NULL,100,NULL,0}'::numeric[],
	'(as the view says)');
RESET ROLE;
SET ROLE regress_rep2;
SELECT is(pg_temp.healths('{2016,2017,2018,2019}'), '{NULL,100,NULL,100}'::numeric[], 'rep2: the same from the other side');
SELECT is(pg_temp.differing(), 0::bigint, 'rep2, uniqueness only: the view''s health for every id');
RESET ROLE;
UPDATE crm.health_settings SET confidence_weight = 0.4, completeness_weight = 0.25, validity_weight = 0.2,
	uniqueness_weight = 0.15;

SET ROLE regress_mgr;
SELECT is(pg_temp.differing(), 0::bigint, 'manager: the view''s health for every id');
RESET ROLE;
SET ROLE regress_mkt;
SELECT ok((SELECT count(*) FROM crm.contacts) BETWEEN 100 AND 1400, 'marketing sees the pre-sales stages only');
SELECT is(pg_temp.differing(), 0::bigint, 'marketing: the view''s health for every id');
RESET ROLE;
SET ROLE regress_sup;
SELECT is(pg_temp.differing(), 0::bigint, 'support: the view''s health for every id');
RESET ROLE;
SET ROLE regress_admin;
SELECT is(pg_temp.differing(), 0::bigint, 'CRM admin: the view''s health for every id');
RESET ROLE;
SET ROLE regress_analyst;
SELECT is(pg_temp.differing(), 0::bigint, 'analyst (reads all): the view''s health for every id');
RESET ROLE;
SET ROLE regress_nobody;
SELECT throws_ok($$SELECT crm.record_health(2001)$$, '42501', 'permission denied for table contacts',
	'a login without a CRM role may not read contacts: refused, as the view refuses it');
SELECT throws_ok($$SELECT health FROM crm.contact_health WHERE contact_id = 2001$$, '42501',
	'permission denied for table contacts', '(the view)');
RESET ROLE;

-- The email probe itself: under the caller's policies, refused without
-- the privilege (even when there is no twin to hide), and the same answers
-- without the email index (the plain query then)
SELECT is(crm._health_mailbox_twin(2016, 'twin@dup.example'), true, 'the superuser sees 2016''s twin');
SET ROLE regress_rep1;
SELECT is(crm._health_mailbox_twin(2016, 'twin@dup.example'), false, 'rep1 does not');
SELECT is(crm._health_mailbox_twin(-5, 'TWIN@dup.example'), true, 'asked for another id, its own 2016 counts');
SELECT is(crm._health_mailbox_twin(2016, 'nobody.else@dup.example'), false, 'an email nobody has: no twin');
RESET ROLE;
SET ROLE regress_rep2;
SELECT is(crm._health_mailbox_twin(2017, 'TWIN@dup.example'), false, 'rep2 does not see 2017''s twin either');
RESET ROLE;
SET ROLE regress_nobody;
SELECT throws_ok($$SELECT crm._health_mailbox_twin(1, 'no.such.mailbox@nowhere.example')$$, '42501',
	'permission denied for table contacts', 'a login without a CRM role may not ask, whatever the answer');
RESET ROLE;
SAVEPOINT no_index;
DROP INDEX crm.contacts_email_idx;
SELECT is(pg_temp.differing(), 0::bigint, 'without the email index: the view''s health for every contact');
SET ROLE regress_rep1;
SELECT is(pg_temp.differing(), 0::bigint, '(as rep1 too)');
RESET ROLE;
ROLLBACK TO SAVEPOINT no_index;

-- No settings row, no health
DELETE FROM crm.health_settings;
SELECT is(pg_temp.healths('{2001,2003}'), '{NULL,NULL}'::numeric[], 'no settings row: null, as the view has no row');
SELECT is(pg_temp.differing(), 0::bigint, '(the view agrees)');
INSERT INTO crm.health_settings DEFAULT VALUES;

-- Parallel plans change nothing
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT is(pg_temp.differing(), 0::bigint, 'parallel plans allowed: still the view''s for every contact');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- Declared as a per-contact lookup
SELECT is((SELECT provolatile::text || proisstrict::text || proparallel::text FROM pg_proc
			WHERE oid = 'crm.record_health(bigint)'::regprocedure), 'strues',
	'crm.record_health: STABLE, STRICT, PARALLEL SAFE');
SELECT ok((SELECT procost > 1 FROM pg_proc WHERE oid = 'crm._contact_health'::regproc), 'crm._contact_health has a cost');

SELECT * FROM finish();
ROLLBACK;
