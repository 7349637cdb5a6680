-- Row-level security cost: a rep's (and a manager's) query over :rows
-- contacts, against the same rows fetched by an admin with the equivalent
-- hand-written WHERE.  Issue target: rep ≤ 1.3× admin.
--
-- :rows contacts owned by 200 reps in 20 teams of 10 under one manager
-- each; the measured rep also has 50 contacts of others shared with it.
-- Each statement sets the role it runs as (SET ROLE to a login registered
-- with crm.add_user) and resets it, so the policies that apply are exactly
-- those of that login.
SET client_min_messages = warning;
-- Logins are cluster-wide: create them only when an earlier run left none.
DO $$
BEGIN
	FOR i IN 0..201 LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles
						WHERE rolname = CASE i WHEN 0 THEN 'bench_admin' WHEN 201 THEN 'bench_mgr' ELSE 'bench_rep' || i END) THEN
			EXECUTE format('CREATE ROLE %I LOGIN', CASE i WHEN 0 THEN 'bench_admin' WHEN 201 THEN 'bench_mgr' ELSE 'bench_rep' || i END);
		END IF;
	END LOOP;
END $$;
SELECT crm.add_user('bench_admin', 'admin');
SELECT crm.add_user('bench_mgr', 'manager', NULL, 'team 1');
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		PERFORM crm.add_user(('bench_rep' || i)::name, 'rep', CASE WHEN i <= 10 THEN 'bench_mgr' END,
							 'team ' || (1 + (i - 1) / 10));
	END LOOP;
END $$;

-- Load without the per-row triggers (stamps, history, audit): this bench
-- measures reads.
ALTER TABLE crm.contacts DISABLE TRIGGER USER;
INSERT INTO crm.contacts (given_name, family_name, email, owner_id, lifecycle_stage, lead_source, country)
SELECT 'Given' || g, 'Family' || (g % 5000), ('p' || g || '@example.com')::crm.email,
	   (SELECT id FROM crm.users WHERE login = 'bench_rep' || (1 + g % 200)),
	   (ARRAY['subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer'])[1 + g % 6],
	   (ARRAY['web', 'event', 'referral'])[1 + g % 3], 'US'
  FROM generate_series(1, :rows) g;
ALTER TABLE crm.contacts ENABLE TRIGGER USER;
INSERT INTO crm.shares (user_id, contact_id, access, granted_by)
SELECT (SELECT id FROM crm.users WHERE login = 'bench_rep1'), c.id, 'read', c.owner_id
  FROM crm.contacts c WHERE c.owner_id = (SELECT id FROM crm.users WHERE login = 'bench_rep2') ORDER BY c.id LIMIT 50;
VACUUM ANALYZE crm.contacts;
VACUUM ANALYZE crm.shares;
VACUUM ANALYZE crm.users;

SELECT id AS rep_id FROM crm.users WHERE login = 'bench_rep1' \gset
SELECT array_agg(contact_id ORDER BY contact_id)::text AS shared FROM crm.shares \gset
SELECT array_agg(id ORDER BY id)::text AS team FROM crm.users
 WHERE login = 'bench_mgr' OR login IN (SELECT 'bench_rep' || i FROM generate_series(1, 10) i) \gset

SELECT bench.compare('rep: own + shared contacts',
	$q$SET ROLE bench_rep1; SELECT count(*), sum(length(family_name)) FROM crm.contacts; RESET ROLE$q$,
	'admin, same rows by WHERE',
	format($q$SET ROLE bench_admin; SELECT count(*), sum(length(family_name)) FROM crm.contacts
			  WHERE owner_id = %s OR id = ANY (%L::bigint[]); RESET ROLE$q$, :'rep_id', :'shared'), 7);

SELECT bench.compare('rep: own leads, filtered',
	$q$SET ROLE bench_rep1; SELECT count(*) FROM crm.contacts WHERE lifecycle_stage = 'lead' AND lead_source = 'web'; RESET ROLE$q$,
	'admin, same rows by WHERE',
	format($q$SET ROLE bench_admin; SELECT count(*) FROM crm.contacts
			  WHERE (owner_id = %s OR id = ANY (%L::bigint[])) AND lifecycle_stage = 'lead' AND lead_source = 'web'; RESET ROLE$q$,
		   :'rep_id', :'shared'), 7);

SELECT bench.compare('manager: team of 10 reps',
	$q$SET ROLE bench_mgr; SELECT count(*), sum(length(family_name)) FROM crm.contacts; RESET ROLE$q$,
	'admin, same rows by WHERE',
	format($q$SET ROLE bench_admin; SELECT count(*), sum(length(family_name)) FROM crm.contacts
			  WHERE owner_id = ANY (%L::bigint[]); RESET ROLE$q$, :'team'), 7);

SELECT bench.compare('rep: one contact by id',
	$q$SET ROLE bench_rep1; SELECT given_name FROM crm.contacts WHERE id = 201; RESET ROLE$q$,
	'admin, same row',
	$q$SET ROLE bench_admin; SELECT given_name FROM crm.contacts WHERE id = 201; RESET ROLE$q$, 7);
