-- Row-level security for marketing: contacts in pre-sales stages,
-- campaigns, consents, read-only deal stage and amount for attribution.
BEGIN;
\ir fixtures/model.sql
SELECT plan(24);

SET ROLE regress_mkt;
SELECT is(pg_temp.ids('contacts'), '{2,3,6,7}', 'marketing sees the subscriber, lead and MQL contacts');
SELECT is(pg_temp.ids('accounts'), '{1,2,3}', 'marketing sees accounts of its contacts and of deals');
SELECT is((SELECT array_agg(id ORDER BY id) FROM (SELECT id, stage_id, amount, campaign_id FROM crm.deals) d),
	'{1,2,3,4}'::bigint[], 'marketing reads stage and amount of every deal');
SELECT throws_ok($$SELECT owner_id FROM crm.deals$$, '42501', NULL, 'but not the deal owner');
SELECT throws_ok($$SELECT close_reason FROM crm.deals$$, '42501', NULL, 'nor the close reason');
SELECT throws_ok($$UPDATE crm.deals SET amount = 1 WHERE id = 1$$, '42501', NULL, 'and changes no deal');
SELECT is(pg_temp.ids('consents'), '{1,2,3}', 'marketing sees every consent, customers'' too');
SELECT is(pg_temp.cids('campaign_members'), '{2,3,6}', 'marketing sees every campaign member');
SELECT is(pg_temp.ids('activities'), '{3,4}', 'marketing sees activities of its contacts');
SELECT is(pg_temp.ids('tasks'), '{}', 'marketing has no tasks in the fixture');
SELECT throws_ok($$SELECT id FROM crm.tickets$$, '42501', NULL, 'marketing cannot read tickets');

SELECT lives_ok($$INSERT INTO crm.contacts (id, email, lifecycle_stage, lead_source, owner_id)
				  VALUES (101, 'new@lead.example', 'subscriber', 'web', NULL)$$,
	'marketing creates an unowned subscriber');
SELECT throws_ok($$INSERT INTO crm.contacts (email, lifecycle_stage) VALUES ('c@x.example', 'customer')$$,
	'42501', NULL, 'marketing cannot create a customer');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'x' WHERE id = 1$$), 0::bigint,
	'marketing cannot change a customer contact');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep1') WHERE id = 6$$), 1::bigint,
	'marketing hands an unowned lead to a rep');
SELECT throws_ok($$UPDATE crm.contacts SET owner_id = pg_temp.uid('regress_rep2') WHERE id = 6$$,
	'42501', 'cannot change the owner of a row in contacts', 'but cannot move an owned one');
SELECT throws_ok($$UPDATE crm.contacts SET lifecycle_stage = 'sql' WHERE id = 3$$, '42501', NULL,
	'marketing cannot move a contact out of the pre-sales stages (the scoring hand-off does that)');
SELECT is(pg_temp.ids('contacts'), '{2,3,6,7,101}', 'marketing sees the new subscriber');
SELECT throws_ok($$UPDATE crm.contacts SET lifecycle_stage = 'customer' WHERE id = 2$$,
	'42501', NULL, 'marketing cannot make a customer');
SELECT throws_ok($$DELETE FROM crm.contacts WHERE id = 6$$, '42501', NULL, 'marketing deletes no contacts');
SELECT lives_ok($$INSERT INTO crm.campaigns (id, name, channel) VALUES (101, 'Newsletter', 'email')$$,
	'marketing creates a campaign');
SELECT lives_ok($$INSERT INTO crm.consents (contact_id, purpose, granted, method) VALUES (1, 'newsletter', true, 'web_form')$$,
	'marketing records a customer''s consent');
SELECT lives_ok($$INSERT INTO crm.campaign_members (contact_id, campaign_id, sent_at) VALUES (1, 101, now())$$,
	'marketing adds a customer to a campaign');
SELECT throws_ok($$UPDATE crm.pipelines SET name = 'x'$$, '42501', NULL, 'marketing cannot change pipelines');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
