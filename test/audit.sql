-- The change audit log: one row per changed row with who, when, what;
-- append-only; readable by admin and analyst; purged only by admins.
BEGIN;
\ir fixtures/model.sql
SELECT plan(34);

SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'contacts' AND op = 'INSERT'), 8,
	'the fixture''s eight contact inserts are logged, one row each');
SELECT is((SELECT new_values->>'given_name' FROM crm.audit_log WHERE table_name = 'contacts' AND row_id = 3),
	'Cat', 'an insert logs the whole new row');
SELECT is((SELECT contact_id FROM crm.audit_log WHERE table_name = 'contacts' AND row_id = 3), 3::bigint,
	'a contact''s rows carry its contact_id');
SELECT is((SELECT contact_id FROM crm.audit_log WHERE table_name = 'activities' AND row_id = 5), 4::bigint,
	'so do the rows of tables that hang off a contact');
SELECT is((SELECT contact_id FROM crm.audit_log WHERE table_name = 'accounts' AND row_id = 1), 0::bigint,
	'rows about no single contact have contact_id 0');
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'contact_emails' AND op = 'INSERT'), 8,
	'trigger-written history rows are logged too');

-- a rep, logged in as itself
SET SESSION AUTHORIZATION regress_rep1;
UPDATE crm.contacts SET title = 'CTO', given_name = 'Ann' WHERE id = 1;
UPDATE crm.contacts SET title = 'CTO' WHERE id = 1;
INSERT INTO crm.contacts (id, given_name) VALUES (101, 'Ivy');
DELETE FROM crm.contacts WHERE id = 101;
SELECT throws_ok($$SELECT count(*) FROM crm.audit_log$$, '42501', NULL, 'a rep cannot read the audit log');
SELECT throws_ok($$INSERT INTO crm.audit_log (db_role, login, table_name, op) VALUES ('x', 'x', 'contacts', 'INSERT')$$,
	'42501', NULL, 'nor forge an entry');
RESET SESSION AUTHORIZATION;

CREATE TEMP TABLE upd AS
SELECT * FROM crm.audit_log WHERE table_name = 'contacts' AND row_id = 1 AND op = 'UPDATE';
SELECT is((SELECT count(*)::int FROM upd), 1, 'the update is logged once; the no-op update not at all');
SELECT is((SELECT old_values FROM upd), '{"title": null}'::jsonb, 'with only the changed column''s old value');
SELECT is((SELECT new_values FROM upd), '{"title": "CTO"}'::jsonb, 'and its new value');
SELECT is((SELECT user_id FROM upd), pg_temp.uid('regress_rep1'), 'who: the CRM user');
SELECT is((SELECT db_role::text FROM upd), 'regress_rep1', 'the role the policies saw');
SELECT is((SELECT login::text FROM upd), 'regress_rep1', 'and the login');
SELECT is((SELECT logged_at FROM upd), now(), 'when: the transaction''s time');
SELECT is((SELECT op FROM crm.audit_log WHERE table_name = 'contacts' AND row_id = 101 ORDER BY id LIMIT 1),
	'INSERT', 'the insert of contact 101 is logged');
SELECT is((SELECT old_values->>'given_name' FROM crm.audit_log
			WHERE table_name = 'contacts' AND row_id = 101 AND op = 'DELETE'),
	'Ivy', 'its delete logs the whole old row');
SELECT is((SELECT new_values FROM crm.audit_log WHERE table_name = 'contacts' AND row_id = 101 AND op = 'DELETE'),
	NULL, 'and no new values');
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'contact_emails' AND row_id IS NOT NULL
			AND contact_id = 101), 0, 'a contact without email writes no email history');

-- a statement that changes several rows, and one that changes a key
UPDATE crm.deals SET amount = amount + 1 WHERE id IN (2, 3);
SELECT is((SELECT array_agg(row_id ORDER BY row_id) FROM crm.audit_log WHERE table_name = 'deals' AND op = 'UPDATE'),
	'{2,3}'::bigint[], 'a multi-row update logs each row');
SELECT is((SELECT array_agg(new_values->>'amount' ORDER BY row_id) FROM crm.audit_log
			WHERE table_name = 'deals' AND op = 'UPDATE'), '{2001.00,501.00}'::text[], 'each with its own values');
UPDATE crm.contact_tags SET tag_id = tag_id WHERE contact_id = 1;
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'contact_tags' AND op = 'UPDATE'), 0,
	'an update that changes nothing but the stamps is not logged');
UPDATE crm.campaign_members SET campaign_id = 2 WHERE contact_id = 3 AND campaign_id = 1;
SELECT is((SELECT old_values || new_values FROM crm.audit_log WHERE table_name = 'campaign_members' AND op = 'UPDATE'),
	'{"campaign_id": 2}'::jsonb, 'an update of a key column pairs old and new rows by position');
SELECT is((SELECT old_values FROM crm.audit_log WHERE table_name = 'campaign_members' AND op = 'UPDATE'),
	'{"campaign_id": 1}'::jsonb, 'and logs the old key');

-- a table that gains a column is still logged whole (the trigger's
-- prepared statement is replaced when the row type changes)
INSERT INTO crm.tags (id, name) VALUES (101, 'before');
ALTER TABLE crm.tags ADD COLUMN colour text;
INSERT INTO crm.tags (id, name, colour) VALUES (102, 'after', 'red');
SELECT is((SELECT new_values->>'colour' FROM crm.audit_log WHERE table_name = 'tags' AND row_id = 102), 'red',
	'a column added later is logged');
ALTER TABLE crm.tags DROP COLUMN colour;
INSERT INTO crm.tags (id, name) VALUES (103, 'dropped');
SELECT is((SELECT new_values ? 'colour' FROM crm.audit_log WHERE table_name = 'tags' AND row_id = 103), false,
	'and a dropped one no longer is');

-- append-only, even for the owner (this session is the superuser owner)
SELECT throws_ok($$UPDATE crm.audit_log SET login = 'x'$$, '42501', 'the audit log is append-only',
	'the owner cannot update the log');
SELECT throws_ok($$DELETE FROM crm.audit_log$$, '42501', 'the audit log is append-only', 'nor delete from it');
SELECT throws_ok($$TRUNCATE crm.audit_log$$, '42501', 'the audit log is append-only', 'nor truncate it');

-- readers
SET ROLE regress_analyst;
SELECT cmp_ok((SELECT count(*) FROM crm.audit_log), '>', 50::bigint, 'an analyst reads the log');
RESET ROLE;

-- retention
INSERT INTO crm.audit_log (logged_at, db_role, login, table_name, op)
SELECT now() - interval '400 days', 'regress_old', 'regress_old', 'contacts', 'INSERT' FROM generate_series(1, 3);
SET ROLE regress_sup;
SELECT throws_ok($$SELECT crm.audit_purge('1 year')$$, '42501', NULL, 'support cannot purge');
RESET ROLE;
SET ROLE regress_admin;
SELECT is(crm.audit_purge('1 year'), 3::bigint, 'an admin purges the entries older than a year');
SELECT is((SELECT new_values->>'rows' FROM crm.audit_log WHERE op = 'PURGE'), '3', 'the purge itself is logged');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE login = 'regress_old'), 0, 'and the old entries are gone');

SELECT * FROM finish();
ROLLBACK;
