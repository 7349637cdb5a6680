-- Analysts and executives read everything and write nothing; admins do
-- everything; a login that is no CRM user reaches nothing.
BEGIN;
\ir fixtures/model.sql
SELECT plan(29);

SET ROLE regress_analyst;
SELECT is(pg_temp.ids('contacts'), '{1,2,3,4,5,6,7,8}', 'analyst sees every contact');
SELECT is(pg_temp.ids('accounts'), '{1,2,3,4}', 'analyst sees every account');
SELECT is(pg_temp.ids('deals'), '{1,2,3,4}', 'analyst sees every deal');
SELECT is(pg_temp.ids('tickets'), '{1,2}', 'analyst sees every ticket');
SELECT is(pg_temp.ids('activities'), '{1,2,3,4,5}', 'analyst sees every activity');
SELECT is(pg_temp.ids('tasks'), '{1,2,3,4}', 'analyst sees every task');
SELECT is(pg_temp.ids('shares'), '{1,2}', 'analyst sees every share');
SELECT cmp_ok((SELECT count(*) FROM crm.audit_log), '>', 0::bigint, 'analyst reads the audit log');
SELECT throws_ok($$INSERT INTO crm.contacts (given_name) VALUES ('x')$$, '42501', NULL, 'analyst inserts nothing');
SELECT throws_ok($$UPDATE crm.accounts SET name = 'x'$$, '42501', NULL, 'analyst updates nothing');
SELECT throws_ok($$DELETE FROM crm.tasks$$, '42501', NULL, 'analyst deletes nothing');
RESET ROLE;

SET ROLE regress_exec;
SELECT is(pg_temp.ids('contacts'), '{1,2,3,4,5,6,7,8}', 'executive sees every contact');
SELECT is(pg_temp.ids('deals'), '{1,2,3,4}', 'executive sees every deal');
SELECT is(pg_temp.ids('tickets'), '{1,2}', 'executive sees every ticket');
SELECT throws_ok($$SELECT count(*) FROM crm.audit_log$$, '42501', NULL, 'executive cannot read the audit log');
SELECT throws_ok($$UPDATE crm.deals SET amount = 0$$, '42501', NULL, 'executive updates nothing');
RESET ROLE;

CREATE ROLE regress_new LOGIN;
SET ROLE regress_admin;
SELECT is(pg_temp.ids('contacts'), '{1,2,3,4,5,6,7,8}', 'admin sees every contact');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep3') WHERE id = 1$$), 1::bigint,
	'admin reassigns anything');
SELECT is(pg_temp.affected($$UPDATE crm.pipeline_stages SET probability = 0.25 WHERE id = 1$$), 1::bigint,
	'admin changes configuration');
SELECT lives_ok($$SELECT crm.add_user('regress_new', 'rep', 'regress_mgr', 'Sales East')$$, 'admin registers a user');
SELECT ok(pg_has_role('regress_new', 'crm_rep', 'MEMBER'), 'who is granted crm_rep');
SELECT is(pg_temp.affected($$DELETE FROM crm.contacts WHERE id = 6$$), 1::bigint, 'admin deletes a contact');
SELECT throws_ok($$TRUNCATE crm.contacts$$, '42501', NULL, 'not even admin may TRUNCATE');
SELECT throws_ok($$DELETE FROM crm.audit_log$$, '42501', NULL, 'admin cannot delete from the audit log');
RESET ROLE;

SET ROLE regress_nobody;
SELECT throws_ok($$SELECT id FROM crm.contacts$$, '42501', NULL, 'a login without a CRM role reads no contacts');
SELECT throws_ok($$SELECT id FROM crm.users$$, '42501', NULL, 'nor the user directory');
SELECT throws_ok($$SELECT crm.add_user('regress_nobody', 'admin')$$, '42501', NULL, 'and cannot register itself');
SELECT throws_ok($$SELECT * FROM crm.report_pipeline$$, '42501', NULL, 'nor read a report');
SELECT throws_ok($$SELECT crm.audit_purge('0')$$, '42501', NULL, 'nor purge the audit log');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
