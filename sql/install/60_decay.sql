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
-- confidence row by row without a lookup; it inlines into the caller.
CREATE FUNCTION crm.decay_confidence(annual_decay float8, verified_at timestamptz,
									  as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
	WHEN annual_decay IS NULL OR verified_at IS NULL OR as_of IS NULL THEN NULL
	WHEN annual_decay < 0 OR annual_decay >= 1 THEN NULL
	WHEN as_of <= verified_at OR annual_decay = 0 THEN 1.0::float8
	-- beyond ~2000 half-lives the value underflows; it is zero for all purposes
	WHEN pg_catalog.ln(1.0::float8 - annual_decay)
		 * (pg_catalog.date_part('epoch', as_of - verified_at) / 31557600.0::float8) < -700 THEN 0.0::float8
	ELSE pg_catalog.exp(pg_catalog.ln(1.0::float8 - annual_decay)
		 * (pg_catalog.date_part('epoch', as_of - verified_at) / 31557600.0::float8))
END;
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

-- Half-life arithmetic.  An interval's months count as 30 days, as
-- date_part(''epoch'', interval) does, which keeps the function immutable.
CREATE FUNCTION crm.decay_factor(elapsed interval, half_life interval)
RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
	WHEN pg_catalog.date_part('epoch', half_life) <= 0 THEN NULL
	WHEN pg_catalog.date_part('epoch', elapsed) <= 0 THEN 1.0::float8
	WHEN pg_catalog.date_part('epoch', elapsed) / pg_catalog.date_part('epoch', half_life) > 1000 THEN 0.0::float8
	ELSE pg_catalog.power(2.0::float8,
		-(pg_catalog.date_part('epoch', elapsed) / pg_catalog.date_part('epoch', half_life)))
END;
COMMENT ON FUNCTION crm.decay_factor(interval, interval) IS
	'2^(-elapsed/half_life): the share of a decaying score left after elapsed; 1 when elapsed <= 0';

CREATE FUNCTION crm.decayed_value(value float8, value_as_of timestamptz, half_life interval,
								   as_of timestamptz DEFAULT pg_catalog.now())
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
	WHEN value IS NULL OR value_as_of IS NULL OR as_of IS NULL THEN value
	WHEN half_life IS NULL THEN value
	ELSE value * crm.decay_factor(as_of - value_as_of, half_life)
END;
COMMENT ON FUNCTION crm.decayed_value(float8, timestamptz, interval, timestamptz) IS
	'value stored at value_as_of, decayed with the given half-life to as_of (no decay when half_life is null)';
