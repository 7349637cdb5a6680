-- The extension creates, drops and re-creates cleanly.
BEGIN;
SELECT plan(9);

SELECT has_extension('crm', 'crm is installed');
SELECT has_schema('crm', 'it owns schema crm');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'crm'), false, 'it is not relocatable');
SELECT is(crm.version(), (SELECT extversion::text FROM pg_extension WHERE extname = 'crm'),
	'crm.version() matches the installed version');

DROP EXTENSION crm CASCADE;
SELECT hasnt_extension('crm', 'DROP EXTENSION removes it');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'crm'::regnamespace)
          + (SELECT count(*)::int FROM pg_class WHERE relnamespace = 'crm'::regnamespace)
          + (SELECT count(*)::int FROM pg_type WHERE typnamespace = 'crm'::regnamespace), 0,
	'and leaves no object behind in schema crm');

CREATE EXTENSION crm CASCADE;
SELECT has_extension('crm', 'CREATE EXTENSION again works');
SELECT is(crm.version(), (SELECT extversion::text FROM pg_extension WHERE extname = 'crm'),
	'and the re-created extension answers');
SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
            WHERE e.extname = 'crm' AND d.deptype = 'e' AND d.classid = 'pg_proc'::regclass
              AND d.objid = 'crm.version()'::regprocedure), 1,
	'crm.version() belongs to the extension');

SELECT * FROM finish();
ROLLBACK;
