-- crm.version() and the library/catalog version handshake.

-- The loaded library reports the version the catalog has installed.
SELECT crm.version() = e.extversion AS library_matches_catalog,
       crm.version() = a.default_version AS is_default_version
  FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
 WHERE e.extname = 'crm';

SELECT p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p WHERE p.oid = 'crm.version()'::regprocedure;

-- Pretend the SQL objects are an older release than the library: a new
-- backend that loads the library must refuse, with a hint.
UPDATE pg_extension SET extversion = '0.0.1' WHERE extname = 'crm';
\c
DO $$
DECLARE
	built text := (SELECT default_version FROM pg_available_extensions WHERE name = 'crm');
	msg text; hint text; state text;
BEGIN
	PERFORM crm.version();
	RAISE EXCEPTION 'crm.version() ran against a mismatched catalog';
EXCEPTION WHEN object_not_in_prerequisite_state THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT, state = RETURNED_SQLSTATE;
	RAISE NOTICE 'sqlstate %: %', state, replace(msg, built, '<built>');
	RAISE NOTICE 'hint: %', replace(hint, built, '<built>');
END $$;

-- Put the catalog back; a new backend works again.
UPDATE pg_extension SET extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'crm')
 WHERE extname = 'crm';
\c
SELECT crm.version() = extversion AS works_again FROM pg_extension WHERE extname = 'crm';
