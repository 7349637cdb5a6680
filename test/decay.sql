-- Data-decay and score-decay arithmetic at known times.
BEGIN;
SELECT plan(22);

-- field confidence: (1 - r) ^ years, a year being 365.25 days
SELECT is(crm.field_confidence('email', '2025-01-01 00:00+00', '2025-01-01 00:00+00'), 1.0::float8,
	'a value verified just now is certain');
SELECT ok(abs(crm.field_confidence('email', '2024-01-01 00:00+00', '2024-01-01 00:00+00'::timestamptz + interval '365.25 days') - 0.775) < 1e-12,
	'email after one year: 1 - 22.5% = 0.775');
SELECT ok(abs(crm.field_confidence('email', '2024-01-01 00:00+00', '2024-01-01 00:00+00'::timestamptz + interval '730.5 days') - 0.775 ^ 2) < 1e-12,
	'email after two years: 0.775^2');
SELECT ok(abs(crm.field_confidence('title', '2024-01-01 00:00+00', '2024-01-01 00:00+00'::timestamptz + interval '182.625 days') - sqrt(0.8)) < 1e-12,
	'title after half a year: sqrt(0.8)');
SELECT ok(abs(crm.field_confidence('phone', '2024-01-01 00:00+00', '2024-01-01 00:00+00'::timestamptz + interval '365.25 days') - 0.9) < 1e-12,
	'direct phone after one year: 0.9');
SELECT ok(abs(crm.field_confidence('account', '2024-01-01 00:00+00', '2024-01-01 00:00+00'::timestamptz + interval '365.25 days') - 0.7) < 1e-12,
	'company after one year: 0.7');
SELECT is(crm.field_confidence('email', '2030-01-01 00:00+00', '2025-01-01 00:00+00'), 1.0::float8,
	'a verification in the future of as_of counts as fresh');
SELECT is(crm.field_confidence('email', NULL, now()), NULL::float8, 'never verified: unknown (null)');
SELECT is(crm.field_confidence('email', '0001-01-01 00:00+00', '9999-01-01 00:00+00') < 1e-100, true,
	'ten thousand years later: practically zero, no underflow error');
SELECT throws_ok($$SELECT crm.field_confidence('shoe_size', now())$$, '22023',
	'unrecognized decaying field: "shoe_size"', 'an unknown field is refused');

-- rates are configurable
UPDATE crm.decay_rates SET annual_decay = 0.5 WHERE field = 'email';
SELECT ok(abs(crm.field_confidence('email', '2024-01-01 00:00+00', '2024-01-01 00:00+00'::timestamptz + interval '365.25 days') - 0.5) < 1e-12,
	'an admin''s rate is used at once');
SELECT throws_ok($$UPDATE crm.decay_rates SET annual_decay = 1 WHERE field = 'email'$$, '23514', NULL,
	'a rate of 100% a year is refused');
SELECT is(crm.decay_confidence(0, '2000-01-01', '2025-01-01'), 1.0::float8, 'a rate of zero never decays');

-- half-life arithmetic: value * 2^(-elapsed / half_life)
SELECT is(crm.decayed_value(10, '2026-01-01 00:00+00', '30 days', '2026-01-31 00:00+00'), 5.0::float8,
	'a 10-point event one half-life old is worth 5');
SELECT is(crm.decayed_value(10, '2026-01-01 00:00+00', '30 days', '2026-03-02 00:00+00'), 2.5::float8,
	'two half-lives: 2.5');
SELECT ok(abs(crm.decayed_value(8, '2026-01-01 00:00+00', '10 days', '2026-01-06 00:00+00') - 8 / sqrt(2)) < 1e-12,
	'half a half-life: 8 / sqrt(2)');
SELECT is(crm.decayed_value(10, '2026-01-01 00:00+00', NULL, '2030-01-01 00:00+00'), 10.0::float8,
	'no half-life: no decay');
SELECT is(crm.decayed_value(10, '2026-01-01 00:00+00', '1 day', '2025-01-01 00:00+00'), 10.0::float8,
	'asking before the as-of time never grows the value');
SELECT is(crm.decay_factor('100 years', '1 hour'), 0.0::float8, 'far beyond the half-life: zero, not an underflow error');
-- the closed form composes: decaying in two steps equals decaying once
SELECT ok(abs(crm.decayed_value(crm.decayed_value(7, '2026-01-01', '9 days', '2026-01-05'), '2026-01-05', '9 days', '2026-01-20')
	- crm.decayed_value(7, '2026-01-01', '9 days', '2026-01-20')) < 1e-12, 'decay in two steps equals decay in one');

-- business hours for the hand-off task (default Mon-Fri 09:00-17:00 UTC)
SELECT is(crm.add_business_hours('2026-11-20 15:00+00', 4), '2026-11-23 11:00+00'::timestamptz,
	'Friday 15:00 + 4 business hours = Monday 11:00');
SELECT is(crm.add_business_hours('2026-11-21 03:00+00', 10), '2026-11-24 11:00+00'::timestamptz,
	'Saturday night + 10 business hours = Tuesday 11:00');

SELECT * FROM finish();
ROLLBACK;
