-- Each report against the fixture, with answers worked out by hand (see
-- the comments), and the security_invoker slicing per user.
BEGIN;
\ir fixtures/model.sql
SELECT plan(27);
SET ROLE regress_analyst;

-- Pipeline: open deals 2 (Proposal, 0.5, 2000, rep1) and 3 (Qualify, 0.2, 500, rep2).
SELECT results_eq($$SELECT stage, owner, deals, amount, weighted_amount FROM crm.report_pipeline ORDER BY stage_position$$,
	$$VALUES ('Qualify', 'regress_rep2', 1::bigint, 500.00::numeric, 100::numeric),
			 ('Proposal', 'regress_rep1', 1::bigint, 2000.00::numeric, 1000::numeric)$$,
	'pipeline: open deals by stage and owner with weighted amounts');

-- Funnel, source web: contacts 1 customer, 3 mql, 5 customer, 6 subscriber.
-- reached: subscriber 4, lead 3, mql 3, sql 2, opportunity 2, customer 2, evangelist 0.
SELECT results_eq($$SELECT lifecycle_stage, contacts, reached, conversion_from_previous FROM crm.report_funnel
					 WHERE lead_source = 'web' ORDER BY stage_rank$$,
	$$VALUES ('subscriber', 0 + 1::bigint, 4::bigint, NULL::numeric), ('lead', 0::bigint, 3::bigint, 0.75),
			 ('mql', 1::bigint, 3::bigint, 1.0), ('sql', 0::bigint, 2::bigint, 0.6667),
			 ('opportunity', 0::bigint, 2::bigint, 1.0), ('customer', 2::bigint, 2::bigint, 1.0),
			 ('evangelist', 0::bigint, 0::bigint, 0.0)$$,
	'funnel: contacts at and through each stage for lead source web, with stage conversion');
-- source referral: contacts 4 sql, 8 opportunity.
SELECT is((SELECT array_agg(reached ORDER BY stage_rank) FROM crm.report_funnel WHERE lead_source = 'referral'),
	'{2,2,2,2,1,0,0}'::bigint[], 'funnel: referral contacts reached sql twice, opportunity once');
SELECT is(crm.lifecycle_rank('mql'), 3, 'crm.lifecycle_rank orders the stages');
SELECT is(crm.lifecycle_rank('nonsense'), NULL, 'and knows no other');

-- Lead sources: web 4 contacts, 2 customers, deals 1 (won 1000, contact 1) and 3 (contact 3, open).
SELECT results_eq($$SELECT lead_source, contacts, customers, customer_rate, deals, deals_won, won_amount
					 FROM crm.report_lead_sources ORDER BY lead_source$$,
	$$VALUES ('event', 2::bigint, 0::bigint, 0.0::numeric, 1::bigint, 0::bigint, 0::numeric),
			 ('referral', 2::bigint, 0::bigint, 0.0, 1::bigint, 0::bigint, 0::numeric),
			 ('web', 4::bigint, 2::bigint, 0.5, 2::bigint, 1::bigint, 1000.00)$$,
	'lead sources: contacts, customers, deals and won revenue per source');

-- Campaigns: webinar members 3 (sent, opened) and 6 (sent, opened, clicked, responded);
-- deals 1 (won 1000) and 3; budget 1000 -> ROI 0.  Trade show: member 2 (sent, responded),
-- deal 2 open; budget 5000 -> ROI -1.
SELECT results_eq($$SELECT campaign, members, sent, opened, clicked, responded, open_rate, click_rate, response_rate,
						   deals, deals_won, won_amount, roi FROM crm.report_campaigns ORDER BY campaign_id$$,
	$$VALUES ('Spring webinar', 2::bigint, 2::bigint, 2::bigint, 1::bigint, 1::bigint, 1.0::numeric, 0.5::numeric, 0.5::numeric,
			  2::bigint, 1::bigint, 1000.00::numeric, 0.0::numeric),
			 ('Trade show', 1::bigint, 1::bigint, 0::bigint, 0::bigint, 1::bigint, 0.0, 0.0, 1.0,
			  1::bigint, 0::bigint, 0::numeric, -1.0)$$,
	'campaigns: reach, response rates, attributed deals and ROI');

-- Rep KPIs: rep1 won deal 1 (Feb 2024) and called in Jun 2024; rep3 met in Apr, lost deal 4 in May;
-- sup sent an email in Jun.
SELECT results_eq($$SELECT user_name, month::date, activities, calls, meetings, emails_sent, deals_won, deals_lost, revenue, win_rate
					 FROM crm.report_rep_kpis ORDER BY user_name, month$$,
	$$VALUES ('regress_rep1', '2024-02-01'::date, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 1::bigint, 0::bigint, 1000.00::numeric, 1.0::numeric),
			 ('regress_rep1', '2024-06-01', 1, 1, 0, 0, 0, 0, 0, NULL),
			 ('regress_rep3', '2024-04-01', 1, 0, 1, 0, 0, 0, 0, NULL),
			 ('regress_rep3', '2024-05-01', 0, 0, 0, 0, 0, 1, 0, 0.0),
			 ('regress_sup', '2024-06-01', 1, 0, 0, 1, 0, 0, 0, NULL)$$,
	'rep KPIs: activities, wins, losses, revenue and win rate per user and month');

-- Support: ticket 1 (access, open, high, escalated, response 1 h), ticket 2 (billing,
-- resolved, response 4 h, resolution 24 h).
SELECT results_eq($$SELECT category, tickets, open_tickets, escalated, first_response_p50_hours, resolution_p50_hours
					 FROM crm.report_support ORDER BY category$$,
	$$VALUES ('access', 1::bigint, 1::bigint, 1::bigint, 1::float8, NULL::float8),
			 ('billing', 1::bigint, 0::bigint, 0::bigint, 4::float8, 24::float8)$$,
	'support: volume, open, escalated and time percentiles per category');
SELECT results_eq($$SELECT age, priority, tickets FROM crm.report_open_tickets_by_age$$,
	$$VALUES ('over 30 days', 'high', 1::bigint)$$, 'open tickets by age: the one open ticket is months old');
RESET ROLE;
-- percentiles over more than one ticket: responses of 1, 2, 3 and 10 hours
INSERT INTO crm.tickets (subject, category, opened_at, first_response_at) VALUES
	('a', 'pct', '2024-01-01 00:00+00', '2024-01-01 01:00+00'), ('b', 'pct', '2024-01-01 00:00+00', '2024-01-01 02:00+00'),
	('c', 'pct', '2024-01-01 00:00+00', '2024-01-01 03:00+00'), ('d', 'pct', '2024-01-01 00:00+00', '2024-01-01 10:00+00');
SET ROLE regress_analyst;
-- p50 of {1,2,3,10} = 2.5; p90 = 3 + 0.7 * (10 - 3) = 7.9
SELECT results_eq($$SELECT first_response_p50_hours, round(first_response_p90_hours::numeric, 4)
					 FROM crm.report_support WHERE category = 'pct'$$,
	$$VALUES (2.5::float8, 7.9::numeric)$$, 'support percentiles are continuous percentiles in hours');
SELECT results_eq($$SELECT age, tickets FROM crm.report_open_tickets_by_age WHERE priority = 'normal'$$,
	$$VALUES ('over 30 days', 4::bigint)$$, 'new tickets land in their age bucket');

-- Churn: Initech customer 2023-03-01, churned 2024-06-15; Acme since 2024-01-01; Umbrella since 2024-05-01.
SELECT results_eq($$SELECT month, customers_at_start, new_customers, churned, customers_at_end, churn_rate, retention_rate
					 FROM crm.report_churn WHERE month IN ('2023-03-01', '2024-01-01', '2024-05-01', '2024-06-01', '2024-07-01')
					 ORDER BY month$$,
	$$VALUES ('2023-03-01'::date, 0::bigint, 1::bigint, 0::bigint, 1::bigint, NULL::numeric, NULL::numeric),
			 ('2024-01-01', 1, 1, 0, 2, 0.0, 1.0),
			 ('2024-05-01', 2, 1, 0, 3, 0.0, 1.0),
			 ('2024-06-01', 3, 0, 1, 2, 0.3333, 0.6667),
			 ('2024-07-01', 2, 0, 0, 2, 0.0, 1.0)$$,
	'churn: customers at start, new, churned, at end, churn and retention rates per month');
SELECT is((SELECT min(month) FROM crm.report_churn), '2023-03-01'::date, 'churn starts with the first customer');
SELECT is((SELECT max(month) FROM crm.report_churn), date_trunc('month', now())::date, 'and runs to this month');

-- Tenure: Acme since 2024-01-01, won 1000; Initech 2023-03-01 .. 2024-06-15 (472 days); Umbrella.
SELECT results_eq($$SELECT account, tenure_days FROM crm.report_customer_tenure ORDER BY account_id$$,
	format($$VALUES ('Acme', %s), ('Initech', 472), ('Umbrella', %s)$$,
		   current_date - date '2024-01-01', current_date - date '2024-05-01'),
	'tenure: days as a customer (until churn)');
SELECT results_eq($$SELECT account, tenure_days, deals_won, lifetime_value FROM crm.report_customer_value ORDER BY account_id$$,
	format($$VALUES ('Acme', %s, 1::bigint, 1000.00::numeric), ('Initech', 472, 0::bigint, 0::numeric), ('Umbrella', %s, 0::bigint, 0::numeric)$$,
		   current_date - date '2024-01-01', current_date - date '2024-05-01'),
	'customer value: tenure, deals won and lifetime value');
SELECT is((SELECT tenure FROM crm.report_customer_tenure WHERE account = 'Initech'), interval '1 year 3 mons 14 days',
	'tenure reads as years, months and days');
SELECT is((SELECT count(*)::int FROM crm.report_customer_tenure WHERE account = 'Globex'), 0, 'prospects have no tenure');

-- Overdue: tasks 1 (due 2024-06-10) and 4 (2024-06-02) are open and late; 2 is due in 2030; 3 is done.
SELECT results_eq($$SELECT task_id, assignee FROM crm.report_overdue_tasks ORDER BY due_at$$,
	$$VALUES (4::bigint, 'regress_sup'), (1::bigint, 'regress_rep1')$$, 'overdue follow-ups');
SELECT is((SELECT overdue_by FROM crm.report_overdue_tasks WHERE task_id = 1), now() - timestamptz '2024-06-10 09:00+00',
	'with how long they are overdue');
RESET ROLE;

-- security_invoker: each user sees their slice
SET ROLE regress_rep1;
SELECT is((SELECT array_agg(owner ORDER BY owner) FROM crm.report_pipeline), '{regress_rep1}'::text[],
	'rep1''s pipeline report holds only its deals');
SELECT is((SELECT array_agg(task_id ORDER BY task_id) FROM crm.report_overdue_tasks), '{1}'::bigint[],
	'rep1 sees only its overdue tasks');
RESET ROLE;
SET ROLE regress_mgr;
SELECT is((SELECT array_agg(owner ORDER BY owner) FROM crm.report_pipeline), '{regress_rep1,regress_rep2}'::text[],
	'the manager''s pipeline holds its team''s deals');
RESET ROLE;
SET ROLE regress_rep3;
SELECT is((SELECT array_agg(account ORDER BY account) FROM crm.report_customer_tenure), '{Initech,Umbrella}'::text[],
	'rep3 sees the tenure of its own customers');
RESET ROLE;
SET ROLE regress_sup;
SELECT throws_ok($$SELECT * FROM crm.report_customer_value$$, '42501', 'permission denied for view report_customer_value',
	'support, which may not read deals, is refused a report built on them');
SELECT is((SELECT sum(tickets)::int FROM crm.report_support), 6, 'but reads the support report');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
