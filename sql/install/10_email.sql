-- crm install script, part 10: the crm.email type, its operators, operator
-- classes and casts.  Functions on addresses are in 11, domain lists in 12.

CREATE TYPE crm.email;

CREATE FUNCTION crm.email_in(cstring) RETURNS crm.email
	AS 'MODULE_PATHNAME', 'crm_email_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_in(cstring) IS 'input function of type crm.email';

CREATE FUNCTION crm.email_out(crm.email) RETURNS cstring
	AS 'MODULE_PATHNAME', 'crm_email_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_out(crm.email) IS 'output function of type crm.email: the address as typed';

CREATE FUNCTION crm.email_recv(internal) RETURNS crm.email
	AS 'MODULE_PATHNAME', 'crm_email_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_recv(internal) IS 'binary input function of type crm.email; checks what input checks';

CREATE FUNCTION crm.email_send(crm.email) RETURNS bytea
	AS 'MODULE_PATHNAME', 'crm_email_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_send(crm.email) IS 'binary output function of type crm.email: the address as typed, as text';

-- Values are small and read in place (1-byte headers, octet fields only).
CREATE TYPE crm.email (
	INPUT = crm.email_in,
	OUTPUT = crm.email_out,
	RECEIVE = crm.email_recv,
	SEND = crm.email_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);
COMMENT ON TYPE crm.email IS 'email address: checked on input, compared case-insensitively with internationalized domains in ASCII form, printed as typed';

-- Comparison support.  Equality and hashing use only the stored key; the
-- functions are not LEAKPROOF because a malformed value could raise an error.
CREATE FUNCTION crm.email_eq(crm.email, crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_eq'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_eq(crm.email, crm.email) IS 'implementation of = for crm.email';
CREATE FUNCTION crm.email_ne(crm.email, crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_ne'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_ne(crm.email, crm.email) IS 'implementation of <> for crm.email';
CREATE FUNCTION crm.email_lt(crm.email, crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_lt'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_lt(crm.email, crm.email) IS 'implementation of < for crm.email';
CREATE FUNCTION crm.email_le(crm.email, crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_le'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_le(crm.email, crm.email) IS 'implementation of <= for crm.email';
CREATE FUNCTION crm.email_gt(crm.email, crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_gt'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_gt(crm.email, crm.email) IS 'implementation of > for crm.email';
CREATE FUNCTION crm.email_ge(crm.email, crm.email) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_email_ge'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_ge(crm.email, crm.email) IS 'implementation of >= for crm.email';
CREATE FUNCTION crm.email_cmp(crm.email, crm.email) RETURNS integer
	AS 'MODULE_PATHNAME', 'crm_email_cmp'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_cmp(crm.email, crm.email) IS 'btree comparison function for crm.email';
CREATE FUNCTION crm.email_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME', 'crm_email_sortsupport'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_sortsupport(internal) IS 'btree sort support for crm.email (abbreviated keys)';
CREATE FUNCTION crm.email_hash(crm.email) RETURNS integer
	AS 'MODULE_PATHNAME', 'crm_email_hash'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_hash(crm.email) IS 'hash function for crm.email';
CREATE FUNCTION crm.email_hash_extended(crm.email, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'crm_email_hash_extended'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_hash_extended(crm.email, bigint) IS 'seeded 64-bit hash function for crm.email';

CREATE OPERATOR crm.= (
	LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_eq,
	COMMUTATOR = OPERATOR(crm.=), NEGATOR = OPERATOR(crm.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR crm.= (crm.email, crm.email) IS 'same mailbox: local part case-insensitive, domain case-insensitive and IDN-equal';
CREATE OPERATOR crm.<> (
	LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_ne,
	COMMUTATOR = OPERATOR(crm.<>), NEGATOR = OPERATOR(crm.=),
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR crm.<> (crm.email, crm.email) IS 'not the same mailbox';
CREATE OPERATOR crm.< (
	LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_lt,
	COMMUTATOR = OPERATOR(crm.>), NEGATOR = OPERATOR(crm.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR crm.< (crm.email, crm.email) IS 'less than, by folded local part then ASCII domain';
CREATE OPERATOR crm.<= (
	LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_le,
	COMMUTATOR = OPERATOR(crm.>=), NEGATOR = OPERATOR(crm.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR crm.<= (crm.email, crm.email) IS 'less than or equal, by folded local part then ASCII domain';
CREATE OPERATOR crm.> (
	LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_gt,
	COMMUTATOR = OPERATOR(crm.<), NEGATOR = OPERATOR(crm.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR crm.> (crm.email, crm.email) IS 'greater than, by folded local part then ASCII domain';
CREATE OPERATOR crm.>= (
	LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_ge,
	COMMUTATOR = OPERATOR(crm.<=), NEGATOR = OPERATOR(crm.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR crm.>= (crm.email, crm.email) IS 'greater than or equal, by folded local part then ASCII domain';

CREATE OPERATOR CLASS crm.email_ops
	DEFAULT FOR TYPE crm.email USING btree AS
		OPERATOR 1 crm.<,
		OPERATOR 2 crm.<=,
		OPERATOR 3 crm.=,
		OPERATOR 4 crm.>=,
		OPERATOR 5 crm.>,
		FUNCTION 1 crm.email_cmp(crm.email, crm.email),
		FUNCTION 2 crm.email_sortsupport(internal);
COMMENT ON OPERATOR CLASS crm.email_ops USING btree IS 'default btree operator class for crm.email';

CREATE OPERATOR CLASS crm.email_ops
	DEFAULT FOR TYPE crm.email USING hash AS
		OPERATOR 1 crm.=,
		FUNCTION 1 crm.email_hash(crm.email),
		FUNCTION 2 crm.email_hash_extended(crm.email, bigint);
COMMENT ON OPERATOR CLASS crm.email_ops USING hash IS 'default hash operator class for crm.email';

-- Casts.  Text becomes an address on assignment (INSERT, UPDATE, function
-- arguments) or explicitly, never implicitly: an implicit cast either way
-- would let "email = text" silently pick text equality, which compares the
-- typed spelling instead of the mailbox.
CREATE FUNCTION crm.email(text) RETURNS crm.email
	AS 'MODULE_PATHNAME', 'crm_email_from_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email(text) IS 'checks text as an email address (what people type: white space and mailto: dropped)';

CREATE FUNCTION crm.email_text(crm.email) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_email_to_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_text(crm.email) IS 'the address as typed, as text';

CREATE CAST (text AS crm.email) WITH FUNCTION crm.email(text) AS ASSIGNMENT;
CREATE CAST (character varying AS crm.email) WITH FUNCTION crm.email(text) AS ASSIGNMENT;
CREATE CAST (crm.email AS text) WITH FUNCTION crm.email_text(crm.email) AS ASSIGNMENT;
CREATE CAST (crm.email AS character varying) WITH FUNCTION crm.email_text(crm.email) AS ASSIGNMENT;
