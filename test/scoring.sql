-- Lead scoring: every rule type, decay at known times, caps, grades,
-- rescoring, lifecycle monotonicity and the MQL hand-off with its rollback.
-- now() is fixed for the whole transaction, so every expected value below
-- is exact arithmetic.
BEGIN;
SELECT plan(102);

-- A clean, known configuration.
DELETE FROM crm.fit_rules;
DELETE FROM crm.engagement_rules;
DELETE FROM crm.score_groups;
UPDATE crm.scoring_settings SET score_ceiling = 100, mql_threshold = 60, grade_a_fit = 35, grade_b_fit = 20,
	grade_1_engagement = 30, grade_2_engagement = 15, followup_business_hours = 4,
	business_day_start = '09:00', business_day_end = '17:00', business_days = '{1,2,3,4,5}',
	business_timezone = 'UTC', handoff_enabled = true;
INSERT INTO crm.score_groups (name, kind, max_points, min_points) VALUES
	('persona', 'fit', 40, -20), ('firmographic', 'fit', NULL, NULL),
	('activity', 'engagement', 50, NULL), ('negative', 'engagement', NULL, -30);
INSERT INTO crm.fit_rules (name, group_name, attribute, operator, match_values, low, high, points) VALUES
	('senior', 'persona', 'seniority', 'in', '{vp,c_level}', NULL, NULL, 20),
	('marketing', 'persona', 'job_function', 'in', '{marketing}', NULL, NULL, 15),
	('software', 'persona', 'industry', 'in', '{software}', NULL, NULL, 10),
	('mid-size', 'firmographic', 'employees', 'between', NULL, 50, 500, 5),
	('outside US', 'firmographic', 'country', 'not_in', '{us}', NULL, NULL, -3),
	('growth title', 'firmographic', 'title', 'matches', '{growth}', NULL, NULL, 2),
	('no source', 'firmographic', 'lead_source', 'is_null', NULL, NULL, NULL, -1),
	('free mail', 'firmographic', 'email_kind', 'in', '{free}', NULL, NULL, -10),
	('competitor', 'firmographic', 'email_kind', 'in', '{competitor}', NULL, NULL, -40);
INSERT INTO crm.engagement_rules (name, group_name, activity_kind, points, max_points, half_life, time_window) VALUES
	('opened', 'activity', 'email_opened', 10, 100, '30 days', NULL),
	('visit', 'activity', 'web_visit', 4, 10, NULL, '7 days'),
	('meeting', 'activity', 'meeting', 20, 40, NULL, NULL),
	('unsubscribed', 'negative', 'unsubscribed', -25, 100, NULL, NULL);
INSERT INTO crm.competitor_domains VALUES ('rival.example', 'Rival Inc');

INSERT INTO crm.accounts (id, name, industry, employees, country) VALUES
	(9001, 'Acme', 'Software', 200, 'US'), (9002, 'Globex', 'Retail', 5000, 'DE');

-- fit rule operators one by one
SELECT ok(crm.fit_rule_matches('in', '{software}', NULL, NULL, 'Software'), 'in: compares lower case');
SELECT ok(NOT crm.fit_rule_matches('in', '{software}', NULL, NULL, NULL), 'in: null never matches');
SELECT ok(crm.fit_rule_matches('not_in', '{us}', NULL, NULL, 'DE'), 'not_in matches another value');
SELECT ok(NOT crm.fit_rule_matches('not_in', '{us}', NULL, NULL, NULL), 'not_in: null does not match');
SELECT ok(crm.fit_rule_matches('matches', '{grow(th)?}', NULL, NULL, 'Head of Growth'), 'matches: case-insensitive regex');
SELECT ok(crm.fit_rule_matches('between', NULL, 50, 500, '500'), 'between includes the upper bound');
SELECT ok(NOT crm.fit_rule_matches('between', NULL, 50, 500, '501'), 'between excludes what is above');
SELECT ok(crm.fit_rule_matches('between', NULL, 5001, NULL, '9000'), 'between with an open upper end');
SELECT ok(NOT crm.fit_rule_matches('between', NULL, 1, 10, 'many'), 'between ignores a non-number');
SELECT ok(crm.fit_rule_matches('is_null', NULL, NULL, NULL, NULL), 'is_null');
SELECT ok(crm.fit_rule_matches('is_not_null', NULL, NULL, NULL, 'x'), 'is_not_null');
SELECT is(crm.title_seniority('Assistant to the VP'), 'individual', 'an assistant to a VP is not a VP');
SELECT is(crm.lead_domain_kind('x@rival.example'), 'competitor', 'competitor domain');
SELECT is(crm.lead_domain_kind('x@gmail.com'), 'free', 'free mail from the email type''s lists');
SELECT is(crm.lead_domain_kind('x@acme-corp.example'), 'business', 'any other domain is business');

-- Fit on insert: persona 20 + 15 + 10 = 45 capped at 40; firmographic +5 (size)
-- -1 (no lead source) = 4; total 44
INSERT INTO crm.contacts (id, given_name, family_name, email, title, job_function, account_id, lifecycle_stage)
VALUES (101, 'Ann', 'Archer', 'ann@acme.example', 'VP Marketing', 'Marketing', 9001, 'lead');
SELECT is(fit_score::float8, 44.0::float8, 'fit: group cap 40 plus an uncapped group of 4')
  FROM crm.contacts WHERE id = 101;
SELECT is(lead_grade, 'A3', 'grade: A (fit 44 >= 35), 3 (no engagement)') FROM crm.contacts WHERE id = 101;

-- Fit follows the contact and its account
UPDATE crm.contacts SET lead_source = 'webinar', title = 'VP Growth' WHERE id = 101;
SELECT is(fit_score::float8, 47.0::float8, 'a lead source (+1) and a growth title (+2) rescore fit at once')
  FROM crm.contacts WHERE id = 101;
UPDATE crm.accounts SET country = 'DE', employees = 20 WHERE id = 9001;
SELECT is(fit_score::float8, 39.0::float8, 'changing the account rescores its contacts (-5 size, -3 country)')
  FROM crm.contacts WHERE id = 101;
UPDATE crm.accounts SET country = 'US', employees = 200 WHERE id = 9001;
UPDATE crm.contacts SET email = 'ann@gmail.com' WHERE id = 101;
SELECT is(fit_score::float8, 37.0::float8, 'a free address costs 10') FROM crm.contacts WHERE id = 101;
UPDATE crm.contacts SET email = 'ann@sales.rival.example' WHERE id = 101;
SELECT is(fit_score::float8, 7.0::float8, 'a competitor''s subdomain costs 40') FROM crm.contacts WHERE id = 101;
UPDATE crm.contacts SET email = 'ann@acme.example', fit_score = 99 WHERE id = 101;
SELECT is(fit_score::float8, 47.0::float8, 'a fit score written by hand is recomputed') FROM crm.contacts WHERE id = 101;

-- Engagement: decay at known times.  A second contact with no fit.
INSERT INTO crm.contacts (id, given_name, lead_source) VALUES (102, 'Bob', 'web');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (102, 'email_opened', now() - interval '30 days');
SELECT is(crm.engagement_score(102), 5.0::float8, 'a 10-point open one half-life old is worth 5');
SELECT is((SELECT engagement_score FROM crm.lead_scores WHERE contact_id = 102), 5.0::float8,
	'crm.lead_scores agrees');
SELECT is(crm.engagement_score(102, now() + interval '30 days'), 2.5::float8, 'a half-life later it is worth 2.5');
SELECT is(crm.engagement_score(102, now() - interval '15 days'), 10 * 2 ^ (-0.5::float8),
	'asked about the past, it replays history: 10 * 2^(-1/2) fifteen days after the event');
SELECT is(crm.engagement_score(102, now() - interval '31 days'), 0.0::float8, 'before the event: nothing');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (102, 'email_opened', now());
SELECT is(crm.engagement_score(102), 15.0::float8, 'closed form: old value decayed plus new points (5 + 10)');
SELECT is(ARRAY[engagement_score::float8, lead_score::float8], ARRAY[15, 15]::float8[],
	'the grade changed (C3 to C2), so the contact''s snapshot was rewritten')
  FROM crm.contacts WHERE id = 102;
SELECT is(value, 15.0::float8, 'one state row per contact and rule') FROM crm.engagement_state s
  JOIN crm.engagement_rules r ON r.id = s.rule_id WHERE s.contact_id = 102 AND r.name = 'opened';
DELETE FROM crm.activities WHERE contact_id = 102 AND occurred_at = now();
SELECT is(crm.engagement_score(102), 5.0::float8, 'deleting an activity takes its points back');
SELECT is(crm.lead_score(102), 5.0::float8, 'lead score = fit 0 + engagement 5');

-- Time window: counted, not decayed; capped per rule
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES
	(102, 'web_visit', now() - interval '1 day'), (102, 'web_visit', now() - interval '8 days');
SELECT is(crm.engagement_score(102), 9.0::float8, 'a window rule counts only events inside the window (5 + 4)');
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT 102, 'web_visit', now() - interval '2 days' FROM generate_series(1, 3);
SELECT is(crm.engagement_score(102), 15.0::float8, 'per-rule cap: 4 visits = 16 capped at 10');
SELECT is(crm.engagement_score(102, now() + interval '7 days'), 10 * 2 ^ (-37 / 30.0::float8),
	'a week later the visits have left the window; the open keeps decaying');

-- Negative events and group floors
INSERT INTO crm.activities (contact_id, kind) VALUES (102, 'unsubscribed');
SELECT is(crm.engagement_score(102), -10.0::float8, 'an unsubscribe costs 25');
INSERT INTO crm.activities (contact_id, kind) VALUES (102, 'unsubscribed');
SELECT is(crm.engagement_score(102), -15.0::float8, 'the negative group stops at its floor of -30');
SELECT is(crm.lead_score(102), 0.0::float8, 'the lead score never goes below 0');

-- Group cap and overall ceiling
INSERT INTO crm.contacts (id, given_name, title, job_function, account_id, lead_source, lifecycle_stage)
VALUES (103, 'Cy', 'CEO', 'marketing', 9001, 'event', 'sql');
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT 103, 'meeting', now() - interval '400 days' FROM generate_series(1, 3);
SELECT is(crm.engagement_score(103), 40.0::float8, 'a rule without decay keeps its points, capped at 40');
INSERT INTO crm.activities (contact_id, kind) SELECT 103, 'email_opened' FROM generate_series(1, 3);
SELECT is(crm.engagement_score(103), 50.0::float8, 'the activity group is capped at 50');
UPDATE crm.scoring_settings SET score_ceiling = 80;
SELECT is(crm.lead_score(103), 80.0::float8, 'fit 45 + engagement 50 stops at the ceiling');
UPDATE crm.scoring_settings SET score_ceiling = 100;
SELECT is(lead_grade, 'A1', 'grade A1: best fit, hottest engagement') FROM crm.contacts WHERE id = 103;
SELECT is(crm.lead_grade(25, 20), 'B2', 'grade B2');
SELECT is(crm.lead_grade(0, 0), 'C3', 'grade C3');
SELECT is((SELECT lead_score FROM crm.lead_scores WHERE contact_id = 103), crm.lead_score(103),
	'the crm.lead_scores view agrees with crm.lead_score()');
SELECT is((SELECT lifecycle_stage FROM crm.contacts WHERE id = 103), 'sql', 'a contact past MQL is not handed off again');

-- Rescore after a rule change
UPDATE crm.engagement_rules SET points = 20 WHERE name = 'opened';
UPDATE crm.fit_rules SET points = 6 WHERE name = 'mid-size';
SELECT is(crm.rescore_all(), 2::bigint,
	'crm.rescore_all() rewrites the contacts whose fit or grade changed: the two at the mid-size account');
SELECT is(fit_score, 48.0::float8, 'with the new points') FROM crm.lead_scores WHERE contact_id = 101;
SELECT is(ARRAY[c.fit_score::float8, e.fit_score], '{47,48}'::float8[],
	'a fit that changed without the grade is kept in the state row; the contact row is not rewritten')
  FROM crm.contacts c JOIN crm.contact_engagement e ON e.contact_id = c.id WHERE c.id = 101;
SELECT is(ARRAY(SELECT c.id FROM crm.contacts c LEFT JOIN crm.accounts a ON a.id = c.account_id
				  JOIN crm.lead_scores l ON l.contact_id = c.id
				 WHERE l.fit_score IS DISTINCT FROM crm.fit_score(crm._fit_input(c, a))
					OR c.lead_grade IS DISTINCT FROM crm.lead_grade(l.fit_score, crm.engagement_score(c.id))),
	'{}'::bigint[], 'the set-based rescore computes the same fit and grade as the per-contact functions');
UPDATE crm.contacts SET city = 'Leeds' WHERE id = 101;
SELECT is(ARRAY[c.fit_score::float8, l.fit_score], '{47,48}'::float8[],
	'an edit no fit rule reads leaves the scores as they are (no older fit comes back)')
  FROM crm.contacts c JOIN crm.lead_scores l ON l.contact_id = c.id WHERE c.id = 101;
SAVEPOINT state_fit;
-- the activity trigger grades with the fit the state row keeps, and
-- writes it to the contact row with the new grade
UPDATE crm.contact_engagement SET fit_score = 0 WHERE contact_id = 101;
ALTER TABLE crm.contacts DISABLE TRIGGER stamp;
UPDATE crm.contacts SET updated_at = '2020-01-01' WHERE id = 101;
ALTER TABLE crm.contacts ENABLE TRIGGER stamp;
INSERT INTO crm.activities (contact_id, kind) VALUES (101, 'web_visit');
SELECT is(ARRAY[c.fit_score::float8, e.fit_score], '{0,0}'::float8[],
	'an event grades with the state row''s fit and writes it to the contact row')
  FROM crm.contacts c JOIN crm.contact_engagement e ON e.contact_id = c.id WHERE c.id = 101;
SELECT is(left(lead_grade, 1), 'C', 'with the grade that fit gives') FROM crm.contacts WHERE id = 101;
SELECT is(updated_at, '2020-01-01'::timestamptz, 'an event''s grade change is not an edit: updated_at stays that of the last edit')
  FROM crm.contacts WHERE id = 101;
ROLLBACK TO SAVEPOINT state_fit;
UPDATE crm.contacts SET lead_source = 'referral' WHERE id = 101;
SELECT is(ARRAY[c.fit_score::float8, l.fit_score, e.fit_score],
		  ARRAY[crm.fit_score(crm._fit_input(c, a)), crm.fit_score(crm._fit_input(c, a)), NULL],
	'an edit of a fit input makes the contact row''s fit current again and clears the state row''s')
  FROM crm.contacts c JOIN crm.lead_scores l ON l.contact_id = c.id
  JOIN crm.contact_engagement e ON e.contact_id = c.id LEFT JOIN crm.accounts a ON a.id = c.account_id
 WHERE c.id = 101;
SAVEPOINT quiet_contact;
INSERT INTO crm.contacts (id, given_name, account_id, lead_source) VALUES (106, 'Fay', 9001, 'web');
UPDATE crm.fit_rules SET points = points + 1 WHERE name = 'mid-size';
SELECT crm.rescore_all();
SELECT is(ARRAY[cardinality(e.rule_ids) + cardinality(e.window_rule_ids), e.fit_score - c.fit_score::float8,
				l.fit_score - e.fit_score], '{0,1,0}'::float8[],
	'a contact without activities whose fit changed alone gets an empty state row with the new fit')
  FROM crm.contacts c JOIN crm.contact_engagement e ON e.contact_id = c.id
  JOIN crm.lead_scores l ON l.contact_id = c.id WHERE c.id = 106;
ROLLBACK TO SAVEPOINT quiet_contact;
SELECT is(ARRAY(SELECT contact_id FROM crm.lead_scores WHERE lead_score IS DISTINCT FROM crm.lead_score(contact_id)),
	'{}'::bigint[], 'and crm.lead_scores the same scores as crm.lead_score()');
SELECT is(ARRAY(SELECT DISTINCT s.contact_id FROM crm.engagement_state s
				   JOIN crm.engagement_rules r ON r.id = s.rule_id AND r.active AND r.time_window IS NULL
				   LEFT JOIN crm.engagement_now e USING (contact_id)
				 WHERE e.engagement_score IS DISTINCT FROM crm.engagement_score(s.contact_id)),
	'{}'::bigint[], 'crm.engagement_now (grouped by the contact key) has every contact with state, as crm.engagement_score()');
SELECT is(ARRAY(SELECT l.contact_id FROM crm.lead_scores l LEFT JOIN crm.engagement_now e USING (contact_id)
				 WHERE l.engagement_score IS DISTINCT FROM COALESCE(e.engagement_score, 0)),
	'{}'::bigint[], 'crm.lead_scores has every contact, with the engagement of crm.engagement_now or 0');
SELECT is(value, 10.0::float8, 'after rescoring, the old open is worth 20 * 1/2') FROM crm.engagement_state s
  JOIN crm.engagement_rules r ON r.id = s.rule_id WHERE s.contact_id = 102 AND r.name = 'opened';
SELECT is((SELECT engagement_score FROM crm.lead_scores WHERE contact_id = 102), -10.0::float8,
	'and the engagement is 10 (open) + 10 (visits, capped) - 30 (floor)');

UPDATE crm.activities SET occurred_at = now() - interval '60 days' WHERE contact_id = 102 AND kind = 'email_opened';
SAVEPOINT rule_change;
SELECT is(value, 5.0::float8, 're-dating an activity moves its points: 20 * 1/4') FROM crm.engagement_state s
  JOIN crm.engagement_rules r ON r.id = s.rule_id WHERE s.contact_id = 102 AND r.name = 'opened';

-- The trigger keeps the rules in memory: a change is seen at once, and
-- an UPDATE that moves an activity to another contact moves its points.
INSERT INTO crm.contacts (id, given_name) VALUES (104, 'Dee'), (105, 'Eve');
UPDATE crm.engagement_rules SET points = 16 WHERE name = 'opened';
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (104, 'email_opened', now() - interval '60 days');
SELECT is(value, 4.0::float8, 'a rule changed in the same transaction counts at once: 16 * 1/4')
  FROM crm.engagement_state s JOIN crm.engagement_rules r ON r.id = s.rule_id
 WHERE s.contact_id = 104 AND r.name = 'opened';
UPDATE crm.activities SET contact_id = 105 WHERE contact_id = 104;
SELECT is(ARRAY(SELECT s.value FROM crm.engagement_state s JOIN crm.engagement_rules r ON r.id = s.rule_id
				 WHERE s.contact_id IN (104, 105) AND r.name = 'opened' ORDER BY s.contact_id),
	'{0,4}'::float8[], 'moving an activity to another contact moves its points');
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT 105, k, now() - interval '1 day' FROM unnest('{note,email_sent,web_visit}'::text[]) k;
SELECT is(crm.engagement_score(105), 4.0::float8 + 4, 'activities without a rule count for nothing, a web visit 4');
SELECT is((SELECT engagement_score FROM crm.lead_scores WHERE contact_id = 105), crm.engagement_score(105),
	'crm.lead_scores agrees with crm.engagement_score() after the trigger');
DELETE FROM crm.engagement_rules WHERE name = 'opened';
SELECT is((SELECT count(*)::int FROM crm.engagement_state s WHERE s.contact_id IN (104, 105)
			  AND s.rule_id NOT IN (SELECT id FROM crm.engagement_rules)), 0,
	'deleting a rule deletes its state');
ROLLBACK TO rule_change;

-- MQL hand-off
CREATE ROLE regress_rep_a LOGIN;
CREATE ROLE regress_rep_b LOGIN;
CREATE ROLE regress_rep_c LOGIN;
SELECT crm.add_user('regress_rep_a', 'rep') AS rep_a \gset
SELECT crm.add_user('regress_rep_b', 'rep') AS rep_b \gset
SELECT crm.add_user('regress_rep_c', 'rep') AS rep_c \gset
INSERT INTO crm.assignment_rules (name, priority, countries, user_ids)
VALUES ('US', 10, '{US}', ARRAY[:rep_a, :rep_b]::bigint[]);
INSERT INTO crm.rep_capacity VALUES (:rep_c, 0);

-- Ann (fit 47, lead) crosses 60 with one meeting (+20)
INSERT INTO crm.activities (contact_id, kind) VALUES (101, 'meeting');
SELECT is(lifecycle_stage, 'mql', 'crossing the threshold makes the lead an MQL') FROM crm.contacts WHERE id = 101;
SELECT is(owner_id, :rep_a::bigint, 'owned by the first rep of the matching territory') FROM crm.contacts WHERE id = 101;
SELECT is((SELECT count(*)::int FROM crm.tasks WHERE contact_id = 101 AND assignee_id = :rep_a
			  AND due_at = crm.add_business_hours(now(), 4)), 1,
	'a follow-up task for the new owner, due in 4 business hours');
SELECT is((SELECT payload ->> 'owner_id' FROM crm.mql_handoffs WHERE contact_id = 101), :rep_a::text,
	'the hand-off payload names the owner');
SELECT is((SELECT (payload ->> 'task_id')::bigint FROM crm.mql_handoffs WHERE contact_id = 101),
		  (SELECT id FROM crm.tasks WHERE contact_id = 101), 'and the task');
SELECT is((SELECT from_stage || '>' || to_stage FROM crm.lifecycle_history WHERE contact_id = 101), 'lead>mql',
	'the stage change is in crm.lifecycle_history');

-- Round-robin within the territory
INSERT INTO crm.contacts (id, given_name, title, job_function, account_id, lead_source)
VALUES (104, 'Dee', 'VP Sales', 'marketing', 9001, 'web'), (105, 'Eve', 'VP Sales', 'marketing', 9001, 'web');
INSERT INTO crm.activities (contact_id, kind) VALUES (104, 'meeting');
INSERT INTO crm.activities (contact_id, kind) VALUES (105, 'meeting');
SELECT is(ARRAY(SELECT owner_id FROM crm.contacts WHERE id IN (104, 105) ORDER BY id), ARRAY[:rep_b, :rep_a]::bigint[],
	'round-robin: the next lead goes to the next rep, then around again');

-- Outside every territory: any rep with capacity (rep_c has none)
INSERT INTO crm.accounts (id, name, industry, employees, country) VALUES (9003, 'Initech', 'Software', 100, 'FR');
INSERT INTO crm.contacts (id, given_name, title, job_function, account_id, lead_source)
VALUES (106, 'Fay', 'CTO', 'marketing', 9003, 'web');
INSERT INTO crm.activities (contact_id, kind) SELECT 106, 'meeting' FROM generate_series(1, 2);
SELECT is(owner_id, :rep_a::bigint, 'no territory: round-robin over all reps with capacity') FROM crm.contacts WHERE id = 106;

-- The hand-off rolls back with its transaction
INSERT INTO crm.contacts (id, given_name, title, job_function, account_id, lead_source)
VALUES (107, 'Gus', 'CEO', 'marketing', 9001, 'web');
SAVEPOINT before_mql;
INSERT INTO crm.activities (contact_id, kind) VALUES (107, 'meeting');
SELECT is((SELECT count(*)::int FROM crm.mql_handoffs WHERE contact_id = 107), 1, 'inside the transaction: handed off');
ROLLBACK TO SAVEPOINT before_mql;
SELECT is((SELECT lifecycle_stage || ':' || count(t.id) FROM crm.contacts c LEFT JOIN crm.tasks t ON t.contact_id = c.id
			WHERE c.id = 107 GROUP BY c.lifecycle_stage), 'lead:0', 'rolled back: no MQL, no task');
SELECT is((SELECT count(*)::int FROM crm.mql_handoffs WHERE contact_id = 107), 0, 'and no hand-off record');

-- Rescoring hands off the contacts a rule change lifts over the threshold
UPDATE crm.scoring_settings SET mql_threshold = 44;
SELECT crm.rescore_all();
SELECT is((SELECT lifecycle_stage || ':' || count(t.id) FROM crm.contacts c JOIN crm.tasks t ON t.contact_id = c.id
			WHERE c.id = 107 GROUP BY c.lifecycle_stage), 'mql:1', 'a threshold lowered under a lead''s score: rescoring hands it off');
UPDATE crm.scoring_settings SET mql_threshold = 60;
-- A stage set by hand is logged but not handed off again
INSERT INTO crm.contacts (id, given_name, lead_source) VALUES (108, 'Hal', 'web');
SELECT crm.set_lifecycle_stage(108, 'mql');
SELECT is((SELECT count(*)::int FROM crm.tasks WHERE contact_id = 108), 0, 'moving a contact to mql by hand creates no task');

-- Lifecycle stages only move forward on their own
SELECT throws_ok($$UPDATE crm.contacts SET lifecycle_stage = 'lead' WHERE id = 101$$, '23514',
	'lifecycle stage of contact 101 cannot move back from mql to lead', 'a step back is refused');
UPDATE crm.contacts SET lifecycle_stage = 'opportunity' WHERE id = 101;
SELECT is(lifecycle_stage, 'opportunity', 'a step forward is fine') FROM crm.contacts WHERE id = 101;
SELECT is(crm.set_lifecycle_stage(101, 'lead', 'deal fell through'), 'opportunity',
	'crm.set_lifecycle_stage moves back on purpose and returns the old stage');
SELECT is((SELECT reason FROM crm.lifecycle_history WHERE contact_id = 101 ORDER BY id DESC LIMIT 1), 'deal fell through',
	'with the reason in the history');
SELECT throws_ok($$SELECT crm.set_lifecycle_stage(101, 'zombie')$$, '22023',
	'unrecognized lifecycle stage: "zombie"', 'an unknown stage is refused');

SELECT lives_ok($$DELETE FROM crm.contacts WHERE id = 102$$,
	'deleting a contact deletes its activities without scoring bookkeeping errors');
SELECT is((SELECT count(*)::int FROM crm.engagement_state WHERE contact_id = 102), 0, 'and its engagement state');

-- Access: a rep sees the scores of its own contacts only and cannot change rules
SET ROLE regress_rep_a;
SELECT is(ARRAY(SELECT contact_id FROM crm.lead_scores ORDER BY 1),
		  ARRAY(SELECT id FROM crm.contacts ORDER BY 1), 'a rep''s crm.lead_scores shows exactly the contacts it may see');
SELECT ok((SELECT count(*) FROM crm.lead_scores) BETWEEN 1 AND 4, 'which are its handed-off leads, not everyone''s');
SELECT is((SELECT count(*)::int FROM crm.engagement_state s WHERE s.contact_id NOT IN (SELECT id FROM crm.contacts)), 0,
	'engagement state of other contacts is invisible');
SELECT throws_ok($$UPDATE crm.fit_rules SET points = 100$$, '42501', NULL, 'a rep cannot change scoring rules');
SELECT throws_ok($$SELECT crm.rescore_all()$$, '42501', NULL, 'nor rescore everything');
RESET ROLE;

-- Predictive score: naive Bayes on won and lost deals.  Contacts with only a
-- lead source, so the arithmetic can be checked by hand.
INSERT INTO crm.pipelines (id, name) VALUES (9100, 'regress pipeline');
INSERT INTO crm.pipeline_stages (id, pipeline_id, name, position, probability, outcome) VALUES
	(9101, 9100, 'open', 1, 0.5, 'open'), (9102, 9100, 'won', 2, 1, 'won'), (9103, 9100, 'lost', 3, 0, 'lost');
INSERT INTO crm.contacts (id, given_name, lead_source)
SELECT 200 + g, 'P' || g, CASE WHEN g <= 10 THEN 'webinar' WHEN g <= 20 THEN 'cold_call' ELSE 'referral' END
  FROM generate_series(1, 22) g;
-- webinar: 9 won 1 lost; cold_call: 0 won 10 lost; referral: 2 won (too rare)
INSERT INTO crm.deals (name, pipeline_id, stage_id, contact_id, close_reason)
SELECT 'deal ' || g, 9100, CASE WHEN g <= 9 OR g >= 21 THEN 9102 ELSE 9103 END, 200 + g,
	   CASE WHEN g <= 9 OR g >= 21 THEN NULL ELSE 'no budget' END
  FROM generate_series(1, 22) g;
SELECT is(crm.train_lead_model(5, 1.0) - 'run_id', '{"won": 11, "lost": 11, "smoothing": 1.0, "min_support": 5, "feature_values": 2, "holdout_percent": 0}'::jsonb,
	'training counts 11 won and 11 lost contacts and keeps 2 feature values');
SELECT is(ARRAY(SELECT value FROM crm.lead_model WHERE run_id = (SELECT max(id) FROM crm.lead_model_runs) ORDER BY 1),
	'{cold_call,webinar}'::text[], 'a value seen fewer than min_support times is ignored');
SELECT ok(abs(crm.lead_win_probability(201) - 5 / 6.0) < 1e-12,
	'webinar: odds 1 * (10/13) / (2/13) = 5, probability 5/6');
SELECT ok(abs(crm.lead_win_probability(211) - 1 / 12.0) < 1e-12,
	'cold call: odds (1/13) / (11/13) = 1/11, probability 1/12');
SELECT ok(abs(crm.lead_win_probability(221) - 0.5) < 1e-12, 'referral was ignored: the prior 11/22');
SELECT is(crm.lead_win_probability(-1), NULL, 'an unknown contact has no probability');
SELECT ok((crm.train_lead_model(5, 1e-9) ->> 'won') = '11', 'retrained with almost no smoothing');
SELECT is(crm.lead_win_probability(211), 0.0001::float8, 'without smoothing the cold call is clamped at 0.0001');
SELECT cmp_ok((crm.train_lead_model(1, 1.0, 50) ->> 'won')::int + (crm.train_lead_model(1, 1.0, 50) ->> 'lost')::int,
	'<', 22, 'a hold-out share is left out of training');
DELETE FROM crm.deals WHERE pipeline_id = 9100;
SELECT throws_ok($$SELECT crm.train_lead_model()$$, '55000', NULL, 'no closed deals: training says why it cannot');

SELECT * FROM finish();
ROLLBACK;
