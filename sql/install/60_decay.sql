-- crm install script, part 60: data decay.
--
-- Contact data goes stale at a steady, measurable rate: people change jobs,
-- mailboxes close, numbers are reassigned.  We model each field's truth as a
-- survival process with a constant annual decay rate r, so the probability
-- that a value verified at time v is still true at time t is
--     (1 - r) ^ ((t - v) in years)
-- The rates live in a table an admin can edit; the defaults are published
-- industry estimates (see docs/data-health.md), not laws of nature.
--
-- The same exponential arithmetic drives engagement scores: a score stored
-- with its as-of time is worth value * 2^(-(t - as_of) / half_life) later, so
-- the value at any time is computed in O(1) without replaying history.
-- Both helpers guard against underflow, which PostgreSQL's power() reports
-- as an error rather than rounding to zero.

CREATE TABLE crm.decay_rates (
	field text PRIMARY KEY
		CHECK (field ~ '^[a-z][a-z_]*$'),
	annual_decay float8 NOT NULL
		CHECK (annual_decay >= 0 AND annual_decay < 1),
	weight float8 NOT NULL DEFAULT 1
		CHECK (weight >= 0),
	source text,
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE crm.decay_rates IS
	'annual probability that a verified field value stops being true, and its weight in record health';
COMMENT ON COLUMN crm.decay_rates.annual_decay IS 'fraction of values that go stale in one year (0 <= r < 1)';
COMMENT ON COLUMN crm.decay_rates.weight IS 'importance of the field in crm.record_health()';
COMMENT ON COLUMN crm.decay_rates.source IS 'where the default estimate comes from';

INSERT INTO crm.decay_rates (field, annual_decay, weight, source) VALUES
	('email', 0.225, 3, 'email lists lose about 22.5% a year (2.1% a month): HubSpot / MarketingSherpa, ZeroBounce estimates'),
	('phone', 0.10, 2, 'direct dials change about 10% a year: data-vendor estimates (ZoomInfo, Dun & Bradstreet)'),
	('title', 0.20, 1, 'about one in five B2B contacts changes title each year: data-vendor estimates'),
	('job_function', 0.10, 1, 'a change of function is rarer than a change of title: estimate'),
	('account', 0.30, 2, 'about 30% of company-level contact data decays each year: Gartner / D&B estimates'),
	('address', 0.15, 1, 'business addresses and people move: US Census mover rate (~9-11%) plus office moves, estimate'),
	('website', 0.05, 0.5, 'company domains rarely change: estimate'),
	('deal_value', 0.30, 1, 'deal amounts drift as deals progress: estimate');

SELECT pg_catalog.pg_extension_config_dump('crm.decay_rates', '');

-- Exposed as a helper so views can join crm.decay_rates once and then compute
-- confidence row by row without a lookup (C: src/decay.c).
CREATE FUNCTION crm.decay_confidence(annual_decay float8, verified_at timestamptz,
									  as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
AS 'MODULE_PATHNAME', 'crm_decay_confidence'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.decay_confidence(float8, timestamptz, timestamptz) IS
	'probability a value verified at verified_at is still true at as_of, for a field with the given annual decay rate';

-- STABLE: reads crm.decay_rates, which an admin may change.
CREATE FUNCTION crm.field_confidence(field text, verified_at timestamptz,
									  as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rate float8;
BEGIN
	IF field IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT d.annual_decay INTO rate FROM crm.decay_rates d WHERE d.field = field_confidence.field;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unrecognized decaying field: "%"', field
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The fields are listed in crm.decay_rates; an admin can add one there.';
	END IF;
	RETURN crm.decay_confidence(rate, verified_at, as_of);
END $$;
COMMENT ON FUNCTION crm.field_confidence(text, timestamptz, timestamptz) IS
	'probability that a field value verified at verified_at is still true at as_of, from crm.decay_rates';

-- Half-life arithmetic (C: src/decay.c).  An interval's months count as
-- 30 days, as date_part('epoch', interval) does, which keeps it immutable.
CREATE FUNCTION crm.decay_factor(elapsed interval, half_life interval)
RETURNS float8
AS 'MODULE_PATHNAME', 'crm_decay_factor'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.decay_factor(interval, interval) IS
	'2^(-elapsed/half_life): the share of a decaying score left after elapsed; 1 when elapsed <= 0';

-- Not STRICT: a null half-life means no decay.
CREATE FUNCTION crm.decayed_value(value float8, value_as_of timestamptz, half_life interval,
								   as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
AS 'MODULE_PATHNAME', 'crm_decayed_value'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.decayed_value(float8, timestamptz, interval, timestamptz) IS
	'value stored at value_as_of, decayed with the given half-life to as_of (no decay when half_life is null)';

-- Points clamped to a rule's or group's bounds; null bounds are open, a
-- null total counts as 0.
CREATE FUNCTION crm.clamp_points(total float8, min_points float8, max_points float8) RETURNS float8
AS 'MODULE_PATHNAME', 'crm_clamp_points'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.clamp_points(float8, float8, float8) IS 'total clamped to [min_points, max_points] (null bounds are open, a null total is 0)';
