-- crm install script, part 00: the module itself.
-- Built into crm--<version>.sql by the Makefile; edit here, never there.

\echo Use "CREATE EXTENSION crm" to load this file. \quit

COMMENT ON SCHEMA crm IS 'CRM logic: contact types, dedupe, scoring and access rules (extension crm)';

-- STABLE, not IMMUTABLE: the library behind it changes with ALTER EXTENSION
-- UPDATE, so its answer must never be folded into a stored plan or view.
CREATE FUNCTION crm.version() RETURNS text
	AS 'MODULE_PATHNAME', 'crm_version'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.version() IS 'version of the loaded crm library';

GRANT USAGE ON SCHEMA crm TO PUBLIC;
