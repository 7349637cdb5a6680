-- crm install script, part 46: the change audit log.
--
-- Every INSERT, UPDATE and DELETE on a CRM table leaves one row per changed
-- row here: who (CRM user, database role and login), when, which table and
-- row, and the values (the whole row, without NULL columns, for INSERT and
-- DELETE; only the changed columns, old and new, for UPDATE).  Written by a C trigger
-- (src/audit.c) that runs once per statement with transition tables and
-- writes as the log's owner, so nobody needs, or has, INSERT on the log.
-- Append-only: no role holds UPDATE, DELETE or TRUNCATE, and a guard
-- trigger refuses them even to the owner; only crm.audit_purge() deletes.
--
-- Keyed (contact_id, id) so it can be distributed by contact id with the
-- contact's other rows under Citus; contact_id is 0 for rows that are not
-- about one contact (contact ids start at 1).

CREATE TABLE crm.audit_log (
	contact_id bigint NOT NULL DEFAULT 0,
	id bigint GENERATED ALWAYS AS IDENTITY,
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	user_id bigint,
	db_role text NOT NULL,
	login text NOT NULL,
	table_name text NOT NULL,
	op text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'PURGE')),
	row_id bigint,
	old_values jsonb,
	new_values jsonb,
	PRIMARY KEY (contact_id, id)
);
-- The history of one row: row_id is selective, table_name is checked on
-- the few hits (an integer index is much cheaper to maintain than a text one).
CREATE INDEX ON crm.audit_log (row_id);
CREATE INDEX ON crm.audit_log USING brin (logged_at);
COMMENT ON TABLE crm.audit_log IS
	'append-only log of every change to a CRM table: who, when, table, row, old and new values';

CREATE FUNCTION crm._audit() RETURNS trigger
	AS 'MODULE_PATHNAME', 'crm_audit_trigger'
	LANGUAGE C;

CREATE FUNCTION crm._audit_guard() RETURNS trigger
	AS 'MODULE_PATHNAME', 'crm_audit_guard'
	LANGUAGE C;

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON crm.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION crm._audit_guard();

-- Checks the caller is an active CRM admin itself, then deletes as the
-- log's owner (the C code switches user the way SECURITY DEFINER does).
CREATE FUNCTION crm.audit_purge(older_than interval) RETURNS bigint
	AS 'MODULE_PATHNAME', 'crm_audit_purge'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION crm.audit_purge(interval) IS
	'delete audit log entries older than the given age (admins only); the purge itself is logged; returns the rows removed';
REVOKE ALL ON FUNCTION crm.audit_purge(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.audit_purge(interval) TO crm_admin;

REVOKE ALL ON crm.audit_log FROM PUBLIC;
GRANT SELECT ON crm.audit_log TO crm_admin, crm_analyst;
ALTER TABLE crm.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY readers ON crm.audit_log FOR SELECT TO crm_admin, crm_analyst
	USING ((SELECT crm.current_crm_role()) IN ('admin', 'analyst'));

-- Attach the audit trigger to every CRM table (three triggers each: a
-- transition table belongs to one event).
DO $audit$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['teams', 'users', 'accounts', 'contacts', 'shares', 'tags', 'contact_tags',
							 'consents', 'contact_emails', 'contact_phones', 'contact_addresses',
							 'pipelines', 'pipeline_stages', 'campaigns', 'campaign_members', 'deals',
							 'tickets', 'activities', 'tasks']
	LOOP
		EXECUTE pg_catalog.format($t$
			CREATE TRIGGER audit_insert AFTER INSERT ON crm.%1$I
				REFERENCING NEW TABLE AS crm_new FOR EACH STATEMENT EXECUTE FUNCTION crm._audit();
			CREATE TRIGGER audit_update AFTER UPDATE ON crm.%1$I
				REFERENCING OLD TABLE AS crm_old NEW TABLE AS crm_new FOR EACH STATEMENT EXECUTE FUNCTION crm._audit();
			CREATE TRIGGER audit_delete AFTER DELETE ON crm.%1$I
				REFERENCING OLD TABLE AS crm_old FOR EACH STATEMENT EXECUTE FUNCTION crm._audit();
			$t$, t);
	END LOOP;
END
$audit$;

-- Everything users enter is data pg_dump must keep; the log too.
SELECT pg_catalog.pg_extension_config_dump('crm.teams', '');
SELECT pg_catalog.pg_extension_config_dump('crm.users', '');
SELECT pg_catalog.pg_extension_config_dump('crm.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('crm.contacts', '');
SELECT pg_catalog.pg_extension_config_dump('crm.shares', '');
SELECT pg_catalog.pg_extension_config_dump('crm.tags', '');
SELECT pg_catalog.pg_extension_config_dump('crm.contact_tags', '');
SELECT pg_catalog.pg_extension_config_dump('crm.consents', '');
SELECT pg_catalog.pg_extension_config_dump('crm.contact_emails', '');
SELECT pg_catalog.pg_extension_config_dump('crm.contact_phones', '');
SELECT pg_catalog.pg_extension_config_dump('crm.contact_addresses', '');
SELECT pg_catalog.pg_extension_config_dump('crm.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('crm.pipeline_stages', '');
SELECT pg_catalog.pg_extension_config_dump('crm.campaigns', '');
SELECT pg_catalog.pg_extension_config_dump('crm.campaign_members', '');
SELECT pg_catalog.pg_extension_config_dump('crm.deals', '');
SELECT pg_catalog.pg_extension_config_dump('crm.tickets', '');
SELECT pg_catalog.pg_extension_config_dump('crm.activities', '');
SELECT pg_catalog.pg_extension_config_dump('crm.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('crm.audit_log', '');

-- ... and the identity sequences behind their keys, so a restored database
-- continues numbering where the dumped one stopped.
DO $seqs$
DECLARE
	s text;
BEGIN
	FOR s IN
		SELECT pg_catalog.pg_get_serial_sequence(pg_catalog.format('crm.%I', c.relname), a.attname)
		  FROM pg_catalog.pg_class c
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
		 WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r' AND a.attidentity <> ''
		 ORDER BY 1
	LOOP
		PERFORM pg_catalog.pg_extension_config_dump(s, '');
	END LOOP;
END
$seqs$;
