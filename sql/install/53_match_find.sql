-- crm install script, part 53: finding duplicates, clusters and pair
-- evidence (Fellegi-Sunter), over any table through a mapping.

-- The mapping crm.contacts is matched with when none is given.
CREATE FUNCTION crm.match_contacts_mapping() RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN '{"id": "id", "given_name": "given_name", "family_name": "family_name",
			 "email": "email", "phone": "phone", "city": "city", "region": "region",
			 "postcode": "postcode", "country": "country"}'::jsonb;
COMMENT ON FUNCTION crm.match_contacts_mapping() IS
	'the default dedupe mapping of crm.contacts';

-- The model for a canonical mapping: the one it names, else the newest one
-- trained on the same source with the same fields, else the shipped
-- defaults with a prior of one match per record (1 / n).  The source is
-- counted only in that last case, so a trained model costs no table scan.
CREATE FUNCTION crm._match_model(m jsonb, OUT model_id bigint, OUT weights float8[])
	LANGUAGE plpgsql STABLE
	-- STABLE: reads crm.matcher_models.
AS $$
DECLARE
	params jsonb;
	nrecords bigint;
BEGIN
	IF m ->> 'model' IS NOT NULL THEN
		SELECT mm.id, mm.params INTO model_id, params
		  FROM crm.matcher_models mm WHERE mm.id = (m ->> 'model')::bigint;
	ELSE
		SELECT mm.id, mm.params INTO model_id, params
		  FROM crm.matcher_models mm
		 WHERE mm.source = m ->> 'source' AND mm.fields = m -> 'fields'
		 ORDER BY mm.version DESC LIMIT 1;
	END IF;
	IF model_id IS NULL THEN
		EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s', (m ->> 'source')::regclass)
			INTO nrecords;
		weights := crm.match_model_weights(crm._match_mapping_kinds(m), '{}',
			1.0 / greatest(nrecords, 2));
	ELSE
		weights := crm.match_model_weights(crm._match_mapping_kinds(m), params -> 'fields',
			(params ->> 'prior')::float8);
	END IF;
END;
$$;
COMMENT ON FUNCTION crm._match_model(jsonb) IS
	'the model (id, or NULL for the shipped defaults) and weights a canonical dedupe mapping is scored with';

CREATE FUNCTION crm.find_duplicates(source regclass DEFAULT 'crm.contacts'::text::regclass, mapping jsonb DEFAULT NULL,
									min_probability float8 DEFAULT 0.9)
	RETURNS TABLE (id_a text, id_b text, probability float8, evidence jsonb)
	LANGUAGE plpgsql VOLATILE
	-- The records are read whole: plan for that, not for the
	-- first rows.
	SET cursor_tuple_fraction = 1
AS $$
DECLARE
	m jsonb;
	w float8[];
	mid bigint;
	kinds text[];
	cur refcursor;
BEGIN
	IF min_probability IS NULL OR min_probability <= 0 OR min_probability > 1 THEN
		RAISE EXCEPTION 'min_probability must be greater than 0 and at most 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	m := crm.match_mapping(source, mapping);
	kinds := crm._match_mapping_kinds(m);
	SELECT mm.model_id, mm.weights INTO mid, w FROM crm._match_model(m) mm;
	OPEN cur NO SCROLL FOR EXECUTE crm._match_records_sql(m);
	RETURN QUERY
	SELECT r.id_a, r.id_b, 1.0 / (1.0 + pg_catalog.power(2.0::float8, -r.weight)),
		   crm.match_explain(kinds, r.a, r.b, w) || pg_catalog.jsonb_build_object('model', mid)
	  FROM crm._match_run_pairs(kinds, w, cur, min_probability, crm._match_blocking_rules(m),
								(m ->> 'max_block_size')::int) r
	 ORDER BY r.weight DESC, r.id_a, r.id_b;
	CLOSE cur;
END;
$$;
COMMENT ON FUNCTION crm.find_duplicates(regclass, jsonb, float8) IS
	'pairs of records of a table that are probably the same entity, with the probability and the evidence in words';

CREATE FUNCTION crm.duplicate_clusters(source regclass DEFAULT 'crm.contacts'::text::regclass, mapping jsonb DEFAULT NULL,
									   min_probability float8 DEFAULT 0.9)
	RETURNS TABLE (cluster_id bigint, id text, probability float8)
	LANGUAGE plpgsql VOLATILE
	-- As crm.find_duplicates.
	SET cursor_tuple_fraction = 1
AS $$
DECLARE
	m jsonb;
	w float8[];
	cur refcursor;
BEGIN
	IF min_probability IS NULL OR min_probability <= 0 OR min_probability > 1 THEN
		RAISE EXCEPTION 'min_probability must be greater than 0 and at most 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	m := crm.match_mapping(source, mapping);
	SELECT mm.weights INTO w FROM crm._match_model(m) mm;
	OPEN cur NO SCROLL FOR EXECUTE crm._match_records_sql(m);
	RETURN QUERY
	SELECT pg_catalog.dense_rank() OVER (ORDER BY c.cluster)::bigint, c.id, c.probability
	  FROM crm._match_run_clusters(crm._match_mapping_kinds(m), w, cur, min_probability,
								   crm._match_blocking_rules(m), (m ->> 'max_block_size')::int) c
	 ORDER BY 1, 2;
	CLOSE cur;
END;
$$;
COMMENT ON FUNCTION crm.duplicate_clusters(regclass, jsonb, float8) IS
	'groups of records of a table that are probably one entity each, with each member''s strongest link';

-- Evidence and probability for two given records of a table.
CREATE FUNCTION crm.match_evidence(source regclass, id_a anyelement, id_b anyelement, mapping jsonb DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql STABLE
	-- STABLE: reads the source table and crm.matcher_models.
AS $$
DECLARE
	m jsonb := crm.match_mapping(source, mapping);
	w float8[];
	mid bigint;
	fa text[];
	fb text[];
BEGIN
	SELECT mm.model_id, mm.weights INTO mid, w FROM crm._match_model(m) mm;
	EXECUTE pg_catalog.format('SELECT r.f FROM (%s) r', crm._match_records_sql(m, true))
		INTO fa USING id_a::text;
	IF fa IS NULL THEN
		RAISE EXCEPTION 'record % not found in %', id_a, source USING ERRCODE = 'no_data_found';
	END IF;
	EXECUTE pg_catalog.format('SELECT r.f FROM (%s) r', crm._match_records_sql(m, true))
		INTO fb USING id_b::text;
	IF fb IS NULL THEN
		RAISE EXCEPTION 'record % not found in %', id_b, source USING ERRCODE = 'no_data_found';
	END IF;
	RETURN crm.match_explain(crm._match_mapping_kinds(m), fa, fb, w) || pg_catalog.jsonb_build_object('model', mid);
END;
$$;
COMMENT ON FUNCTION crm.match_evidence(regclass, anyelement, anyelement, jsonb) IS
	'why two records of a table do or do not match: each field''s comparison level and weight, in words';

CREATE FUNCTION crm.match_probability(source regclass, id_a anyelement, id_b anyelement, mapping jsonb DEFAULT NULL)
	RETURNS float8
	LANGUAGE sql STABLE
	-- STABLE: reads the source table and crm.matcher_models.
	AS $$ SELECT (crm.match_evidence(source, id_a, id_b, mapping) ->> 'probability')::float8 $$;
COMMENT ON FUNCTION crm.match_probability(regclass, anyelement, anyelement, jsonb) IS
	'probability that two records of a table are the same entity';

-- The finders' engine, summed up (src/match_cluster.c): the pairs
-- crm._match_run_pairs would return, counted, with the distinct ids they
-- name and the first `examples` of them in crm.find_duplicates' order.
-- VOLATILE and PARALLEL UNSAFE as crm._match_run_pairs.
CREATE FUNCTION crm._match_run_summary(kinds text[], weights float8[], records refcursor,
									   min_probability float8, blocking text[], max_block_size int, examples int)
	RETURNS TABLE (pairs bigint, ids bigint, id_a text[], id_b text[], weight float8[])
	AS 'MODULE_PATHNAME', 'crm_match_run_summary'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE COST 100000 ROWS 1;
COMMENT ON FUNCTION crm._match_run_summary(text[], float8[], refcursor, float8, text[], int, int) IS
	'how many candidate pairs of the records a cursor yields score at or above min_probability, the distinct ids they name, and the first examples';

-- What crm.find_duplicates finds, without the pairs: how many, how many
-- distinct records they name, and the strongest few.  The same engine,
-- records, blocking and scores, so the same pairs are counted; but no pair
-- is returned, no evidence built, and a pair is dropped as soon as its
-- score cannot reach min_probability.  For reports (the data audit's
-- step 3) and monitoring.
CREATE FUNCTION crm.duplicate_summary(source regclass DEFAULT 'crm.contacts'::text::regclass, mapping jsonb DEFAULT NULL,
									  min_probability float8 DEFAULT 0.9, examples int DEFAULT 5,
									  OUT pairs bigint, OUT records bigint, OUT example_a text[],
									  OUT example_b text[], OUT example_probability float8[])
	LANGUAGE plpgsql VOLATILE
	-- As crm.find_duplicates.
	SET cursor_tuple_fraction = 1
AS $$
DECLARE
	m jsonb;
	w float8[];
	cur refcursor;
BEGIN
	IF min_probability IS NULL OR min_probability <= 0 OR min_probability > 1 THEN
		RAISE EXCEPTION 'min_probability must be greater than 0 and at most 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF examples IS NULL OR examples < 0 OR examples > 1000 THEN
		RAISE EXCEPTION 'examples must be between 0 and 1000'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	m := crm.match_mapping(source, mapping);
	SELECT mm.weights INTO w FROM crm._match_model(m) mm;
	OPEN cur NO SCROLL FOR EXECUTE crm._match_records_sql(m);
	-- the probability exactly as crm.find_duplicates computes it
	SELECT s.pairs, s.ids, s.id_a, s.id_b,
		   ARRAY(SELECT 1.0 / (1.0 + pg_catalog.power(2.0::float8, -x.w))
				   FROM pg_catalog.unnest(s.weight) WITH ORDINALITY AS x(w, o) ORDER BY x.o)
	  INTO pairs, records, example_a, example_b, example_probability
	  FROM crm._match_run_summary(crm._match_mapping_kinds(m), w, cur, min_probability, crm._match_blocking_rules(m),
								  (m ->> 'max_block_size')::int, examples) s;
	CLOSE cur;
END;
$$;
COMMENT ON FUNCTION crm.duplicate_summary(regclass, jsonb, float8, int) IS
	'how many pairs crm.find_duplicates would return, how many distinct records they name, and the strongest few, without building the pairs';
