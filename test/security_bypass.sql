-- Ways around row-level security that must not work: views, functions,
-- COPY, SET ROLE, set_config, leaky functions in WHERE, and a superuser's
-- SET ROLE into a group role.
BEGIN;
\ir fixtures/model.sql
SELECT plan(27);
GRANT pg_write_server_files, pg_read_server_files TO regress_rep1;
SELECT format('/tmp/crm_copy_%s.csv', pg_backend_pid()) AS copyfile \gset

-- Log in as rep1 (session_user too, so SET ROLE is checked against rep1).
SET SESSION AUTHORIZATION regress_rep1;
-- settings a client can change do not move the policies
DO $$ BEGIN
	PERFORM set_config('crm.user', 'regress_admin', false);
	PERFORM set_config('crm.role', 'admin', false);
	PERFORM set_config('application_name', 'regress_admin', false);
END $$;
SELECT is(pg_temp.ids('contacts'), '{1,2,7,8}', 'custom settings do not widen what rep1 sees');
SELECT throws_ok($$SET ROLE regress_admin$$, '42501', NULL, 'rep1 cannot SET ROLE to an admin login');
SELECT throws_ok($$SET ROLE crm_admin$$, '42501', NULL, 'nor to the crm_admin group');
SELECT throws_ok($$SELECT set_config('role', 'regress_admin', false)$$, '42501', NULL,
	'nor through set_config(''role'', ...)');
-- its own group role is no way round either: crm_rep is no CRM user
SET ROLE crm_rep;
SELECT is(pg_temp.ids('contacts'), '{}', 'as the bare crm_rep group it sees nothing');
RESET ROLE;

-- views: security_invoker report views and views of one's own
SELECT is((SELECT array_agg(DISTINCT owner ORDER BY owner) FROM crm.report_pipeline), '{regress_rep1}'::text[],
	'a report view shows rep1 only its own pipeline');
SELECT is((SELECT array_agg(contact_id ORDER BY contact_id) FROM crm.current_consents), '{1}'::bigint[],
	'crm.current_consents shows only visible contacts');
CREATE TEMP VIEW my_contacts AS SELECT id FROM crm.contacts;
SELECT is((SELECT array_agg(id ORDER BY id) FROM my_contacts), '{1,2,7,8}'::bigint[],
	'a view rep1 creates sees what rep1 sees');

-- functions
SELECT is(crm.visible_contact_ids(), '{1,2,7,8}'::bigint[], 'crm.visible_contact_ids() answers for rep1');
SELECT is(crm.contact_writable(3), false, 'crm.contact_writable() refuses rep2''s contact');
SELECT is(crm.contact_writable(8), true, 'and allows the write-shared one');
SELECT throws_ok($$SELECT crm.add_user('regress_rep1', 'admin')$$, '42501', NULL,
	'the SECURITY DEFINER crm.add_user is not executable by rep1');
CREATE FUNCTION pg_temp.peek(bigint) RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM crm.contacts';
SELECT is(pg_temp.peek(0), 4::bigint, 'a SECURITY DEFINER function rep1 writes runs as rep1');

-- a leaky function in WHERE sees only rows the policies let through
CREATE TEMP TABLE seen (id bigint);
CREATE FUNCTION pg_temp.leak(bigint) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
	AS $$ BEGIN INSERT INTO seen VALUES ($1); RETURN true; END $$;
SELECT is((SELECT count(*) FROM crm.contacts WHERE pg_temp.leak(id)), 4::bigint, 'rep1 counts its 4 contacts');
SELECT is((SELECT array_agg(id ORDER BY id) FROM seen), '{1,2,7,8}'::bigint[],
	'a cheap leaky function in WHERE is evaluated only on visible rows');

-- COPY
COPY crm.contacts (id) TO :'copyfile';
RESET SESSION AUTHORIZATION;
SELECT is((SELECT array_agg(l::bigint ORDER BY l::bigint)
			 FROM regexp_split_to_table(rtrim(pg_read_file(:'copyfile'), E'\n'), E'\n') l),
	'{1,2,7,8}'::bigint[], 'COPY contacts TO a file writes only rep1''s rows');
SET SESSION AUTHORIZATION regress_rep1;
SELECT throws_ok(format($$COPY crm.contacts (given_name) FROM %L$$, :'copyfile'), '0A000', NULL,
	'COPY FROM into an RLS table is refused');
RESET SESSION AUTHORIZATION;

-- a superuser session that SETs ROLE is bound by the policies too
SET ROLE regress_rep2;
SELECT is(pg_temp.ids('contacts'), '{3,7}', 'SET ROLE from a superuser session applies rep2''s policies');
RESET ROLE;
SET SESSION AUTHORIZATION regress_rep2;
SELECT is(pg_temp.ids('contacts'), '{3,7}', 'so does SET SESSION AUTHORIZATION');
SELECT is(current_setting('is_superuser'), 'off', 'and the session is no superuser');
RESET SESSION AUTHORIZATION;

-- FORCE: even the owner of the tables (a non-superuser) obeys the policies
SELECT is((SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r'
			  AND NOT (c.relrowsecurity AND c.relforcerowsecurity)), 0,
	'every crm table has row-level security enabled and forced');
SELECT is((SELECT count(*)::int FROM information_schema.role_table_grants
			WHERE table_schema = 'crm' AND privilege_type = 'TRUNCATE' AND grantee <> current_user), 0,
	'nobody but the owner holds TRUNCATE on a crm table');

-- configuration tables of other parts follow the same rules
SET ROLE regress_rep1;
SELECT is(crm.email_is_free('someone@gmail.com'), true, 'a rep can use the email domain lists');
SELECT throws_ok($$INSERT INTO crm.email_domains (domain, kind) VALUES ('x.example', 'free')$$, '42501', NULL,
	'but not change them');
SELECT throws_ok($$DELETE FROM crm.nicknames$$, '42501', NULL, 'nor the nickname list');
RESET ROLE;
SET ROLE regress_admin;
SELECT lives_ok($$INSERT INTO crm.nicknames (name, nickname) VALUES ('robert', 'robbo')$$, 'an admin extends the nickname list');
SELECT is(pg_temp.affected($$DELETE FROM crm.nicknames WHERE builtin$$), 0::bigint, 'but cannot remove shipped rows');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
