-- crm install script, part 30: name, company, domain, address and postcode keys.
-- Built into crm--<version>.sql by the Makefile; edit here, never there.
--
-- The key functions are IMMUTABLE: they depend only on their arguments and
-- on the ICU and libpsl data compiled into the server's libraries.  After an
-- ICU or libpsl upgrade, REINDEX indexes built on them (see docs/names.md).
-- The nickname functions read crm.nicknames and so are STABLE.

CREATE FUNCTION crm.normalize_name(name text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_normalize_name'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION crm.normalize_name(text) IS
	'match key of a personal name: any script to Latin, folded, no accents, punctuation or honorifics, given name first';

CREATE FUNCTION crm.name_parts(name text,
	OUT prefix text, OUT given text, OUT middle text, OUT family text, OUT suffix text)
	RETURNS record
	AS 'MODULE_PATHNAME', 'crm_name_parts'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 20;
COMMENT ON FUNCTION crm.name_parts(text) IS
	'split a personal name ("First Middle Last" or "Last, First") into prefix, given, middle, family and suffix';

-- Given names and their nicknames.  Rows with builtin = true come from the
-- bundled list (docs/licenses/nicknames.md); rows admins add have builtin =
-- false and are the ones pg_dump keeps.
CREATE TABLE crm.nicknames (
	name text NOT NULL,
	nickname text NOT NULL,
	builtin boolean NOT NULL DEFAULT false,
	PRIMARY KEY (name, nickname),
	CONSTRAINT nicknames_name_check CHECK (pg_catalog.length(name) BETWEEN 1 AND 60),
	CONSTRAINT nicknames_nickname_check CHECK (pg_catalog.length(nickname) BETWEEN 1 AND 60)
);
COMMENT ON TABLE crm.nicknames IS
	'given names (name) and nicknames or diminutives of them (nickname), read by crm.given_name_key and crm.given_names_match';
COMMENT ON COLUMN crm.nicknames.name IS 'the formal given name, e.g. robert; any case and accents';
COMMENT ON COLUMN crm.nicknames.nickname IS 'a nickname of it, e.g. bob';
COMMENT ON COLUMN crm.nicknames.builtin IS 'true for rows installed with the extension; pg_dump keeps only rows where this is false';
SELECT pg_catalog.pg_extension_config_dump('crm.nicknames', 'WHERE NOT builtin');
GRANT SELECT ON crm.nicknames TO PUBLIC;

-- Each backend keeps crm.nicknames in memory; this trigger tells them all
-- (at commit) that their copy is stale.  PARALLEL RESTRICTED: it queues a
-- cache invalidation, which only the leader of a query may do.
CREATE FUNCTION crm.nicknames_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'crm_nicknames_changed'
	LANGUAGE C PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.nicknames_changed() IS
	'trigger on crm.nicknames: invalidate the per-backend nickname cache';
CREATE TRIGGER nicknames_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.nicknames
	FOR EACH STATEMENT EXECUTE FUNCTION crm.nicknames_changed();

-- STABLE, not IMMUTABLE: the answer depends on the rows of crm.nicknames.
CREATE FUNCTION crm.given_name_key(name text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_given_name_key'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.given_name_key(text) IS
	'blocking key of a given name: the alphabetically first formal name it may stand for (Bob, Bobby, Rob -> robert)';

-- STABLE, not IMMUTABLE: the answer depends on the rows of crm.nicknames.
CREATE FUNCTION crm.given_names_match(a text, b text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_given_names_match'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.given_names_match(text, text) IS
	'true when two given names are the same after folding or may stand for the same formal name (Bill, William; Al, Alfred)';

CREATE FUNCTION crm.company_key(name text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_company_key'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION crm.company_key(text) IS
	'match key of a company name: folded, no accents, "&" as "and", leading "The" and legal forms (Inc, GmbH, S.A., ...) dropped';

CREATE FUNCTION crm.domain_key(value text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_domain_key'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION crm.domain_key(text) IS
	'registrable domain (public suffix list) of a URL, host name or e-mail address, in ASCII; NULL when there is none';

CREATE FUNCTION crm.address_key(address text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_address_key'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION crm.address_key(text) IS
	'match key of a street address: folded, street types, unit designators and directions in one spelling (Street -> st, Apt/# -> unit)';

CREATE FUNCTION crm.normalize_postcode(postcode text, country text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_normalize_postcode'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.normalize_postcode(text, text) IS
	'postal code in its national form for an ISO 3166-1 country (K1A0B1, CA -> K1A 0B1); error when malformed';

CREATE FUNCTION crm.try_normalize_postcode(postcode text, country text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_try_normalize_postcode'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.try_normalize_postcode(text, text) IS
	'like crm.normalize_postcode, but NULL instead of an error for a malformed code';
