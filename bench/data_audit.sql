-- Record health of one contact and the data audit at :rows contacts (the
-- contacts of bench/scoring.sql, without its ten activities a contact).
--   crm.record_health(id) beside the view filtered to that contact (what
--   the function was), as a superuser and as a CRM admin (row-level
--   security on), and its time per call over many contacts;
--   the audit's duplicate step: crm.duplicate_summary beside what the
--   audit did before (crm.find_duplicates, its pairs then counted), first
--   on these contacts, then with a duplicate of every fifth added;
--   crm.run_data_audit() as a whole, on both.
\set QUIET on
SET client_min_messages = warning;
SELECT setseed(0.6);
SELECT (:rows)::bigint AS n_contacts, greatest((:rows)::bigint / 20, 10) AS n_accounts \gset

ALTER TABLE crm.accounts DISABLE TRIGGER ALL;
ALTER TABLE crm.contacts DISABLE TRIGGER ALL;
\ir ../tools/bench_people.sql
-- a hard bounce for one contact in fifty
INSERT INTO crm.invalidating_events (contact_id, kind, occurred_at)
SELECT g * 50, 'email_bounced', now() - random() * interval '300 days' FROM generate_series(1, :n_contacts / 50) g;
ALTER TABLE crm.accounts ENABLE TRIGGER ALL;
ALTER TABLE crm.contacts ENABLE TRIGGER ALL;
SELECT setval(pg_get_serial_sequence('crm.contacts', 'id'), :n_contacts);
VACUUM ANALYZE crm.accounts, crm.contacts, crm.invalidating_events;

CREATE ROLE bench_health_admin;
SELECT crm.add_user('bench_health_admin', 'admin');

-- One contact's health: 1,000 contacts spread over the table, each call its
-- own statement as an application makes them; beside the view filtered to
-- one contact (one statement).
CREATE FUNCTION pg_temp.health_calls(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	h numeric;
	top bigint := (SELECT max(id) FROM crm.contacts);
BEGIN
	FOR i IN 1..n LOOP
		-- every tenth contact, in a scattered order; one in five is bounced
		h := crm.record_health(10 + (i * 7919) % top / 10 * 10);
	END LOOP;
END $$;
SELECT bench.compare('crm.record_health() x 1000',
	'SELECT pg_temp.health_calls(1000)',
	'contact_health filtered, one contact',
	format('SELECT health FROM crm.contact_health WHERE contact_id = %s', :n_contacts / 3));
SELECT bench.compare('crm.record_health() x 1000, as a CRM admin',
	'SET ROLE bench_health_admin; SELECT pg_temp.health_calls(1000); RESET ROLE',
	'contact_health filtered, as a CRM admin',
	format('SET ROLE bench_health_admin; SELECT health FROM crm.contact_health WHERE contact_id = %s; RESET ROLE',
		   :n_contacts / 3));

-- The audit's step 3, then and now
CREATE FUNCTION pg_temp.step3_before() RETURNS jsonb LANGUAGE sql AS $$
	WITH d AS MATERIALIZED (SELECT * FROM crm.find_duplicates('crm.contacts'::regclass))
	SELECT jsonb_build_object('pairs', (SELECT count(*) FROM d),
		'contacts', (SELECT count(DISTINCT x) FROM (SELECT id_a FROM d UNION ALL SELECT id_b FROM d) u(x)),
		'examples', COALESCE((SELECT jsonb_agg(jsonb_build_object('a', e.id_a, 'b', e.id_b,
			'probability', round(e.probability::numeric, 3))) FROM (SELECT * FROM d LIMIT 5) e), '[]')) $$;
SELECT bench.compare('audit step 3: crm.duplicate_summary', 'SELECT * FROM crm.duplicate_summary()',
	'step 3 before: find_duplicates, counted', 'SELECT pg_temp.step3_before()', 1);
SELECT bench.note('  pairs found', (SELECT pairs FROM crm.duplicate_summary()), 'pairs');
SELECT bench.time_once('crm.run_data_audit()', 'SELECT crm.run_data_audit()');

-- A duplicate of every fifth contact: its email in capitals, every other
-- one with the given name's last letter dropped.
ALTER TABLE crm.contacts DISABLE TRIGGER ALL;
INSERT INTO crm.contacts (id, given_name, family_name, email, title, account_id, lead_source, lifecycle_stage, created_at)
SELECT :n_contacts + c.id / 5, CASE WHEN c.id % 2 = 0 THEN left(c.given_name, -1) ELSE c.given_name END, c.family_name,
	upper(c.email::text)::crm.email, c.title, c.account_id, c.lead_source, c.lifecycle_stage, c.created_at
  FROM crm.contacts c WHERE c.id % 5 = 0;
ALTER TABLE crm.contacts ENABLE TRIGGER ALL;
VACUUM ANALYZE crm.contacts;
SELECT bench.compare('step 3, 20% duplicated: duplicate_summary', 'SELECT * FROM crm.duplicate_summary()',
	'step 3 before, 20% duplicated', 'SELECT pg_temp.step3_before()', 1);
SELECT bench.note('  pairs found', (SELECT pairs FROM crm.duplicate_summary()), 'pairs');
SELECT bench.time_once('crm.run_data_audit(), 20% duplicated', 'SELECT crm.run_data_audit()');
