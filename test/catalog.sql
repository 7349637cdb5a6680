-- House rules every crm object must follow, checked on the installed catalog.
BEGIN;
SELECT plan(5);

-- Functions users call carry a comment; type support, operator, trigger and
-- underscore-prefixed internal functions are exempt.
CREATE TEMP VIEW callable AS
SELECT p.oid, p.oid::regprocedure AS fn, p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'crm'::regnamespace
   AND p.proname NOT LIKE '\_%'
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
   AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE p.oid IN (t.typinput, t.typoutput, t.typreceive, t.typsend,
                                                          t.typmodin, t.typmodout, t.typanalyze))
   AND NOT EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprcode = p.oid OR o.oprrest = p.oid OR o.oprjoin = p.oid)
   AND NOT EXISTS (SELECT 1 FROM pg_amproc a WHERE a.amproc = p.oid);

SELECT is(ARRAY(SELECT fn::text FROM callable WHERE obj_description(oid, 'pg_proc') IS NULL ORDER BY 1),
	'{}'::text[], 'every callable crm function has a COMMENT');

SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'crm'::regnamespace AND p.prosecdef
                   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
                 ORDER BY 1),
	'{}'::text[], 'every SECURITY DEFINER function sets search_path');

SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
                   AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1),
	'{}'::text[], 'every crm table and view has a COMMENT');

SELECT is(ARRAY(SELECT t.oid::regtype::text FROM pg_type t
                 WHERE t.typnamespace = 'crm'::regnamespace AND t.typtype IN ('b', 'd', 'e') AND t.typcategory <> 'A'
                   AND obj_description(t.oid, 'pg_type') IS NULL ORDER BY 1),
	'{}'::text[], 'every crm type has a COMMENT');

-- C functions must say whether parallel workers may run them.  Trigger
-- functions never run in a parallel query, and VOLATILE functions that
-- write (crm.audit_purge) must stay PARALLEL UNSAFE, so both are exempt;
-- so are the per-user slice helpers of the policies, PARALLEL UNSAFE on
-- purpose to keep a user's slice a serial index scan (docs/security.md).
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'crm'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
                   AND p.prorettype <> 'trigger'::regtype AND p.provolatile <> 'v'
                   AND p.proparallel = 'u'
                   AND p.oid NOT IN ('crm.visible_owner_ids()'::regprocedure, 'crm.shared_contact_ids(boolean)'::regprocedure,
                                     'crm.shared_account_ids(boolean)'::regprocedure,
                                     'crm.shared_deal_ids(boolean)'::regprocedure)
                 ORDER BY 1),
	'{}'::text[], 'no C function is left PARALLEL UNSAFE by default');

SELECT * FROM finish();
ROLLBACK;
