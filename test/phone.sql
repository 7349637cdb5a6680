-- crm.phone behaviour that depends on crm.default_region and
-- crm.phone_validation, and the volatility that follows from it.
BEGIN;
SELECT plan(32);

-- Load the library, so its GUCs exist and SET is checked.
SELECT ok(crm.version() IS NOT NULL, 'crm library loaded');

-- crm.default_region
SELECT is(current_setting('crm.default_region'), '', 'crm.default_region is empty by default');
SELECT throws_ok($$SELECT '(415) 555-2671'::crm.phone$$, '22P02',
	'invalid input syntax for type phone: "(415) 555-2671"',
	'without a default region a number needs its country code');
SELECT is('+1 415 555 2671'::crm.phone::text, '+14155552671',
	'a number with its country code needs no default region');
SELECT is('0044 20 7946 0958'::crm.phone::text, '+442079460958',
	'00 reads as an international prefix without a default region');

SET LOCAL crm.default_region = 'us';
SELECT is(current_setting('crm.default_region'), 'US', 'the region is upper-cased');
SELECT is('(415) 555-2671'::crm.phone::text, '+14155552671', 'US: a national number gets +1');
SELECT is('0044 20 7946 0958'::crm.phone::text, '+442079460958',
	'US: 00 is read as + when the number is not valid as a US number');
SELECT is('011 44 20 7946 0958'::crm.phone::text, '+442079460958', 'US: 011 is the US international prefix');

SET LOCAL crm.default_region = 'GB';
SELECT is('020 7946 0958'::crm.phone::text, '+442079460958', 'GB: national prefix 0 is dropped');
SELECT is(crm.phone('(415) 555-2671', 'US')::text, '+14155552671', 'an explicit region wins over the setting');
SELECT is(crm.try_phone('(415) 555-2671', NULL)::text, NULL, 'try_phone with a NULL region uses the setting (GB)');
SELECT is(crm.try_phone('020 7946 0958')::text, '+442079460958', 'try_phone defaults to the setting');
SELECT is(crm.phone_problem('(415) 555-2671', 'US'), NULL, 'phone_problem with a region');
SELECT isnt(crm.phone_problem('(415) 555-2671'), NULL, 'phone_problem with the setting (GB)');

SELECT throws_ok($$SET LOCAL crm.default_region = 'XX'$$, '22023',
	'invalid value for parameter "crm.default_region": "XX"', 'an unknown region is refused');
SELECT throws_ok($$SET LOCAL crm.default_region = 'GBR'$$, '22023', NULL, 'a three-letter code is refused');
SELECT is(current_setting('crm.default_region'), 'GB', 'a refused value leaves the setting alone');
SET LOCAL crm.default_region = '';
SELECT is(crm.try_phone('020 7946 0958')::text, NULL, 'an empty region requires country codes again');

-- crm.phone_validation
SELECT is(current_setting('crm.phone_validation'), 'valid', 'crm.phone_validation is valid by default');
SELECT throws_ok($$SELECT '+1 415 055 2671'::crm.phone$$, '22P02', NULL,
	'valid: a number outside the allocated ranges is refused');
SET LOCAL crm.phone_validation = possible;
SELECT is('+1 415 055 2671'::crm.phone::text, '+14150552671', 'possible: the same number is accepted');
SELECT throws_ok($$SELECT '+1 415 555 26'::crm.phone$$, '22P02', NULL, 'possible: a wrong length is still refused');
SELECT is(crm.phone_problem('+1 415 055 2671'), NULL, 'possible: phone_problem agrees');
SELECT throws_ok($$SET LOCAL crm.phone_validation = 'strict'$$, '22023', NULL, 'an unknown level is refused');
SET LOCAL crm.phone_validation = valid;
SELECT is(crm.phone_problem('+1 415 055 2671'),
	'The number is not a valid number for country code +1 (US).', 'valid: phone_problem says why');

-- A literal is converted when the statement is parsed: a view keeps the
-- value it was created with, whatever the setting later (as with timestamptz).
SET LOCAL crm.default_region = 'GB';
CREATE TEMP VIEW phone_literal AS SELECT '020 7946 0958'::crm.phone AS p;
SET LOCAL crm.default_region = 'US';
SELECT is((SELECT p::text FROM phone_literal), '+442079460958', 'a view keeps its parsed literal');

-- Volatility follows from the settings.
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm.phone_in(cstring)'::regprocedure), 's',
	'input is STABLE');
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm.phone(text)'::regprocedure), 's',
	'crm.phone(text) is STABLE');
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm.phone(text, text)'::regprocedure), 's',
	'crm.phone(text, text) is STABLE (it reads crm.phone_validation)');
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm.phone_out(crm.phone)'::regprocedure), 'i',
	'output is IMMUTABLE');
SELECT throws_ok($$CREATE TEMP TABLE phone_idx (t text); CREATE INDEX ON phone_idx (crm.phone(t))$$, '42P17', NULL,
	'crm.phone(text) cannot be used in an index expression');

SELECT * FROM finish();
ROLLBACK;
