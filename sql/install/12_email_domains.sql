-- crm install script, part 12: free and disposable email domain lists.
--
-- The built-in rows come from two public lists shipped beside the install
-- script (licences in docs/licenses/email-domains.md) and are replaced by
-- extension upgrades; rows that admins add have builtin = false, are kept by
-- pg_dump, and win over a built-in row for the same domain.

CREATE TABLE crm.email_domains (
	domain text NOT NULL,
	kind text NOT NULL,
	builtin boolean NOT NULL DEFAULT false,
	source text,
	PRIMARY KEY (domain, builtin),
	CONSTRAINT email_domains_kind_check
		CHECK (kind IN ('free', 'disposable', 'ordinary')),
	CONSTRAINT email_domains_domain_check
		CHECK (domain ~ '^[a-z0-9-]+(\.[a-z0-9-]+)+$')
);
COMMENT ON TABLE crm.email_domains IS 'free-webmail and disposable email domains; add rows (builtin = false) to extend or override the shipped lists';
COMMENT ON COLUMN crm.email_domains.domain IS 'domain in lower-case ASCII form; it also matches its subdomains';
COMMENT ON COLUMN crm.email_domains.kind IS 'free (webmail provider), disposable (throw-away inbox) or ordinary (overrides a shipped entry)';
COMMENT ON COLUMN crm.email_domains.builtin IS 'true for rows shipped with the extension; only rows with false are dumped';
COMMENT ON COLUMN crm.email_domains.source IS 'where the row came from';


SELECT pg_catalog.pg_extension_config_dump('crm.email_domains', 'WHERE NOT builtin');

-- Everyone may classify addresses (the lookup functions run as the caller);
-- changing the lists is for the owner and whoever the owner grants it to.
REVOKE ALL ON crm.email_domains FROM PUBLIC;
GRANT SELECT ON crm.email_domains TO PUBLIC;

-- Rows added by admins may be typed as people type domains (upper case,
-- Unicode, a leading @); store the form addresses are compared in.
CREATE FUNCTION crm.email_domains_normalize() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.domain := crm.email_domain(crm.email('postmaster@' || ltrim(btrim(NEW.domain), '@')));
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.email_domains_normalize() IS 'trigger: stores admin-added domains in lower-case ASCII form';

CREATE TRIGGER email_domains_normalize
	BEFORE INSERT OR UPDATE ON crm.email_domains
	FOR EACH ROW WHEN (NOT NEW.builtin)
	EXECUTE FUNCTION crm.email_domains_normalize();

-- Load the shipped lists.  Entries that are not valid domains are skipped;
-- the 10 domains on both lists count as disposable, the stronger signal.
DO $$
DECLARE
	dir text := (SELECT setting FROM pg_catalog.pg_config WHERE name = 'SHAREDIR')
		|| '/extension/';
BEGIN
	INSERT INTO crm.email_domains (domain, kind, builtin, source)
	SELECT DISTINCT d, 'disposable', true, 'disposable-email-domains (CC0-1.0)'
	  FROM pg_catalog.string_to_table(pg_catalog.pg_read_file(dir || 'crm_email_disposable.txt'), E'\n') AS d
	 WHERE crm.email_domain(crm.try_email('postmaster@' || d)) = d;

	INSERT INTO crm.email_domains (domain, kind, builtin, source)
	SELECT DISTINCT d, 'free', true, 'freemail (ISC)'
	  FROM pg_catalog.string_to_table(pg_catalog.pg_read_file(dir || 'crm_email_free.txt'), E'\n') AS d
	 WHERE crm.email_domain(crm.try_email('postmaster@' || d)) = d
	ON CONFLICT DO NOTHING;
END
$$;

-- Lookups use a per-backend hash table copied from crm.email_domains
-- (src/email_domains.c); this trigger tells every backend to drop its copy
-- when the table changes.
CREATE FUNCTION crm.email_domains_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'crm_email_domains_changed'
	LANGUAGE C PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.email_domains_changed() IS 'trigger: makes every session reload its copy of crm.email_domains';

CREATE TRIGGER email_domains_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.email_domains
	FOR EACH STATEMENT
	EXECUTE FUNCTION crm.email_domains_changed();

-- STABLE, not IMMUTABLE: the answer changes when crm.email_domains does.
CREATE FUNCTION crm.email_domain_kind(crm.email) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_email_domain_kind'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_domain_kind(crm.email) IS 'kind of the most specific crm.email_domains entry for the address''s domain (free, disposable, ordinary), or NULL';

-- STABLE: reads crm.email_domains.
CREATE FUNCTION crm.email_is_free(crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_is_free'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_is_free(crm.email) IS 'true when the domain is a free webmail provider (gmail.com, gmx.de, ...)';

-- STABLE: reads crm.email_domains.
CREATE FUNCTION crm.email_is_disposable(crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_is_disposable'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_is_disposable(crm.email) IS 'true when the domain or a parent domain is a disposable (throw-away) inbox provider';
