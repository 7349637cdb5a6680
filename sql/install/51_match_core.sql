-- crm install script, part 51: the record matcher's building blocks
-- (src/match.c) and its model store.
--
-- A record is a text[] of prepared values, one per field kind of a mapping;
-- a model is a float8[] of log2 Bayes factors (prior first, then each
-- field's comparison levels).  These functions are what find_duplicates
-- and train_matcher (part 52) run per pair; they are public so that users
-- can score pairs of their own making.

CREATE FUNCTION crm.match_kind_levels(kind text) RETURNS text[]
	AS 'MODULE_PATHNAME', 'crm_match_kind_levels'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.match_kind_levels(text) IS
	'comparison levels of a field kind, strongest agreement first';

CREATE FUNCTION crm.match_fold(text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_match_fold'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.match_fold(text) IS
	'text folded for matching: transliterated to ASCII, lower case, punctuation as single spaces; NULL when empty';

-- The finders' preparation of values (src/match_prepare.c): crm.match_fold(x)
-- and crm.match_fold(crm.normalize_name(x)), remembered per distinct input
-- for the query, and the digits of a phone with "+" or "~" in front.
CREATE FUNCTION crm._match_prepare_fold(text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_match_prepare_fold'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm._match_prepare_fold(text) IS
	'a value folded for matching: crm.match_fold(x), remembered per distinct input for the query';

CREATE FUNCTION crm._match_prepare_name(text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_match_prepare_name'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION crm._match_prepare_name(text) IS
	'a name prepared for matching: crm.match_fold(crm.normalize_name(x))';

CREATE FUNCTION crm._match_prepare_phone(text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_match_prepare_phone'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
COMMENT ON FUNCTION crm._match_prepare_phone(text) IS
	'a phone prepared for matching: "+" (written with a country code) or "~", then the digits before any extension; NULL without digits';

-- STABLE: given names and phones are compared through crm.given_names_match
-- and crm.phone_match when those exist, and phone parsing reads a GUC.
CREATE FUNCTION crm.match_levels(kinds text[], a text[], b text[]) RETURNS int2[]
	AS 'MODULE_PATHNAME', 'crm_match_levels'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 50;
COMMENT ON FUNCTION crm.match_levels(text[], text[], text[]) IS
	'comparison vector of two prepared records: per field the level index (0 = strongest), -1 when missing';

-- STABLE for the same reason as crm.match_levels.
CREATE FUNCTION crm.match_weight(kinds text[], a text[], b text[], weights float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'crm_match_weight'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 50;
COMMENT ON FUNCTION crm.match_weight(text[], text[], text[], float8[]) IS
	'match weight (log2 odds) of two prepared records under a model''s weights';

CREATE FUNCTION crm.match_levels_weight(kinds text[], levels int2[], weights float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'crm_match_levels_weight'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.match_levels_weight(text[], int2[], float8[]) IS
	'match weight (log2 odds) of a comparison vector under a model''s weights';

-- STABLE for the same reason as crm.match_levels.
CREATE FUNCTION crm.match_explain(kinds text[], a text[], b text[], weights float8[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'crm_match_explain'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 100;
COMMENT ON FUNCTION crm.match_explain(text[], text[], text[], float8[]) IS
	'evidence for a pair of prepared records: probability, total weight and each field''s level and weight in words';

CREATE FUNCTION crm.match_clusters(a int4[], b int4[], p float8[], n int, min_probability float8)
	RETURNS int4[]
	AS 'MODULE_PATHNAME', 'crm_match_clusters'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION crm.match_clusters(int4[], int4[], float8[], int, float8) IS
	'groups of records 1..n linked by scored pairs at or above min_probability, guarded against chaining through contradicted links';

-- The finders' engine (src/match_cluster.c): one cursor yields every
-- prepared record (rid, id, values); the records are grouped by the keys of
-- the blocking rules (blocks of 2 to max_block_size records), the candidate
-- pairs deduplicated, scored and, for clusters, grouped in one pass.
-- VOLATILE and PARALLEL UNSAFE: they fetch from the cursor, moving it to
-- its end.
CREATE FUNCTION crm._match_run_pairs(kinds text[], weights float8[], records refcursor,
									 min_probability float8, blocking text[], max_block_size int)
	RETURNS TABLE (id_a text, id_b text, weight float8, a text[], b text[])
	AS 'MODULE_PATHNAME', 'crm_match_run_pairs'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE COST 100000 ROWS 1000;
COMMENT ON FUNCTION crm._match_run_pairs(text[], float8[], refcursor, float8, text[], int) IS
	'candidate pairs of the records a cursor yields under blocking rules, scored: those at or above min_probability, with their weight and values';

-- VOLATILE and PARALLEL UNSAFE as crm._match_run_pairs.
CREATE FUNCTION crm._match_run_clusters(kinds text[], weights float8[], records refcursor,
										min_probability float8, blocking text[], max_block_size int)
	RETURNS TABLE (cluster int4, id text, probability float8)
	AS 'MODULE_PATHNAME', 'crm_match_run_clusters'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE COST 100000 ROWS 1000;
COMMENT ON FUNCTION crm._match_run_clusters(text[], float8[], refcursor, float8, text[], int) IS
	'groups (as crm.match_clusters) of the records a cursor yields under blocking rules: each member of a group of two or more, with its strongest link inside it';

-- The kinds a mapping may name, in the order fields are laid out.
CREATE FUNCTION crm.match_kinds() RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN ARRAY['id', 'given_name', 'family_name', 'full_name', 'email', 'phone', 'company',
				 'website', 'address', 'city', 'postcode', 'region', 'country', 'birth_date',
				 'external_id'];
COMMENT ON FUNCTION crm.match_kinds() IS 'field kinds a dedupe mapping may name';

-- Shipped parameters: m = P(level | same entity), u = P(level | different
-- entities), per kind, in the level order of crm.match_kind_levels().  They
-- are deliberately moderate; crm.train_matcher() replaces them per table.
CREATE FUNCTION crm.match_default_params() RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN '{
	  "given_name":  {"m": [0.78, 0.05, 0.01, 0.06, 0.04, 0.01, 0.05],
	                  "u": [0.005, 0.002, 0.0002, 0.008, 0.04, 0.01, 0.9348]},
	  "family_name": {"m": [0.84, 0.01, 0.07, 0.03, 0.05],
	                  "u": [0.002, 0.0002, 0.004, 0.03, 0.9638]},
	  "full_name":   {"m": [0.78, 0.08, 0.05, 0.04, 0.05],
	                  "u": [0.0005, 0.0005, 0.002, 0.02, 0.977]},
	  "email":       {"m": [0.78, 0.05, 0.03, 0.05, 0.09],
	                  "u": [0.00001, 0.00001, 0.0005, 0.001, 0.99848]},
	  "phone":       {"m": [0.78, 0.05, 0.03, 0.04, 0.10],
	                  "u": [0.00001, 0.00001, 0.00005, 0.0002, 0.99973]},
	  "company":     {"m": [0.78, 0.1, 0.05, 0.07],
	                  "u": [0.005, 0.003, 0.02, 0.972]},
	  "website":     {"m": [0.9, 0.1], "u": [0.005, 0.995]},
	  "address":     {"m": [0.72, 0.1, 0.08, 0.1],
	                  "u": [0.0005, 0.001, 0.01, 0.9885]},
	  "city":        {"m": [0.85, 0.05, 0.03, 0.07],
	                  "u": [0.02, 0.005, 0.02, 0.955]},
	  "postcode":    {"m": [0.85, 0.07, 0.08], "u": [0.005, 0.03, 0.965]},
	  "region":      {"m": [0.95, 0.05], "u": [0.2, 0.8]},
	  "country":     {"m": [0.97, 0.03], "u": [0.5, 0.5]},
	  "birth_date":  {"m": [0.8, 0.02, 0.1, 0.03, 0.05],
	                  "u": [0.0001, 0.00002, 0.003, 0.005, 0.99188]},
	  "external_id": {"m": [0.85, 0.07, 0.03, 0.05],
	                  "u": [0.00001, 0.00003, 0.0002, 0.99976]}
	}'::jsonb;
COMMENT ON FUNCTION crm.match_default_params() IS
	'the m and u probabilities per field kind used before any model is trained';

-- Trained models, versioned per source table.  User data: pg_dump keeps it.
CREATE TABLE crm.matcher_models (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source text NOT NULL,
	version int NOT NULL CHECK (version > 0),
	fields jsonb NOT NULL,
	params jsonb NOT NULL,
	trained_with text NOT NULL CHECK (trained_with IN ('unsupervised', 'labels')),
	stats jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	created_by name NOT NULL DEFAULT CURRENT_USER,
	UNIQUE (source, version)
);
COMMENT ON TABLE crm.matcher_models IS
	'trained dedupe models (m/u per field level and the prior), versioned per source table; the newest with the same fields is used';
SELECT pg_catalog.pg_extension_config_dump('crm.matcher_models', '');
SELECT pg_catalog.pg_extension_config_dump('crm.matcher_models_id_seq', '');
-- Models change every user's dedupe results: everyone reads them (the
-- finders run with the caller's rights), CRM admins train and delete them.
REVOKE ALL ON crm.matcher_models FROM PUBLIC;
GRANT SELECT ON crm.matcher_models TO PUBLIC;
GRANT INSERT, DELETE ON crm.matcher_models TO crm_admin;
ALTER TABLE crm.matcher_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.matcher_models FORCE ROW LEVEL SECURITY;
CREATE POLICY read_all ON crm.matcher_models FOR SELECT TO PUBLIC USING (true);
CREATE POLICY admin_insert ON crm.matcher_models FOR INSERT TO crm_admin
	WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY admin_delete ON crm.matcher_models FOR DELETE TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin');

-- Weights array of a model for the given field kinds: element 1 is the
-- prior log2 odds, then log2(m/u) for each level of each field in turn.
-- Kinds the params lack fall back to the shipped defaults.  In float8, not
-- numeric: numeric logarithms made this a tenth of the time of a whole
-- duplicate check (crm._contact_weights runs it on every check).
CREATE FUNCTION crm.match_model_weights(kinds text[], params jsonb, prior float8)
	RETURNS float8[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT ARRAY[pg_catalog.ln(prior / (1 - prior)) / pg_catalog.ln(2.0::float8)]
		|| coalesce(pg_catalog.array_agg(w ORDER BY k.ord, l.lvl), '{}')
	  FROM pg_catalog.unnest(kinds) WITH ORDINALITY AS k(kind, ord)
	  CROSS JOIN LATERAL (
		SELECT coalesce(params -> k.kind, crm.match_default_params() -> k.kind) AS p
	  ) AS src
	  CROSS JOIN LATERAL (
		SELECT g.lvl,
			   pg_catalog.ln(greatest((src.p -> 'm' ->> (g.lvl - 1))::float8, 1e-9)
							 / greatest((src.p -> 'u' ->> (g.lvl - 1))::float8, 1e-9))
			   / pg_catalog.ln(2.0::float8) AS w
		  FROM pg_catalog.generate_series(1, pg_catalog.cardinality(crm.match_kind_levels(k.kind))) AS g(lvl)
		 WHERE k.kind <> 'id'
	  ) AS l;
END;
COMMENT ON FUNCTION crm.match_model_weights(text[], jsonb, float8) IS
	'the float8[] weights crm.match_weight() takes, from m/u params per kind and a prior match probability';
