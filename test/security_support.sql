-- Row-level security for support: customer accounts and their contacts,
-- tickets, support activities.
BEGIN;
\ir fixtures/model.sql
SELECT plan(17);

SET ROLE regress_sup;
SELECT is(pg_temp.ids('accounts'), '{1,4}', 'support sees customer accounts');
SELECT is(pg_temp.ids('contacts'), '{1,5,8}', 'support sees the contacts of customer accounts');
SELECT is(pg_temp.ids('tickets'), '{1,2}', 'support sees every ticket');
SELECT is(pg_temp.ids('activities'), '{2}', 'support sees activities logged against tickets');
SELECT is(pg_temp.ids('tasks'), '{4}', 'support sees its tasks');
SELECT is(pg_temp.ids('consents'), '{2,3}', 'support sees consents of its contacts');
SELECT throws_ok($$SELECT id FROM crm.deals$$, '42501', NULL, 'support cannot read deals');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET phone = '+1 415 555 2671' WHERE id = 1$$), 1::bigint,
	'support updates a customer contact');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'x' WHERE id = 2$$), 0::bigint,
	'support cannot change a prospect''s contact');
SELECT throws_ok($$INSERT INTO crm.contacts (given_name) VALUES ('x')$$, '42501', NULL, 'support creates no contacts');
SELECT lives_ok($$INSERT INTO crm.tickets (id, subject, contact_id, category) VALUES (101, 'Crash', 5, 'bug')$$,
	'support opens a ticket');
SELECT is(pg_temp.affected($$UPDATE crm.tickets SET status = 'resolved', resolved_at = now() WHERE id = 1$$), 1::bigint,
	'support resolves a ticket');
SELECT lives_ok($$INSERT INTO crm.activities (contact_id, kind, ticket_id) VALUES (5, 'call', 101)$$,
	'support logs a call on a ticket');
SELECT throws_ok($$INSERT INTO crm.activities (contact_id, kind) VALUES (5, 'call')$$, '42501', NULL,
	'but not an activity outside a ticket');
SELECT throws_ok($$DELETE FROM crm.tickets WHERE id = 1$$, '42501', NULL, 'support deletes no tickets');
SELECT throws_ok($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep1') WHERE id = 5$$,
	'42501', 'cannot change the owner of a row in contacts', 'support reassigns no contacts');
SELECT throws_ok($$SELECT contact_id FROM crm.campaign_members$$, '42501', NULL, 'support cannot read campaign membership');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
