-- crm install script, part 20: type crm.phone (libphonenumber).
-- Built into crm--<version>.sql by the Makefile; edit here, never there.
--
-- Volatility: everything that reads text depends on crm.default_region and
-- crm.phone_validation, so it is STABLE (as timestamptz input is under
-- TimeZone).  Everything that reads a stored phone is IMMUTABLE: the value
-- carries its country code.  Formatting, region and type use libphonenumber's
-- metadata, which changes only with a library upgrade (like ICU collations).
--
-- COST is in units of a simple operator (about 0.05 us here): parsing and
-- validating with libphonenumber takes 20 to 60 us, formatting about 6 us.

CREATE TYPE crm.phone;

-- STABLE: reads crm.default_region and crm.phone_validation.
CREATE FUNCTION crm.phone_in(cstring) RETURNS crm.phone
	AS 'MODULE_PATHNAME', 'crm_phone_in'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm.phone_in(cstring) IS 'input function of type crm.phone';

CREATE FUNCTION crm.phone_out(crm.phone) RETURNS cstring
	AS 'MODULE_PATHNAME', 'crm_phone_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_out(crm.phone) IS 'output function of type crm.phone (E.164, then ;ext=)';

-- STABLE: applies crm.phone_validation to what it receives.
CREATE FUNCTION crm.phone_recv(internal) RETURNS crm.phone
	AS 'MODULE_PATHNAME', 'crm_phone_recv'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 500;
COMMENT ON FUNCTION crm.phone_recv(internal) IS 'binary input function of type crm.phone';

CREATE FUNCTION crm.phone_send(crm.phone) RETURNS bytea
	AS 'MODULE_PATHNAME', 'crm_phone_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_send(crm.phone) IS 'binary output function of type crm.phone';

CREATE TYPE crm.phone (
	INPUT = crm.phone_in,
	OUTPUT = crm.phone_out,
	RECEIVE = crm.phone_recv,
	SEND = crm.phone_send,
	INTERNALLENGTH = 16,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE crm.phone IS 'telephone number validated with libphonenumber, stored in 16 bytes, shown in E.164 with an optional ;ext=';

-- Parsing.

-- STABLE: the region comes from crm.default_region; crm.phone_validation applies.
CREATE FUNCTION crm.phone(text) RETURNS crm.phone
	AS 'MODULE_PATHNAME', 'crm_phone_from_text'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm.phone(text) IS 'parse a phone number; numbers without a country code use crm.default_region';

-- STABLE: crm.phone_validation applies.
CREATE FUNCTION crm.phone(text, region text) RETURNS crm.phone
	AS 'MODULE_PATHNAME', 'crm_phone_from_text_region'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm.phone(text, text) IS 'parse a phone number; numbers without a country code belong to the given region';

-- STABLE: reads crm.phone_validation, and crm.default_region when region is NULL.
-- Not STRICT: a NULL region means the default region.
CREATE FUNCTION crm.try_phone(text, region text DEFAULT NULL) RETURNS crm.phone
	AS 'MODULE_PATHNAME', 'crm_try_phone'
	LANGUAGE C STABLE PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm.try_phone(text, text) IS 'parse a phone number, or NULL when the text is not a valid phone number';

-- STABLE: reads crm.phone_validation, and crm.default_region when region is NULL.
-- Not STRICT: a NULL region means the default region.
CREATE FUNCTION crm.phone_problem(text, region text DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_problem'
	LANGUAGE C STABLE PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm.phone_problem(text, text) IS 'why a text is not a valid phone number, or NULL when it is one';

CREATE CAST (text AS crm.phone) WITH FUNCTION crm.phone(text) AS ASSIGNMENT;
COMMENT ON CAST (text AS crm.phone) IS 'parse with crm.default_region, as crm.phone(text)';
CREATE CAST (crm.phone AS text) WITH INOUT AS ASSIGNMENT;
COMMENT ON CAST (crm.phone AS text) IS 'E.164 text, with ;ext= and the extension if there is one';

-- Comparison: by country code, national number, extension.  The functions
-- cannot fail and reveal nothing but the comparison: LEAKPROOF.

CREATE FUNCTION crm.phone_eq(crm.phone, crm.phone) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_phone_eq'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_eq(crm.phone, crm.phone) IS 'implementation of = for crm.phone';
CREATE FUNCTION crm.phone_ne(crm.phone, crm.phone) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_phone_ne'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_ne(crm.phone, crm.phone) IS 'implementation of <> for crm.phone';
CREATE FUNCTION crm.phone_lt(crm.phone, crm.phone) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_phone_lt'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_lt(crm.phone, crm.phone) IS 'implementation of < for crm.phone';
CREATE FUNCTION crm.phone_le(crm.phone, crm.phone) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_phone_le'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_le(crm.phone, crm.phone) IS 'implementation of <= for crm.phone';
CREATE FUNCTION crm.phone_gt(crm.phone, crm.phone) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_phone_gt'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_gt(crm.phone, crm.phone) IS 'implementation of > for crm.phone';
CREATE FUNCTION crm.phone_ge(crm.phone, crm.phone) RETURNS boolean
	AS 'MODULE_PATHNAME', 'crm_phone_ge'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_ge(crm.phone, crm.phone) IS 'implementation of >= for crm.phone';
CREATE FUNCTION crm.phone_cmp(crm.phone, crm.phone) RETURNS integer
	AS 'MODULE_PATHNAME', 'crm_phone_cmp'
	LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_cmp(crm.phone, crm.phone) IS 'btree comparison function for crm.phone';
CREATE FUNCTION crm.phone_hash(crm.phone) RETURNS integer
	AS 'MODULE_PATHNAME', 'crm_phone_hash'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_hash(crm.phone) IS 'hash function for crm.phone';
CREATE FUNCTION crm.phone_hash_extended(crm.phone, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'crm_phone_hash_extended'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_hash_extended(crm.phone, bigint) IS 'seeded hash function for crm.phone';

CREATE OPERATOR crm.= (
	LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_eq,
	COMMUTATOR = OPERATOR(crm.=), NEGATOR = OPERATOR(crm.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR crm.= (crm.phone, crm.phone) IS 'same number and extension';
CREATE OPERATOR crm.<> (
	LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_ne,
	COMMUTATOR = OPERATOR(crm.<>), NEGATOR = OPERATOR(crm.=),
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR crm.<> (crm.phone, crm.phone) IS 'different number or extension';
CREATE OPERATOR crm.< (
	LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_lt,
	COMMUTATOR = OPERATOR(crm.>), NEGATOR = OPERATOR(crm.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR crm.< (crm.phone, crm.phone) IS 'less than (country code, then national number, then extension)';
CREATE OPERATOR crm.<= (
	LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_le,
	COMMUTATOR = OPERATOR(crm.>=), NEGATOR = OPERATOR(crm.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR crm.<= (crm.phone, crm.phone) IS 'less than or equal';
CREATE OPERATOR crm.> (
	LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_gt,
	COMMUTATOR = OPERATOR(crm.<), NEGATOR = OPERATOR(crm.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR crm.> (crm.phone, crm.phone) IS 'greater than';
CREATE OPERATOR crm.>= (
	LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_ge,
	COMMUTATOR = OPERATOR(crm.<=), NEGATOR = OPERATOR(crm.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR crm.>= (crm.phone, crm.phone) IS 'greater than or equal';

-- Equal values are equal byte for byte, so btree deduplication is safe.
CREATE OPERATOR CLASS crm.phone_ops DEFAULT FOR TYPE crm.phone USING btree AS
	OPERATOR 1 crm.<,
	OPERATOR 2 crm.<=,
	OPERATOR 3 crm.=,
	OPERATOR 4 crm.>=,
	OPERATOR 5 crm.>,
	FUNCTION 1 crm.phone_cmp(crm.phone, crm.phone),
	FUNCTION 4 pg_catalog.btequalimage(oid);
COMMENT ON OPERATOR CLASS crm.phone_ops USING btree IS 'default btree operator class for crm.phone';

CREATE OPERATOR CLASS crm.phone_ops DEFAULT FOR TYPE crm.phone USING hash AS
	OPERATOR 1 crm.=,
	FUNCTION 1 crm.phone_hash(crm.phone),
	FUNCTION 2 crm.phone_hash_extended(crm.phone, bigint);
COMMENT ON OPERATOR CLASS crm.phone_ops USING hash IS 'default hash operator class for crm.phone';

-- Functions on phone numbers.  IMMUTABLE: they read only the stored value
-- and libphonenumber's metadata (see the top of this file).

CREATE FUNCTION crm.phone_format(crm.phone, style text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_format'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 200;
COMMENT ON FUNCTION crm.phone_format(crm.phone, text) IS 'the number as e164, international, national or rfc3966 text';

CREATE FUNCTION crm.phone_region(crm.phone) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_region'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 500;
COMMENT ON FUNCTION crm.phone_region(crm.phone) IS 'ISO 3166-1 region of the number, 001 for non-geographic numbers, NULL when no region''s ranges fit';

CREATE FUNCTION crm.phone_country_code(crm.phone) RETURNS integer
	AS 'MODULE_PATHNAME', 'crm_phone_country_code'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_country_code(crm.phone) IS 'country calling code of the number (1 for +1 415 555 2671)';

CREATE FUNCTION crm.phone_extension(crm.phone) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_extension'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_extension(crm.phone) IS 'extension digits of the number, NULL when it has none';

CREATE FUNCTION crm.phone_type(crm.phone) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_type'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 500;
COMMENT ON FUNCTION crm.phone_type(crm.phone) IS 'kind of number: mobile, fixed_line, fixed_line_or_mobile, toll_free, premium_rate, shared_cost, voip, personal_number, pager, uan, voicemail or unknown';

-- IMMUTABLE: libphonenumber's match takes no default region, so no setting
-- changes the result.
CREATE FUNCTION crm.phone_match(text, text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_match'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 2000;
COMMENT ON FUNCTION crm.phone_match(text, text) IS 'how closely two written numbers match: exact, nsn, short_nsn or none';

CREATE FUNCTION crm.phone_match(crm.phone, text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_match_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm.phone_match(crm.phone, text) IS 'how closely a phone and a written number match: exact, nsn, short_nsn or none';

CREATE FUNCTION crm.phone_match(crm.phone, crm.phone) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phone_match_phone'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 20;
COMMENT ON FUNCTION crm.phone_match(crm.phone, crm.phone) IS 'how closely two phones match: exact, short_nsn (e.g. one has an extension, the other not) or none';
