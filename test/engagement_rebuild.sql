-- crm._engagement_rebuild (one scan of the activities, src/engagement_rebuild.c)
-- against the reference it replaced: GROUP BY contact_id over the aggregate
-- crm._engagement_build.  On a randomized fixture (fixed seed) with every
-- kind of rule, the rows must be the same to the last bit of every sum,
-- whatever the memory limit (a small one splits the contacts into parts),
-- and crm.rescore_all() must store them.  now() is fixed for the whole
-- transaction.
BEGIN;
SELECT plan(23);

DELETE FROM crm.fit_rules;
DELETE FROM crm.engagement_rules;
DELETE FROM crm.score_groups;
UPDATE crm.scoring_settings SET score_ceiling = 1000, mql_threshold = 999, handoff_enabled = false;
INSERT INTO crm.score_groups (name, kind, max_points, min_points) VALUES
	('activity', 'engagement', 80, NULL), ('negative', 'engagement', NULL, -50), ('other', 'engagement', NULL, NULL);
-- half-lives (one very short, whose old events decay to zero), permanent
-- points positive and negative, windows with and without a cap, two rules
-- on one kind, an inactive rule
INSERT INTO crm.engagement_rules (id, name, group_name, activity_kind, points, max_points, half_life, time_window, active)
VALUES
	(7101, 'opened', 'activity', 'email_opened', 1.7, 40, '30 days', NULL, true),
	(7102, 'clicked', 'activity', 'email_clicked', 3.3, NULL, '9 days 7 hours', NULL, true),
	(7103, 'call', 'other', 'call', 2.9, 25, '1 hour', NULL, true),
	(7104, 'meeting', 'other', 'meeting', 20, 40, NULL, NULL, true),
	(7105, 'unsubscribed', 'negative', 'unsubscribed', -25, 100, NULL, NULL, true),
	(7106, 'bounced', 'negative', 'email_bounced', -7.3, NULL, '45 days', NULL, true),
	(7107, 'visit', 'activity', 'web_visit', 4, 10, NULL, '7 days', true),
	(7108, 'form', 'activity', 'form_fill', 1.1, NULL, NULL, '3 days', true),
	(7109, 'rsvp', 'other', 'event_rsvp', 5, 10, NULL, '10 days', true),
	(7110, 'visit, slowly fading', 'other', 'web_visit', 0.3, 9, '60 days', NULL, true),
	(7111, 'attended (off)', 'other', 'event_attended', 50, NULL, NULL, NULL, false);

-- Contact ids spread over a wide range (the sort then takes three passes),
-- some contacts with only activities no rule counts.
SELECT setseed(0.27);
INSERT INTO crm.contacts (id, given_name)
SELECT 5000000000000 + g * 1234567, 'R' || g FROM generate_series(1, 300) g;
CREATE TEMP TABLE pg_temp.irrelevant AS
SELECT 5000000000000 + g * 1234567 AS id FROM generate_series(1, 300) g WHERE g % 25 = 0;
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT 5000000000000 + g * 1234567, k, t FROM (
	SELECT 1 + floor(random() * 300)::bigint AS g,
		   (ARRAY['email_opened', 'email_opened', 'email_clicked', 'call', 'meeting', 'unsubscribed', 'email_bounced',
				  'web_visit', 'web_visit', 'form_fill', 'event_rsvp', 'event_attended', 'note', 'email_sent'])
			   [1 + floor(random() * 14)::int] AS k,
		   random() AS r
	  FROM generate_series(1, 6000)) a
 CROSS JOIN LATERAL (SELECT now() - a.r * interval '130 days'
							-- a third of the contacts have events up to ten days ahead
							+ CASE WHEN a.g % 3 = 0 THEN interval '10 days' ELSE interval '0' END AS t) f
 WHERE 5000000000000 + g * 1234567 NOT IN (SELECT id FROM pg_temp.irrelevant);
INSERT INTO crm.activities (contact_id, kind, occurred_at)
SELECT i.id, k, now() - interval '1 day' FROM pg_temp.irrelevant i, unnest(ARRAY['note', 'email_sent', 'event_attended']) k;

-- The reference: the aggregate, grouped by hashing (which keeps each
-- contact's activities in scan order, as the rebuild does; a sort would
-- not keep it, nor a hash join with the rules).
CREATE FUNCTION pg_temp.reference(t timestamptz) RETURNS SETOF crm.contact_engagement LANGUAGE plpgsql AS $$
BEGIN
	SET LOCAL enable_sort = off;
	SET LOCAL work_mem = '64MB';
	RETURN QUERY SELECT (x.e).* FROM (SELECT crm._engagement_build(a.contact_id, a.kind, a.occurred_at, t) AS e
			  FROM crm.activities a
			 WHERE a.kind = ANY (ARRAY(SELECT r.activity_kind FROM crm.engagement_rules r WHERE r.active))
			 GROUP BY a.contact_id OFFSET 0) x;
END $$;
-- Rows as text with every float8 sent in binary: equal means the same bits.
CREATE FUNCTION pg_temp.exact(e crm.contact_engagement) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT format('%s|%s|%s|%s|%s|%s', e.contact_id, e.as_of, e.rule_ids, pg_catalog.array_send(e.rule_values),
				  e.window_rule_ids, e.window_times) $$;
CREATE FUNCTION pg_temp.differences(t timestamptz) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM (
		(SELECT pg_temp.exact(r) FROM pg_temp.reference(t) r
		 EXCEPT ALL SELECT pg_temp.exact(n) FROM crm._engagement_rebuild(t) n)
		UNION ALL
		(SELECT pg_temp.exact(n) FROM crm._engagement_rebuild(t) n
		 EXCEPT ALL SELECT pg_temp.exact(r) FROM pg_temp.reference(t) r)) d $$;

SELECT cmp_ok((SELECT count(*) FROM pg_temp.reference(now())), '>', 250::bigint,
	'the reference has a row for most contacts');
SELECT is(pg_temp.differences(now()), 0::bigint,
	'the rebuild gives the aggregate''s rows, every sum to the last bit');
SELECT is(pg_temp.differences(now() - interval '20 days'), 0::bigint,
	'and as of a past moment, with more of the activities after it');
SELECT is(pg_temp.differences(now() + interval '400 days'), 0::bigint,
	'and as of a distant future, when the short half-lives have decayed to nothing');
SELECT ok((SELECT bool_and(s.contact_id > s.prev)
			 FROM (SELECT n.contact_id, lag(n.contact_id) OVER (ORDER BY n.o) AS prev
					 FROM crm._engagement_rebuild(now()) WITH ORDINALITY
						  AS n(contact_id, as_of, rule_ids, rule_values, window_rule_ids, window_times, o)) s
			WHERE s.prev IS NOT NULL),
	'rows come in contact order');
SELECT is(ARRAY(SELECT n.contact_id FROM crm._engagement_rebuild(now()) n JOIN pg_temp.irrelevant i ON i.id = n.contact_id),
	'{}'::bigint[], 'a contact whose activities no active rule counts gets no row (an inactive rule''s kind included)');
SELECT ok((SELECT bool_and(7111 <> ALL (n.rule_ids)) FROM crm._engagement_rebuild(now()) n),
	'an inactive rule has no entry');
SELECT ok((SELECT count(*) FROM crm._engagement_rebuild(now()) n WHERE 7107 = ANY (n.window_rule_ids)
			 AND 7110 = ANY (n.rule_ids)) > 0,
	'a kind with two rules feeds both (a window rule and a decaying one)');
SELECT ok((SELECT count(*) FROM crm._engagement_rebuild(now()) n, unnest(n.window_rule_ids, n.window_times) w(r, t)
			WHERE w.t > now()) > 0,
	'window events dated in the future are kept');

-- A memory limit small enough to split the contacts into parts: the same
-- rows (only their order differs)
SET LOCAL work_mem = '64kB';
SET LOCAL hash_mem_multiplier = 1;
SELECT is(pg_temp.differences(now()), 0::bigint, 'split into parts to fit a small memory limit: the same rows');
RESET work_mem;
RESET hash_mem_multiplier;

-- crm.rescore_all() stores exactly those rows, appended directly to the
-- table with their index entries
SELECT crm.rescore_all();
SELECT is((SELECT count(*) FROM (
			(SELECT pg_temp.exact(e) FROM crm.contact_engagement e
			 EXCEPT ALL SELECT pg_temp.exact(r) FROM pg_temp.reference(now()) r)
			UNION ALL
			(SELECT pg_temp.exact(r) FROM pg_temp.reference(now()) r
			 EXCEPT ALL SELECT pg_temp.exact(e) FROM crm.contact_engagement e)) d),
	0::bigint, 'crm.rescore_all() stores the reference''s rows');
TRUNCATE crm.contact_engagement;
SELECT is(crm._engagement_rebuild_write(now()), (SELECT count(*) FROM pg_temp.reference(now())),
	'the direct writer appends a row per contact to the plain table');
SELECT throws_ok($$SELECT crm._engagement_rebuild_write(now())$$, '23505', NULL,
	'appending them again violates the primary key: its entries are made');
CREATE EXTENSION amcheck;
SELECT lives_ok($$SELECT bt_index_check('crm.contact_engagement_pkey', true)$$,
	'the primary key has an entry for every row written (amcheck, heapallindexed)');
SELECT is((SELECT count(*) FROM crm.contact_engagement e JOIN pg_temp.reference(now()) r USING (contact_id)
			WHERE e.rule_ids = r.rule_ids),
		  (SELECT count(*) FROM pg_temp.reference(now())), 'and the rows are found through it');

-- With a trigger on the table the rows go through SQL, and the trigger fires
CREATE TEMP TABLE pg_temp.fired (contact_id bigint);
CREATE FUNCTION pg_temp.fire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pg_temp.fired VALUES (NEW.contact_id);
	RETURN NEW;
END $$;
CREATE TRIGGER regress_fire AFTER INSERT ON crm.contact_engagement FOR EACH ROW EXECUTE FUNCTION pg_temp.fire();
SELECT is(crm._engagement_rebuild_write(now()), NULL, 'the direct writer declines a table with a trigger');
SELECT crm.rescore_all();
SELECT is(ARRAY[(SELECT count(*) FROM pg_temp.fired), (SELECT count(*) FROM (
			(SELECT pg_temp.exact(e) FROM crm.contact_engagement e
			 EXCEPT ALL SELECT pg_temp.exact(r) FROM pg_temp.reference(now()) r)
			UNION ALL
			(SELECT pg_temp.exact(r) FROM pg_temp.reference(now()) r
			 EXCEPT ALL SELECT pg_temp.exact(e) FROM crm.contact_engagement e)) d)],
	ARRAY[(SELECT count(*) FROM pg_temp.reference(now())), 0],
	'then crm.rescore_all() inserts the same rows with SQL, firing the trigger for each');
DROP TRIGGER regress_fire ON crm.contact_engagement;

-- (the replay does not count a decaying rule's future events from the
-- moment they are recorded, as the state does: contacts without any are
-- compared)
CREATE TEMP TABLE pg_temp.past_only AS
SELECT c.id FROM crm.contacts c
 WHERE c.id >= 5000000000000 AND NOT EXISTS (SELECT FROM crm.activities a WHERE a.contact_id = c.id AND a.occurred_at > now());
SELECT is(ARRAY(SELECT p.id FROM pg_temp.past_only p
				 WHERE abs(crm.engagement_score(p.id) - crm._engagement_replay(p.id, now())) > 1e-9)
		  || ARRAY(SELECT count(*) FROM pg_temp.past_only HAVING count(*) < 150),
	'{}'::bigint[], 'and the engagement of each of 150+ contacts is what replaying its activities gives');
SELECT is(ARRAY(SELECT p.id FROM pg_temp.past_only p
				 WHERE abs(crm.engagement_score(p.id, now() + interval '5 days')
						   - crm._engagement_replay(p.id, now() + interval '5 days')) > 1e-9),
	'{}'::bigint[], 'also five days later');

-- No active rule: no row; and the function is not for users
UPDATE crm.engagement_rules SET active = false;
SELECT is((SELECT count(*) FROM crm._engagement_rebuild(now())), 0::bigint, 'without active rules there is no row');
SELECT ok(NOT has_function_privilege('crm_admin', 'crm._engagement_rebuild(timestamptz)', 'EXECUTE'),
	'crm_admin cannot call it (it reads the activities past row-level security)');
SELECT ok(NOT has_function_privilege('public', 'crm._engagement_rebuild(timestamptz)', 'EXECUTE'),
	'nor can PUBLIC');
SELECT ok(NOT has_function_privilege('crm_admin', 'crm._engagement_rebuild_write(timestamptz)', 'EXECUTE')
		  AND NOT has_function_privilege('public', 'crm._engagement_rebuild_write(timestamptz)', 'EXECUTE'),
	'nor the direct writer');

SELECT * FROM finish();
ROLLBACK;
