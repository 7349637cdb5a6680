-- Lead scoring, MQL hand-off, record health and the data audit
--
-- Uses the contacts already loaded into crm tables; when there are only a
-- few, adds a handful of demo leads first.  Activities logged here score
-- themselves, and a lead crossing the MQL threshold is handed to a rep
-- with a follow-up task, all in the same transaction.
\set QUIET on
SET client_min_messages = warning;
\pset footer off

-- a sales rep to receive MQLs (the model's demo may already have some)
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM crm.users WHERE crm_role = 'rep' AND active) THEN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'demo_rep') THEN
			CREATE ROLE demo_rep LOGIN;
		END IF;
		PERFORM crm.add_user('demo_rep', 'rep');
	END IF;
END $$;

INSERT INTO crm.accounts (name, industry, employees, country)
SELECT 'Northwind Analytics', 'Software', 320, 'US'
 WHERE (SELECT count(*) FROM crm.contacts) < 20;
INSERT INTO crm.contacts (given_name, family_name, email, title, job_function, account_id, lead_source, email_verified_at)
SELECT v.g, v.f, v.e::crm.email, v.t, v.j, (SELECT max(id) FROM crm.accounts WHERE name = 'Northwind Analytics'), v.s,
	   now() - v.age
  FROM (VALUES ('Ada', 'Quinn', 'ada.quinn@northwind.example', 'VP Marketing', 'marketing', 'webinar', interval '2 months'),
			   ('Ben', 'Ortiz', 'ben.ortiz@northwind.example', 'Director of Operations', 'operations', 'web', interval '14 months'),
			   ('Cleo', 'Park', 'cleo.park@gmail.com', 'Intern', 'marketing', 'ads', interval '30 months')) v(g, f, e, t, j, s, age)
 WHERE (SELECT count(*) FROM crm.contacts) < 20;

-- engagement: a burst of activity for the best-fitting contacts
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT c.id, k.kind, now() - k.ago
  FROM (SELECT id FROM crm.contacts ORDER BY fit_score DESC NULLS LAST, id LIMIT 3) c
 CROSS JOIN (VALUES ('email_opened', interval '20 days'), ('email_clicked', interval '3 days'),
					('form_fill', interval '1 day'), ('meeting', interval '2 hours')) k(kind, ago);

\echo
\echo 'Top leads right now (engagement decayed to this moment):'
SELECT ls.contact_id, concat_ws(' ', c.given_name, c.family_name) AS name, c.title,
	   round(ls.fit_score::numeric, 1) AS fit, round(ls.engagement_score::numeric, 1) AS engagement,
	   round(ls.lead_score::numeric, 1) AS score, ls.lead_grade AS grade, ls.lifecycle_stage AS stage
  FROM crm.lead_scores ls JOIN crm.contacts c ON c.id = ls.contact_id
 ORDER BY ls.lead_score DESC, ls.contact_id LIMIT 8;

\echo
\echo 'Freshly handed-off MQLs (owner by territory and round-robin, task due in business hours, NOTIFY crm_mql):'
SELECT h.contact_id, u.display_name AS owner, t.title AS task, t.due_at,
	   h.payload ->> 'lead_grade' AS grade
  FROM crm.mql_handoffs h
  LEFT JOIN crm.users u ON u.id = h.owner_id
  LEFT JOIN crm.tasks t ON t.id = h.task_id
 ORDER BY h.handed_off_at DESC, h.id DESC LIMIT 5;

\echo
\echo 'How fresh is the data?  Record health and what to re-verify first:'
SELECT round(avg(health), 1) AS average_health,
	   count(*) FILTER (WHERE health >= 80) AS good, count(*) FILTER (WHERE health < 60) AS poor
  FROM crm.contact_health;
SELECT contact_id, field, round(field_confidence::numeric, 3) AS confidence, priority
  FROM crm.reverification_queue(5);

\echo
\echo 'The yearly audit scheduled with pg_cron (crm.schedule_audit()), when it is installed:'
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') AS has_pg_cron \gset
\if :has_pg_cron
SELECT crm.schedule_audit('0 3 1 1 *') AS audit_job_id;
\else
\echo 'pg_cron is not installed in crm_demo'
\endif

\echo
\echo 'The data audit in one call (crm.run_data_audit()), summarised:'
WITH a AS (SELECT crm.run_data_audit() AS r)
SELECT 'contacts' AS measure, (r #>> '{5_missing,contacts}') AS value FROM a
UNION ALL SELECT 'average health', r #>> '{5_missing,average_health}' FROM a
UNION ALL SELECT 'email filled (%)', r #>> '{5_missing,completeness_percent,email}' FROM a
UNION ALL SELECT 'duplicates (' || (r #>> '{3_duplicates,source}') || ')',
				 COALESCE(r #>> '{3_duplicates,pairs}', r #>> '{3_duplicates,same_email_groups}') FROM a
UNION ALL SELECT 'industry spellings that differ only in case/spacing',
				 r #>> '{6_non_uniform,accounts.industry,rows_in_variant_groups}' FROM a
UNION ALL SELECT 'open pipeline on unhealthy contacts',
				 r #>> '{2_prioritise,open_pipeline_on_unhealthy_contacts,amount}' FROM a
UNION ALL SELECT 'scheduled with pg_cron', COALESCE(r #>> '{7_repeat,scheduled}', 'no: ' || (r #>> '{7_repeat,hint}')) FROM a;
