-- The CRM data model and row-level security: one query, different answers per user
\set QUIET on
\pset null '∅'
SET client_min_messages = warning;

-- Sample users, one per role.  Roles are cluster-wide, so a second run of
-- the demo finds them already there.
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['demo_admin', 'demo_maria', 'demo_ravi', 'demo_rosa', 'demo_mark',
							 'demo_sam', 'demo_ana', 'demo_eve']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I LOGIN', r);
		END IF;
	END LOOP;
END $$;
SELECT crm.add_user('demo_admin', 'admin') \gset
SELECT crm.add_user('demo_maria', 'manager', NULL, 'Sales') \gset
SELECT crm.add_user('demo_ravi', 'rep', 'demo_maria', 'Sales West') \gset
SELECT crm.add_user('demo_rosa', 'rep', 'demo_maria', 'Sales East') \gset
SELECT crm.add_user('demo_mark', 'marketing') \gset
SELECT crm.add_user('demo_sam', 'support') \gset
SELECT crm.add_user('demo_ana', 'analyst') \gset
SELECT crm.add_user('demo_eve', 'executive') \gset
UPDATE crm.teams SET parent_id = (SELECT id FROM crm.teams WHERE name = 'Sales') WHERE name IN ('Sales West', 'Sales East');
CREATE FUNCTION pg_temp.uid(name) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM crm.users WHERE login = $1 $$;

-- Companies become accounts; every third is a customer, a few have churned.
INSERT INTO crm.accounts (id, name, domain, website, industry, employees, annual_revenue, country, owner_id,
						  lifecycle, customer_since, churned_at)
SELECT c.id, btrim(c.name),
	   CASE WHEN crm.domain_key(c.website) ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.[a-z0-9-]+$' THEN crm.domain_key(c.website) END,
	   c.website, c.industry, c.employees, c.annual_revenue,
	   CASE WHEN upper(btrim(c.country)) ~ '^[A-Z]{2}$' THEN upper(btrim(c.country)) END,
	   pg_temp.uid(CASE WHEN c.id % 2 = 0 THEN 'demo_ravi' ELSE 'demo_rosa' END),
	   CASE WHEN c.id % 9 = 0 THEN 'churned' WHEN c.id % 3 = 0 THEN 'customer' ELSE 'prospect' END,
	   CASE WHEN c.id % 3 = 0 THEN date '2023-01-01' + (c.id * 17) % 500 END,
	   CASE WHEN c.id % 9 = 0 THEN date '2023-01-01' + (c.id * 17) % 500 + 200 END
  FROM sample.companies c;
SELECT setval(pg_get_serial_sequence('crm.accounts', 'id'), (SELECT max(id) FROM crm.accounts)) \gset

-- Contacts: the messy text cleaned by the types (invalid emails and phones
-- become NULL), linked to their company by its normalized key, split
-- between the two reps, spread over the lifecycle.
INSERT INTO crm.contacts (id, given_name, family_name, email, phone, title, account_id, owner_id,
						  lifecycle_stage, lead_source, city, postcode, country, created_at)
SELECT s.id, NULLIF(btrim(s.given_name), ''), NULLIF(btrim(s.family_name), ''),
	   crm.try_email(s.email),
	   crm.try_phone(s.phone, CASE WHEN upper(btrim(s.country)) ~ '^[A-Z]{2}$' THEN upper(btrim(s.country)) END),
	   s.title, a.id,
	   pg_temp.uid(CASE WHEN s.id % 2 = 0 THEN 'demo_ravi' ELSE 'demo_rosa' END),
	   (ARRAY['subscriber', 'lead', 'lead', 'mql', 'sql', 'opportunity', 'customer'])[1 + s.id % 7],
	   s.lead_source, btrim(s.city), btrim(s.postcode),
	   CASE WHEN upper(btrim(s.country)) ~ '^[A-Z]{2}$' THEN upper(btrim(s.country)) END,
	   s.created_at
  FROM sample.contacts s
  LEFT JOIN LATERAL (SELECT a.id FROM crm.accounts a
					  WHERE crm.company_key(a.name) = crm.company_key(s.company) ORDER BY a.id LIMIT 1) a ON true
 WHERE num_nonnulls(NULLIF(btrim(s.given_name), ''), NULLIF(btrim(s.family_name), ''), crm.try_email(s.email)) > 0;
SELECT setval(pg_get_serial_sequence('crm.contacts', 'id'), (SELECT max(id) FROM crm.contacts)) \gset

INSERT INTO crm.activities (contact_id, kind, direction, occurred_at, actor_id, subject)
SELECT a.contact_id, a.type, a.direction, a.occurred_at,
	   CASE WHEN a.type IN ('call', 'meeting', 'note', 'email_sent') THEN c.owner_id END, a.subject
  FROM sample.activities a JOIN crm.contacts c ON c.id = a.contact_id;

INSERT INTO crm.pipelines (name) VALUES ('New business');
INSERT INTO crm.pipeline_stages (pipeline_id, name, position, probability, outcome)
SELECT p.id, s.name, s.pos, s.prob, s.outcome FROM crm.pipelines p,
	(VALUES ('Qualify', 0, 0.1, 'open'), ('Demo', 1, 0.3, 'open'), ('Proposal', 2, 0.6, 'open'),
			('Won', 3, 1, 'won'), ('Lost', 4, 0, 'lost')) s(name, pos, prob, outcome);
INSERT INTO crm.deals (name, pipeline_id, stage_id, account_id, contact_id, owner_id, amount, close_reason)
SELECT a.name || ' deal', p.id, st.id, a.id, c.id, a.owner_id, 1000 * (1 + a.id % 20),
	   CASE WHEN st.outcome = 'lost' THEN 'price' END
  FROM crm.accounts a
  JOIN crm.pipelines p ON true
  JOIN crm.pipeline_stages st ON st.pipeline_id = p.id AND st.position = a.id % 5
  LEFT JOIN LATERAL (SELECT c.id FROM crm.contacts c WHERE c.account_id = a.id ORDER BY c.id LIMIT 1) c ON true;
INSERT INTO crm.tickets (subject, contact_id, account_id, category, priority, status, opened_at, first_response_at, resolved_at, assignee_id)
SELECT 'Question from ' || c.given_name, c.id, c.account_id,
	   (ARRAY['billing', 'access', 'bug', 'how_to'])[1 + c.id % 4],
	   (ARRAY['low', 'normal', 'high'])[1 + c.id % 3],
	   CASE WHEN c.id % 5 < 3 THEN 'resolved' ELSE 'open' END,
	   now() - (c.id % 40) * interval '1 day',
	   now() - (c.id % 40) * interval '1 day' + (1 + c.id % 9) * interval '1 hour',
	   CASE WHEN c.id % 5 < 3 THEN now() - (c.id % 40) * interval '1 day' + (10 + c.id % 50) * interval '1 hour' END,
	   pg_temp.uid('demo_sam')
  FROM crm.contacts c JOIN crm.accounts a ON a.id = c.account_id AND a.lifecycle = 'customer'
 WHERE c.id % 3 = 0;
-- Rosa lets Ravi read one of her contacts.
INSERT INTO crm.shares (user_id, contact_id, access, granted_by)
SELECT pg_temp.uid('demo_ravi'), min(id), 'read', pg_temp.uid('demo_rosa')
  FROM crm.contacts WHERE owner_id = pg_temp.uid('demo_rosa');

\echo
\echo '== The same query, asked by each user (policies key on the logged-in role):'
\echo '   SELECT count(*), count(DISTINCT owner_id), string_agg(DISTINCT lifecycle_stage, ...) FROM crm.contacts'
CREATE TEMP TABLE answers (who text, crm_role text, contacts bigint, owners bigint, stages text);
GRANT INSERT ON answers TO PUBLIC;
\set q 'INSERT INTO answers SELECT current_user, crm.current_crm_role(), count(*), count(DISTINCT owner_id), string_agg(DISTINCT lifecycle_stage, \', \') FROM crm.contacts'
SET ROLE demo_ravi;   :q; RESET ROLE;
SET ROLE demo_rosa;   :q; RESET ROLE;
SET ROLE demo_maria;  :q; RESET ROLE;
SET ROLE demo_mark;   :q; RESET ROLE;
SET ROLE demo_sam;    :q; RESET ROLE;
SET ROLE demo_ana;    :q; RESET ROLE;
\set QUIET off
SELECT * FROM answers;
\set QUIET on

\echo '== Ravi and Maria read the same pipeline report (a security_invoker view):'
SET ROLE demo_ravi;
SELECT current_user AS asked_by, stage, owner, deals, amount, weighted_amount
  FROM crm.report_pipeline ORDER BY stage_position, owner;
RESET ROLE;
SET ROLE demo_maria;
SELECT current_user AS asked_by, stage, owner, deals, amount, weighted_amount
  FROM crm.report_pipeline ORDER BY stage_position, owner;
RESET ROLE;

\echo '== Ravi may read Rosa''s shared contact, but neither change it nor take it (UPDATE 0):'
SET ROLE demo_ravi;
\set QUIET off
UPDATE crm.contacts SET owner_id = crm.current_user_id()
 WHERE id = (SELECT min(contact_id) FROM crm.shares);
\set QUIET on
RESET ROLE;

\echo '== Maria (their manager) reassigns it; the audit log records who did what:'
SET ROLE demo_maria;
\set QUIET off
UPDATE crm.contacts SET owner_id = pg_temp.uid('demo_ravi'), title = 'Head of Operations'
 WHERE id = (SELECT min(contact_id) FROM crm.shares);
\set QUIET on
RESET ROLE;
SET ROLE demo_ana;
SELECT logged_at::time(0) AS at, login, db_role, table_name, op, row_id, old_values, new_values
  FROM crm.audit_log WHERE op = 'UPDATE' AND table_name = 'contacts' ORDER BY id DESC LIMIT 3;
RESET ROLE;

\echo '== Support at a glance, and customer tenure:'
SET ROLE demo_ana;
SELECT category, tickets, open_tickets, round(first_response_p50_hours::numeric, 1) AS first_response_h_p50,
	   round(resolution_p90_hours::numeric, 1) AS resolution_h_p90
  FROM crm.report_support ORDER BY tickets DESC, category;
SELECT account, lifecycle, tenure, lifetime_value FROM crm.report_customer_value ORDER BY tenure_days DESC LIMIT 5;
RESET ROLE;
