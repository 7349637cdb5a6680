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
-- Every part is computed with joins and aggregates, never a query per
-- row, so the view over a million contacts is a few hash joins.
-- The weights of the parts and the required fields are in
-- crm.health_settings.  Everything is computed in one set-based view; the
-- single-contact function filters it, so both always agree.

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

-- Confidence of one field: zero when an invalidating event came after the
-- last verification, else the decay model.
CREATE FUNCTION crm._field_confidence(rate float8, verified_at timestamptz, invalidated_at timestamptz,
									   as_of timestamptz)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN invalidated_at IS NOT NULL AND invalidated_at >= verified_at THEN 0.0::float8
			ELSE crm.decay_confidence(rate, verified_at, as_of) END;

CREATE VIEW crm.contact_health WITH (security_invoker = true) AS
WITH r AS (
	SELECT pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'email') AS email_r,
		   pg_catalog.max(d.weight) FILTER (WHERE d.field = 'email') AS email_w,
		   pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'phone') AS phone_r,
		   pg_catalog.max(d.weight) FILTER (WHERE d.field = 'phone') AS phone_w,
		   pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'title') AS title_r,
		   pg_catalog.max(d.weight) FILTER (WHERE d.field = 'title') AS title_w,
		   pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'job_function') AS function_r,
		   pg_catalog.max(d.weight) FILTER (WHERE d.field = 'job_function') AS function_w,
		   pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'account') AS account_r,
		   pg_catalog.max(d.weight) FILTER (WHERE d.field = 'account') AS account_w,
		   pg_catalog.max(d.annual_decay) FILTER (WHERE d.field = 'address') AS address_r,
		   pg_catalog.max(d.weight) FILTER (WHERE d.field = 'address') AS address_w
	  FROM crm.decay_rates d
), conf AS (
	SELECT c.id, c.given_name, c.family_name, c.email, c.phone, c.title, c.job_function, c.account_id, c.country,
		   c.city, c.postcode, c.lead_source, c.email_verified_at, c.created_at,
		   CASE WHEN c.email IS NOT NULL THEN crm._field_confidence(r.email_r, COALESCE(c.email_verified_at, c.created_at),
				GREATEST(b.occurred_at, l.occurred_at), pg_catalog.now()) END AS email_c,
		   CASE WHEN c.phone IS NOT NULL THEN crm._field_confidence(r.phone_r, COALESCE(c.phone_verified_at, c.created_at),
				l.occurred_at, pg_catalog.now()) END AS phone_c,
		   CASE WHEN c.title IS NOT NULL THEN crm._field_confidence(r.title_r, COALESCE(c.title_verified_at, c.created_at),
				l.occurred_at, pg_catalog.now()) END AS title_c,
		   CASE WHEN c.job_function IS NOT NULL THEN crm._field_confidence(r.function_r,
				COALESCE(c.job_function_verified_at, c.created_at), l.occurred_at, pg_catalog.now()) END AS job_function_c,
		   CASE WHEN c.account_id IS NOT NULL THEN crm._field_confidence(r.account_r,
				COALESCE(c.account_verified_at, c.created_at), l.occurred_at, pg_catalog.now()) END AS account_c,
		   CASE WHEN num_nonnulls(c.city, c.postcode, c.region) > 0 THEN crm._field_confidence(r.address_r,
				COALESCE(c.address_verified_at, c.created_at), NULL, pg_catalog.now()) END AS address_c,
		   r.*,
		   b.occurred_at AS bounced_at
	  FROM crm.contacts c
	 CROSS JOIN r
	  LEFT JOIN crm.invalidating_events b ON b.contact_id = c.id AND b.kind = 'email_bounced'
	  LEFT JOIN crm.invalidating_events l ON l.contact_id = c.id AND l.kind = 'left_company'
), disposable AS (
	-- exact domains only, so the check is one hash probe per row
	SELECT d.domain FROM crm.email_domains d WHERE d.kind = 'disposable'
	EXCEPT
	SELECT d.domain FROM crm.email_domains d WHERE d.kind = 'ordinary'
), hs AS MATERIALIZED (
	-- the settings once, so each row tests booleans, not arrays
	SELECT h.*,
		   'given_name' = ANY (h.required_fields) AS req_given_name,
		   'family_name' = ANY (h.required_fields) AS req_family_name,
		   'email' = ANY (h.required_fields) AS req_email,
		   'phone' = ANY (h.required_fields) AS req_phone,
		   'title' = ANY (h.required_fields) AS req_title,
		   'job_function' = ANY (h.required_fields) AS req_job_function,
		   'account' = ANY (h.required_fields) AS req_account,
		   'country' = ANY (h.required_fields) AS req_country,
		   'city' = ANY (h.required_fields) AS req_city,
		   'postcode' = ANY (h.required_fields) AS req_postcode,
		   'lead_source' = ANY (h.required_fields) AS req_lead_source
	  FROM crm.health_settings h
), dup_email AS MATERIALIZED (
	-- MATERIALIZED, as dup_name: computed once.  Inlined, a parallel plan
	-- hashes both in each worker and the leader, three times the work of
	-- the whole view's most expensive part (measured at 1M contacts: 5.8 s
	-- materialized against 7.7-8.6 s inlined)
	SELECT o.email FROM crm.contacts o WHERE o.email IS NOT NULL GROUP BY o.email HAVING pg_catalog.count(*) > 1
), dup_name AS MATERIALIZED (
	-- grouped under the "C" collation: only equality matters, which is the
	-- same under every deterministic collation, and sorting a million names
	-- by byte is twice as fast as by the database's (even C.UTF-8) rules
	SELECT o.account_id, pg_catalog.lower(o.family_name) COLLATE "C" AS family,
		   pg_catalog.lower(COALESCE(o.given_name, '')) COLLATE "C" AS given
	  FROM crm.contacts o WHERE o.account_id IS NOT NULL AND o.family_name IS NOT NULL
	 GROUP BY 1, 2, 3 HAVING pg_catalog.count(*) > 1
), parts AS (
	SELECT c.id AS contact_id,
		   (COALESCE(c.email_c * c.email_w, 0) + COALESCE(c.phone_c * c.phone_w, 0) + COALESCE(c.title_c * c.title_w, 0)
			+ COALESCE(c.job_function_c * c.function_w, 0) + COALESCE(c.account_c * c.account_w, 0)
			+ COALESCE(c.address_c * c.address_w, 0))
		   / NULLIF(CASE WHEN c.email_c IS NOT NULL THEN c.email_w ELSE 0 END
					+ CASE WHEN c.phone_c IS NOT NULL THEN c.phone_w ELSE 0 END
					+ CASE WHEN c.title_c IS NOT NULL THEN c.title_w ELSE 0 END
					+ CASE WHEN c.job_function_c IS NOT NULL THEN c.function_w ELSE 0 END
					+ CASE WHEN c.account_c IS NOT NULL THEN c.account_w ELSE 0 END
					+ CASE WHEN c.address_c IS NOT NULL THEN c.address_w ELSE 0 END, 0) AS confidence,
		   -- inline, no query per row
		   ((CASE WHEN hs.req_given_name AND c.given_name IS NOT NULL AND pg_catalog.btrim(c.given_name) <> '' THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_family_name AND c.family_name IS NOT NULL AND pg_catalog.btrim(c.family_name) <> '' THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_email AND c.email IS NOT NULL THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_phone AND c.phone IS NOT NULL THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_title AND c.title IS NOT NULL AND pg_catalog.btrim(c.title) <> '' THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_job_function AND c.job_function IS NOT NULL THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_account AND c.account_id IS NOT NULL THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_country AND c.country IS NOT NULL THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_city AND c.city IS NOT NULL THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_postcode AND c.postcode IS NOT NULL THEN 1 ELSE 0 END)
			+ (CASE WHEN hs.req_lead_source AND c.lead_source IS NOT NULL THEN 1 ELSE 0 END))::float8
			/ pg_catalog.cardinality(hs.required_fields) AS completeness,
		   1.0::float8 - (
				(CASE WHEN c.bounced_at IS NOT NULL AND c.bounced_at >= COALESCE(c.email_verified_at, c.created_at)
					  THEN 1 ELSE 0 END)
			  + (CASE WHEN crm.email_domain(c.email) IN (SELECT dd.domain FROM disposable dd) THEN 1 ELSE 0 END)
			  + (CASE WHEN crm._placeholder_text(pg_catalog.concat_ws(' ', c.given_name, c.family_name, c.title))
					  THEN 1 ELSE 0 END)
		   ) / 3.0 AS validity,
		   CASE WHEN de.email IS NOT NULL OR dn.account_id IS NOT NULL
				THEN 0.0::float8 ELSE 1.0::float8 END AS uniqueness,
		   c.email_c AS email_confidence, c.phone_c AS phone_confidence, c.title_c AS title_confidence,
		   c.job_function_c AS job_function_confidence, c.account_c AS account_confidence,
		   c.address_c AS address_confidence,
		   hs.confidence_weight, hs.completeness_weight, hs.validity_weight, hs.uniqueness_weight
	  FROM conf c
	 CROSS JOIN hs
	  LEFT JOIN dup_email de ON de.email OPERATOR(crm.=) c.email
	  LEFT JOIN dup_name dn ON dn.account_id = c.account_id AND dn.family = pg_catalog.lower(c.family_name) COLLATE "C"
						   AND dn.given = pg_catalog.lower(COALESCE(c.given_name, '')) COLLATE "C"
)
SELECT p.contact_id,
	   pg_catalog.round((100 * (p.confidence_weight * COALESCE(p.confidence, 0)
		   + p.completeness_weight * p.completeness + p.validity_weight * p.validity
		   + p.uniqueness_weight * p.uniqueness)
		   / (p.confidence_weight + p.completeness_weight + p.validity_weight + p.uniqueness_weight))::numeric, 1) AS health,
	   pg_catalog.round(p.confidence::numeric, 4) AS confidence,
	   pg_catalog.round(p.completeness::numeric, 4) AS completeness,
	   pg_catalog.round(p.validity::numeric, 4) AS validity,
	   pg_catalog.round(p.uniqueness::numeric, 4) AS uniqueness,
	   p.email_confidence, p.phone_confidence, p.title_confidence, p.job_function_confidence,
	   p.account_confidence, p.address_confidence
  FROM parts p;
COMMENT ON VIEW crm.contact_health IS
	'record health (0-100) of every contact the caller may see, with its parts: confidence, completeness, validity, uniqueness and per-field confidence';

-- STABLE: reads the contact and the settings.
CREATE FUNCTION crm.record_health(contact_id bigint) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT h.health FROM crm.contact_health h WHERE h.contact_id = record_health.contact_id;
END;
COMMENT ON FUNCTION crm.record_health(bigint) IS
	'health of a contact record, 0-100: field confidence, completeness, validity and uniqueness (see crm.contact_health)';

-- What to re-verify first: the business value of the record (open deal
-- amount plus the lead score at value_per_score_point) times how stale it
-- is expected to be (1 - weighted confidence), naming the stalest field.
-- STABLE: reads contacts, deals, scores.
CREATE FUNCTION crm.reverification_queue(n int DEFAULT 100)
RETURNS TABLE (contact_id bigint, field text, field_confidence float8, expected_staleness float8,
			   business_value numeric, priority numeric)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT h.contact_id, s.field, s.conf, 1 - h.confidence::float8,
		   COALESCE(d.amount, 0) + COALESCE(c.lead_score, 0) * hs.value_per_score_point,
		   pg_catalog.round(((COALESCE(d.amount, 0) + COALESCE(c.lead_score, 0) * hs.value_per_score_point)
				* (1 - h.confidence))::numeric, 2)
	  FROM crm.contact_health h
	  JOIN crm.contacts c ON c.id = h.contact_id
	 CROSS JOIN crm.health_settings hs
	  LEFT JOIN (SELECT dd.contact_id, pg_catalog.sum(dd.amount) AS amount FROM crm.deals dd
				  WHERE dd.status = 'open' AND dd.contact_id IS NOT NULL GROUP BY dd.contact_id) d
		ON d.contact_id = h.contact_id
	 CROSS JOIN LATERAL (SELECT x.field, x.conf FROM (VALUES
			('email', h.email_confidence), ('phone', h.phone_confidence), ('title', h.title_confidence),
			('job_function', h.job_function_confidence), ('account', h.account_confidence),
			('address', h.address_confidence)) AS x(field, conf)
		 WHERE x.conf IS NOT NULL ORDER BY x.conf, x.field LIMIT 1) s
	 WHERE h.confidence IS NOT NULL AND h.confidence < 1
	 ORDER BY 6 DESC, h.contact_id
	 LIMIT reverification_queue.n;
END;
COMMENT ON FUNCTION crm.reverification_queue(int) IS
	'the n contacts to re-verify first: business value (open deals, lead score) times expected staleness, with the stalest field';
