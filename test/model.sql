-- The data model: constraints, foreign keys, history in step with contacts,
-- deal status, stamps, crm.add_user, roles and dump registration.
BEGIN;
\ir fixtures/model.sql
SELECT plan(41);

SELECT is(ARRAY(SELECT relname::text FROM pg_class WHERE relnamespace = 'crm'::regnamespace AND relkind = 'r'
				   AND relname NOT IN ('email_domains', 'nicknames', 'matcher_models', 'merges', 'duplicate_rules', 'duplicate_alerts')
				   -- lead scoring and data health (parts 60-69)
				   AND relname NOT IN ('decay_rates', 'scoring_settings', 'lifecycle_stages', 'score_groups', 'fit_rules', 'engagement_rules', 'competitor_domains', 'contact_engagement', 'lifecycle_history', 'assignment_rules', 'rep_capacity', 'assignment_cursor', 'mql_handoffs', 'lead_model_runs', 'lead_model', 'health_settings', 'invalidating_events', 'audit_runs') ORDER BY 1),
	'{accounts,activities,audit_log,campaign_members,campaigns,consents,contact_addresses,contact_emails,contact_phones,contact_tags,contacts,deals,pipeline_stages,pipelines,shares,tags,tasks,teams,tickets,users}'::text[],
	'the CRM tables exist');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r'
				   AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'crm')::oid[]) ORDER BY 1),
	'{}'::text[], 'every table is registered with pg_extension_config_dump');
SELECT is(ARRAY(SELECT format('%s.%s:%s', c.conrelid::regclass, a.attname, c.confdeltype)
				  FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
				 WHERE c.contype = 'f' AND c.confrelid = 'crm.contacts'::regclass
				   -- lead scoring's derived tables (parts 60-69) cascade with the contact
				   AND c.conrelid::regclass::text NOT IN ('crm.contact_engagement', 'crm.invalidating_events',
														  'crm.lifecycle_history', 'crm.mql_handoffs') ORDER BY 1),
	'{crm.activities.contact_id:c,crm.campaign_members.contact_id:c,crm.consents.contact_id:c,crm.contact_addresses.contact_id:c,crm.contact_emails.contact_id:c,crm.contact_phones.contact_id:c,crm.contact_tags.contact_id:c,crm.deals.contact_id:n,crm.shares.contact_id:c,crm.tasks.contact_id:c,crm.tickets.contact_id:n}'::text[],
	'every reference to a contact is a foreign key with a deliberate ON DELETE');
SELECT is(ARRAY(SELECT DISTINCT c.confdeltype::text FROM pg_constraint c JOIN pg_attribute a
				  ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
				 WHERE c.contype = 'f' AND c.confrelid = 'crm.users'::regclass
				   AND a.attname IN ('owner_id', 'assignee_id')),
	'{r}'::text[], 'owners and assignees are ON DELETE RESTRICT');
SELECT is(ARRAY(SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'crm\_%' AND NOT rolcanlogin
				   AND NOT rolsuper AND NOT rolbypassrls ORDER BY 1),
	'{crm_admin,crm_analyst,crm_executive,crm_manager,crm_marketing,crm_rep,crm_support}'::text[],
	'the seven CRM group roles exist and cannot log in');

-- constraints
SELECT throws_ok($$INSERT INTO crm.contacts (given_name, lifecycle_stage) VALUES ('x', 'prospect')$$, '23514', NULL,
	'an unknown lifecycle stage is refused');
SELECT throws_ok($$INSERT INTO crm.contacts (given_name, country) VALUES ('x', 'usa')$$, '23514', NULL,
	'a country must be an ISO code');
SELECT throws_ok($$INSERT INTO crm.contacts (title) VALUES ('CEO')$$, '23514', NULL,
	'a contact needs a name, email or phone');
SELECT throws_ok($$INSERT INTO crm.contacts (email) VALUES ('not an email')$$, '22P02', NULL,
	'contacts.email is a crm.email');
SELECT throws_ok($$INSERT INTO crm.contacts (phone) VALUES ('12')$$, '22P02', NULL, 'contacts.phone is a crm.phone');
SELECT throws_ok($$UPDATE crm.deals SET stage_id = 4, close_reason = NULL WHERE id = 2$$, '23514', NULL,
	'a lost deal needs a reason');
SELECT throws_ok($$INSERT INTO crm.deals (name, pipeline_id, stage_id) VALUES ('x', 1, 99)$$, '23503', NULL,
	'a deal''s stage must belong to its pipeline');
SELECT throws_ok($$UPDATE crm.tickets SET status = 'resolved' WHERE id = 1$$, '23514', NULL,
	'a resolved ticket needs resolved_at');
SELECT throws_ok($$UPDATE crm.tickets SET first_response_at = '2000-01-01' WHERE id = 1$$, '23514', NULL,
	'a first response cannot precede the ticket');
SELECT throws_ok($$UPDATE crm.accounts SET lifecycle = 'churned' WHERE id = 1$$, '23514', NULL,
	'a churned account needs churned_at');
SELECT throws_ok($$UPDATE crm.teams SET parent_id = 3 WHERE id = 1$$, '22023', 'team Sales cannot be placed below itself',
	'the team hierarchy refuses cycles');
SELECT throws_ok($$DELETE FROM crm.users WHERE login = 'regress_rep1'$$, '23503', NULL,
	'a user who owns records cannot be deleted');

-- deal status follows the stage
UPDATE crm.deals SET stage_id = 3 WHERE id = 2;
SELECT results_eq($$SELECT status, closed_at IS NOT NULL FROM crm.deals WHERE id = 2$$, $$VALUES ('won', true)$$,
	'moving a deal into a won stage closes it');
UPDATE crm.deals SET stage_id = 2 WHERE id = 2;
SELECT results_eq($$SELECT status, closed_at IS NULL FROM crm.deals WHERE id = 2$$, $$VALUES ('open', true)$$,
	'moving it back reopens it');

-- history in step with contacts
UPDATE crm.contacts SET email = 'ann@newjob.example', phone = '+1 415 555 2671', city = 'Boston', country = 'US' WHERE id = 1;
SELECT results_eq($$SELECT email::text, valid_to IS NULL FROM crm.contact_emails WHERE contact_id = 1 ORDER BY id$$,
	$$VALUES ('ann@acme.example', false), ('ann@newjob.example', true)$$,
	'a changed email closes the old value and records the new one');
SELECT is((SELECT count(*)::int FROM crm.contact_phones WHERE contact_id = 1 AND valid_to IS NULL), 1,
	'a new phone is recorded');
SELECT is((SELECT city FROM crm.contact_addresses WHERE contact_id = 1 AND valid_to IS NULL), 'Boston',
	'and so is a new address');
INSERT INTO crm.contact_emails (contact_id, email, valid_from, source) VALUES (1, 'ann@third.example', now(), 'signature');
SELECT is((SELECT email::text FROM crm.contacts WHERE id = 1), 'ann@third.example',
	'a newer value in the history becomes the contact''s current email');
UPDATE crm.contact_emails SET bounced_at = now() WHERE contact_id = 1 AND email OPERATOR(crm.=) 'ann@third.example';
SELECT is((SELECT email::text FROM crm.contacts WHERE id = 1), 'ann@newjob.example',
	'when it bounces, the newest valid one takes over');
INSERT INTO crm.contact_emails (contact_id, email, valid_from, valid_to) VALUES (1, 'ann@old.example', '2020-01-01', '2021-01-01');
SELECT is((SELECT email::text FROM crm.contacts WHERE id = 1), 'ann@newjob.example',
	'an old, closed value added to the history does not replace the current one');
SELECT is((SELECT count(*)::int FROM crm.contact_emails WHERE contact_id = 1), 4, 'and every value is kept');
UPDATE crm.contacts SET email = 'ANN@newjob.example' WHERE id = 1;
SELECT is((SELECT count(*)::int FROM crm.contact_emails WHERE contact_id = 1), 4,
	'retyping the same address in another case records nothing new');

-- stamps
SET ROLE regress_rep1;
UPDATE crm.contacts SET title = 'VP', updated_by = pg_temp.uid('regress_admin'), updated_at = '2000-01-01' WHERE id = 2;
RESET ROLE;
SELECT results_eq($$SELECT updated_by, updated_at FROM crm.contacts WHERE id = 2$$,
	format($$VALUES (%s::bigint, now())$$, pg_temp.uid('regress_rep1')),
	'updated_by and updated_at are set by the database, not by the client');

-- deletes
DELETE FROM crm.contacts WHERE id = 1;
SELECT is((SELECT count(*)::int FROM crm.contact_emails WHERE contact_id = 1), 0, 'deleting a contact deletes its history');
SELECT is((SELECT contact_id FROM crm.deals WHERE id = 1), NULL, 'and detaches its deals');
SELECT is((SELECT contact_id FROM crm.tickets WHERE id = 1), NULL, 'and its tickets');

-- crm.add_user
CREATE ROLE regress_new LOGIN;
SELECT throws_ok($$SELECT crm.add_user('regress_new', 'boss')$$, '22023', 'unrecognized crm role: "boss"',
	'add_user refuses an unknown role');
SELECT throws_ok($$SELECT crm.add_user('regress_missing', 'rep')$$, '42704', 'role "regress_missing" does not exist',
	'add_user refuses a login that does not exist');
SELECT throws_ok($$SELECT crm.add_user('regress_rep1', 'rep')$$, '23505', 'role "regress_rep1" is already a crm user',
	'add_user refuses a second registration');
SELECT throws_ok($$SELECT crm.add_user('regress_new', 'rep', 'regress_nobody')$$, '42704',
	'manager "regress_nobody" is not a crm user', 'add_user refuses an unknown manager');
SELECT throws_ok($$SELECT crm.add_user('crm_admin', 'admin')$$, '22023', NULL, 'add_user refuses a group role');
SELECT ok(crm.add_user('regress_new', 'Manager', 'regress_vp', 'Brand new team') > 0, 'add_user registers a login');
SELECT is((SELECT concat_ws(' / ', u.crm_role, m.login, t.name) FROM crm.users u JOIN crm.users m ON m.id = u.manager_id
			 JOIN crm.teams t ON t.id = u.team_id WHERE u.login = 'regress_new'),
	'manager / regress_vp / Brand new team', 'with its role, manager and a new team');
SELECT ok(pg_has_role('regress_new', 'crm_manager', 'MEMBER'), 'and grants the group role');

-- re-creating the extension next to roles that are not plain groups
ALTER ROLE crm_analyst LOGIN;
DROP EXTENSION crm CASCADE;
SELECT throws_ok($$CREATE EXTENSION crm$$, '55000', 'role "crm_analyst" exists but is not a plain group role',
	'the extension refuses a crm_* role that can log in');
ALTER ROLE crm_analyst NOLOGIN;
SELECT lives_ok($$CREATE EXTENSION crm$$, 'and re-creates over the existing group roles');

SELECT * FROM finish();
ROLLBACK;
