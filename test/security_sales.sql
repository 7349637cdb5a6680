-- Row-level security for sales: reps (own + shared) and managers (team
-- subtree, any depth).  Fixture and expected rows: test/fixtures/model.sql
-- and docs/security.md.
BEGIN;
\ir fixtures/model.sql
SELECT plan(76);

-- ---------------------------------------------------------------- rep1
SET ROLE regress_rep1;
SELECT is(crm.current_user_id(), pg_temp.uid('regress_rep1'), 'rep1: current_user_id is rep1');
SELECT is(crm.visible_owner_ids(), ARRAY[pg_temp.uid('regress_rep1')], 'rep1: reaches only itself by ownership');
SELECT is(pg_temp.ids('contacts'), '{1,2,7,8}', 'rep1 sees own contacts 1, 2 and shared 7 (read), 8 (write)');
SELECT is(pg_temp.ids('accounts'), '{1,2,4}', 'rep1 sees own account 1 and the accounts of its contacts (2, 4)');
SELECT is(pg_temp.ids('deals'), '{1,2}', 'rep1 sees own deals');
SELECT is(pg_temp.ids('tickets'), '{1}', 'rep1 reads the tickets of its contacts');
SELECT is(pg_temp.ids('tasks'), '{1}', 'rep1 sees its tasks');
SELECT is(pg_temp.ids('activities'), '{1,2}', 'rep1 sees the activities of its contacts');
SELECT is(pg_temp.ids('shares'), '{1,2}', 'rep1 sees the shares made to it');
SELECT is(pg_temp.ids('consents'), '{2,3}', 'rep1 sees consents of its contacts');
SELECT is(pg_temp.cids('contact_emails'), '{1,2,7,8}', 'rep1 sees the email history of visible contacts');
SELECT is(pg_temp.cids('campaign_members'), '{2}', 'rep1 sees campaign membership of visible contacts');
SELECT is(pg_temp.cids('contact_tags'), '{1}', 'rep1 sees tags of visible contacts');
SELECT is(pg_temp.ids('users'), (SELECT array_agg(id ORDER BY id) FROM crm.users), 'rep1 reads the user directory');
SELECT is(pg_temp.ids('pipeline_stages'), '{1,2,3,4}', 'rep1 reads pipeline configuration');
SELECT is(pg_temp.ids('campaigns'), '{1,2}', 'rep1 reads campaigns');

-- writes
SELECT lives_ok($$INSERT INTO crm.contacts (id, given_name, lifecycle_stage) VALUES (101, 'Ivy', 'lead')$$,
	'rep1 creates a contact');
SELECT is((SELECT owner_id FROM crm.contacts WHERE id = 101), pg_temp.uid('regress_rep1'),
	'and owns it by default');
SELECT throws_ok($$INSERT INTO crm.contacts (given_name, owner_id) VALUES ('Jo', pg_temp.uid('regress_rep2'))$$,
	'42501', NULL, 'rep1 cannot create a contact for rep2');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'CTO' WHERE id = 1$$), 1::bigint, 'rep1 updates its own contact');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'CTO' WHERE id = 3$$), 0::bigint, 'rep1 cannot update rep2''s contact');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'CTO' WHERE id = 7$$), 0::bigint, 'rep1 cannot update a read-shared contact');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'CTO' WHERE id = 8$$), 1::bigint, 'rep1 updates a write-shared contact');
SELECT throws_ok($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep2') WHERE id = 1$$,
	'42501', NULL, 'rep1 cannot give its contact away');
SELECT throws_ok($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep1') WHERE id = 8$$,
	'42501', 'cannot change the owner of a row in contacts', 'rep1 cannot take a write-shared contact');
SELECT is(pg_temp.affected($$DELETE FROM crm.contacts WHERE id = 8$$), 0::bigint, 'rep1 cannot delete a shared contact');
SELECT is(pg_temp.affected($$DELETE FROM crm.contacts WHERE id = 101$$), 1::bigint, 'rep1 deletes its own contact');
SELECT lives_ok($$INSERT INTO crm.contact_emails (contact_id, email) VALUES (8, 'hal@fir.example')$$,
	'rep1 adds an email to a write-shared contact');
SELECT throws_ok($$INSERT INTO crm.contact_emails (contact_id, email) VALUES (7, 'gus@yew.example')$$,
	'42501', NULL, 'rep1 cannot add an email to a read-shared contact');
SELECT throws_ok($$INSERT INTO crm.activities (contact_id, kind) VALUES (3, 'call')$$,
	'42501', NULL, 'rep1 cannot log an activity on rep2''s contact');
SELECT lives_ok($$INSERT INTO crm.activities (contact_id, id, kind) VALUES (2, 201, 'call')$$,
	'rep1 logs an activity on its contact');
SELECT lives_ok($$INSERT INTO crm.deals (id, name, pipeline_id, stage_id, account_id, contact_id, amount)
				  VALUES (201, 'Upsell', 1, 1, 1, 1, 300)$$, 'rep1 creates a deal');
SELECT is(pg_temp.affected($$UPDATE crm.deals SET amount = 1 WHERE id = 3$$), 0::bigint, 'rep1 cannot change rep2''s deal');
SELECT throws_ok($$INSERT INTO crm.tasks (title, due_at, assignee_id) VALUES ('x', now(), pg_temp.uid('regress_rep2'))$$,
	'42501', NULL, 'rep1 cannot assign a task to rep2');
SELECT lives_ok($$INSERT INTO crm.shares (id, user_id, contact_id) VALUES (201, pg_temp.uid('regress_rep2'), 1)$$,
	'rep1 shares its contact with rep2');
SELECT throws_ok($$INSERT INTO crm.shares (user_id, contact_id) VALUES (pg_temp.uid('regress_rep1'), 3)$$,
	'42501', NULL, 'rep1 cannot share itself rep2''s contact');
SELECT throws_ok($$INSERT INTO crm.tickets (subject) VALUES ('x')$$, '42501', NULL, 'rep1 cannot open tickets');
SELECT throws_ok($$UPDATE crm.users SET crm_role = 'admin' WHERE login = 'regress_rep1'$$, '42501', NULL,
	'rep1 cannot promote itself');
SELECT throws_ok($$TRUNCATE crm.contacts$$, '42501', NULL, 'rep1 cannot TRUNCATE (which would bypass RLS)');
SELECT throws_ok($$UPDATE crm.pipeline_stages SET probability = 1 WHERE id = 1$$, '42501', NULL,
	'rep1 cannot change configuration');
RESET ROLE;

-- ---------------------------------------------------------------- rep2, rep3
SET ROLE regress_rep2;
SELECT is(pg_temp.ids('contacts'), '{1,3,7}', 'rep2 sees own contacts 3, 7 and contact 1 rep1 just shared');
SELECT is(pg_temp.ids('accounts'), '{1,2}', 'rep2 sees own account 2 and account 1 through the shared contact');
SELECT is(pg_temp.ids('deals'), '{3}', 'rep2 sees its deal');
SELECT is(pg_temp.ids('shares'), '{1,201}', 'rep2 sees the share it granted and the one made to it');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'x' WHERE id = 1$$), 0::bigint,
	'a read share does not let rep2 write');
RESET ROLE;
SET ROLE regress_rep3;
SELECT is(pg_temp.ids('contacts'), '{4,5,8}', 'rep3 sees its contacts');
SELECT is(pg_temp.ids('accounts'), '{3,4}', 'rep3 sees its accounts');
SELECT is(pg_temp.ids('tickets'), '{2}', 'rep3 reads the ticket of its contact');
SELECT is(pg_temp.ids('tasks'), '{3}', 'rep3 sees its task');
SELECT is(pg_temp.ids('activities'), '{5}', 'rep3 sees activities of its contacts');
RESET ROLE;

-- ---------------------------------------------------------------- mgr (Sales East)
SET ROLE regress_mgr;
SELECT is(crm.visible_owner_ids(),
	(SELECT array_agg(id ORDER BY id) FROM crm.users
	  WHERE login IN ('regress_mgr', 'regress_rep1', 'regress_rep2', 'regress_gone')),
	'mgr reaches itself and everyone in Sales East and Sales East NYC');
SELECT is(pg_temp.ids('contacts'), '{1,2,3,7}', 'mgr sees everything its team owns, not what was shared with its reps');
SELECT is(pg_temp.ids('accounts'), '{1,2}', 'mgr sees its team''s accounts');
SELECT is(pg_temp.ids('deals'), '{1,2,3,201}', 'mgr sees its team''s deals');
SELECT is(pg_temp.ids('tasks'), '{1,2}', 'mgr sees its team''s tasks');
SELECT is(pg_temp.ids('tickets'), '{1}', 'mgr reads tickets of its team''s contacts');
SELECT is(pg_temp.ids('activities'), '{1,2,3,201}', 'mgr sees activities on its team''s contacts');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep2') WHERE id = 2$$), 1::bigint,
	'mgr reassigns a contact from rep1 to rep2');
SELECT is((SELECT owner_id FROM crm.contacts WHERE id = 2), pg_temp.uid('regress_rep2'), 'and the owner changed');
SELECT throws_ok($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep3') WHERE id = 3$$,
	'42501', NULL, 'mgr cannot hand a contact to rep3, outside its team');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'x' WHERE id = 4$$), 0::bigint,
	'mgr cannot change rep3''s contact');
SELECT is(pg_temp.affected($$UPDATE crm.deals SET amount = 600 WHERE id = 3$$), 1::bigint, 'mgr changes rep2''s deal');
SELECT lives_ok($$INSERT INTO crm.tasks (id, title, due_at, assignee_id) VALUES (201, 'Coach', now(), pg_temp.uid('regress_rep2'))$$,
	'mgr assigns a task to rep2');
SELECT throws_ok($$INSERT INTO crm.tasks (title, due_at, assignee_id) VALUES ('x', now(), pg_temp.uid('regress_rep3'))$$,
	'42501', NULL, 'mgr cannot assign a task to rep3');
RESET ROLE;

-- ---------------------------------------------------------------- vp (Sales, the root)
SET ROLE regress_vp;
SELECT is(pg_temp.ids('contacts'), '{1,2,3,4,5,7,8}', 'vp sees every owned contact in the Sales tree, at any depth');
SELECT is(pg_temp.ids('accounts'), '{1,2,3,4}', 'vp sees every account in the tree');
SELECT is(pg_temp.ids('deals'), '{1,2,3,4,201}', 'vp sees every deal in the tree');
SELECT is(pg_temp.ids('tasks'), '{1,2,3,201}', 'vp sees every task in the tree');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep1') WHERE id = 4$$), 1::bigint,
	'vp reassigns across its subtree (rep3 -> rep1)');
SELECT is(pg_temp.ids('contacts') @> '{6}', false, 'an unowned contact is not in any manager''s reach');
RESET ROLE;

-- ---------------------------------------------------------------- deactivated rep
SET ROLE regress_gone;
SELECT is(pg_temp.ids('contacts'), '{}', 'a deactivated rep sees no contacts');
SELECT is(pg_temp.ids('teams'), '{}', 'nor teams');
SELECT throws_ok($$INSERT INTO crm.contacts (given_name) VALUES ('x')$$, '42501', NULL, 'and cannot create any');
RESET ROLE;

-- deactivation takes effect with the next statement (the cached answer
-- of crm.current_user_id() is dropped when crm.users changes)
SET ROLE regress_rep3;
SELECT is(crm.current_user_id(), pg_temp.uid('regress_rep3'), 'rep3 is an active CRM user');
RESET ROLE;
UPDATE crm.users SET active = false WHERE login = 'regress_rep3';
SET ROLE regress_rep3;
SELECT is(crm.current_user_id(), NULL, 'until an admin deactivates it');
SELECT is(pg_temp.ids('contacts'), '{}', 'then it sees nothing, at once');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
