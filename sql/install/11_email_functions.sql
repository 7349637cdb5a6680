-- crm install script, part 11: functions on email addresses.

CREATE FUNCTION crm.email_domain(crm.email) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_email_domain'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_domain(crm.email) IS 'domain of the address in lower case, internationalized labels in ASCII (xn--) form';

CREATE FUNCTION crm.email_local(crm.email) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_email_local'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_local(crm.email) IS 'local part of the address (before the @) as typed';

CREATE FUNCTION crm.email_domain_suffixes(crm.email) RETURNS text[]
	AS 'MODULE_PATHNAME', 'crm_email_domain_suffixes'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_domain_suffixes(crm.email) IS 'the domain and its parent domains down to two labels, most specific first';

CREATE FUNCTION crm.email_canonical(crm.email) RETURNS crm.email
	AS 'MODULE_PATHNAME', 'crm_email_canonical'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_canonical(crm.email) IS 'the mailbox an address delivers to: Gmail dots and +tags and known providers'' +tags removed, lower case, ASCII domain';

CREATE FUNCTION crm.email_is_role(crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_is_role'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_is_role(crm.email) IS 'true for role mailboxes such as info@, sales@, noreply@';

CREATE FUNCTION crm.email_from_display(text) RETURNS crm.email
	AS 'MODULE_PATHNAME', 'crm_email_from_display'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_from_display(text) IS 'the address in a display form such as "Ann Lee" <ann@example.com>';

CREATE FUNCTION crm.try_email(text) RETURNS crm.email
	AS 'MODULE_PATHNAME', 'crm_try_email'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.try_email(text) IS 'the text as crm.email, or NULL when it is not a valid address';

CREATE FUNCTION crm.email_problem(text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_email_problem'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_problem(text) IS 'NULL when the text is a valid address, else why it is not, in words';
