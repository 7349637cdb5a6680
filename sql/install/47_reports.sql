-- crm install script, part 47: report views.
--
-- Every view is security_invoker, so it reads the base tables with the
-- rights and row-level security of whoever queries it: a rep's pipeline is
-- their own, a manager's their team's, an analyst's everything.  Amounts
-- are summed per currency and never converted.  "Now" is now(), the start
-- of the transaction, so a report is consistent within one transaction.

-- Stage order of the lifecycle, used by the funnel.
CREATE FUNCTION crm.lifecycle_rank(stage text) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE stage WHEN 'subscriber' THEN 1 WHEN 'lead' THEN 2 WHEN 'mql' THEN 3 WHEN 'sql' THEN 4
				  WHEN 'opportunity' THEN 5 WHEN 'customer' THEN 6 WHEN 'evangelist' THEN 7 END;
COMMENT ON FUNCTION crm.lifecycle_rank(text) IS
	'position of a lifecycle stage (subscriber 1 ... evangelist 7), NULL for anything else';

CREATE VIEW crm.report_pipeline WITH (security_invoker = true) AS
SELECT p.name AS pipeline,
	   s.position AS stage_position,
	   s.name AS stage,
	   s.probability,
	   d.owner_id,
	   u.display_name AS owner,
	   d.currency,
	   pg_catalog.count(*) AS deals,
	   pg_catalog.sum(d.amount) AS amount,
	   pg_catalog.sum(d.amount * s.probability) AS weighted_amount
  FROM crm.deals d
  JOIN crm.pipeline_stages s ON s.id = d.stage_id
  JOIN crm.pipelines p ON p.id = d.pipeline_id
  LEFT JOIN crm.users u ON u.id = d.owner_id
 WHERE d.status = 'open'
 GROUP BY p.name, s.position, s.name, s.probability, d.owner_id, u.display_name, d.currency;
COMMENT ON VIEW crm.report_pipeline IS
	'open deals by pipeline stage and owner: count, amount and probability-weighted amount';

-- Funnel: a contact at a stage has passed every earlier one (stages only
-- move forward), so "reached" counts contacts at that stage or beyond.
CREATE VIEW crm.report_funnel WITH (security_invoker = true) AS
WITH stages(stage, rank) AS (
	VALUES ('subscriber', 1), ('lead', 2), ('mql', 3), ('sql', 4),
		   ('opportunity', 5), ('customer', 6), ('evangelist', 7)
), sources AS (
	SELECT DISTINCT COALESCE(c.lead_source, 'unknown') AS lead_source FROM crm.contacts c
), counts AS (
	SELECT COALESCE(c.lead_source, 'unknown') AS lead_source,
		   crm.lifecycle_rank(c.lifecycle_stage) AS rank,
		   pg_catalog.count(*) AS n
	  FROM crm.contacts c GROUP BY 1, 2
), grid AS (
	SELECT so.lead_source, st.stage, st.rank,
		   COALESCE((SELECT k.n FROM counts k WHERE k.lead_source = so.lead_source AND k.rank = st.rank), 0) AS at_stage,
		   COALESCE((SELECT pg_catalog.sum(k.n) FROM counts k
					  WHERE k.lead_source = so.lead_source AND k.rank >= st.rank), 0)::bigint AS reached
	  FROM sources so CROSS JOIN stages st
)
SELECT g.lead_source, g.rank AS stage_rank, g.stage AS lifecycle_stage, g.at_stage AS contacts,
	   g.reached,
	   pg_catalog.round(g.reached::numeric
						/ NULLIF(pg_catalog.lag(g.reached) OVER (PARTITION BY g.lead_source ORDER BY g.rank), 0), 4)
		   AS conversion_from_previous
  FROM grid g;
COMMENT ON VIEW crm.report_funnel IS
	'funnel by lead source: contacts at each lifecycle stage, contacts that reached it, and conversion from the previous stage';

CREATE VIEW crm.report_lead_sources WITH (security_invoker = true) AS
WITH c AS (
	SELECT COALESCE(c.lead_source, 'unknown') AS lead_source,
		   pg_catalog.count(*) AS contacts,
		   pg_catalog.count(*) FILTER (WHERE c.lifecycle_stage IN ('customer', 'evangelist')) AS customers
	  FROM crm.contacts c GROUP BY 1
), d AS (
	SELECT COALESCE(c.lead_source, 'unknown') AS lead_source,
		   pg_catalog.count(*) AS deals,
		   pg_catalog.count(*) FILTER (WHERE d.status = 'won') AS deals_won,
		   COALESCE(pg_catalog.sum(d.amount) FILTER (WHERE d.status = 'won'), 0) AS won_amount
	  FROM crm.deals d JOIN crm.contacts c ON c.id = d.contact_id GROUP BY 1
)
SELECT c.lead_source, c.contacts, c.customers,
	   pg_catalog.round(c.customers::numeric / c.contacts, 4) AS customer_rate,
	   COALESCE(d.deals, 0) AS deals, COALESCE(d.deals_won, 0) AS deals_won,
	   COALESCE(d.won_amount, 0) AS won_amount
  FROM c LEFT JOIN d USING (lead_source);
COMMENT ON VIEW crm.report_lead_sources IS
	'per lead source: contacts, how many became customers, deals and won revenue from those contacts';

CREATE VIEW crm.report_campaigns WITH (security_invoker = true) AS
WITH m AS (
	SELECT cm.campaign_id,
		   pg_catalog.count(*) AS members,
		   pg_catalog.count(cm.sent_at) AS sent,
		   pg_catalog.count(cm.opened_at) AS opened,
		   pg_catalog.count(cm.clicked_at) AS clicked,
		   pg_catalog.count(cm.responded_at) AS responded,
		   pg_catalog.count(*) FILTER (WHERE cm.attended) AS attended
	  FROM crm.campaign_members cm GROUP BY cm.campaign_id
), d AS (
	SELECT d.campaign_id,
		   pg_catalog.count(*) AS deals,
		   pg_catalog.count(*) FILTER (WHERE d.status = 'won') AS deals_won,
		   COALESCE(pg_catalog.sum(d.amount) FILTER (WHERE d.status = 'won'), 0) AS won_amount
	  FROM crm.deals d WHERE d.campaign_id IS NOT NULL GROUP BY d.campaign_id
)
SELECT ca.id AS campaign_id, ca.name AS campaign, ca.channel, ca.status, ca.budget,
	   COALESCE(m.members, 0) AS members, COALESCE(m.sent, 0) AS sent, COALESCE(m.opened, 0) AS opened,
	   COALESCE(m.clicked, 0) AS clicked, COALESCE(m.responded, 0) AS responded,
	   COALESCE(m.attended, 0) AS attended,
	   pg_catalog.round(m.opened::numeric / NULLIF(m.sent, 0), 4) AS open_rate,
	   pg_catalog.round(m.clicked::numeric / NULLIF(m.sent, 0), 4) AS click_rate,
	   pg_catalog.round(m.responded::numeric / NULLIF(m.members, 0), 4) AS response_rate,
	   COALESCE(d.deals, 0) AS deals, COALESCE(d.deals_won, 0) AS deals_won,
	   COALESCE(d.won_amount, 0) AS won_amount,
	   pg_catalog.round((COALESCE(d.won_amount, 0) - ca.budget) / NULLIF(ca.budget, 0), 4) AS roi
  FROM crm.campaigns ca
  LEFT JOIN m ON m.campaign_id = ca.id
  LEFT JOIN d ON d.campaign_id = ca.id;
COMMENT ON VIEW crm.report_campaigns IS
	'per campaign: reach and response (sent, opened, clicked, responded, attended), attributed deals, won revenue and ROI on budget';

CREATE VIEW crm.report_rep_kpis WITH (security_invoker = true) AS
WITH ev AS (
	SELECT a.actor_id AS user_id, pg_catalog.date_trunc('month', a.occurred_at) AS month,
		   1 AS activities, (a.kind = 'call')::int AS calls, (a.kind = 'meeting')::int AS meetings,
		   (a.kind = 'email_sent')::int AS emails, 0 AS won, 0 AS lost, 0::numeric AS revenue
	  FROM crm.activities a WHERE a.actor_id IS NOT NULL
	UNION ALL
	SELECT d.owner_id, pg_catalog.date_trunc('month', d.closed_at),
		   0, 0, 0, 0, (d.status = 'won')::int, (d.status = 'lost')::int,
		   CASE WHEN d.status = 'won' THEN d.amount ELSE 0 END
	  FROM crm.deals d WHERE d.status <> 'open' AND d.owner_id IS NOT NULL
)
SELECT ev.user_id, u.display_name AS user_name, ev.month,
	   pg_catalog.sum(ev.activities) AS activities, pg_catalog.sum(ev.calls) AS calls,
	   pg_catalog.sum(ev.meetings) AS meetings, pg_catalog.sum(ev.emails) AS emails_sent,
	   pg_catalog.sum(ev.won) AS deals_won, pg_catalog.sum(ev.lost) AS deals_lost,
	   pg_catalog.sum(ev.revenue) AS revenue,
	   pg_catalog.round(pg_catalog.sum(ev.won)::numeric / NULLIF(pg_catalog.sum(ev.won + ev.lost), 0), 4) AS win_rate
  FROM ev LEFT JOIN crm.users u ON u.id = ev.user_id
 GROUP BY ev.user_id, u.display_name, ev.month;
COMMENT ON VIEW crm.report_rep_kpis IS
	'per user and month: activities (calls, meetings, emails sent), deals won and lost, won revenue, win rate';

CREATE VIEW crm.report_open_tickets_by_age WITH (security_invoker = true) AS
WITH t AS (
	SELECT t.priority,
		   CASE WHEN pg_catalog.now() - t.opened_at < interval '1 day' THEN 1
				WHEN pg_catalog.now() - t.opened_at < interval '3 days' THEN 2
				WHEN pg_catalog.now() - t.opened_at < interval '7 days' THEN 3
				WHEN pg_catalog.now() - t.opened_at < interval '30 days' THEN 4
				ELSE 5 END AS bucket
	  FROM crm.tickets t WHERE t.status NOT IN ('resolved', 'closed')
)
SELECT t.bucket AS age_rank,
	   (ARRAY['under 1 day', '1-3 days', '3-7 days', '7-30 days', 'over 30 days'])[t.bucket] AS age,
	   t.priority, pg_catalog.count(*) AS tickets
  FROM t GROUP BY t.bucket, t.priority;
COMMENT ON VIEW crm.report_open_tickets_by_age IS
	'open tickets by age bucket (under 1 day ... over 30 days) and priority';

CREATE VIEW crm.report_support WITH (security_invoker = true) AS
SELECT t.category,
	   pg_catalog.count(*) AS tickets,
	   pg_catalog.count(*) FILTER (WHERE t.status NOT IN ('resolved', 'closed')) AS open_tickets,
	   pg_catalog.count(*) FILTER (WHERE t.escalation_level > 0) AS escalated,
	   pg_catalog.max(t.escalation_level) AS max_escalation,
	   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY
		   EXTRACT(epoch FROM t.first_response_at - t.opened_at) / 3600) AS first_response_p50_hours,
	   pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY
		   EXTRACT(epoch FROM t.first_response_at - t.opened_at) / 3600) AS first_response_p90_hours,
	   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY
		   EXTRACT(epoch FROM t.resolved_at - t.opened_at) / 3600) AS resolution_p50_hours,
	   pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY
		   EXTRACT(epoch FROM t.resolved_at - t.opened_at) / 3600) AS resolution_p90_hours
  FROM crm.tickets t
 GROUP BY t.category;
COMMENT ON VIEW crm.report_support IS
	'per ticket category: volume, open and escalated tickets, first-response and resolution time percentiles (hours)';

-- Churn and retention by month, from each account's customer_since and
-- churned_at: at_start counts customers on the first day of the month.
CREATE VIEW crm.report_churn WITH (security_invoker = true) AS
WITH acc AS (
	SELECT a.customer_since, a.churned_at FROM crm.accounts a WHERE a.customer_since IS NOT NULL
), months AS (
	SELECT m::date AS month_start, (m + interval '1 month')::date AS next_start
	  FROM pg_catalog.generate_series(
			   (SELECT pg_catalog.date_trunc('month', pg_catalog.min(acc.customer_since)) FROM acc),
			   pg_catalog.date_trunc('month', pg_catalog.now()), interval '1 month') m
)
SELECT mo.month_start AS month,
	   pg_catalog.count(*) FILTER (WHERE acc.customer_since < mo.month_start
								   AND (acc.churned_at IS NULL OR acc.churned_at >= mo.month_start)) AS customers_at_start,
	   pg_catalog.count(*) FILTER (WHERE acc.customer_since >= mo.month_start
								   AND acc.customer_since < mo.next_start) AS new_customers,
	   pg_catalog.count(*) FILTER (WHERE acc.churned_at >= mo.month_start
								   AND acc.churned_at < mo.next_start) AS churned,
	   pg_catalog.count(*) FILTER (WHERE acc.customer_since < mo.next_start
								   AND (acc.churned_at IS NULL OR acc.churned_at >= mo.next_start)) AS customers_at_end,
	   pg_catalog.round(
		   (pg_catalog.count(*) FILTER (WHERE acc.customer_since < mo.month_start AND acc.churned_at >= mo.month_start
										AND acc.churned_at < mo.next_start))::numeric
		   / NULLIF(pg_catalog.count(*) FILTER (WHERE acc.customer_since < mo.month_start
												AND (acc.churned_at IS NULL OR acc.churned_at >= mo.month_start)), 0),
		   4) AS churn_rate,
	   pg_catalog.round(
		   (pg_catalog.count(*) FILTER (WHERE acc.customer_since < mo.month_start
										AND (acc.churned_at IS NULL OR acc.churned_at >= mo.next_start)))::numeric
		   / NULLIF(pg_catalog.count(*) FILTER (WHERE acc.customer_since < mo.month_start
												AND (acc.churned_at IS NULL OR acc.churned_at >= mo.month_start)), 0),
		   4) AS retention_rate
  FROM months mo LEFT JOIN acc ON true
 GROUP BY mo.month_start;
COMMENT ON VIEW crm.report_churn IS
	'per month: customers at start, new, churned, at end; churn and retention rates of the customers at the start of the month';

-- Tenure reads accounts only, so everyone who may see customers gets it
-- (support included); lifetime value adds the deals.
CREATE VIEW crm.report_customer_tenure WITH (security_invoker = true) AS
SELECT a.id AS account_id, a.name AS account, a.lifecycle, a.customer_since, a.churned_at,
	   (COALESCE(a.churned_at, pg_catalog.now()::date) - a.customer_since) AS tenure_days,
	   pg_catalog.age(COALESCE(a.churned_at, pg_catalog.now()::date), a.customer_since) AS tenure
  FROM crm.accounts a
 WHERE a.customer_since IS NOT NULL;
COMMENT ON VIEW crm.report_customer_tenure IS
	'per customer (current or churned): how long they have been (or were) a customer';

CREATE VIEW crm.report_customer_value WITH (security_invoker = true) AS
SELECT t.account_id, t.account, t.lifecycle, t.customer_since, t.churned_at, t.tenure_days, t.tenure,
	   COALESCE(w.deals_won, 0) AS deals_won,
	   COALESCE(w.lifetime_value, 0) AS lifetime_value
  FROM crm.report_customer_tenure t
  LEFT JOIN (SELECT d.account_id, pg_catalog.count(*) AS deals_won, pg_catalog.sum(d.amount) AS lifetime_value
			   FROM crm.deals d WHERE d.status = 'won' GROUP BY d.account_id) w ON w.account_id = t.account_id;
COMMENT ON VIEW crm.report_customer_value IS
	'per customer (current or churned): tenure, deals won and lifetime value (won deal amounts)';

CREATE VIEW crm.report_overdue_tasks WITH (security_invoker = true) AS
SELECT t.id AS task_id, t.title, t.assignee_id, u.display_name AS assignee, t.due_at,
	   pg_catalog.now() - t.due_at AS overdue_by, t.contact_id, t.deal_id, t.ticket_id
  FROM crm.tasks t LEFT JOIN crm.users u ON u.id = t.assignee_id
 WHERE t.status = 'open' AND t.due_at < pg_catalog.now();
COMMENT ON VIEW crm.report_overdue_tasks IS 'open follow-ups past their due time, with how long overdue';

-- Each report is granted to the roles whose slice of it means something.
-- A role that may not read what a report is made of (support: deals and
-- campaign members; marketing: deal owners and tickets), or whose slice
-- would be a misleading answer (support sees customers only, so never a
-- churned account), is refused the view itself -- "permission denied for
-- view report_..." -- rather than an error about a table it never named.
-- docs/security.md has the table; test/reports_roles.sql checks each cell.
GRANT SELECT ON crm.report_funnel, crm.report_customer_tenure, crm.report_overdue_tasks
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive;
GRANT SELECT ON crm.report_pipeline, crm.report_rep_kpis
	TO crm_admin, crm_manager, crm_rep, crm_analyst, crm_executive;
GRANT SELECT ON crm.report_lead_sources, crm.report_campaigns, crm.report_churn, crm.report_customer_value
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_analyst, crm_executive;
GRANT SELECT ON crm.report_open_tickets_by_age, crm.report_support
	TO crm_admin, crm_manager, crm_rep, crm_support, crm_analyst, crm_executive;
