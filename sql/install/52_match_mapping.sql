-- crm install script, part 52: dedupe mappings, prepared records and
-- blocking, turned into SQL text for the finders (part 53).
--
-- A mapping says which columns of a table hold which field kinds:
--   {"id": "rec_id", "given_name": "given_name", "address": ["street", "suburb"], ...}
-- plus optional settings: "blocking" (a list of rules, each a list of
-- "kind" or "kind:transform" with transform exact, phonetic or initial, or
-- the order-free "name_initials" and "name_phonetic" of given and family
-- name together), "max_block_size" (blocks with more records are skipped,
-- default 100) and "model" (the id of a crm.matcher_models row to use).

-- Prepared-value expression of one field kind over a text expression.
-- Helpers from other parts of crm (email canonical form, name keys) are used
-- when installed, so a mapping gets the best normalisation available.
CREATE FUNCTION crm._match_prepare_expr(kind text, expr text) RETURNS text
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	-- STABLE: the choice depends on which helper functions exist.
AS $$
DECLARE
	canon text;
BEGIN
	CASE kind
	WHEN 'id' THEN
		RETURN expr;
	WHEN 'given_name', 'family_name', 'full_name' THEN
		-- crm._match_prepare_name(x) is crm.match_fold(crm.normalize_name(x)).
		IF pg_catalog.to_regprocedure('crm.normalize_name(text)') IS NOT NULL THEN
			RETURN pg_catalog.format('crm._match_prepare_name(%s)', expr);
		END IF;
		RETURN pg_catalog.format('crm._match_prepare_fold(%s)', expr);
	WHEN 'company' THEN
		IF pg_catalog.to_regprocedure('crm.company_key(text)') IS NOT NULL THEN
			RETURN pg_catalog.format('crm._match_prepare_fold(crm.company_key(%s))', expr);
		END IF;
		RETURN pg_catalog.format('crm._match_prepare_fold(%s)', expr);
	WHEN 'address' THEN
		IF pg_catalog.to_regprocedure('crm.address_key(text)') IS NOT NULL THEN
			RETURN pg_catalog.format('crm._match_prepare_fold(crm.address_key(%s))', expr);
		END IF;
		RETURN pg_catalog.format('crm._match_prepare_fold(%s)', expr);
	WHEN 'city', 'region', 'country' THEN
		RETURN pg_catalog.format('crm._match_prepare_fold(%s)', expr);
	WHEN 'website' THEN
		IF pg_catalog.to_regprocedure('crm.domain_key(text)') IS NOT NULL THEN
			RETURN pg_catalog.format('crm.domain_key(%s)', expr);
		END IF;
		RETURN pg_catalog.format(
			$f$NULLIF(pg_catalog.regexp_replace(pg_catalog.lower(%s), '^([a-z][a-z0-9+.-]*://)?(www\.)?([^/:?#]*).*$', '\3'), '')$f$,
			expr);
	WHEN 'email' THEN
		IF pg_catalog.to_regtype('crm.email') IS NOT NULL
		   AND pg_catalog.to_regprocedure('crm.email_canonical(crm.email)') IS NOT NULL
		   AND pg_catalog.to_regprocedure('crm.try_email(text)') IS NOT NULL THEN
			canon := pg_catalog.format('crm.email_canonical(crm.try_email(%s))::text', expr);
		ELSE
			-- Sub-addressing ("+tag") is the one canonical rule common to most providers.
			canon := pg_catalog.format($f$pg_catalog.regexp_replace(pg_catalog.lower(pg_catalog.btrim(%s)), '\+[^@]*@', '@')$f$, expr);
		END IF;
		RETURN pg_catalog.format(
			$f$NULLIF(pg_catalog.lower(pg_catalog.btrim(%1$s)), '') || pg_catalog.chr(31) || pg_catalog.lower(coalesce(%2$s, pg_catalog.btrim(%1$s)))$f$,
			expr, canon);
	WHEN 'phone' THEN
		-- "+digits" when written with a country code, else "~digits";
		-- anything from the first letter on (an extension) is left out.
		-- No parsing here (it costs tens of microseconds a value): match.c
		-- asks libphonenumber about the few pairs that need it.
		RETURN pg_catalog.format('crm._match_prepare_phone(%s)', expr);
	WHEN 'birth_date' THEN
		RETURN pg_catalog.format($f$NULLIF(pg_catalog.regexp_replace(%s, '[^0-9]', '', 'g'), '')$f$, expr);
	WHEN 'postcode' THEN
		RETURN pg_catalog.format($f$NULLIF(pg_catalog.upper(pg_catalog.regexp_replace(%s, '[^0-9A-Za-z]', '', 'g')), '')$f$, expr);
	WHEN 'external_id' THEN
		RETURN pg_catalog.format($f$NULLIF(pg_catalog.lower(pg_catalog.regexp_replace(%s, '[^0-9A-Za-z]', '', 'g')), '')$f$, expr);
	ELSE
		RAISE EXCEPTION 'unrecognized field kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value';
	END CASE;
END;
$$;
COMMENT ON FUNCTION crm._match_prepare_expr(text, text) IS
	'SQL expression that prepares a value of a field kind for comparison';

-- Validate a mapping against a table and put it in canonical form:
-- {"source", "id", "fields": [{"kind", "columns"}...] in kind order,
--  "blocking": [[...]...], "max_block_size", "model"}.
CREATE FUNCTION crm.match_mapping(source regclass, mapping jsonb) RETURNS jsonb
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	-- STABLE: reads the catalog (columns of source).
AS $$
DECLARE
	key text;
	val jsonb;
	cols text[];
	col text;
	fields jsonb := '[]';
	rules jsonb;
	rule jsonb;
	part text;
	kinds text[];
	names text[] := '{}';
	maxblock int := 100;
	model bigint;
BEGIN
	IF mapping IS NULL THEN
		IF source = pg_catalog.to_regclass('crm.contacts') AND source IS NOT NULL THEN
			mapping := crm.match_contacts_mapping();
		ELSE
			RAISE EXCEPTION 'a mapping is required for table %', source
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass a jsonb object from field kinds to column names, such as {"id": "id", "given_name": "first_name", "family_name": "last_name"}.';
		END IF;
	END IF;
	IF pg_catalog.jsonb_typeof(mapping) <> 'object' THEN
		RAISE EXCEPTION 'mapping must be a jsonb object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	FOR key, val IN SELECT * FROM pg_catalog.jsonb_each(mapping) LOOP
		CONTINUE WHEN key IN ('blocking', 'max_block_size', 'model');
		IF NOT key = ANY (crm.match_kinds()) THEN
			RAISE EXCEPTION 'unrecognized field kind "%" in mapping', key
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Field kinds are ' || pg_catalog.array_to_string(crm.match_kinds(), ', ')
						  || '; the settings are blocking, max_block_size and model.';
		END IF;
		IF pg_catalog.jsonb_typeof(val) = 'string' THEN
			cols := ARRAY[val #>> '{}'];
		ELSIF pg_catalog.jsonb_typeof(val) = 'array' AND pg_catalog.jsonb_array_length(val) > 0
			  AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(val) e
							   WHERE pg_catalog.jsonb_typeof(e) <> 'string') THEN
			cols := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(val));
		ELSE
			RAISE EXCEPTION 'mapping of field kind "%" must be a column name or an array of column names', key
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF key = 'id' AND pg_catalog.cardinality(cols) <> 1 THEN
			RAISE EXCEPTION 'mapping of field kind "id" must be a single column'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOREACH col IN ARRAY cols LOOP
			IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
							WHERE attrelid = source AND attname = col
							  AND attnum > 0 AND NOT attisdropped) THEN
				RAISE EXCEPTION 'column "%" of relation % does not exist', col, source
					USING ERRCODE = 'undefined_column',
						  DETAIL = pg_catalog.format('The mapping names it for field kind "%s".', key);
			END IF;
		END LOOP;
		fields := fields || pg_catalog.jsonb_build_array(
			pg_catalog.jsonb_build_object('kind', key, 'columns', pg_catalog.to_jsonb(cols)));
	END LOOP;

	IF NOT mapping ? 'id' THEN
		RAISE EXCEPTION 'mapping has no "id" column'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name the column that identifies a record, such as {"id": "id", ...}.';
	END IF;
	SELECT pg_catalog.jsonb_agg(f ORDER BY pg_catalog.array_position(crm.match_kinds(), f ->> 'kind'))
	  INTO fields FROM pg_catalog.jsonb_array_elements(fields) f;
	kinds := ARRAY(SELECT f ->> 'kind' FROM pg_catalog.jsonb_array_elements(fields) f);
	-- Order-free name keys, robust to swapped given and family names.
	IF 'given_name' = ANY (kinds) AND 'family_name' = ANY (kinds) THEN
		names := ARRAY['name_initials', 'name_phonetic'];
	END IF;
	IF pg_catalog.cardinality(kinds) < 2 THEN
		RAISE EXCEPTION 'mapping has no field to compare'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Map at least one field kind besides "id".';
	END IF;

	IF mapping ? 'max_block_size' THEN
		IF pg_catalog.jsonb_typeof(mapping -> 'max_block_size') <> 'number'
		   OR (mapping ->> 'max_block_size')::numeric < 2
		   OR (mapping ->> 'max_block_size')::numeric > 100000 THEN
			RAISE EXCEPTION 'max_block_size must be a number between 2 and 100000'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		maxblock := (mapping ->> 'max_block_size')::numeric::int;
	END IF;
	IF mapping ? 'model' THEN
		IF pg_catalog.jsonb_typeof(mapping -> 'model') <> 'number' THEN
			RAISE EXCEPTION 'model must be the id of a row in crm.matcher_models'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		model := (mapping ->> 'model')::bigint;
		IF NOT EXISTS (SELECT 1 FROM crm.matcher_models m WHERE m.id = model) THEN
			RAISE EXCEPTION 'model % does not exist', model
				USING ERRCODE = 'undefined_object';
		END IF;
	END IF;

	IF mapping ? 'blocking' THEN
		rules := mapping -> 'blocking';
		IF pg_catalog.jsonb_typeof(rules) <> 'array' OR pg_catalog.jsonb_array_length(rules) = 0 THEN
			RAISE EXCEPTION 'blocking must be a non-empty array of rules'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Each rule is an array of field kinds, optionally with a transform: [["email"], ["family_name:phonetic", "given_name:initial"]].';
		END IF;
	ELSE
		-- Default rules: each one whose kinds the mapping has.
		SELECT pg_catalog.jsonb_agg(r ORDER BY o) INTO rules
		  FROM pg_catalog.jsonb_array_elements('[
				["email"], ["phone"], ["external_id"],
				["family_name:phonetic", "given_name:initial"],
				["given_name:phonetic", "family_name:initial"],
				["name_phonetic"], ["full_name:phonetic"],
				["given_name"], ["family_name"], ["birth_date"],
				["postcode", "name_initials"], ["birth_date", "name_initials"],
				["birth_date", "postcode"], ["birth_date", "city"], ["birth_date", "region"],
				["company:phonetic"], ["website"], ["address"], ["address", "postcode"]
			]'::jsonb) WITH ORDINALITY AS t(r, o)
		 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements_text(t.r) p
							WHERE NOT pg_catalog.split_part(p, ':', 1) = ANY (kinds || names));
		IF rules IS NULL THEN
			RAISE EXCEPTION 'no default blocking rule fits this mapping'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Give "blocking" rules in the mapping, such as [["city", "company:phonetic"]].';
		END IF;
	END IF;
	FOR rule IN SELECT * FROM pg_catalog.jsonb_array_elements(rules) LOOP
		IF pg_catalog.jsonb_typeof(rule) <> 'array' OR pg_catalog.jsonb_array_length(rule) = 0 THEN
			RAISE EXCEPTION 'blocking rule % must be a non-empty array of field kinds', rule
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR part IN SELECT pg_catalog.jsonb_array_elements_text(rule) LOOP
			IF NOT pg_catalog.split_part(part, ':', 1) = ANY (kinds || names)
			   OR pg_catalog.split_part(part, ':', 1) = 'id' THEN
				RAISE EXCEPTION 'blocking rule % uses field kind "%", which the mapping does not have',
					rule, pg_catalog.split_part(part, ':', 1)
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			IF part LIKE '%:%' AND NOT pg_catalog.split_part(part, ':', 2) IN ('exact', 'phonetic', 'initial') THEN
				RAISE EXCEPTION 'unrecognized blocking transform "%"', pg_catalog.split_part(part, ':', 2)
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'Transforms are exact, phonetic and initial.';
			END IF;
		END LOOP;
	END LOOP;

	RETURN pg_catalog.jsonb_build_object(
		'source', source::text, 'id', mapping ->> 'id', 'fields', fields,
		'blocking', rules, 'max_block_size', maxblock, 'model', model);
END;
$$;
COMMENT ON FUNCTION crm.match_mapping(regclass, jsonb) IS
	'a dedupe mapping checked against its table and put in canonical form';

-- Field kinds of a canonical mapping, in field order.
CREATE FUNCTION crm._match_mapping_kinds(m jsonb) RETURNS text[]
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN ARRAY(SELECT f ->> 'kind' FROM pg_catalog.jsonb_array_elements(m -> 'fields') WITH ORDINALITY AS t(f, o) ORDER BY o);
COMMENT ON FUNCTION crm._match_mapping_kinds(jsonb) IS 'field kinds of a canonical dedupe mapping, in field order';

-- SELECT list producing (rid int, id text, f text[]) over the source table.
CREATE FUNCTION crm._match_records_sql(m jsonb, by_id bool DEFAULT false) RETURNS text
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	-- STABLE: see crm.match_prepare_expr.
AS $$
DECLARE
	exprs text[] := '{}';
	f jsonb;
	raw text;
BEGIN
	FOR f IN SELECT * FROM pg_catalog.jsonb_array_elements(m -> 'fields') LOOP
		-- Dates are written YYYYMMDD whatever DateStyle says, so day and
		-- month keep their places.
		SELECT CASE WHEN pg_catalog.count(*) = 1 THEN pg_catalog.min(e)
					ELSE 'pg_catalog.concat_ws('' '', ' || pg_catalog.string_agg(e, ', ' ORDER BY o) || ')' END
		  INTO raw
		  FROM (SELECT t.o, CASE WHEN a.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)
								 THEN pg_catalog.format('pg_catalog.to_char(%I, ''YYYYMMDD'')', t.c)
								 ELSE pg_catalog.format('%I::text', t.c) END AS e
				  FROM pg_catalog.jsonb_array_elements_text(f -> 'columns') WITH ORDINALITY AS t(c, o)
				  JOIN pg_catalog.pg_attribute a
					ON a.attrelid = (m ->> 'source')::regclass AND a.attname = t.c) AS cols;
		IF f ->> 'kind' = 'birth_date' AND raw LIKE 'pg\_catalog.to\_char(%' THEN
			-- One date column: to_char gives digits only, or NULL (for NULL
			-- and infinity), which the preparation below leaves as they are.
			exprs := exprs || raw;
			CONTINUE;
		END IF;
		raw := pg_catalog.format('NULLIF(pg_catalog.btrim(%s), '''')', raw);
		exprs := exprs || crm._match_prepare_expr(f ->> 'kind', raw);
	END LOOP;
	RETURN pg_catalog.format(
		'SELECT (pg_catalog.row_number() OVER (ORDER BY %1$I))::int AS rid, %1$I::text AS id, ARRAY[%2$s]::text[] AS f FROM %3$s WHERE %1$I IS NOT NULL%4$s',
		m ->> 'id', pg_catalog.array_to_string(exprs, ', '), (m ->> 'source')::regclass,
		CASE WHEN by_id THEN
			pg_catalog.format(' AND %I = $1::text::%s', m ->> 'id',
				(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
				  WHERE a.attrelid = (m ->> 'source')::regclass AND a.attname = m ->> 'id'))
		ELSE '' END);
END;
$$;
COMMENT ON FUNCTION crm._match_records_sql(jsonb, bool) IS
	'SQL text selecting (rid, id, prepared values) from the source of a canonical dedupe mapping, or only the record whose id is $1';

-- SQL text of a query of (rule, key) over a prepared record "r": one
-- blocking key per rule, NULL when the record has no key for it.  Training
-- blocks with it; the finders compute the same keys in C, once per distinct
-- value (src/match_block.c), and test/dedupe_engine.sql holds the two to the
-- same pairs.
CREATE FUNCTION crm._match_keys_sql(m jsonb) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
	kinds text[] := crm._match_mapping_kinds(m);
	rule jsonb;
	rno int := 0;
	part text;
	idx int;
	e text;
	parts text[];
	conds text[];
	vals text[] := '{}';
BEGIN
	FOR rule IN SELECT * FROM pg_catalog.jsonb_array_elements(m -> 'blocking') LOOP
		rno := rno + 1;
		parts := '{}';
		conds := '{}';
		FOR part IN SELECT pg_catalog.jsonb_array_elements_text(rule) LOOP
			IF part IN ('name_initials', 'name_phonetic') THEN
				e := CASE part WHEN 'name_initials' THEN 'pg_catalog.left(%1$s, 1)' ELSE 'crm.phonetic_key(%1$s)' END;
				-- The two keys in sorted order, space-separated (either alone
				-- when the other is missing).
				e := pg_catalog.format('(CASE WHEN %1$s IS NULL THEN %2$s WHEN %2$s IS NULL THEN %1$s ELSE LEAST(%1$s, %2$s) || '' '' || GREATEST(%1$s, %2$s) END)',
					pg_catalog.format(e, pg_catalog.format('r.f[%s]', pg_catalog.array_position(kinds, 'given_name'))),
					pg_catalog.format(e, pg_catalog.format('r.f[%s]', pg_catalog.array_position(kinds, 'family_name'))));
				parts := parts || e;
				conds := conds || pg_catalog.format('%s LIKE ''_%% _%%''', e);
				CONTINUE;
			END IF;
			idx := pg_catalog.array_position(kinds, pg_catalog.split_part(part, ':', 1));
			e := pg_catalog.format('r.f[%s]', idx);
			IF kinds[idx] = 'email' THEN
				e := pg_catalog.format('pg_catalog.split_part(%s, pg_catalog.chr(31), 2)', e);
			ELSIF kinds[idx] = 'phone' THEN
				e := pg_catalog.format($f$pg_catalog.right(pg_catalog.regexp_replace(%s, '[^0-9]', '', 'g'), 8)$f$, e);
			END IF;
			CASE pg_catalog.split_part(part, ':', 2)
			WHEN 'phonetic' THEN e := pg_catalog.format('crm.phonetic_key(%s)', e);
			WHEN 'initial' THEN e := pg_catalog.format('pg_catalog.left(%s, 1)', e);
			ELSE NULL;
			END CASE;
			parts := parts || e;
			conds := conds || pg_catalog.format('%s <> ''''', e);
		END LOOP;
		vals := vals || pg_catalog.format('CASE WHEN %s THEN %s END',
			pg_catalog.array_to_string(conds, ' AND '),
			pg_catalog.array_to_string(parts, ' || pg_catalog.chr(31) || '));
	END LOOP;
	-- One array, not a VALUES list: VALUES compiles its expressions again
	-- for each outer record.
	RETURN pg_catalog.format(
		'SELECT u.o::int, u.key FROM pg_catalog.unnest(ARRAY[%s]::text[]) WITH ORDINALITY AS u(key, o)',
		pg_catalog.array_to_string(vals, ', '));
END;
$$;
COMMENT ON FUNCTION crm._match_keys_sql(jsonb) IS
	'SQL text of the blocking keys (rule, key) of a prepared record r under a canonical dedupe mapping';

-- SQL text selecting candidate pairs (ra, rb, rule) from a CTE "rec" of
-- prepared records: one key per record and blocking rule, blocks above
-- max_block_size skipped, pairs deduplicated across rules unless per_rule.
CREATE FUNCTION crm._match_pairs_sql(m jsonb, per_rule bool DEFAULT false) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN pg_catalog.format($q$
	keys AS MATERIALIZED (
		SELECT r.rid, k.rule, k.key, pg_catalog.count(*) OVER (PARTITION BY k.rule, k.key) AS n
		  FROM rec r CROSS JOIN LATERAL (%s) AS k(rule, key)
		 WHERE k.key IS NOT NULL),
	pairs AS (
		SELECT %s a.rid AS ra, b.rid AS rb %s
		  FROM keys a JOIN keys b ON a.rule = b.rule AND a.key = b.key AND a.rid < b.rid
		 WHERE a.n <= %s AND b.n <= %s)$q$,
		crm._match_keys_sql(m),
		CASE WHEN per_rule THEN '' ELSE 'DISTINCT' END,
		CASE WHEN per_rule THEN ', a.rule' ELSE '' END,
		(m ->> 'max_block_size')::int, (m ->> 'max_block_size')::int);
COMMENT ON FUNCTION crm._match_pairs_sql(jsonb, bool) IS
	'SQL text of the blocking CTEs of a canonical dedupe mapping: candidate pairs (ra, rb) of CTE rec';

-- The blocking rules of a canonical mapping as crm._match_run_pairs and
-- crm._match_run_clusters take them: one text per rule, its parts
-- separated by spaces.  They compute the same keys as crm._match_keys_sql,
-- once per distinct value, and group them in memory (src/match_block.c).
CREATE FUNCTION crm._match_blocking_rules(m jsonb) RETURNS text[]
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN ARRAY(SELECT (SELECT pg_catalog.string_agg(p.part, ' ' ORDER BY p.o)
						   FROM pg_catalog.jsonb_array_elements_text(t.r) WITH ORDINALITY AS p(part, o))
				   FROM pg_catalog.jsonb_array_elements(m -> 'blocking') WITH ORDINALITY AS t(r, o)
				  ORDER BY t.o);
COMMENT ON FUNCTION crm._match_blocking_rules(jsonb) IS
	'blocking rules of a canonical dedupe mapping as crm._match_run_pairs takes them';
