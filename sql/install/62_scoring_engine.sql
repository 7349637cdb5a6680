-- crm install script, part 62: the lead-scoring engine.
--
-- Fit is a pure function of the contact and its account, recomputed by a
-- BEFORE trigger when one of its inputs changes.  Engagement is a sum of
-- events, each worth its rule's points decayed by the rule's half-life or
-- counted while inside the rule's time window.  For every contact we keep
-- ONE row in crm.contact_engagement: one time T, the decayed sum S of each
-- decaying (or permanent) rule as of T, and for each time-window rule the
-- event times that can still count (those after T, and of those inside the
-- window only as many of the most recent as reach the rule's cap).  An
-- event at t adds p * 2^(-(T - t)/h) (or moves T forward and decays every
-- S), a deleted event subtracts the same amount: O(1) per event, exact,
-- independent of the order events arrive in (src/engagement.c says why
-- the pruned window times are enough).  The caps are applied when the
-- value is read, so they never lose information.  Current scores are one
-- scan of the contacts joined 1:1 with their state and one C call per
-- contact: no activity is read.
--
-- The contact row carries a snapshot (fit_score, engagement_score as of
-- engagement_as_of, lead_score, lead_grade), rewritten when an event
-- changes the grade or reaches the MQL threshold, and by crm.rescore_all();
-- crm.lead_score() and the crm.lead_scores view compute the exact value at
-- any moment.
--
-- The trigger is statement-level with transition tables and written in C
-- (src/scoring.c): a statement's events are summed per contact and folded
-- into each contact's row in place (found through the primary key, locked
-- and rewritten, usually as a HOT update), contacts without a row get one
-- by a single upsert per statement.  It runs as the extension owner (SECURITY
-- DEFINER): scores are derived data that the users whose activity changes
-- them may not write directly, and the MQL hand-off must assign an owner
-- that the user who logged the activity could not choose.

-- No foreign keys: the rows are derived, written by the trigger (which
-- checks that the contact exists) and rebuilt in bulk by crm.rescore_all(),
-- where checking a key per row cost more than the rebuild itself.
-- Deleting a contact deletes its row, deleting a rule its entries
-- (triggers below).  Keyed by contact_id alone, so it is distributed with
-- the contacts when sharded by contact.  No CHECK constraints: the readers
-- check the arrays (shape, nulls, lengths) anyway, and a CHECK is parsed
-- and planned again by every statement that writes the table, which is one
-- per activity statement.  Every activity rewrites its contact's row, so
-- pages keep room for the new version on the same page (a HOT update, no
-- new index entry): with full pages an update cost twice as much.
CREATE TABLE crm.contact_engagement (
	contact_id bigint PRIMARY KEY,
	as_of timestamptz NOT NULL,
	rule_ids bigint[] NOT NULL,
	rule_values float8[] NOT NULL,
	window_rule_ids bigint[] NOT NULL,
	window_times timestamptz[] NOT NULL,
	-- the contact's current fit when crm.rescore_all() found it different
	-- from crm.contacts.fit_score; null when that column is current
	fit_score float8
) WITH (fillfactor = 70);
-- Time-window rules read recent activities when an activity is deleted,
-- and the audit reads them too: a BRIN index on the (roughly
-- append-ordered) activity time is tiny and cheap to keep.
CREATE INDEX activities_occurred_at_brin ON crm.activities USING brin (occurred_at);
-- crm.rescore_all() rebuilds crm.invalidating_events (part 65) from the
-- hard bounces and "left the company" events: a partial index holds only
-- those few rows, so the rebuild reads them instead of every activity.
CREATE INDEX activities_invalidating_idx ON crm.activities (contact_id, kind, occurred_at)
	WHERE kind IN ('email_bounced', 'left_company');
-- Derived, but dumped like every crm table; after a restore run
-- crm.rescore_all(), which rebuilds it from the activities.
SELECT pg_catalog.pg_extension_config_dump('crm.contact_engagement', '');
COMMENT ON TABLE crm.contact_engagement IS
	'per contact: the decayed value of each decaying rule as of as_of, and the event times of each time-window rule that can still count (derived; rebuilt by crm.rescore_all())';
COMMENT ON COLUMN crm.contact_engagement.rule_ids IS 'decaying and permanent rules, in id order; rule_values holds their decayed sums as of as_of';
COMMENT ON COLUMN crm.contact_engagement.fit_score IS
	'the contact''s current fit score when it differs from crm.contacts.fit_score (set by crm.rescore_all(), cleared when the contact''s fit is recomputed); null when that column is current';
COMMENT ON COLUMN crm.contact_engagement.window_rule_ids IS
	'one entry per kept event of a time-window rule, in (rule, time) order; window_times holds the events'' times';

-- The engagement a state row is worth at a moment, by the rules the
-- scoring trigger keeps in backend memory (C: src/engagement.c).  STABLE:
-- reads the rules; PARALLEL RESTRICTED: the rules are the leader's, read
-- once per backend.
CREATE FUNCTION crm._engagement_value(as_of timestamptz, rule_ids bigint[], rule_values float8[],
									  window_rule_ids bigint[], window_times timestamptz[], at timestamptz)
RETURNS float8
AS 'MODULE_PATHNAME', 'crm_engagement_value'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 5;
COMMENT ON FUNCTION crm._engagement_value(timestamptz, bigint[], float8[], bigint[], timestamptz[], timestamptz) IS
	'engagement a crm.contact_engagement row is worth at a moment: values decayed, window events counted, capped per rule and group';

-- The trigger's and the rebuild's helpers.  STABLE: they read the rules.
-- Not for users: refill reads activities past row-level security.
CREATE FUNCTION crm._engagement_rows(value_contacts bigint[], value_rules bigint[], value_amounts float8[],
									 window_contacts bigint[], window_rules bigint[], window_times timestamptz[],
									 as_of timestamptz)
RETURNS SETOF crm.contact_engagement
AS 'MODULE_PATHNAME', 'crm_engagement_rows'
LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION crm._engagement_rows(bigint[], bigint[], float8[], bigint[], bigint[], timestamptz[], timestamptz) IS
	'one crm.contact_engagement row per contact of a batch of events (sorted by contact), as of as_of';
CREATE FUNCTION crm._engagement_merge(contact_id bigint, as_of timestamptz, rule_ids bigint[], rule_values float8[],
									  window_rule_ids bigint[], window_times timestamptz[],
									  as_of2 timestamptz, rule_ids2 bigint[], rule_values2 float8[],
									  window_rule_ids2 bigint[], window_times2 timestamptz[])
RETURNS crm.contact_engagement
AS 'MODULE_PATHNAME', 'crm_engagement_merge'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm._engagement_merge(bigint, timestamptz, bigint[], float8[], bigint[], timestamptz[],
										  timestamptz, bigint[], float8[], bigint[], timestamptz[]) IS
	'two engagement states of a contact added up as of the later time, window events pruned';
CREATE FUNCTION crm._engagement_refill(contact_id bigint, as_of timestamptz, rule_ids bigint[], rule_values float8[],
									   window_rule_ids bigint[], window_times timestamptz[],
									   removed_contacts bigint[], removed_rules bigint[], removed_times timestamptz[])
RETURNS crm.contact_engagement
AS 'MODULE_PATHNAME', 'crm_engagement_refill'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm._engagement_refill(bigint, timestamptz, bigint[], float8[], bigint[], timestamptz[],
										   bigint[], bigint[], timestamptz[]) IS
	'an engagement state with removed window events taken out, the window rules'' times read again from the activities';
CREATE FUNCTION crm._engagement_build_add(state internal, contact_id bigint, kind text, occurred_at timestamptz,
										  as_of timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'crm_engagement_build_add'
LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION crm._engagement_build_final(state internal) RETURNS crm.contact_engagement
AS 'MODULE_PATHNAME', 'crm_engagement_build_final'
LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE AGGREGATE crm._engagement_build(contact_id bigint, kind text, occurred_at timestamptz, as_of timestamptz) (
	SFUNC = crm._engagement_build_add,
	STYPE = internal,
	-- a contact's state is small (a few rules, the events of window
	-- rules): said so, the planner hashes a million contacts in memory
	SSPACE = 160,
	FINALFUNC = crm._engagement_build_final
);
COMMENT ON AGGREGATE crm._engagement_build(bigint, text, timestamptz, timestamptz) IS
	'the crm.contact_engagement row of one contact from all its activities, as of as_of';
COMMENT ON FUNCTION crm._engagement_build_add(internal, bigint, text, timestamptz, timestamptz) IS
	'transition function of crm._engagement_build: one activity into the contact''s state being built';
COMMENT ON FUNCTION crm._engagement_build_final(internal) IS
	'final function of crm._engagement_build: the state built, as a crm.contact_engagement row';
REVOKE ALL ON FUNCTION crm._engagement_rows(bigint[], bigint[], float8[], bigint[], bigint[], timestamptz[], timestamptz)
	FROM PUBLIC;
REVOKE ALL ON FUNCTION crm._engagement_merge(bigint, timestamptz, bigint[], float8[], bigint[], timestamptz[],
											 timestamptz, bigint[], float8[], bigint[], timestamptz[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm._engagement_refill(bigint, timestamptz, bigint[], float8[], bigint[], timestamptz[],
											  bigint[], bigint[], timestamptz[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm._engagement_build(bigint, text, timestamptz, timestamptz) FROM PUBLIC;
-- Every contact's state from one scan of the activities
-- (src/engagement_rebuild.c): the rows GROUP BY contact_id over
-- crm._engagement_build gives, which stays as the reference the tests
-- compare it with.  STABLE: reads the rules and the activities.  Reads the
-- activities past row-level security: for crm._rebuild_engagement_state
-- only (no grant).
CREATE FUNCTION crm._engagement_rebuild(as_of timestamptz) RETURNS SETOF crm.contact_engagement
AS 'MODULE_PATHNAME', 'crm_engagement_rebuild'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED COST 100000 ROWS 1000000;
COMMENT ON FUNCTION crm._engagement_rebuild(timestamptz) IS
	'the crm.contact_engagement row of every contact with activities of an active rule''s kind, as of as_of, from one scan of crm.activities';
REVOKE ALL ON FUNCTION crm._engagement_rebuild(timestamptz) FROM PUBLIC;
-- The same rows appended to crm.contact_engagement directly, as COPY FROM
-- appends them; NULL (nothing written) when the table is no longer the
-- plain one made here (a trigger, a rule, row-level security that applies
-- to the caller, other columns), and the caller then inserts with SQL.
-- VOLATILE: writes.
CREATE FUNCTION crm._engagement_rebuild_write(as_of timestamptz) RETURNS bigint
AS 'MODULE_PATHNAME', 'crm_engagement_rebuild_write'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE COST 100000;
COMMENT ON FUNCTION crm._engagement_rebuild_write(timestamptz) IS
	'append the rows of crm._engagement_rebuild(as_of) to crm.contact_engagement directly; the number written, or null when the table must be written with SQL';
REVOKE ALL ON FUNCTION crm._engagement_rebuild_write(timestamptz) FROM PUBLIC;

-- One row per contact and decaying rule, as the state was kept before it
-- was packed into one row per contact: for reading and for tests.
CREATE VIEW crm.engagement_state WITH (security_invoker = true) AS
SELECT e.contact_id, v.rule_id, v.value, e.as_of
  FROM crm.contact_engagement e
 CROSS JOIN LATERAL unnest(e.rule_ids, e.rule_values) AS v(rule_id, value);
COMMENT ON VIEW crm.engagement_state IS
	'per contact and decaying engagement rule: the decayed sum of its points as of as_of (from crm.contact_engagement)';

-- The attributes fit rules can test, for one contact: a composite so that
-- the trigger and the set-based rescore evaluate rules the same way.
CREATE TYPE crm.fit_input AS (
	seniority text,
	title text,
	job_function text,
	industry text,
	employees text,
	annual_revenue text,
	country text,
	lead_source text,
	email_domain text,
	email_kind text
);
COMMENT ON TYPE crm.fit_input IS 'the contact and account attributes fit rules test';

-- STABLE: reads the email domain lists.
CREATE FUNCTION crm._fit_input(c crm.contacts, a crm.accounts) RETURNS crm.fit_input
LANGUAGE sql STABLE PARALLEL SAFE
RETURN ROW(crm.title_seniority(c.title),
		   pg_catalog.lower(c.title),
		   pg_catalog.lower(c.job_function),
		   pg_catalog.lower(a.industry),
		   a.employees::text,
		   a.annual_revenue::text,
		   COALESCE(c.country, a.country),
		   c.lead_source,
		   crm.email_domain(c.email),
		   CASE WHEN c.email IS NOT NULL
				THEN crm.lead_domain_kind(c.email) END)::crm.fit_input;

-- STABLE: reads the rules.  PL/pgSQL rather than SQL so that its plan is
-- cached for the session: it runs once per contact written.
CREATE FUNCTION crm.fit_score(i crm.fit_input) RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT COALESCE(pg_catalog.sum(g.total), 0)::float8
	  FROM (SELECT crm.clamp_points(pg_catalog.sum(r.points), sg.min_points, sg.max_points) AS total
			  FROM crm.fit_rules r
			  JOIN crm.score_groups sg ON sg.name = r.group_name
			 WHERE r.active
			   AND crm.fit_rule_matches(r.operator, r.match_values, r.low, r.high,
					CASE r.attribute
						WHEN 'seniority' THEN i.seniority
						WHEN 'title' THEN i.title
						WHEN 'job_function' THEN i.job_function
						WHEN 'industry' THEN i.industry
						WHEN 'employees' THEN i.employees
						WHEN 'annual_revenue' THEN i.annual_revenue
						WHEN 'country' THEN i.country
						WHEN 'lead_source' THEN i.lead_source
						WHEN 'email_domain' THEN i.email_domain
						WHEN 'email_kind' THEN i.email_kind
					END)
			 GROUP BY sg.name, sg.min_points, sg.max_points) g);
END $$;
COMMENT ON FUNCTION crm.fit_score(crm.fit_input) IS
	'fit score for a set of attributes: matching fit rules summed per score group, each group clamped to its bounds';

-- Engagement of one contact at a moment, replayed from its activities:
-- the reference the state is tested against, and the answer for a moment
-- before the state's time.  STABLE: reads rules and activities.
-- PL/pgSQL so that the plan is cached for the session (an SQL function
-- would be planned on every call from another function).
CREATE FUNCTION crm._engagement_replay(contact_id bigint, as_of timestamptz)
RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (WITH per_rule AS (
		-- decaying and permanent rules
		SELECT r.id, r.group_name, crm.clamp_points(pg_catalog.sum(
				crm.decayed_value(r.points, a.occurred_at, r.half_life, _engagement_replay.as_of)), -r.max_points, r.max_points) AS v
		  FROM crm.activities a JOIN crm.engagement_rules r ON r.activity_kind = a.kind
		 WHERE a.contact_id = _engagement_replay.contact_id AND a.occurred_at <= _engagement_replay.as_of
		   AND r.active AND r.time_window IS NULL
		 GROUP BY r.id, r.group_name, r.max_points
		UNION ALL
		-- time-window rules, counted
		SELECT r.id, r.group_name, crm.clamp_points(pg_catalog.sum(r.points), -r.max_points, r.max_points)
		  FROM crm.activities a JOIN crm.engagement_rules r ON r.activity_kind = a.kind
		 WHERE a.contact_id = _engagement_replay.contact_id
		   AND a.occurred_at <= _engagement_replay.as_of
		   AND a.occurred_at > _engagement_replay.as_of - r.time_window
		   AND r.active AND r.time_window IS NOT NULL
		 GROUP BY r.id, r.group_name, r.max_points
	)
	SELECT COALESCE(pg_catalog.sum(g.total), 0)::float8
	  FROM (SELECT crm.clamp_points(pg_catalog.sum(p.v), sg.min_points, sg.max_points) AS total
			  FROM per_rule p JOIN crm.score_groups sg ON sg.name = p.group_name
			 GROUP BY sg.name, sg.min_points, sg.max_points) g);
END $$;
COMMENT ON FUNCTION crm._engagement_replay(bigint, timestamptz) IS
	'engagement score of a contact at as_of, recomputed from its activities (slow; the reference for crm.contact_engagement)';

-- Engagement of one contact at a moment, exactly: from its state row, or
-- replayed from the activities when as_of is earlier than the state (a
-- question about the past).  STABLE: reads rules, state and activities.
CREATE FUNCTION crm.engagement_score(contact_id bigint, as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s crm.contact_engagement;
BEGIN
	SELECT * INTO s FROM crm.contact_engagement e WHERE e.contact_id = engagement_score.contact_id;
	IF NOT FOUND THEN
		RETURN 0;
	ELSIF s.as_of > engagement_score.as_of THEN
		RETURN crm._engagement_replay(engagement_score.contact_id, engagement_score.as_of);
	END IF;
	RETURN COALESCE(crm._engagement_value(s.as_of, s.rule_ids, s.rule_values, s.window_rule_ids, s.window_times,
										  engagement_score.as_of), 0);
END $$;
COMMENT ON FUNCTION crm.engagement_score(bigint, timestamptz) IS
	'engagement score of a contact at as_of: decayed and windowed rule points, capped per rule and per group; writes nothing';

-- Overall score from its two halves.  STABLE: reads the settings.
CREATE FUNCTION crm.combine_score(fit float8, engagement float8) RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT crm.clamp_points(COALESCE(fit, 0) + COALESCE(engagement, 0), 0, s.score_ceiling)
		  FROM crm.scoring_settings s);
COMMENT ON FUNCTION crm.combine_score(float8, float8) IS
	'lead score: fit + engagement, clamped to [0, score_ceiling]';

-- STABLE: reads the contact, rules and state.
CREATE FUNCTION crm.lead_score(contact_id bigint, as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT crm.combine_score(crm.fit_score(crm._fit_input(c, a)), crm.engagement_score(c.id, lead_score.as_of))
	  FROM crm.contacts c LEFT JOIN crm.accounts a ON a.id = c.account_id
	 WHERE c.id = lead_score.contact_id);
END $$;
COMMENT ON FUNCTION crm.lead_score(bigint, timestamptz) IS
	'lead score of a contact at as_of (default now), with engagement decayed to that moment; null for an unknown or invisible contact; writes nothing';

-- Engagement of every contact with a state row, decayed to now: one pass
-- over crm.contact_engagement, one C call per contact.
CREATE VIEW crm.engagement_now WITH (security_invoker = true) AS
SELECT e.contact_id,
	   crm._engagement_value(e.as_of, e.rule_ids, e.rule_values, e.window_rule_ids, e.window_times, pg_catalog.now())
		   AS engagement_score
  FROM crm.contact_engagement e;
COMMENT ON VIEW crm.engagement_now IS
	'engagement score, decayed to now, of every contact with engagement (set-based; used by crm.lead_scores and crm.rescore_all)';

-- Current scores for every contact the caller may see.  The fit is the
-- state row's when crm.rescore_all() left one there (the contact row's
-- was not rewritten for a fit change alone), else the contact row's.
CREATE VIEW crm.lead_scores WITH (security_invoker = true) AS
SELECT c.id AS contact_id,
	   COALESCE(e.fit_score, c.fit_score::float8) AS fit_score,
	   COALESCE(e.engagement_score, 0) AS engagement_score,
	   crm.clamp_points(COALESCE(e.fit_score, c.fit_score::float8, 0) + COALESCE(e.engagement_score, 0), 0,
						s.score_ceiling) AS lead_score,
	   crm._grade(COALESCE(e.fit_score, c.fit_score::float8), e.engagement_score, s.grade_a_fit, s.grade_b_fit,
				  s.grade_1_engagement, s.grade_2_engagement) AS lead_grade,
	   c.lifecycle_stage
  FROM crm.contacts c
 CROSS JOIN crm.scoring_settings s
  LEFT JOIN (SELECT e.contact_id, e.fit_score,
					crm._engagement_value(e.as_of, e.rule_ids, e.rule_values, e.window_rule_ids, e.window_times,
										  pg_catalog.now()) AS engagement_score
			   FROM crm.contact_engagement e) e ON e.contact_id = c.id;
COMMENT ON VIEW crm.lead_scores IS
	'current fit, engagement (decayed to now), lead score and grade of every contact the caller may see';

-- Keep fit, score and grade of a contact row in step with its inputs, and
-- hand it to sales when its score crosses the MQL threshold.  The scores
-- are computed again when a fit input changed or a statement wrote a score
-- column (by hand, or to hand the contact off): the fit from the rules,
-- score and grade from it and the engagement snapshot.  Other updates
-- leave the score columns as they are: after a fit-rule change
-- crm.rescore_all() may have left the current fit in the state row rather
-- than rewrite the contact, and a score recomputed here from the contact's
-- own older fit would undo it.
CREATE FUNCTION crm._contacts_score() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s crm.scoring_settings;
	a crm.accounts;
	engagement float8;
BEGIN
	SELECT * INTO STRICT s FROM crm.scoring_settings;
	IF TG_OP = 'UPDATE' AND NEW.fit_score IS NOT NULL
	   AND (NEW.title, NEW.job_function, NEW.account_id, NEW.email::text, NEW.lead_source, NEW.country)
		   IS NOT DISTINCT FROM (OLD.title, OLD.job_function, OLD.account_id, OLD.email::text, OLD.lead_source, OLD.country)
	   AND (NEW.fit_score, NEW.engagement_score, NEW.engagement_as_of, NEW.lead_score, NEW.lead_grade)
		   IS NOT DISTINCT FROM (OLD.fit_score, OLD.engagement_score, OLD.engagement_as_of, OLD.lead_score, OLD.lead_grade)
	THEN
		-- nothing the scores depend on changed
		NULL;
	ELSE
		IF NEW.account_id IS NOT NULL THEN
			SELECT * INTO a FROM crm.accounts WHERE id = NEW.account_id;
		END IF;
		NEW.fit_score := crm.fit_score(crm._fit_input(NEW, a));
		IF TG_OP = 'UPDATE' THEN
			-- the contact row holds the current fit again
			UPDATE crm.contact_engagement e SET fit_score = NULL
			 WHERE e.contact_id = NEW.id AND e.fit_score IS NOT NULL;
		END IF;
		engagement := COALESCE(NEW.engagement_score, 0);
		NEW.lead_score := crm.clamp_points(NEW.fit_score::float8 + engagement, 0, s.score_ceiling);
		NEW.lead_grade := crm._grade(NEW.fit_score::float8, engagement, s.grade_a_fit, s.grade_b_fit,
									 s.grade_1_engagement, s.grade_2_engagement);
	END IF;

	IF TG_OP = 'UPDATE' AND NEW.lifecycle_stage IS DISTINCT FROM OLD.lifecycle_stage
	   AND crm.lifecycle_position(NEW.lifecycle_stage) < crm.lifecycle_position(OLD.lifecycle_stage)
	   AND current_setting('crm.lifecycle_override', true) IS DISTINCT FROM NEW.id::text THEN
		RAISE EXCEPTION 'lifecycle stage of contact % cannot move back from % to %',
				NEW.id, OLD.lifecycle_stage, NEW.lifecycle_stage
			USING ERRCODE = 'check_violation',
				  DETAIL = 'Lifecycle stages only move forward on their own.',
				  HINT = 'Use crm.set_lifecycle_stage(contact_id, stage, reason) to move a contact back on purpose.';
	END IF;

	-- crossing the threshold upward makes a lead an MQL with an owner from
	-- the assignment rules; the AFTER trigger then creates the follow-up
	-- task and notifies.  A stage set by hand is left as it is.
	IF s.handoff_enabled AND NEW.lead_score >= s.mql_threshold
	   AND (TG_OP = 'INSERT' OR OLD.lead_score IS NULL OR OLD.lead_score < s.mql_threshold)
	   AND crm.lifecycle_position(NEW.lifecycle_stage) < crm.lifecycle_position('mql') THEN
		NEW.lifecycle_stage := 'mql';
		NEW.owner_id := COALESCE(crm._assign_owner(NEW), NEW.owner_id);
	END IF;
	RETURN NEW;
END $$;

-- crm.rescore_all() and the activity trigger compute the same values
-- set-based and say so through a flag in backend memory, not a setting: a
-- setting any session can change would let a user write scores by hand
-- (src/scoring_guard.c).  VOLATILE: the flag changes within a statement.
CREATE FUNCTION crm._scoring_stands_aside() RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_scoring_stands_aside'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED COST 1;
COMMENT ON FUNCTION crm._scoring_stands_aside() IS
	'true while crm.rescore_all() or the activity trigger writes scores set-based (the per-row scoring trigger stands aside)';
CREATE FUNCTION crm._set_scoring_aside(on_off boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'crm_set_scoring_aside'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE COST 1;
REVOKE ALL ON FUNCTION crm._set_scoring_aside(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm._set_scoring_aside(boolean) TO crm_admin;
COMMENT ON FUNCTION crm._set_scoring_aside(boolean) IS
	'let the per-row scoring trigger stand aside until false or the end of the (sub)transaction (crm_admin only; used by crm.rescore_all())';

CREATE TRIGGER score BEFORE INSERT OR UPDATE ON crm.contacts
	FOR EACH ROW WHEN (NOT crm._scoring_stands_aside())
	EXECUTE FUNCTION crm._contacts_score();
-- A score written set-based is derived data, not an edit: the contact keeps
-- the updated_at and updated_by of its last edit (stamped as the extension
-- owner, a rescore or an event would also blank updated_by).  The stamp
-- trigger of part 41 is made again with that condition, under its name so
-- that BEFORE triggers keep their order.
DROP TRIGGER stamp ON crm.contacts;
CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON crm.contacts
	FOR EACH ROW WHEN (NOT crm._scoring_stands_aside())
	EXECUTE FUNCTION crm._stamp();

-- Account attributes feed the fit of its contacts.
CREATE FUNCTION crm._accounts_rescore() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- setting fit_score to null makes the contacts trigger recompute it
	UPDATE crm.contacts c SET fit_score = NULL
	  FROM new_accounts n JOIN old_accounts o ON o.id = n.id
	 WHERE c.account_id = n.id
	   AND (n.industry, n.employees, n.annual_revenue, n.country)
		   IS DISTINCT FROM (o.industry, o.employees, o.annual_revenue, o.country);
	RETURN NULL;
END $$;
CREATE TRIGGER rescore_contacts AFTER UPDATE ON crm.accounts
	REFERENCING OLD TABLE AS old_accounts NEW TABLE AS new_accounts
	FOR EACH STATEMENT EXECUTE FUNCTION crm._accounts_rescore();

-- Fold a batch of activity changes into the engagement state and refresh
-- the snapshots of the contacts concerned (C: src/scoring.c).  New rows
-- count +1, removed rows -1 (an UPDATE is both, for the rows whose contact,
-- kind or time changed).  The batch is summed per (contact, rule) decayed
-- to the transaction time, then added to the stored state decayed to the
-- later of the two times; window events are added to the kept times and
-- pruned, and a removed window event makes the contact's events of that
-- rule be read again from the activities (crm._engagement_refill).  A
-- decaying rule's activity dated in the future counts from the moment it
-- is recorded.  Inserted hard bounces
-- and "left the company" events are also recorded in
-- crm.invalidating_events (part 65) for record health.
--
-- The contact row is written only when it matters: the grade changes or
-- the score reaches the MQL threshold (the row trigger then hands the lead
-- off).  Otherwise the snapshot stays as of engagement_as_of and
-- crm.lead_scores / crm.lead_score() give the current value; this keeps
-- the cost of an activity off the contacts table, its indexes and its
-- triggers (see docs/scoring.md, Performance, for the measured cost).
CREATE FUNCTION crm._activities_score() RETURNS trigger
AS 'MODULE_PATHNAME', 'crm_activities_score'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE TRIGGER score AFTER INSERT ON crm.activities
	REFERENCING NEW TABLE AS new_activities
	FOR EACH STATEMENT EXECUTE FUNCTION crm._activities_score();
CREATE TRIGGER score_delete AFTER DELETE ON crm.activities
	REFERENCING OLD TABLE AS old_activities
	FOR EACH STATEMENT EXECUTE FUNCTION crm._activities_score();
CREATE TRIGGER score_update AFTER UPDATE ON crm.activities
	REFERENCING OLD TABLE AS old_activities NEW TABLE AS new_activities
	FOR EACH STATEMENT EXECUTE FUNCTION crm._activities_score();

-- The trigger keeps the rules, groups, settings and stages in backend
-- memory; a change to them tells every backend to read them again.
CREATE FUNCTION crm._scoring_config_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'crm_scoring_config_changed'
LANGUAGE C;
CREATE TRIGGER scoring_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.engagement_rules
	FOR EACH STATEMENT EXECUTE FUNCTION crm._scoring_config_changed();
CREATE TRIGGER scoring_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.score_groups
	FOR EACH STATEMENT EXECUTE FUNCTION crm._scoring_config_changed();
CREATE TRIGGER scoring_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.scoring_settings
	FOR EACH STATEMENT EXECUTE FUNCTION crm._scoring_config_changed();
CREATE TRIGGER scoring_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.lifecycle_stages
	FOR EACH STATEMENT EXECUTE FUNCTION crm._scoring_config_changed();

-- crm.contact_engagement has no foreign keys (a bulk rebuild would check
-- every row); these two triggers do what ON DELETE CASCADE would: a
-- deleted contact's row goes, a deleted rule's entries are taken out of
-- the rows that hold them.
CREATE FUNCTION crm._engagement_state_cascade() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ids bigint[];
BEGIN
	IF TG_TABLE_NAME = 'contacts' THEN
		DELETE FROM crm.contact_engagement s USING gone g WHERE s.contact_id = g.id;
	ELSE
		SELECT array_agg(g.id) INTO ids FROM gone g;
		UPDATE crm.contact_engagement s
		   SET (rule_ids, rule_values) =
				   (SELECT COALESCE(array_agg(v.r ORDER BY v.o), '{}'), COALESCE(array_agg(v.x ORDER BY v.o), '{}')
					  FROM unnest(s.rule_ids, s.rule_values) WITH ORDINALITY AS v(r, x, o)
					 WHERE v.r <> ALL (ids)),
			   (window_rule_ids, window_times) =
				   (SELECT COALESCE(array_agg(w.r ORDER BY w.o), '{}'), COALESCE(array_agg(w.t ORDER BY w.o), '{}')
					  FROM unnest(s.window_rule_ids, s.window_times) WITH ORDINALITY AS w(r, t, o)
					 WHERE w.r <> ALL (ids))
		 WHERE s.rule_ids && ids OR s.window_rule_ids && ids;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER engagement_state_cascade AFTER DELETE ON crm.contacts
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION crm._engagement_state_cascade();
CREATE TRIGGER engagement_state_cascade AFTER DELETE ON crm.engagement_rules
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION crm._engagement_state_cascade();

-- The fit rules as one SQL expression over the columns of crm._fit_sql's
-- FROM list (b.seniority, b.title, ...), for set-based rescoring: every
-- contact is scored by plain expression evaluation, no per-row queries.
-- The semantics are those of crm.fit_rule_matches (tested to agree); the
-- text columns come in lower case, so "in" compares them as they are.
CREATE FUNCTION crm._fit_sql() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g record;
	r record;
	terms text;
	v text;
	m text;
	result text := '0::float8';
BEGIN
	FOR g IN SELECT DISTINCT sg.name, sg.min_points, sg.max_points
			   FROM crm.score_groups sg JOIN crm.fit_rules fr ON fr.group_name = sg.name AND fr.active
			  ORDER BY sg.name
	LOOP
		terms := '0::float8';
		FOR r IN SELECT * FROM crm.fit_rules fr WHERE fr.group_name = g.name AND fr.active ORDER BY fr.id LOOP
			v := 'b.' || quote_ident(r.attribute);
			m := CASE r.operator
				WHEN 'is_null' THEN format('%s IS NULL', v)
				WHEN 'is_not_null' THEN format('%s IS NOT NULL', v)
				WHEN 'in' THEN format('COALESCE(%s::text = ANY (%L::text[]), false)', v, r.match_values)
				WHEN 'not_in' THEN format('(%s IS NOT NULL AND NOT COALESCE(%s::text = ANY (%L::text[]), true))',
										  v, v, r.match_values)
				WHEN 'matches' THEN format('COALESCE(%s::text ~* ANY (%L::text[]), false)', v, r.match_values)
				WHEN 'between' THEN format('(%s IS NOT NULL%s%s)', v,
					CASE WHEN r.low IS NOT NULL THEN format(' AND %s >= %L::numeric', v, r.low) ELSE '' END,
					CASE WHEN r.high IS NOT NULL THEN format(' AND %s <= %L::numeric', v, r.high) ELSE '' END)
				END;
			terms := terms || format(' + CASE WHEN %s THEN %L::float8 ELSE 0 END', m, r.points);
		END LOOP;
		result := result || format(' + crm.clamp_points(%s, %L::float8, %L::float8)', terms, g.min_points, g.max_points);
	END LOOP;
	RETURN result;
END $$;

-- Rebuild crm.contact_engagement from every activity: one scan of the
-- activities in C (crm._engagement_rebuild), its rows in contact order so
-- that the primary key fills from its right edge, appended directly as
-- COPY FROM appends rows (crm._engagement_rebuild_write) unless the table
-- has grown a trigger, a rule or a policy that applies, and then inserted
-- with SQL.  TRUNCATE, not DELETE: the rows are rebuilt from scratch, and
-- inserting next to millions of dead index entries costs three times as
-- much.  TRUNCATE holds an ACCESS EXCLUSIVE lock until commit, so readers
-- of the scores wait for the rescore (activity writers waited already).
-- SECURITY DEFINER because only the owner may truncate (no role holds
-- TRUNCATE on a crm table) and call the two functions; it only rebuilds
-- derived data, and only crm_admin, through crm.rescore_all(), may call
-- it.  work_mem bounds the rebuild's memory (times hash_mem_multiplier, as
-- for a hash aggregate): beyond it the activities are scanned once per
-- part of the contacts.
CREATE FUNCTION crm._rebuild_engagement_state(as_of timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET work_mem = '256MB'
AS $$
BEGIN
	TRUNCATE crm.contact_engagement;
	IF crm._engagement_rebuild_write(_rebuild_engagement_state.as_of) IS NULL THEN
		-- called in the select list (OFFSET 0 keeps it there), the function
		-- hands its rows straight to the insert; in FROM they would be
		-- stored in a tuplestore first
		INSERT INTO crm.contact_engagement (contact_id, as_of, rule_ids, rule_values, window_rule_ids, window_times)
		SELECT (x.e).contact_id, (x.e).as_of, (x.e).rule_ids, (x.e).rule_values, (x.e).window_rule_ids,
			   (x.e).window_times
		  FROM (SELECT crm._engagement_rebuild(_rebuild_engagement_state.as_of) AS e OFFSET 0) x;
	END IF;
	-- the statistics the rescore's own queries need (the row count and the
	-- join key); those of the arrays, most of a full ANALYZE's cost (0.5-0.9
	-- s at a million rows, 0.3-0.4 s without them), are left to autovacuum,
	-- which analyzes the table after a million new rows anyway
	ANALYZE crm.contact_engagement (contact_id, as_of);
END $$;
REVOKE ALL ON FUNCTION crm._rebuild_engagement_state(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm._rebuild_engagement_state(timestamptz) TO crm_admin;

-- Recompute everything after a rule change, set-based: rebuild the state
-- from the activities, then fit, engagement, score and grade of every
-- contact in one statement (the per-row trigger stands aside, told by
-- crm._set_scoring_aside), then hand off the contacts that crossed the MQL
-- threshold.  A contact row is rewritten only when its grade or MQL status
-- changes (or it was never scored); a fit that changed alone goes into the
-- contact's state row, where crm.lead_scores reads it: a fit rule change
-- typically moves the fit of a third of the contacts but the grade of a
-- few percent, and rewriting a contact row (its seven indexes, its
-- triggers) costs several times writing the narrow state row.  Runs with
-- the caller's rights (crm_admin sees every contact).  work_mem is raised
-- for the call so that the aggregates over every activity and contact hash
-- in memory instead of sorting on disk.
CREATE FUNCTION crm.rescore_all() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET work_mem = '128MB'
AS $$
DECLARE
	n bigint;
	t timestamptz := now();
	crossed bigint[];
	st crm.scoring_settings;
BEGIN
	SELECT * INTO STRICT st FROM crm.scoring_settings;
	PERFORM crm._set_scoring_aside(true);
	PERFORM crm._rebuild_engagement_state(t);
	DELETE FROM crm.invalidating_events;
	INSERT INTO crm.invalidating_events (contact_id, kind, occurred_at)
	SELECT a.contact_id, a.kind, max(a.occurred_at) FROM crm.activities a
	 WHERE a.kind IN ('email_bounced', 'left_company') GROUP BY a.contact_id, a.kind;

	EXECUTE format($q$
		WITH titles AS (
			-- seniority is a handful of regular expressions: once per
			-- distinct title, not once per contact
			SELECT d.title, crm.title_seniority(d.title) AS seniority, lower(d.title) AS lower_title
			  FROM (SELECT DISTINCT c.title FROM crm.contacts c WHERE c.title IS NOT NULL) d
		), accounts AS (
			SELECT a.id, lower(a.industry) AS industry, a.employees::numeric AS employees,
				   a.annual_revenue::numeric AS annual_revenue, a.country
			  FROM crm.accounts a
		), kinds AS MATERIALIZED (
			-- the kind of each e-mail domain, once per domain, as one jsonb
			-- object looked up once per contact (OFFSET 0 below): joined
			-- instead, with no statistics on the domains, a million
			-- contacts were sorted by domain to merge them with a few
			-- thousand kinds
			SELECT COALESCE(jsonb_object_agg(d.email_domain, COALESCE(
					   crm.lead_domain_kind(crm.try_email('postmaster@' || d.email_domain)), 'business')), '{}') AS by_domain
			  FROM (SELECT DISTINCT crm.email_domain(c.email) AS email_domain FROM crm.contacts c
					 WHERE c.email IS NOT NULL) d
			 WHERE d.email_domain IS NOT NULL
		), base AS (
			-- every text attribute in lower case once, here or per title
			-- or account (lead sources, seniorities, domains and kinds are
			-- lower case already): lower() in each "in" rule cost as much
			-- as the rest of the fit
			SELECT c.id, c.lead_score AS old_score, c.lead_grade AS old_grade, c.fit_score::float8 AS old_fit,
				   c.lifecycle_stage,
				   ts.seniority, ts.lower_title AS title,
				   lower(c.job_function) AS job_function, a.industry,
				   a.employees, a.annual_revenue,
				   lower(COALESCE(c.country, a.country)) AS country, c.lead_source,
				   crm.email_domain(c.email) AS email_domain
			  FROM crm.contacts c LEFT JOIN accounts a ON a.id = c.account_id
			  LEFT JOIN titles ts ON ts.title = c.title
		), scored AS MATERIALIZED (
			-- materialized, and fit computed in a subquery that is not
			-- flattened (OFFSET 0): inlined, the fit expression was
			-- evaluated once for the test and again for each column written
			SELECT y.*,
				   y.old_score IS NULL OR y.crossing OR y.old_grade IS DISTINCT FROM y.grade AS rewrite
			  FROM (SELECT x.id, x.fit, x.engagement, x.old_fit, x.old_score, x.old_grade, x.has_state,
						   crm.clamp_points(x.fit + x.engagement, 0, $2) AS score,
						   $8 AND crm.clamp_points(x.fit + x.engagement, 0, $2) >= $7
						   AND crm.lifecycle_position(x.lifecycle_stage) < crm.lifecycle_position('mql') AS crossing,
						   crm._grade(x.fit, x.engagement, $3, $4, $5, $6) AS grade
					  FROM (SELECT b.id, b.lifecycle_stage, b.old_fit, b.old_score, b.old_grade,
								   %s AS fit, COALESCE(e.engagement_score, 0) AS engagement,
								   e.contact_id IS NOT NULL AS has_state
							  FROM (SELECT base.*, (SELECT k.by_domain FROM kinds k) ->> base.email_domain AS email_kind
									  FROM base OFFSET 0) b
							  LEFT JOIN crm.engagement_now e ON e.contact_id = b.id
							OFFSET 0) x) y
		), fits AS (
			-- a fit that changed alone is kept in the state row
			UPDATE crm.contact_engagement e SET fit_score = s.fit
			  FROM scored s
			 WHERE e.contact_id = s.id AND NOT s.rewrite AND s.fit IS DISTINCT FROM s.old_fit
			RETURNING e.contact_id
		), new_fits AS (
			-- ... in a new, empty one for a contact without activities
			INSERT INTO crm.contact_engagement (contact_id, as_of, rule_ids, rule_values, window_rule_ids,
												window_times, fit_score)
			SELECT s.id, $1, '{}', '{}', '{}', '{}', s.fit
			  FROM scored s
			 WHERE NOT s.has_state AND NOT s.rewrite AND s.fit IS DISTINCT FROM s.old_fit
			RETURNING contact_id
		), updated AS (
			-- a lead now at or over the threshold gets no score here; the
			-- per-row trigger sets it below and hands the contact off
			UPDATE crm.contacts c
			   SET fit_score = s.fit, engagement_score = s.engagement, engagement_as_of = $1,
				   lead_score = CASE WHEN s.crossing THEN NULL ELSE s.score END,
				   lead_grade = s.grade
			  FROM scored s
			 WHERE c.id = s.id AND s.rewrite
			RETURNING c.id, s.crossing
		)
		SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM fits) + (SELECT count(*) FROM new_fits),
			   (SELECT array_agg(id) FROM updated WHERE crossing)
	$q$, crm._fit_sql())
	INTO n, crossed
	USING t, st.score_ceiling, st.grade_a_fit, st.grade_b_fit, st.grade_1_engagement, st.grade_2_engagement,
		  st.mql_threshold, st.handoff_enabled;
	PERFORM crm._set_scoring_aside(false);

	IF crossed IS NOT NULL THEN
		-- the per-row triggers take over: score, owner, task, history, notification
		UPDATE crm.contacts c SET lead_score = 0 WHERE c.id = ANY (crossed);
	END IF;
	RETURN n;
END $$;
COMMENT ON FUNCTION crm.rescore_all() IS
	'recompute engagement state, fit, score and grade of every contact after a rule change, handing off those that cross the MQL threshold; returns the number of contacts whose fit or grade changed';
REVOKE ALL ON FUNCTION crm.rescore_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.rescore_all() TO crm_admin;
