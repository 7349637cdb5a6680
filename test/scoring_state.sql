-- The packed engagement state (one crm.contact_engagement row per contact):
-- window events pruned to those that can still count, cap boundaries,
-- events arriving out of order, deletes and re-dates of pruned window
-- events, many rules, hand-written rows, and on a randomized fixture (fixed
-- seed) the same engagement as replaying every activity.  now() is fixed
-- for the whole transaction.
BEGIN;
SELECT plan(37);

-- "in" compares the value in lower case, so the shipped lists are lower case
SELECT is(ARRAY(SELECT name FROM crm.fit_rules
				 WHERE operator IN ('in', 'not_in') AND match_values::text <> lower(match_values::text) ORDER BY 1),
	'{}'::text[], 'the default fit rules'' lists are lower case, so that they can match');

DELETE FROM crm.fit_rules;
DELETE FROM crm.engagement_rules;
DELETE FROM crm.score_groups;
UPDATE crm.scoring_settings SET score_ceiling = 1000, mql_threshold = 999, handoff_enabled = false;
INSERT INTO crm.score_groups (name, kind, max_points, min_points) VALUES
	('activity', 'engagement', NULL, NULL), ('negative', 'engagement', NULL, -30);
INSERT INTO crm.engagement_rules (id, name, group_name, activity_kind, points, max_points, half_life, time_window) VALUES
	(9001, 'opened', 'activity', 'email_opened', 10, 100, '30 days', NULL),
	(9002, 'visit', 'activity', 'web_visit', 4, 10, NULL, '7 days'),
	(9003, 'form_fill', 'activity', 'form_fill', 1, NULL, NULL, '3 days'),
	(9004, 'meeting', 'activity', 'meeting', 20, 40, NULL, NULL),
	(9005, 'event_rsvp', 'activity', 'event_rsvp', 5, 10, NULL, '10 days'),
	(9006, 'unsubscribed', 'negative', 'unsubscribed', -25, 100, NULL, NULL);
INSERT INTO crm.contacts (id, given_name) SELECT g, 'C' || g FROM generate_series(8001, 8010) g;

CREATE FUNCTION pg_temp.kept(c bigint, r bigint) RETURNS timestamptz[] LANGUAGE sql AS $$
	SELECT COALESCE(array_agg(w.t ORDER BY w.t), '{}') FROM crm.contact_engagement e
	 CROSS JOIN LATERAL unnest(e.window_rule_ids, e.window_times) AS w(r, t)
	 WHERE e.contact_id = c AND w.r = kept.r $$;

-- Window pruning: 4 points a visit, cap 10, so only the 3 most recent count
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT 8001, 'web_visit', now() - g * interval '1 day' FROM generate_series(1, 6) g;
SELECT is(pg_temp.kept(8001, 9002), ARRAY[now() - interval '3 days', now() - interval '2 days', now() - interval '1 day'],
	'six visits in the window: the three most recent are kept (3 x 4 points reach the cap of 10)');
SELECT is(crm.engagement_score(8001), 10.0::float8, 'and the score is the cap');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8001, 'web_visit', now() - interval '8 days');
SELECT is(cardinality(pg_temp.kept(8001, 9002)), 3, 'a visit older than the window is not kept');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES
	(8001, 'web_visit', now() + interval '1 day'), (8001, 'web_visit', now() + interval '2 days');
SELECT is(cardinality(pg_temp.kept(8001, 9002)), 5, 'visits dated in the future are all kept: they enter the window later');
SELECT is(crm.engagement_score(8001, now() + interval '6 days 12 hours'), 8.0::float8,
	'six and a half days on, only the two future visits are inside the window');

-- Deleting a kept event reads the pruned ones back from the activities
DELETE FROM crm.activities WHERE contact_id = 8001 AND occurred_at > now();
DELETE FROM crm.activities WHERE contact_id = 8001 AND occurred_at = now() - interval '1 day';
SELECT is(pg_temp.kept(8001, 9002), ARRAY[now() - interval '4 days', now() - interval '3 days', now() - interval '2 days'],
	'after deleting the newest visit, the fourth newest is read back from the activities');
SELECT is(crm.engagement_score(8001), 10.0::float8, 'still at the cap');
DELETE FROM crm.activities WHERE contact_id = 8001 AND occurred_at > now() - interval '4 days 12 hours';
SELECT is(pg_temp.kept(8001, 9002), ARRAY[now() - interval '6 days', now() - interval '5 days'],
	'deleting the three kept visits in one statement brings back the two older ones');
SELECT is(crm.engagement_score(8001), 8.0::float8, 'two visits: 8 points');
UPDATE crm.activities SET occurred_at = now() - interval '10 days'
 WHERE contact_id = 8001 AND occurred_at = now() - interval '5 days';
SELECT is(ARRAY[crm.engagement_score(8001), cardinality(pg_temp.kept(8001, 9002))::float8], ARRAY[4, 1]::float8[],
	're-dating a visit out of the window takes it out of the state');
SELECT is(crm.engagement_score(8001, now() + interval '1 day 12 hours'), 0.0::float8,
	'a day and a half later the last visit has left the window too');

-- Cap boundaries: 5 points, cap 10: exactly two events reach it
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT 8002, 'event_rsvp', now() - g * interval '1 hour' FROM generate_series(1, 3) g;
SELECT is(pg_temp.kept(8002, 9005), ARRAY[now() - interval '2 hours', now() - interval '1 hour'],
	'two events of 5 points reach a cap of 10 exactly: two are kept');
SELECT is(crm.engagement_score(8002), 10.0::float8, 'the cap');
-- no cap: every event inside the window is kept
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT 8002, 'form_fill', now() - g * interval '1 day' FROM generate_series(1, 5) g;
SELECT is(cardinality(pg_temp.kept(8002, 9003)), 2, 'a rule without a cap keeps every event inside its window (2 of 5)');
SELECT is(crm.engagement_score(8002), 12.0::float8, '10 (demo cap) + 2 downloads');

-- Events arriving out of order: the newest first, then older and older
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8003, 'web_visit', now() - interval '1 hour');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8003, 'web_visit', now() - interval '5 days');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8003, 'web_visit', now() - interval '6 days');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8003, 'web_visit', now() - interval '2 days');
SELECT is(pg_temp.kept(8003, 9002), ARRAY[now() - interval '5 days', now() - interval '2 days', now() - interval '1 hour'],
	'a back-dated event takes its place by time: the oldest of four is dropped');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES
	(8003, 'email_opened', now() - interval '60 days'), (8003, 'email_opened', now() - interval '30 days');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8003, 'email_opened', now() - interval '90 days');
SELECT is((SELECT value FROM crm.engagement_state WHERE contact_id = 8003 AND rule_id = 9001), 8.75::float8,
	'back-dated opens: 10/2 + 10/4 + 10/8 in any order');

-- A grade change rewrites the contact row with its new score and grade
INSERT INTO crm.contacts (id, given_name) VALUES (8011, 'K');
INSERT INTO crm.activities (contact_id, kind) VALUES (8011, 'meeting');
SELECT is((SELECT fit_score::text || ' ' || engagement_score::text || ' ' || lead_score::text || ' ' || lead_grade
			 FROM crm.contacts WHERE id = 8011), '0 20 20 C2', 'one meeting: engagement, score and grade C2 on the contact row');
INSERT INTO crm.activities (contact_id, kind) VALUES (8011, 'meeting');
SELECT is((SELECT ARRAY[engagement_score::float8, lead_score::float8, crm.lead_score(8011)]::text[] || lead_grade
			 FROM crm.contacts WHERE id = 8011), '{40,40,40,C1}'::text[], 'a second one: C1, as crm.lead_score() says');
DELETE FROM crm.contacts WHERE id = 8011;

-- A hand-written state as of an earlier time is decayed on the next write
INSERT INTO crm.contact_engagement VALUES
	(8004, now() - interval '30 days', '{9001,9004}', '{10,20}', '{9002,9002}',
	 ARRAY[now() - interval '40 days', now() - interval '31 days']);
SELECT is(crm.engagement_score(8004), 25.0::float8, 'read as of now: 10 decayed one half-life, 20 permanent, no visit in the window');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8004, 'email_opened', now());
SELECT is((SELECT ARRAY[as_of = now(), rule_values = '{15,20}', window_times = '{}'] FROM crm.contact_engagement
			WHERE contact_id = 8004), ARRAY[true, true, true],
	'the next write moves the state to now: 5 + 10 for opens, the old visits pruned');
-- rules the cache does not know are dropped on the next write
UPDATE crm.contact_engagement SET rule_ids = '{9001,9004,987654}', rule_values = '{15,20,500}' WHERE contact_id = 8004;
SELECT is(crm.engagement_score(8004), 35.0::float8, 'an unknown rule counts for nothing');
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8004, 'meeting', now());
SELECT is((SELECT rule_ids FROM crm.contact_engagement WHERE contact_id = 8004), '{9001,9004}'::bigint[],
	'and is dropped on the next write');
-- an inactive rule's value is kept, and counts again when the rule does
UPDATE crm.engagement_rules SET active = false WHERE id = 9001;
INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (8004, 'email_opened', now());
SELECT is(ARRAY[crm.engagement_score(8004), (SELECT value FROM crm.engagement_state WHERE contact_id = 8004 AND rule_id = 9001)],
	ARRAY[40, 15]::float8[], 'an inactive rule adds nothing and counts nothing, but its value is kept');
UPDATE crm.engagement_rules SET active = true WHERE id = 9001;
SELECT is(crm.engagement_score(8004), 55.0::float8, 'active again, it counts again');

-- A malformed row is refused when read, never misread
UPDATE crm.contact_engagement SET rule_ids = '{{9001}}', rule_values = '{{1}}' WHERE contact_id = 8004;
SELECT throws_ok($$SELECT crm.engagement_score(8004)$$, 'XX001', NULL, 'a two-dimensional array is reported as corrupted');
UPDATE crm.contact_engagement SET rule_ids = '{9001}', rule_values = ARRAY[NULL::float8] WHERE contact_id = 8004;
SELECT throws_ok($$SELECT * FROM crm.engagement_now WHERE contact_id = 8004$$, 'XX001', NULL, 'so is a null value');
-- gone with its contact: its hand-written values were no activity's
DELETE FROM crm.contact_engagement WHERE contact_id = 8004;
DELETE FROM crm.contacts WHERE id = 8004;
SELECT throws_ok($$SELECT crm._engagement_rows('{1,2}', '{9001}', '{1}', '{}', '{}', '{}', now())$$, '2202E', NULL,
	'batch arrays of different lengths are refused');

SELECT ok(NOT has_function_privilege('crm_admin',
	'crm._engagement_refill(bigint, timestamptz, bigint[], float8[], bigint[], timestamptz[], bigint[], bigint[], timestamptz[])',
	'EXECUTE'), 'the helper that reads activities past row-level security is not for users');

-- Many rules: forty more, windows and half-lives of every kind
INSERT INTO crm.engagement_rules (id, name, group_name, activity_kind, points, max_points, half_life, time_window)
SELECT 9100 + g, 'rule ' || g, CASE WHEN g % 5 = 0 THEN 'negative' ELSE 'activity' END, (ARRAY['call', 'email_sent', 'email_received', 'email_opened', 'email_clicked', 'email_bounced', 'unsubscribed',
		   'meeting', 'note', 'web_visit', 'form_fill', 'event_rsvp', 'event_attended', 'left_company'])[1 + g % 14],
	   CASE WHEN g % 5 = 0 THEN -3 ELSE 1 + g % 7 END, CASE WHEN g % 3 = 0 THEN NULL ELSE 5 + g % 11 END,
	   CASE WHEN g % 4 = 1 THEN (1 + g % 9) * interval '1 day' END,
	   CASE WHEN g % 4 = 2 THEN (1 + g % 13) * interval '1 day' END
  FROM generate_series(1, 40) g;

-- A randomized fixture, fixed seed: inserts in several statements in random
-- time order, deletes, re-dates and moves between contacts.
SELECT setseed(0.42);
CREATE TEMP TABLE pg_temp.fixture AS
SELECT 8005 + floor(random() * 6)::bigint AS contact_id,
	   (ARRAY['email_opened', 'web_visit', 'form_fill', 'meeting', 'event_rsvp', 'unsubscribed', 'note'])[1 + floor(random() * 7)::int]
		   AS kind,
	   now() - random() * interval '40 days' AS occurred_at, g
  FROM generate_series(1, 400) g
UNION ALL
SELECT 8005 + floor(random() * 6)::bigint, (ARRAY['call', 'email_sent', 'email_received', 'email_opened', 'email_clicked', 'email_bounced', 'unsubscribed',
		   'meeting', 'note', 'web_visit', 'form_fill', 'event_rsvp', 'event_attended', 'left_company'])[1 + floor(random() * 14)::int],
	   now() - random() * interval '20 days', 400 + g
  FROM generate_series(1, 400) g;
INSERT INTO crm.activities (contact_id, kind, occurred_at) SELECT contact_id, kind, occurred_at FROM pg_temp.fixture WHERE g % 4 = 0;
INSERT INTO crm.activities (contact_id, kind, occurred_at) SELECT contact_id, kind, occurred_at FROM pg_temp.fixture WHERE g % 4 = 1;
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT contact_id, kind, occurred_at FROM pg_temp.fixture WHERE g % 4 = 2 ORDER BY occurred_at DESC;
DO $$
DECLARE
	f record;
BEGIN
	FOR f IN SELECT * FROM pg_temp.fixture WHERE g % 4 = 3 ORDER BY random() LOOP
		INSERT INTO crm.activities (contact_id, kind, occurred_at) VALUES (f.contact_id, f.kind, f.occurred_at);
	END LOOP;
END $$;
DELETE FROM crm.activities WHERE contact_id BETWEEN 8005 AND 8010 AND id % 7 = 0;
UPDATE crm.activities SET occurred_at = occurred_at - interval '2 days' WHERE contact_id BETWEEN 8005 AND 8010 AND id % 11 = 0;
UPDATE crm.activities SET contact_id = 8005 + (contact_id - 8004) % 6 WHERE contact_id BETWEEN 8005 AND 8010 AND id % 13 = 0;

-- (contacts 8001-8003 had their activities before the forty rules: until a
-- rescore the new rules count only from then on, so they are left out)
SELECT is(ARRAY(SELECT c.id FROM crm.contacts c WHERE c.id BETWEEN 8005 AND 8010
				   AND abs(crm.engagement_score(c.id) - crm._engagement_replay(c.id, now())) > 1e-9),
	'{}'::bigint[], 'randomized: the state gives every contact the engagement that replaying its activities gives');
SELECT is(ARRAY(SELECT c.id FROM crm.contacts c WHERE c.id BETWEEN 8005 AND 8010
				   AND abs(crm.engagement_score(c.id, now() + interval '5 days')
						   - crm._engagement_replay(c.id, now() + interval '5 days')) > 1e-9),
	'{}'::bigint[], 'and five days later, when some window events have left their windows');
SELECT ok((SELECT count(*) FROM crm.activities a JOIN crm.engagement_rules r ON r.activity_kind = a.kind
			WHERE a.contact_id BETWEEN 8005 AND 8010 AND r.time_window IS NOT NULL)
		  > (SELECT sum(cardinality(window_times)) FROM crm.contact_engagement WHERE contact_id BETWEEN 8005 AND 8010),
	'fewer window times are kept than there are window events');
SELECT is(ARRAY(SELECT e.contact_id FROM crm.contact_engagement e
				  CROSS JOIN LATERAL (SELECT w.r, count(*) AS n FROM unnest(e.window_rule_ids, e.window_times) AS w(r, t)
									   JOIN crm.engagement_rules r ON r.id = w.r
									  WHERE w.t <= now() GROUP BY w.r) k
				  JOIN crm.engagement_rules r ON r.id = k.r
				 WHERE r.max_points IS NOT NULL AND k.n * abs(r.points) >= r.max_points + abs(r.points)),
	'{}'::bigint[], 'no window rule keeps more events than reach its cap');
SELECT is(ARRAY(SELECT l.contact_id FROM crm.lead_scores l
				 WHERE l.engagement_score IS DISTINCT FROM crm.engagement_score(l.contact_id)),
	'{}'::bigint[], 'crm.lead_scores agrees with crm.engagement_score()');

-- Rebuilding from the activities gives the same state
CREATE TEMP TABLE pg_temp.before AS SELECT * FROM crm.engagement_now;
SELECT crm.rescore_all();
SELECT is(ARRAY(SELECT b.contact_id FROM pg_temp.before b FULL JOIN crm.engagement_now n USING (contact_id)
				 WHERE contact_id BETWEEN 8005 AND 8010 AND abs(COALESCE(b.engagement_score, 0) - COALESCE(n.engagement_score, 0)) > 1e-9),
	'{}'::bigint[], 'crm.rescore_all() rebuilds the engagement the triggers kept');
SELECT is(ARRAY(SELECT c.id FROM crm.contacts c
				 WHERE abs(crm.engagement_score(c.id) - crm._engagement_replay(c.id, now())) > 1e-9),
	'{}'::bigint[], 'and for every contact, the earlier ones too, the replay agrees with it');

SELECT * FROM finish();
ROLLBACK;
