-- crm install script, part 62: the lead-scoring engine.
--
-- Fit is a pure function of the contact and its account, recomputed by a
-- BEFORE trigger when one of its inputs changes.  Engagement is a sum of
-- events, each worth its rule's points decayed by the rule's half-life, so
-- for every (contact, rule) we keep one row in crm.engagement_state: the
-- decayed sum S of all its events as of time T.  An event at t adds
-- p * 2^(-(T - t)/h) (or moves T forward and decays S), a deleted event
-- subtracts the same amount: O(1) per event, exact, independent of the
-- order events arrive in.  The rule's cap is applied when the value is
-- read, so it never loses information.  Time-window rules ("web visits in
-- the last 30 days") cannot be folded into one number; they are counted
-- from crm.activities through its (contact_id, occurred_at) index.
--
-- The contact row carries a snapshot (fit_score, engagement_score as of
-- engagement_as_of, lead_score, lead_grade), rewritten when an event
-- changes the grade or reaches the MQL threshold, and by crm.rescore_all();
-- crm.lead_score() and the crm.lead_scores view compute the exact value at
-- any moment.
--
-- The trigger is statement-level with transition tables and written in C
-- (src/scoring.c), so a bulk load of activities costs one upsert per
-- statement, and a single activity a few microseconds more than its
-- insert.  It runs as the extension owner (SECURITY
-- DEFINER): scores are derived data that the users whose activity changes
-- them may not write directly, and the MQL hand-off must assign an owner
-- that the user who logged the activity could not choose.

-- No foreign keys: the rows are derived, written by the trigger (which
-- checks that the contact exists) and rebuilt in bulk by crm.rescore_all(),
-- where checking two keys per row cost more than the rebuild itself.
-- Deleting a contact or a rule deletes its rows (triggers below).
CREATE TABLE crm.engagement_state (
	contact_id bigint NOT NULL,
	rule_id bigint NOT NULL,
	value float8 NOT NULL,
	as_of timestamptz NOT NULL,
	PRIMARY KEY (contact_id, rule_id)
);
-- No index on rule_id: only deleting a rule looks rows up by it, and an
-- index would be one more entry to write per row on every activity.
-- Time-window rules and the audit read recent activities: a BRIN index on
-- the (roughly append-ordered) activity time is tiny and cheap to keep.
CREATE INDEX activities_occurred_at_brin ON crm.activities USING brin (occurred_at);
-- Derived, but dumped like every crm table; after a restore run
-- crm.rescore_all(), which rebuilds it from the activities.
SELECT pg_catalog.pg_extension_config_dump('crm.engagement_state', '');
COMMENT ON TABLE crm.engagement_state IS
	'per contact and decaying engagement rule: the decayed sum of its points as of as_of (derived; rebuilt by crm.rescore_all())';

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

-- Engagement of one contact at a moment, per rule and group, exactly.
-- When as_of is earlier than the stored state (a question about the past),
-- the decaying rules are recomputed from the activities up to as_of.
-- STABLE: reads rules, state and activities.  PL/pgSQL so that the plan is
-- cached for the session (an SQL function would be planned on every call
-- from another function).
CREATE FUNCTION crm.engagement_score(contact_id bigint, as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (WITH per_rule AS (
		-- decaying and permanent rules, from the state
		SELECT r.id, r.group_name, crm.clamp_points(crm.decayed_value(s.value, s.as_of, r.half_life, engagement_score.as_of),
				-r.max_points, r.max_points) AS v
		  FROM crm.engagement_state s JOIN crm.engagement_rules r ON r.id = s.rule_id
		 WHERE s.contact_id = engagement_score.contact_id AND r.active AND r.time_window IS NULL
		   AND NOT EXISTS (SELECT 1 FROM crm.engagement_state s2
							WHERE s2.contact_id = engagement_score.contact_id AND s2.as_of > engagement_score.as_of)
		UNION ALL
		-- the same, replayed from activities when the state is newer than as_of
		SELECT r.id, r.group_name, crm.clamp_points(pg_catalog.sum(
				crm.decayed_value(r.points, a.occurred_at, r.half_life, engagement_score.as_of)), -r.max_points, r.max_points)
		  FROM crm.activities a JOIN crm.engagement_rules r ON r.activity_kind = a.kind
		 WHERE a.contact_id = engagement_score.contact_id AND a.occurred_at <= engagement_score.as_of
		   AND r.active AND r.time_window IS NULL
		   AND EXISTS (SELECT 1 FROM crm.engagement_state s2
						WHERE s2.contact_id = engagement_score.contact_id AND s2.as_of > engagement_score.as_of)
		 GROUP BY r.id, r.group_name, r.max_points
		UNION ALL
		-- time-window rules, counted
		SELECT r.id, r.group_name, crm.clamp_points(pg_catalog.sum(r.points), -r.max_points, r.max_points)
		  FROM crm.activities a JOIN crm.engagement_rules r ON r.activity_kind = a.kind
		 WHERE a.contact_id = engagement_score.contact_id
		   AND a.occurred_at <= engagement_score.as_of
		   AND a.occurred_at > engagement_score.as_of - r.time_window
		   AND r.active AND r.time_window IS NOT NULL
		 GROUP BY r.id, r.group_name, r.max_points
	)
	SELECT COALESCE(pg_catalog.sum(g.total), 0)::float8
	  FROM (SELECT crm.clamp_points(pg_catalog.sum(p.v), sg.min_points, sg.max_points) AS total
			  FROM per_rule p JOIN crm.score_groups sg ON sg.name = p.group_name
			 GROUP BY sg.name, sg.min_points, sg.max_points) g);
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

-- The engagement of one contact from its rows of crm.engagement_state and
-- the counts of its window rules, with the rules as the scoring trigger
-- keeps them in memory (C: src/scoring.c; PARALLEL RESTRICTED: the rules
-- are the leader's, read once per backend): decayed to the transaction time,
-- capped per rule, summed and clamped per group, added up.  Null when no
-- row counts.
CREATE FUNCTION crm._engagement_of_add(state internal, rule_id bigint, amount float8, as_of timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'crm_engagement_of_add'
LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION crm._engagement_of_final(state internal) RETURNS float8
AS 'MODULE_PATHNAME', 'crm_engagement_of_final'
LANGUAGE C STABLE PARALLEL RESTRICTED;
-- STABLE: reads the rules and the transaction time.
CREATE AGGREGATE crm._engagement_of(rule_id bigint, amount float8, as_of timestamptz) (
	SFUNC = crm._engagement_of_add,
	STYPE = internal,
	FINALFUNC = crm._engagement_of_final
);
COMMENT ON AGGREGATE crm._engagement_of(bigint, float8, timestamptz) IS
	'engagement of a contact from its state rows (value, as_of) and window counts (count, null), by the current rules';

-- Engagement of every contact, decayed to now: one pass over the state,
-- one range scan of the activities inside the longest time window, one
-- aggregate per contact.
CREATE VIEW crm.engagement_now WITH (security_invoker = true) AS
WITH per_rule AS (
	SELECT s.contact_id, s.rule_id, s.value AS amount, s.as_of
	  FROM crm.engagement_state s
	UNION ALL
	SELECT a.contact_id, r.id, pg_catalog.count(*)::float8, NULL::timestamptz
	  FROM crm.activities a JOIN crm.engagement_rules r ON r.activity_kind = a.kind
	 WHERE r.active AND r.time_window IS NOT NULL
	   AND a.occurred_at > pg_catalog.now() - (SELECT pg_catalog.max(w.time_window) FROM crm.engagement_rules w
												WHERE w.active)
	   AND a.occurred_at > pg_catalog.now() - r.time_window AND a.occurred_at <= pg_catalog.now()
	 GROUP BY a.contact_id, r.id
)
SELECT p.contact_id, crm._engagement_of(p.rule_id, p.amount, p.as_of) AS engagement_score
  FROM per_rule p
 GROUP BY p.contact_id;
COMMENT ON VIEW crm.engagement_now IS
	'engagement score, decayed to now, of every contact with engagement (set-based; used by crm.lead_scores and crm.rescore_all)';

-- Current scores for every contact the caller may see.
CREATE VIEW crm.lead_scores WITH (security_invoker = true) AS
SELECT c.id AS contact_id,
	   c.fit_score::float8 AS fit_score,
	   COALESCE(e.engagement_score, 0) AS engagement_score,
	   crm.clamp_points(COALESCE(c.fit_score::float8, 0) + COALESCE(e.engagement_score, 0), 0, s.score_ceiling)
		   AS lead_score,
	   crm._grade(c.fit_score::float8, e.engagement_score, s.grade_a_fit, s.grade_b_fit,
				  s.grade_1_engagement, s.grade_2_engagement) AS lead_grade,
	   c.lifecycle_stage
  FROM crm.contacts c
 CROSS JOIN crm.scoring_settings s
  LEFT JOIN crm.engagement_now e ON e.contact_id = c.id;
COMMENT ON VIEW crm.lead_scores IS
	'current fit, engagement (decayed to now), lead score and grade of every contact the caller may see';

-- Keep fit, score and grade of a contact row in step with its inputs, and
-- hand it to sales when its score crosses the MQL threshold.  Fit rules are
-- evaluated only when one of their inputs changed; the rest is arithmetic.
CREATE FUNCTION crm._contacts_score() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s crm.scoring_settings;
	a crm.accounts;
	engagement float8;
BEGIN
	SELECT * INTO STRICT s FROM crm.scoring_settings;
	IF TG_OP = 'INSERT' OR NEW.fit_score IS NULL
	   OR (NEW.title, NEW.job_function, NEW.account_id, NEW.email::text, NEW.lead_source, NEW.country)
		  IS DISTINCT FROM (OLD.title, OLD.job_function, OLD.account_id, OLD.email::text, OLD.lead_source, OLD.country)
	   OR NEW.fit_score IS DISTINCT FROM OLD.fit_score THEN
		IF NEW.account_id IS NOT NULL THEN
			SELECT * INTO a FROM crm.accounts WHERE id = NEW.account_id;
		END IF;
		NEW.fit_score := crm.fit_score(crm._fit_input(NEW, a));
	END IF;
	engagement := COALESCE(NEW.engagement_score, 0);
	NEW.lead_score := crm.clamp_points(NEW.fit_score::float8 + engagement, 0, s.score_ceiling);
	NEW.lead_grade := crm._grade(NEW.fit_score::float8, engagement, s.grade_a_fit, s.grade_b_fit,
								 s.grade_1_engagement, s.grade_2_engagement);

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

-- crm.rescore_all() computes the same values set-based and says so.
CREATE TRIGGER score BEFORE INSERT OR UPDATE ON crm.contacts
	FOR EACH ROW WHEN (pg_catalog.current_setting('crm.rescoring', true) IS DISTINCT FROM 'on')
	EXECUTE FUNCTION crm._contacts_score();

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
-- same time.  An activity dated in the future counts from the moment it is
-- recorded, so no state is ever ahead of the clock.  Inserted hard bounces
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

-- crm.engagement_state has no foreign keys (a bulk rebuild would check
-- every row twice); these two triggers do what ON DELETE CASCADE did.
CREATE FUNCTION crm._engagement_state_cascade() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_TABLE_NAME = 'contacts' THEN
		DELETE FROM crm.engagement_state s USING gone g WHERE s.contact_id = g.id;
	ELSE
		DELETE FROM crm.engagement_state s USING gone g WHERE s.rule_id = g.id;
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
-- The semantics are those of crm.fit_rule_matches (tested to agree).
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
				WHEN 'in' THEN format('COALESCE(lower(%s::text) = ANY (%L::text[]), false)', v, r.match_values)
				WHEN 'not_in' THEN format('(%s IS NOT NULL AND NOT COALESCE(lower(%s::text) = ANY (%L::text[]), true))',
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

-- Rebuild crm.engagement_state from every activity: one aggregate per
-- (contact, rule).  TRUNCATE, not DELETE: the rows are rebuilt from
-- scratch, and inserting next to millions of dead index entries costs
-- three times as much.  TRUNCATE holds an ACCESS EXCLUSIVE lock until
-- commit, so readers of the scores wait for the rescore (activity writers
-- waited already).  SECURITY DEFINER because only the owner may truncate
-- (no role holds TRUNCATE on a crm table); it only rebuilds derived data,
-- and only crm_admin, through crm.rescore_all(), may call it.
CREATE FUNCTION crm._rebuild_engagement_state(as_of timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET work_mem = '128MB'
AS $$
BEGIN
	TRUNCATE crm.engagement_state;
	INSERT INTO crm.engagement_state (contact_id, rule_id, value, as_of)
	SELECT a.contact_id, r.id,
		   sum(crm.decayed_value(r.points, least(a.occurred_at, _rebuild_engagement_state.as_of), r.half_life,
								 _rebuild_engagement_state.as_of)),
		   _rebuild_engagement_state.as_of
	  FROM crm.activities a
	  JOIN crm.engagement_rules r ON r.activity_kind = a.kind AND r.active AND r.time_window IS NULL
	 GROUP BY a.contact_id, r.id;
	-- the statistics of the new rows, for the rescore's own queries
	ANALYZE crm.engagement_state;
END $$;
REVOKE ALL ON FUNCTION crm._rebuild_engagement_state(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm._rebuild_engagement_state(timestamptz) TO crm_admin;

-- Recompute everything after a rule change, set-based: rebuild the state
-- from the activities, then fit, engagement, score and grade of every
-- contact whose fit or grade changed in one UPDATE (the per-row trigger
-- stands aside, told by the crm.rescoring setting), then hand off the
-- contacts that crossed the MQL threshold.  Runs with the caller's rights (crm_admin sees every contact).
-- work_mem is raised for the call so that the aggregates over every
-- activity and contact hash in memory instead of sorting on disk.
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
	PERFORM set_config('crm.rescoring', 'on', true);
	PERFORM crm._rebuild_engagement_state(t);
	DELETE FROM crm.invalidating_events;
	INSERT INTO crm.invalidating_events (contact_id, kind, occurred_at)
	SELECT a.contact_id, a.kind, max(a.occurred_at) FROM crm.activities a
	 WHERE a.kind IN ('email_bounced', 'left_company') GROUP BY a.contact_id, a.kind;

	EXECUTE format($q$
		WITH titles AS (
			-- seniority is a handful of regular expressions: once per
			-- distinct title, not once per contact
			SELECT d.title, crm.title_seniority(d.title) AS seniority
			  FROM (SELECT DISTINCT c.title FROM crm.contacts c WHERE c.title IS NOT NULL) d
		), base AS (
			SELECT c.id, c.lead_score AS old_score, c.lifecycle_stage,
				   ts.seniority, lower(c.title) AS title,
				   lower(c.job_function) AS job_function, lower(a.industry) AS industry,
				   a.employees::numeric AS employees, a.annual_revenue::numeric AS annual_revenue,
				   COALESCE(c.country, a.country) AS country, c.lead_source,
				   crm.email_domain(c.email) AS email_domain
			  FROM crm.contacts c LEFT JOIN crm.accounts a ON a.id = c.account_id
			  LEFT JOIN titles ts ON ts.title = c.title
		), kinds AS (
			SELECT d.email_domain,
				   COALESCE(crm.lead_domain_kind(crm.try_email('postmaster@' || d.email_domain)), 'business') AS email_kind
			  FROM (SELECT DISTINCT email_domain FROM base WHERE email_domain IS NOT NULL) d
		), scored AS (
			SELECT b.id, f.fit, COALESCE(e.engagement_score, 0) AS engagement,
				   crm.clamp_points(f.fit + COALESCE(e.engagement_score, 0), 0, $2) AS score,
				   $8 AND crm.clamp_points(f.fit + COALESCE(e.engagement_score, 0), 0, $2) >= $7
				   AND crm.lifecycle_position(b.lifecycle_stage) < crm.lifecycle_position('mql') AS crossing
			  FROM (SELECT base.*, k.email_kind FROM base LEFT JOIN kinds k USING (email_domain)) b
			 CROSS JOIN LATERAL (SELECT %s AS fit) f
			  LEFT JOIN crm.engagement_now e ON e.contact_id = b.id
		), updated AS (
			-- a lead now at or over the threshold gets no score here; the
			-- per-row trigger sets it below and hands the contact off
			UPDATE crm.contacts c
			   SET fit_score = s.fit, engagement_score = s.engagement, engagement_as_of = $1,
				   lead_score = CASE WHEN s.crossing THEN NULL ELSE s.score END,
				   lead_grade = crm._grade(s.fit, s.engagement, $3, $4, $5, $6)
			  FROM scored s
			 WHERE c.id = s.id
			   -- as for activities, a contact row is rewritten only when its
			   -- fit, grade or MQL status changes (or it was never scored):
			   -- rewriting a million rows for decay alone would cost minutes
			   AND (c.fit_score::float8 IS DISTINCT FROM s.fit OR c.lead_score IS NULL OR s.crossing
					OR c.lead_grade IS DISTINCT FROM crm._grade(s.fit, s.engagement, $3, $4, $5, $6))
			RETURNING c.id, s.crossing
		)
		SELECT count(*), array_agg(id) FILTER (WHERE crossing) FROM updated
	$q$, crm._fit_sql())
	INTO n, crossed
	USING t, st.score_ceiling, st.grade_a_fit, st.grade_b_fit, st.grade_1_engagement, st.grade_2_engagement,
		  st.mql_threshold, st.handoff_enabled;
	PERFORM set_config('crm.rescoring', 'off', true);

	IF crossed IS NOT NULL THEN
		-- the per-row triggers take over: score, owner, task, history, notification
		UPDATE crm.contacts c SET lead_score = 0 WHERE c.id = ANY (crossed);
	END IF;
	RETURN n;
END $$;
COMMENT ON FUNCTION crm.rescore_all() IS
	'recompute engagement state, fit, score and grade of every contact after a rule change, handing off those that cross the MQL threshold; returns the number of contacts changed';
REVOKE ALL ON FUNCTION crm.rescore_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.rescore_all() TO crm_admin;
