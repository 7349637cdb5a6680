-- Every report for every role: the role's slice, checked against the
-- fixture (test/fixtures/model.sql) by hand, or a refusal of the view
-- itself for the roles it is not granted to (docs/security.md, "Reports").
-- The analyst's full answers are worked out in test/reports.sql; admins
-- and executives must get exactly those.
BEGIN;
\ir fixtures/model.sql
SELECT plan(77);

-- A report as the current role sees it, as one jsonb array.
CREATE FUNCTION pg_temp.report(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	EXECUTE format('SELECT COALESCE(jsonb_agg(to_jsonb(x)), ''[]'') FROM (%s) x', q) INTO r;
	RETURN r;
END $$;

-- analyst: everything (and these are the full answers)
SET ROLE regress_analyst;
SELECT pg_temp.report($$SELECT * FROM crm.report_pipeline ORDER BY pipeline, stage_position, owner_id, currency$$) AS full_pipeline \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_funnel ORDER BY lead_source, stage_rank$$) AS full_funnel \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_lead_sources ORDER BY lead_source$$) AS full_lead_sources \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_campaigns ORDER BY campaign_id$$) AS full_campaigns \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_rep_kpis ORDER BY user_id, month$$) AS full_rep_kpis \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_open_tickets_by_age ORDER BY age_rank, priority$$) AS full_open_tickets_by_age \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_support ORDER BY category$$) AS full_support \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_churn ORDER BY month$$) AS full_churn \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_customer_tenure ORDER BY account_id$$) AS full_customer_tenure \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_customer_value ORDER BY account_id$$) AS full_customer_value \gset
SELECT pg_temp.report($$SELECT * FROM crm.report_overdue_tasks ORDER BY task_id$$) AS full_overdue_tasks \gset
SELECT isnt(:'full_pipeline'::jsonb, '[]'::jsonb, 'analyst reads crm.report_pipeline');
SELECT isnt(:'full_funnel'::jsonb, '[]'::jsonb, 'analyst reads crm.report_funnel');
SELECT isnt(:'full_lead_sources'::jsonb, '[]'::jsonb, 'analyst reads crm.report_lead_sources');
SELECT isnt(:'full_campaigns'::jsonb, '[]'::jsonb, 'analyst reads crm.report_campaigns');
SELECT isnt(:'full_rep_kpis'::jsonb, '[]'::jsonb, 'analyst reads crm.report_rep_kpis');
SELECT isnt(:'full_open_tickets_by_age'::jsonb, '[]'::jsonb, 'analyst reads crm.report_open_tickets_by_age');
SELECT isnt(:'full_support'::jsonb, '[]'::jsonb, 'analyst reads crm.report_support');
SELECT isnt(:'full_churn'::jsonb, '[]'::jsonb, 'analyst reads crm.report_churn');
SELECT isnt(:'full_customer_tenure'::jsonb, '[]'::jsonb, 'analyst reads crm.report_customer_tenure');
SELECT isnt(:'full_customer_value'::jsonb, '[]'::jsonb, 'analyst reads crm.report_customer_value');
SELECT isnt(:'full_overdue_tasks'::jsonb, '[]'::jsonb, 'analyst reads crm.report_overdue_tasks');
RESET ROLE;

-- admin: the same full answers
SET ROLE regress_admin;
SELECT is(pg_temp.report($$SELECT * FROM crm.report_pipeline ORDER BY pipeline, stage_position, owner_id, currency$$), :'full_pipeline'::jsonb,
	'admin reads all of crm.report_pipeline');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_funnel ORDER BY lead_source, stage_rank$$), :'full_funnel'::jsonb,
	'admin reads all of crm.report_funnel');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_lead_sources ORDER BY lead_source$$), :'full_lead_sources'::jsonb,
	'admin reads all of crm.report_lead_sources');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_campaigns ORDER BY campaign_id$$), :'full_campaigns'::jsonb,
	'admin reads all of crm.report_campaigns');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_rep_kpis ORDER BY user_id, month$$), :'full_rep_kpis'::jsonb,
	'admin reads all of crm.report_rep_kpis');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_open_tickets_by_age ORDER BY age_rank, priority$$), :'full_open_tickets_by_age'::jsonb,
	'admin reads all of crm.report_open_tickets_by_age');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_support ORDER BY category$$), :'full_support'::jsonb,
	'admin reads all of crm.report_support');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_churn ORDER BY month$$), :'full_churn'::jsonb,
	'admin reads all of crm.report_churn');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_customer_tenure ORDER BY account_id$$), :'full_customer_tenure'::jsonb,
	'admin reads all of crm.report_customer_tenure');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_customer_value ORDER BY account_id$$), :'full_customer_value'::jsonb,
	'admin reads all of crm.report_customer_value');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_overdue_tasks ORDER BY task_id$$), :'full_overdue_tasks'::jsonb,
	'admin reads all of crm.report_overdue_tasks');
RESET ROLE;

-- executive: the same full answers
SET ROLE regress_exec;
SELECT is(pg_temp.report($$SELECT * FROM crm.report_pipeline ORDER BY pipeline, stage_position, owner_id, currency$$), :'full_pipeline'::jsonb,
	'executive reads all of crm.report_pipeline');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_funnel ORDER BY lead_source, stage_rank$$), :'full_funnel'::jsonb,
	'executive reads all of crm.report_funnel');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_lead_sources ORDER BY lead_source$$), :'full_lead_sources'::jsonb,
	'executive reads all of crm.report_lead_sources');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_campaigns ORDER BY campaign_id$$), :'full_campaigns'::jsonb,
	'executive reads all of crm.report_campaigns');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_rep_kpis ORDER BY user_id, month$$), :'full_rep_kpis'::jsonb,
	'executive reads all of crm.report_rep_kpis');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_open_tickets_by_age ORDER BY age_rank, priority$$), :'full_open_tickets_by_age'::jsonb,
	'executive reads all of crm.report_open_tickets_by_age');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_support ORDER BY category$$), :'full_support'::jsonb,
	'executive reads all of crm.report_support');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_churn ORDER BY month$$), :'full_churn'::jsonb,
	'executive reads all of crm.report_churn');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_customer_tenure ORDER BY account_id$$), :'full_customer_tenure'::jsonb,
	'executive reads all of crm.report_customer_tenure');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_customer_value ORDER BY account_id$$), :'full_customer_value'::jsonb,
	'executive reads all of crm.report_customer_value');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_overdue_tasks ORDER BY task_id$$), :'full_overdue_tasks'::jsonb,
	'executive reads all of crm.report_overdue_tasks');
RESET ROLE;

-- manager (mgr): reach mgr, rep1, rep2 (and the deactivated gone), so
-- contacts 1, 2, 3, 7; deals 1, 2, 3; accounts Acme and Globex; ticket 1;
-- activities 1-3; tasks 1 and 2.
SET ROLE regress_mgr;
SELECT results_eq($$SELECT stage, owner, deals, amount FROM crm.report_pipeline ORDER BY stage_position$$,
	$$VALUES ('Qualify', 'regress_rep2', 1::bigint, 500.00::numeric), ('Proposal', 'regress_rep1', 1::bigint, 2000.00::numeric)$$,
	'manager: pipeline of the team''s open deals 2 and 3');
SELECT results_eq($$SELECT lead_source, array_agg(contacts ORDER BY stage_rank), array_agg(reached ORDER BY stage_rank)
					 FROM crm.report_funnel GROUP BY 1 ORDER BY 1$$,
	$$VALUES ('event', '{0,2,0,0,0,0,0}'::bigint[], '{2,2,0,0,0,0,0}'::bigint[]),
			 ('web', '{0,0,1,0,0,1,0}', '{2,2,2,1,1,1,0}')$$,
	'manager: funnel of contacts 1 (web, customer), 3 (web, mql), 2 and 7 (event, lead)');
SELECT results_eq($$SELECT lead_source, contacts, customers, deals, deals_won, won_amount FROM crm.report_lead_sources ORDER BY 1$$,
	$$VALUES ('event', 2::bigint, 0::bigint, 1::bigint, 0::bigint, 0::numeric), ('web', 2, 1, 2, 1, 1000.00)$$,
	'manager: lead sources of its contacts and their deals');
SELECT results_eq($$SELECT campaign, members, sent, opened, deals, deals_won, won_amount FROM crm.report_campaigns ORDER BY campaign_id$$,
	$$VALUES ('Spring webinar', 1::bigint, 1::bigint, 1::bigint, 2::bigint, 1::bigint, 1000.00::numeric),
			 ('Trade show', 1, 1, 0, 1, 0, 0)$$,
	'manager: campaigns with the members and deals it sees (Fay, unowned, is not its contact)');
SELECT results_eq($$SELECT user_name, month::date, activities, deals_won, deals_lost, revenue FROM crm.report_rep_kpis ORDER BY 1, 2$$,
	$$VALUES ('regress_rep1', '2024-02-01'::date, 0::bigint, 1::bigint, 0::bigint, 1000.00::numeric),
			 ('regress_rep1', '2024-06-01', 1, 0, 0, 0), ('regress_sup', '2024-06-01', 1, 0, 0, 0)$$,
	'manager: KPIs from the activities and deals it sees (support''s email to its contact Ann included)');
SELECT results_eq($$SELECT age, priority, tickets FROM crm.report_open_tickets_by_age$$,
	$$VALUES ('over 30 days', 'high', 1::bigint)$$, 'manager: open ticket 1 of its contact Ann');
SELECT results_eq($$SELECT category, tickets, open_tickets FROM crm.report_support$$,
	$$VALUES ('access', 1::bigint, 1::bigint)$$, 'manager: support figures of its contacts'' tickets');
SELECT results_eq($$SELECT month, customers_at_start, new_customers, churned, customers_at_end FROM crm.report_churn
					 WHERE month IN ('2024-01-01', '2024-05-01', '2024-07-01') ORDER BY 1$$,
	$$VALUES ('2024-01-01'::date, 0::bigint, 1::bigint, 0::bigint, 1::bigint), ('2024-05-01', 1, 0, 0, 1), ('2024-07-01', 1, 0, 0, 1)$$,
	'manager: churn of its one customer account, Acme');
SELECT results_eq($$SELECT account FROM crm.report_customer_tenure$$, $$VALUES ('Acme')$$, 'manager: tenure of Acme');
SELECT results_eq($$SELECT account, deals_won, lifetime_value FROM crm.report_customer_value$$,
	$$VALUES ('Acme', 1::bigint, 1000.00::numeric)$$, 'manager: value of Acme');
SELECT results_eq($$SELECT task_id FROM crm.report_overdue_tasks$$, $$VALUES (1::bigint)$$,
	'manager: rep1''s overdue task (rep2''s is not due yet)');
RESET ROLE;

-- rep (rep1): contacts 1, 2 (own), 7 (shared to read), 8 (shared to
-- change); deals 1, 2; accounts Acme, Globex, Umbrella; ticket 1;
-- activities 1, 2; task 1.
SET ROLE regress_rep1;
SELECT results_eq($$SELECT stage, owner, deals, amount FROM crm.report_pipeline$$,
	$$VALUES ('Proposal', 'regress_rep1', 1::bigint, 2000.00::numeric)$$, 'rep: pipeline of its open deal 2');
SELECT results_eq($$SELECT lead_source, array_agg(contacts ORDER BY stage_rank), array_agg(reached ORDER BY stage_rank)
					 FROM crm.report_funnel GROUP BY 1 ORDER BY 1$$,
	$$VALUES ('event', '{0,2,0,0,0,0,0}'::bigint[], '{2,2,0,0,0,0,0}'::bigint[]),
			 ('referral', '{0,0,0,0,1,0,0}', '{1,1,1,1,1,0,0}'), ('web', '{0,0,0,0,0,1,0}', '{1,1,1,1,1,1,0}')$$,
	'rep: funnel of its own and shared contacts');
SELECT results_eq($$SELECT lead_source, contacts, customers, deals, deals_won, won_amount FROM crm.report_lead_sources ORDER BY 1$$,
	$$VALUES ('event', 2::bigint, 0::bigint, 1::bigint, 0::bigint, 0::numeric), ('referral', 1, 0, 0, 0, 0),
			 ('web', 1, 1, 1, 1, 1000.00)$$,
	'rep: lead sources of its contacts and deals');
SELECT results_eq($$SELECT campaign, members, sent, opened, deals, deals_won, won_amount FROM crm.report_campaigns ORDER BY campaign_id$$,
	$$VALUES ('Spring webinar', 0::bigint, 0::bigint, 0::bigint, 1::bigint, 1::bigint, 1000.00::numeric),
			 ('Trade show', 1, 1, 0, 1, 0, 0)$$,
	'rep: campaigns with its members (Bob) and its deals 1 and 2');
SELECT results_eq($$SELECT user_name, month::date, activities, deals_won, deals_lost, revenue FROM crm.report_rep_kpis ORDER BY 1, 2$$,
	$$VALUES ('regress_rep1', '2024-02-01'::date, 0::bigint, 1::bigint, 0::bigint, 1000.00::numeric),
			 ('regress_rep1', '2024-06-01', 1, 0, 0, 0), ('regress_sup', '2024-06-01', 1, 0, 0, 0)$$,
	'rep: KPIs from the activities and deals it sees');
SELECT results_eq($$SELECT age, priority, tickets FROM crm.report_open_tickets_by_age$$,
	$$VALUES ('over 30 days', 'high', 1::bigint)$$, 'rep: open ticket 1 of its contact Ann');
SELECT results_eq($$SELECT category, tickets, open_tickets FROM crm.report_support$$,
	$$VALUES ('access', 1::bigint, 1::bigint)$$, 'rep: support figures of its contacts'' tickets');
SELECT results_eq($$SELECT month, customers_at_start, new_customers, churned, customers_at_end FROM crm.report_churn
					 WHERE month IN ('2024-01-01', '2024-05-01', '2024-06-01') ORDER BY 1$$,
	$$VALUES ('2024-01-01'::date, 0::bigint, 1::bigint, 0::bigint, 1::bigint), ('2024-05-01', 1, 1, 0, 2), ('2024-06-01', 2, 0, 0, 2)$$,
	'rep: churn of Acme and Umbrella (the account of shared contact Hal)');
SELECT results_eq($$SELECT account FROM crm.report_customer_tenure ORDER BY account_id$$, $$VALUES ('Acme'), ('Umbrella')$$,
	'rep: tenure of Acme and Umbrella');
SELECT results_eq($$SELECT account, deals_won, lifetime_value FROM crm.report_customer_value ORDER BY account_id$$,
	$$VALUES ('Acme', 1::bigint, 1000.00::numeric), ('Umbrella', 0::bigint, 0::numeric)$$,
	'rep: value from the deals it sees');
SELECT results_eq($$SELECT task_id FROM crm.report_overdue_tasks$$, $$VALUES (1::bigint)$$, 'rep: its overdue task');
RESET ROLE;

-- marketing: pre-sales contacts 2, 3, 6, 7; stage and amount of every deal
-- but not their owners; accounts of those contacts and deals (Acme,
-- Globex, Initech); every campaign member; no tickets; no tasks of its own.
SET ROLE regress_mkt;
SELECT throws_ok($$SELECT * FROM crm.report_pipeline$$, '42501', 'permission denied for view report_pipeline',
	'marketing is refused the pipeline (deal owners)');
SELECT results_eq($$SELECT lead_source, array_agg(contacts ORDER BY stage_rank), array_agg(reached ORDER BY stage_rank)
					 FROM crm.report_funnel GROUP BY 1 ORDER BY 1$$,
	$$VALUES ('event', '{0,2,0,0,0,0,0}'::bigint[], '{2,2,0,0,0,0,0}'::bigint[]),
			 ('web', '{1,0,1,0,0,0,0}', '{2,1,1,0,0,0,0}')$$,
	'marketing: funnel of the pre-sales contacts it works');
SELECT results_eq($$SELECT lead_source, contacts, customers, deals, deals_won, won_amount FROM crm.report_lead_sources ORDER BY 1$$,
	$$VALUES ('event', 2::bigint, 0::bigint, 1::bigint, 0::bigint, 0::numeric), ('web', 2, 0, 1, 0, 0)$$,
	'marketing: lead sources of its contacts, with their deals 2 and 3');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_campaigns ORDER BY campaign_id$$), :'full_campaigns'::jsonb,
	'marketing: every campaign in full (members and deal stage and amount are all its to read)');
SELECT throws_ok($$SELECT * FROM crm.report_rep_kpis$$, '42501', 'permission denied for view report_rep_kpis',
	'marketing is refused rep KPIs (deal owners)');
SELECT throws_ok($$SELECT * FROM crm.report_open_tickets_by_age$$, '42501', 'permission denied for view report_open_tickets_by_age',
	'marketing is refused open tickets (tickets)');
SELECT throws_ok($$SELECT * FROM crm.report_support$$, '42501', 'permission denied for view report_support',
	'marketing is refused the support report (tickets)');
SELECT results_eq($$SELECT month, customers_at_start, new_customers, churned, customers_at_end FROM crm.report_churn
					 WHERE month IN ('2023-03-01', '2024-01-01', '2024-06-01', '2024-07-01') ORDER BY 1$$,
	$$VALUES ('2023-03-01'::date, 0::bigint, 1::bigint, 0::bigint, 1::bigint), ('2024-01-01', 1, 1, 0, 2),
			 ('2024-06-01', 2, 0, 1, 1), ('2024-07-01', 1, 0, 0, 1)$$,
	'marketing: churn of Acme and Initech, the customers among the accounts of its contacts and deals');
SELECT results_eq($$SELECT account FROM crm.report_customer_tenure ORDER BY account_id$$, $$VALUES ('Acme'), ('Initech')$$,
	'marketing: tenure of Acme and Initech');
SELECT results_eq($$SELECT account, deals_won, lifetime_value FROM crm.report_customer_value ORDER BY account_id$$,
	$$VALUES ('Acme', 1::bigint, 1000.00::numeric), ('Initech', 0::bigint, 0::numeric)$$,
	'marketing: their value from deal stage and amount');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_overdue_tasks$$), '[]'::jsonb, 'marketing: no overdue tasks of its own');
RESET ROLE;

-- support: customer accounts Acme and Umbrella and their contacts 1, 5, 8;
-- every ticket; no deals and no campaign members; task 4.
SET ROLE regress_sup;
SELECT throws_ok($$SELECT * FROM crm.report_pipeline$$, '42501', 'permission denied for view report_pipeline',
	'support is refused the pipeline (deals)');
SELECT results_eq($$SELECT lead_source, array_agg(contacts ORDER BY stage_rank), array_agg(reached ORDER BY stage_rank)
					 FROM crm.report_funnel GROUP BY 1 ORDER BY 1$$,
	$$VALUES ('referral', '{0,0,0,0,1,0,0}'::bigint[], '{1,1,1,1,1,0,0}'::bigint[]),
			 ('web', '{0,0,0,0,0,2,0}', '{2,2,2,2,2,2,0}')$$,
	'support: funnel of the customer contacts it serves');
SELECT throws_ok($$SELECT * FROM crm.report_lead_sources$$, '42501', 'permission denied for view report_lead_sources',
	'support is refused lead sources (deals)');
SELECT throws_ok($$SELECT * FROM crm.report_campaigns$$, '42501', 'permission denied for view report_campaigns',
	'support is refused campaigns (members and deals)');
SELECT throws_ok($$SELECT * FROM crm.report_rep_kpis$$, '42501', 'permission denied for view report_rep_kpis',
	'support is refused rep KPIs (deals)');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_open_tickets_by_age ORDER BY age_rank, priority$$),
	:'full_open_tickets_by_age'::jsonb, 'support: every open ticket');
SELECT is(pg_temp.report($$SELECT * FROM crm.report_support ORDER BY category$$), :'full_support'::jsonb,
	'support: the whole support report');
SELECT throws_ok($$SELECT * FROM crm.report_churn$$, '42501', 'permission denied for view report_churn',
	'support is refused churn (it sees current customers only, never a churned account)');
SELECT results_eq($$SELECT account FROM crm.report_customer_tenure ORDER BY account_id$$, $$VALUES ('Acme'), ('Umbrella')$$,
	'support: tenure of the current customers');
SELECT throws_ok($$SELECT * FROM crm.report_customer_value$$, '42501', 'permission denied for view report_customer_value',
	'support is refused customer value (deals)');
SELECT results_eq($$SELECT task_id FROM crm.report_overdue_tasks$$, $$VALUES (4::bigint)$$, 'support: its overdue task');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
