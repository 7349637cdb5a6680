-- crm install script, part 65: record health and the re-verification queue.
--
-- A record's health (0-100) blends four parts, each in [0, 1]:
--   confidence    per-field probability the value is still true
--                 (crm.decay_confidence from the field's verified_at, or
--                 from created_at when never verified), weighted by the
--                 field's weight in crm.decay_rates; a hard bounce zeroes
--                 the email, "left the company" every work field
--   completeness  share of the required fields that are filled
--   validity      share of checks passed that the column types cannot
--                 make: no hard bounce, no disposable address (its exact
--                 domain in crm.email_domains), no placeholder name or
--                 title ("test", "n/a", "asdf")
--   uniqueness    1 unless another contact has the same email, or the
--                 same name at the same company
-- health = 100 * (sum of part weight * part) / (sum of part weights), the
-- confidence counting 0 when no field has one; the parts rounded to four
-- decimals, health to one.  The weights of the parts and the required
-- fields are in crm.health_settings.
--
-- Speed: the view scores every contact in two passes over crm.contacts.
-- The first hashes each contact's email and name at a company
-- (crm._health_duplicate_candidates) and keeps the ids whose hash another
-- contact shares; only those few rows are then compared exactly.  The
-- second computes all parts of a contact in one C call
-- (crm._contact_health).  The view was first written as SQL expressions
-- and hash joins on the duplicate keys; test/health_parts.sql keeps that
-- definition and checks that every column of every row is still the same.
-- Everything is computed in one set-based view; the single-contact
-- function filters it, so both always agree.

CREATE TABLE crm.health_settings (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	confidence_weight float8 NOT NULL DEFAULT 0.4 CHECK (confidence_weight >= 0),
	completeness_weight float8 NOT NULL DEFAULT 0.25 CHECK (completeness_weight >= 0),
	validity_weight float8 NOT NULL DEFAULT 0.2 CHECK (validity_weight >= 0),
	uniqueness_weight float8 NOT NULL DEFAULT 0.15 CHECK (uniqueness_weight >= 0),
	required_fields text[] NOT NULL DEFAULT '{given_name,family_name,email,phone,title,account,country}'
		CHECK (required_fields <@ '{given_name,family_name,email,phone,title,job_function,account,country,city,postcode,lead_source}'
			   AND cardinality(required_fields) > 0),
	value_per_score_point numeric NOT NULL DEFAULT 100 CHECK (value_per_score_point >= 0),
	CHECK (confidence_weight + completeness_weight + validity_weight + uniqueness_weight > 0)
);
INSERT INTO crm.health_settings DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('crm.health_settings', '');
COMMENT ON TABLE crm.health_settings IS
	'record-health settings (one row): weights of the four parts, required fields, business value of a lead-score point';

-- The latest event per contact that makes fields untrue: a hard bounce
-- (email) or leaving the company (every work field).  Kept by the scoring
-- trigger on crm.activities (part 62, src/scoring.c), one row per
-- (contact, kind), so health never scans the activity history.
CREATE TABLE crm.invalidating_events (
	contact_id bigint NOT NULL REFERENCES crm.contacts ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('email_bounced', 'left_company')),
	occurred_at timestamptz NOT NULL,
	PRIMARY KEY (contact_id, kind)
);
SELECT pg_catalog.pg_extension_config_dump('crm.invalidating_events', '');
COMMENT ON TABLE crm.invalidating_events IS
	'the latest hard bounce and "left the company" event per contact (derived from crm.activities)';

-- The placeholder test of the validity part (C: src/health.c): one or more
-- tokens, each test, asdf..., n/a, na, none, unknown, xxx..., dummy, foo,
-- bar, ?..., -... or ...; case-insensitive.
CREATE FUNCTION crm._placeholder_text(value text) RETURNS boolean
AS 'MODULE_PATHNAME', 'crm_placeholder_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm._placeholder_text(text) IS
	'whether a name or title is only placeholder words such as test, n/a, asdf or xxx';

-- The parts of one contact's health (C: src/health.c): the arithmetic of
-- the SQL definition, step by step and in the same order, so the results
-- are the same to the last bit (test/health_parts.sql checks it against
-- that definition).  One call per contact instead of some sixty SQL
-- expression steps.  The first five results are not rounded yet: the view
-- rounds the columns a query reads.
-- rates: the six fields' annual decay (email, phone, title, job_function,
-- account, address) then their six weights; part_weights: confidence,
-- completeness, validity, uniqueness; duplicates: the sorted ids of the
-- suspected duplicates.  Not STRICT: empty fields are nulls.  COST: about
-- a microsecond a call, some twenty-five built-in operator calls' worth.
CREATE FUNCTION crm._contact_health(rates float8[], part_weights float8[], required_fields text[],
									duplicates bigint[], as_of timestamptz, id bigint, given_name text,
									family_name text, email crm.email, phone crm.phone, title text,
									job_function text, account_id bigint, country text, city text, region text,
									postcode text, lead_source text, email_verified_at timestamptz,
									phone_verified_at timestamptz, title_verified_at timestamptz,
									job_function_verified_at timestamptz, account_verified_at timestamptz,
									address_verified_at timestamptz, created_at timestamptz,
									bounced_at timestamptz, left_company_at timestamptz, disposable boolean,
									OUT health float8, OUT confidence float8, OUT completeness float8,
									OUT validity float8, OUT uniqueness float8, OUT email_confidence float8,
									OUT phone_confidence float8, OUT title_confidence float8,
									OUT job_function_confidence float8, OUT account_confidence float8,
									OUT address_confidence float8)
RETURNS record
AS 'MODULE_PATHNAME', 'crm_contact_health'
LANGUAGE C IMMUTABLE PARALLEL SAFE COST 25;
COMMENT ON FUNCTION crm._contact_health(float8[], float8[], text[], bigint[], timestamptz, bigint, text, text,
		crm.email, crm.phone, text, text, bigint, text, text, text, text, text, timestamptz, timestamptz,
		timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, boolean) IS
	'the parts of one contact''s record health (internal to crm.contact_health)';

-- round(x::numeric, scale) for scale 0-4, without printing x unless it is
-- near a tie (x::numeric prints it); how the view rounds the parts.
CREATE FUNCTION crm._health_round(x float8, scale int) RETURNS numeric
AS 'MODULE_PATHNAME', 'crm_health_round'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm._health_round(float8, int) IS 'round(x::numeric, scale), computed without printing x (internal)';

-- Duplicate suspicion, first pass (C: src/health.c): the ids of the
-- contacts that share a hash of their email, or of their name at a
-- company, with another contact.  A superset of the duplicates, checked
-- exactly by the view.  It holds 16 bytes per contact and key in memory
-- (about 48 MB at a million contacts while it looks for shared hashes).
CREATE FUNCTION crm._health_duplicate_step(state internal, id bigint, email crm.email, account_id bigint,
										   family_name text, given_name text)
RETURNS internal
AS 'MODULE_PATHNAME', 'crm_health_duplicate_step'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm._health_duplicate_step(internal, bigint, crm.email, bigint, text, text) IS
	'transition function of crm._health_duplicate_candidates (internal)';
CREATE FUNCTION crm._health_duplicate_final(state internal) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'crm_health_duplicate_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm._health_duplicate_final(internal) IS
	'final function of crm._health_duplicate_candidates (internal)';
CREATE AGGREGATE crm._health_duplicate_candidates(id bigint, email crm.email, account_id bigint,
												  family_name text, given_name text) (
	SFUNC = crm._health_duplicate_step,
	STYPE = internal,
	FINALFUNC = crm._health_duplicate_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm._health_duplicate_candidates(bigint, crm.email, bigint, text, text) IS
	'sorted ids of the contacts sharing an email hash or a name-at-company hash with another (internal)';

-- The settings crm._contact_health takes, as arrays.  STABLE: read from
-- the settings tables, which an admin may change.
CREATE FUNCTION crm._health_rates() RETURNS float8[]
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT ARRAY[pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'email'),
					 pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'phone'),
					 pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'title'),
					 pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'job_function'),
					 pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'account'),
					 pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'address'),
					 pg_catalog.max(d.weight) FILTER (WHERE d.field = 'email'),
					 pg_catalog.max(d.weight) FILTER (WHERE d.field = 'phone'),
					 pg_catalog.max(d.weight) FILTER (WHERE d.field = 'title'),
					 pg_catalog.max(d.weight) FILTER (WHERE d.field = 'job_function'),
					 pg_catalog.max(d.weight) FILTER (WHERE d.field = 'account'),
					 pg_catalog.max(d.weight) FILTER (WHERE d.field = 'address')]
		  FROM crm.decay_rates d);
COMMENT ON FUNCTION crm._health_rates() IS
	'annual decay and weight of the six health fields, as crm._contact_health takes them (internal)';

CREATE FUNCTION crm._health_part_weights() RETURNS float8[]
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT ARRAY[h.confidence_weight, h.completeness_weight, h.validity_weight, h.uniqueness_weight]
		  FROM crm.health_settings h);
COMMENT ON FUNCTION crm._health_part_weights() IS
	'weights of the four health parts, as crm._contact_health takes them (internal)';

CREATE VIEW crm.contact_health WITH (security_invoker = true) AS
WITH disposable AS (
	-- exact domains only, so the check is one hash probe per row
	SELECT d.domain FROM crm.email_domains d WHERE d.kind = 'disposable'
	EXCEPT
	SELECT d.domain FROM crm.email_domains d WHERE d.kind = 'ordinary'
), candidate AS MATERIALIZED (
	-- the few contacts whose email or name hash is shared, with their
	-- exact keys: names grouped under the "C" collation, as only equality
	-- matters, which is the same under every deterministic collation
	SELECT o.id, o.email, o.account_id, pg_catalog.lower(o.family_name) COLLATE "C" AS family,
		   pg_catalog.lower(COALESCE(o.given_name, '')) COLLATE "C" AS given
	  FROM crm.contacts o
	 WHERE o.id = ANY ((SELECT crm._health_duplicate_candidates(x.id, x.email, x.account_id, x.family_name,
																 x.given_name)
						  FROM crm.contacts x)::bigint[])
), duplicate AS MATERIALIZED (
	-- the suspected duplicates, exactly: another contact has the same
	-- email, or the same name at the same company
	SELECT COALESCE(pg_catalog.array_agg(u.id ORDER BY u.id), '{}') AS ids
	  FROM (SELECT k.id FROM candidate k
			  JOIN (SELECT k2.email FROM candidate k2 WHERE k2.email IS NOT NULL
					 GROUP BY k2.email HAVING pg_catalog.count(*) > 1) e ON e.email OPERATOR(crm.=) k.email
			UNION
			SELECT k.id FROM candidate k
			  JOIN (SELECT k2.account_id, k2.family, k2.given FROM candidate k2
					 WHERE k2.account_id IS NOT NULL AND k2.family IS NOT NULL
					 GROUP BY 1, 2, 3 HAVING pg_catalog.count(*) > 1) n
				ON n.account_id = k.account_id AND n.family = k.family AND n.given = k.given) u
)
SELECT c.id AS contact_id, crm._health_round((x.p).health, 1) AS health,
	   crm._health_round((x.p).confidence, 4) AS confidence, crm._health_round((x.p).completeness, 4) AS completeness,
	   crm._health_round((x.p).validity, 4) AS validity, crm._health_round((x.p).uniqueness, 4) AS uniqueness,
	   (x.p).email_confidence, (x.p).phone_confidence, (x.p).title_confidence, (x.p).job_function_confidence,
	   (x.p).account_confidence, (x.p).address_confidence
  FROM crm.contacts c
  -- both invalidating events of a contact in one probe
  LEFT JOIN (SELECT e.contact_id, pg_catalog.max(e.occurred_at) FILTER (WHERE e.kind = 'email_bounced') AS bounced_at,
					pg_catalog.max(e.occurred_at) FILTER (WHERE e.kind = 'left_company') AS left_at
			   FROM crm.invalidating_events e GROUP BY e.contact_id) ev ON ev.contact_id = c.id
 -- one call per contact: OFFSET 0 keeps the subquery (and its one call) from
 -- being merged into the columns above, one call per column; a function
 -- in FROM would cost a tuplestore per row.  Filters on contact_id still
 -- reach the scan of crm.contacts.
 CROSS JOIN LATERAL (SELECT crm._contact_health(
		-- the settings, read once per query
		(SELECT crm._health_rates()), (SELECT crm._health_part_weights()),
		(SELECT h.required_fields FROM crm.health_settings h),
		(SELECT d.ids FROM duplicate d),
		pg_catalog.now(), c.id, c.given_name, c.family_name, c.email, c.phone, c.title, c.job_function,
		c.account_id, c.country, c.city, c.region, c.postcode, c.lead_source, c.email_verified_at,
		c.phone_verified_at, c.title_verified_at, c.job_function_verified_at, c.account_verified_at,
		c.address_verified_at, c.created_at, ev.bounced_at, ev.left_at,
		crm.email_domain(c.email) IN (SELECT dd.domain FROM disposable dd)) AS p OFFSET 0) x
 -- no settings row, no health (the settings are a singleton)
 WHERE EXISTS (SELECT FROM crm.health_settings);
COMMENT ON VIEW crm.contact_health IS
	'record health (0-100) of every contact the caller may see, with its parts: confidence, completeness, validity, uniqueness and per-field confidence';

-- Duplicate suspicion by email for one contact (C: src/health.c): whether
-- another contact the caller may see has the same email.  The same answer
-- as EXISTS (SELECT FROM crm.contacts o WHERE o.email OPERATOR(crm.=) email
-- AND o.id <> contact_id), but through the email index even under
-- row-level security, which keeps that query from using the index (the
-- email type's equality is not LEAKPROOF, so the caller's policies would
-- be checked on every contact of their slice first): it reads the index for
-- the ids with that email, then checks as the caller which of them the
-- caller may see.  STABLE: reads crm.contacts.  COST: an index probe
-- (and a primary-key probe when the email is shared).
CREATE FUNCTION crm._health_mailbox_twin(contact_id bigint, email crm.email) RETURNS boolean
AS 'MODULE_PATHNAME', 'crm_health_mailbox_twin'
LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm._health_mailbox_twin(bigint, crm.email) IS
	'whether another contact the caller may see has the same email (internal to crm.record_health)';

-- One contact's health, exactly the view's row for it, without the view's
-- pass over every contact: the same C call (crm._contact_health) on the
-- contact's own row, and its duplicate suspicion decided for it alone by
-- the view's exact rule -- another contact the caller may see with the same
-- email (crm.=, by crm._health_mailbox_twin), or at the same account with
-- the same lower(family name) and lower(given name or '') (one probe of the
-- account index, then the few contacts of that account).  The other
-- inputs are probes too: the two invalidating events by their key, the
-- email's domain in crm.email_domains by its key (disposable and not
-- overridden as ordinary, as the view's EXCEPT).  Runs with the caller's
-- rights, so an invisible contact gives NULL (as an unknown id does) and an
-- invisible duplicate does not count, as in the view.  test/health_one.sql
-- checks it against the view for every contact of a fixture, as several
-- roles.  PL/pgSQL so that its plan is kept for the session (a SQL
-- function is planned again on every call from a new statement, which
-- costs more than running it).
-- STABLE: reads the contact, its neighbours and the settings.  COST: some
-- seven index probes, 0.2-0.5 ms a call at a million contacts.
CREATE FUNCTION crm.record_health(contact_id bigint) RETURNS numeric
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE COST 5000 SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT crm._health_round((crm._contact_health(
				crm._health_rates(), crm._health_part_weights(),
				(SELECT h.required_fields FROM crm.health_settings h),
				CASE WHEN crm._health_mailbox_twin(c.id, c.email)
						  OR EXISTS (SELECT FROM crm.contacts o
									  WHERE o.account_id = c.account_id AND o.id <> c.id
										AND pg_catalog.lower(o.family_name) COLLATE "C"
											= pg_catalog.lower(c.family_name) COLLATE "C"
										AND pg_catalog.lower(COALESCE(o.given_name, '')) COLLATE "C"
											= pg_catalog.lower(COALESCE(c.given_name, '')) COLLATE "C")
					 THEN ARRAY[c.id] ELSE '{}'::bigint[] END,
				pg_catalog.now(), c.id, c.given_name, c.family_name, c.email, c.phone, c.title, c.job_function,
				c.account_id, c.country, c.city, c.region, c.postcode, c.lead_source, c.email_verified_at,
				c.phone_verified_at, c.title_verified_at, c.job_function_verified_at, c.account_verified_at,
				c.address_verified_at, c.created_at,
				(SELECT e.occurred_at FROM crm.invalidating_events e
				  WHERE e.contact_id = c.id AND e.kind = 'email_bounced'),
				(SELECT e.occurred_at FROM crm.invalidating_events e
				  WHERE e.contact_id = c.id AND e.kind = 'left_company'),
				EXISTS (SELECT FROM crm.email_domains d
						 WHERE d.domain = crm.email_domain(c.email) AND d.kind = 'disposable')
				AND NOT EXISTS (SELECT FROM crm.email_domains d
								 WHERE d.domain = crm.email_domain(c.email) AND d.kind = 'ordinary'))).health, 1)
		  FROM crm.contacts c
		 WHERE c.id = record_health.contact_id
		   -- no settings row, no health (the settings are a singleton)
		   AND EXISTS (SELECT FROM crm.health_settings));
END
$$;
COMMENT ON FUNCTION crm.record_health(bigint) IS
	'health of a contact record, 0-100: field confidence, completeness, validity and uniqueness (see crm.contact_health)';

-- What to re-verify first: the business value of the record (open deal
-- amount plus the lead score at value_per_score_point) times how stale it
-- is expected to be (1 - weighted confidence, as crm.contact_health rounds
-- it), naming the stalest field.  Shared by crm.reverification_queue() and
-- the data audit's step 2.  The confidence part does not depend on
-- duplicates, so this computes the parts with crm._contact_health directly
-- (the same call as the view, without the duplicate pass, whose result it
-- would not use), ranks every contact, and names the stalest field only for
-- the n it returns.  test/audit_run.sql checks it against the ranking
-- written over crm.contact_health.
-- STABLE: reads contacts, deals, scores and settings.
CREATE FUNCTION crm._reverification_ranked(n int)
RETURNS TABLE (contact_id bigint, field text, field_confidence float8, expected_staleness float8,
			   business_value numeric, priority numeric)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT q.contact_id, s.field, s.conf, q.expected_staleness, q.business_value, q.priority
	  FROM (SELECT c.id AS contact_id, 1 - crm._health_round((x.p).confidence, 4)::float8 AS expected_staleness,
				   COALESCE(d.amount, 0) + COALESCE(c.lead_score, 0) * hs.value_per_score_point AS business_value,
				   pg_catalog.round(((COALESCE(d.amount, 0) + COALESCE(c.lead_score, 0) * hs.value_per_score_point)
						* (1 - crm._health_round((x.p).confidence, 4)))::numeric, 2) AS priority,
				   x.p
			  FROM crm.contacts c
			 CROSS JOIN crm.health_settings hs
			  LEFT JOIN (SELECT e.contact_id,
								pg_catalog.max(e.occurred_at) FILTER (WHERE e.kind = 'email_bounced') AS bounced_at,
								pg_catalog.max(e.occurred_at) FILTER (WHERE e.kind = 'left_company') AS left_at
						   FROM crm.invalidating_events e GROUP BY e.contact_id) ev ON ev.contact_id = c.id
			  LEFT JOIN (SELECT dd.contact_id, pg_catalog.sum(dd.amount) AS amount FROM crm.deals dd
						  WHERE dd.status = 'open' AND dd.contact_id IS NOT NULL GROUP BY dd.contact_id) d
				ON d.contact_id = c.id
			 -- as in crm.contact_health (OFFSET 0: one call per contact)
			 CROSS JOIN LATERAL (SELECT crm._contact_health((SELECT crm._health_rates()),
						(SELECT crm._health_part_weights()), hs.required_fields, '{}', pg_catalog.now(), c.id,
						c.given_name, c.family_name, c.email, c.phone, c.title, c.job_function, c.account_id,
						c.country, c.city, c.region, c.postcode, c.lead_source, c.email_verified_at,
						c.phone_verified_at, c.title_verified_at, c.job_function_verified_at, c.account_verified_at,
						c.address_verified_at, c.created_at, ev.bounced_at, ev.left_at, NULL) AS p OFFSET 0) x
			 -- the confidence as the view rounds it
			 WHERE crm._health_round((x.p).confidence, 4) < 1
			 ORDER BY 4 DESC, 1
			 LIMIT _reverification_ranked.n) q
	 CROSS JOIN LATERAL (SELECT v.field, v.conf FROM (VALUES
			('email', (q.p).email_confidence), ('phone', (q.p).phone_confidence), ('title', (q.p).title_confidence),
			('job_function', (q.p).job_function_confidence), ('account', (q.p).account_confidence),
			('address', (q.p).address_confidence)) AS v(field, conf)
		 WHERE v.conf IS NOT NULL ORDER BY v.conf, v.field LIMIT 1) s
	 ORDER BY q.priority DESC, q.contact_id;
END;
COMMENT ON FUNCTION crm._reverification_ranked(int) IS
	'the n contacts to re-verify first, ranked (internal: crm.reverification_queue and the data audit)';

-- STABLE: reads contacts, deals, scores.
CREATE FUNCTION crm.reverification_queue(n int DEFAULT 100)
RETURNS TABLE (contact_id bigint, field text, field_confidence float8, expected_staleness float8,
			   business_value numeric, priority numeric)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT r.contact_id, r.field, r.field_confidence, r.expected_staleness, r.business_value, r.priority
	  FROM crm._reverification_ranked(reverification_queue.n) r;
END;
COMMENT ON FUNCTION crm.reverification_queue(int) IS
	'the n contacts to re-verify first: business value (open deals, lead score) times expected staleness, with the stalest field';
