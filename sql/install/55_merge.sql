-- crm install script, part 55: merging duplicate contacts without losing
-- anything, and undoing a merge.
--
-- A merge keeps one contact (the survivor), takes each field group from the
-- record a survivorship rule picks, re-points every row of every table
-- whose foreign key references the merged contacts (found in the catalog,
-- users' own tables included) to the survivor, and deletes the others.
-- Their emails, phones and addresses live on in the survivor's history
-- tables, which are such referencing tables.  crm.merges keeps the rows as
-- they were before and after, so crm.unmerge can put everything back and
-- can tell when later changes would be overwritten.  Everything runs with
-- the caller's rights: row-level security decides what may be merged.

CREATE TABLE crm.merges (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	survivor_id bigint NOT NULL,
	duplicate_ids bigint[] NOT NULL,
	rules jsonb NOT NULL DEFAULT '{}',
	before jsonb NOT NULL,
	after jsonb NOT NULL,
	merged_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	merged_by name NOT NULL DEFAULT CURRENT_USER,
	undone_at timestamptz,
	undone_by name
);
COMMENT ON TABLE crm.merges IS
	'contact merges with full snapshots of the rows before and after, so crm.unmerge can restore them';
COMMENT ON COLUMN crm.merges.before IS
	'the merged contacts and every row referencing them, as they were before the merge';
COMMENT ON COLUMN crm.merges.after IS
	'the survivor and every row referencing it, as the merge left them';
SELECT pg_catalog.pg_extension_config_dump('crm.merges', '');
GRANT SELECT, INSERT, UPDATE ON crm.merges TO PUBLIC;
ALTER TABLE crm.merges ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.merges FORCE ROW LEVEL SECURITY;
-- Whoever merged sees and undoes their merges; CRM admins see all.
CREATE POLICY own_or_admin ON crm.merges FOR ALL TO PUBLIC
	USING (merged_by = CURRENT_USER OR (SELECT crm.current_crm_role()) = 'admin')
	WITH CHECK (merged_by = CURRENT_USER OR (SELECT crm.current_crm_role()) = 'admin');

-- Tables whose foreign keys reference crm.contacts: (table, column, key),
-- where key is the primary key without the referencing column (the row's
-- identity across a re-point), or the whole primary key when that is all.
CREATE FUNCTION crm._contact_references(OUT tab regclass, OUT col name, OUT pk name[])
	RETURNS SETOF record
	LANGUAGE sql STABLE
	-- STABLE: reads the catalog.
BEGIN ATOMIC
	SELECT x.tab, x.col,
		   CASE WHEN pg_catalog.cardinality(pg_catalog.array_remove(x.pk, x.col)) > 0
				THEN pg_catalog.array_remove(x.pk, x.col) ELSE x.pk END
	  FROM (SELECT c.conrelid::regclass AS tab, a.attname AS col,
				   ARRAY(SELECT pa.attname FROM pg_catalog.pg_index i
								CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, o)
								JOIN pg_catalog.pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = k.attnum
						  WHERE i.indrelid = c.conrelid AND i.indisprimary ORDER BY k.o) AS pk
			  FROM pg_catalog.pg_constraint c
			  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
			 WHERE c.contype = 'f' AND c.confrelid = 'crm.contacts'::regclass
			   AND pg_catalog.cardinality(c.conkey) = 1) AS x
	 ORDER BY x.tab::text, x.col;
END;

-- How many rows reference the given contacts, counting rows the caller
-- cannot see.  SECURITY DEFINER: a merge must not delete a contact while
-- rows hidden from the caller by row-level security still reference it
-- (ON DELETE CASCADE would destroy them); only a count is returned.
CREATE FUNCTION crm._contact_reference_count(ids bigint[]) RETURNS bigint
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	-- STABLE: reads tables.
AS $$
DECLARE
	r record;
	n bigint;
	total bigint := 0;
BEGIN
	FOR r IN SELECT * FROM crm._contact_references() LOOP
		EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s WHERE %I = ANY ($1)', r.tab, r.col)
			INTO n USING ids;
		total := total + n;
	END LOOP;
	RETURN total;
END;
$$;
REVOKE ALL ON FUNCTION crm._contact_reference_count(bigint[]) FROM PUBLIC;

-- Rows referencing the given contacts, per table: [{table, column, pk, rows}].
CREATE FUNCTION crm._contact_reference_rows(ids bigint[]) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	-- STABLE: reads tables.
AS $$
DECLARE
	r record;
	rows jsonb;
	out jsonb := '[]';
BEGIN
	FOR r IN SELECT * FROM crm._contact_references() LOOP
		EXECUTE pg_catalog.format('SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t) ORDER BY t.ctid) FROM %s t WHERE %I = ANY ($1)',
								  r.tab, r.col)
			INTO rows USING ids;
		CONTINUE WHEN rows IS NULL;
		IF pg_catalog.cardinality(r.pk) = 0 THEN
			RAISE EXCEPTION 'table % references crm.contacts but has no primary key', r.tab
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'A merge re-points its rows and must find them again to undo the merge.',
					  HINT = 'Add a primary key to the table.';
		END IF;
		out := out || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
			'table', r.tab::text, 'column', r.col, 'pk', pg_catalog.to_jsonb(r.pk), 'rows', rows));
	END LOOP;
	RETURN out;
END;
$$;

-- Primary key values of a row as jsonb, for matching snapshots.
CREATE FUNCTION crm._pk_of(row_ jsonb, pk jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN (SELECT pg_catalog.jsonb_object_agg(k, row_ -> k) FROM pg_catalog.jsonb_array_elements_text(pk) AS k);

-- Primary keys of a table's rows in a snapshot, as a jsonb array.
-- With col, the referencing column is part of the key.
CREATE FUNCTION crm._snapshot_pks(refs jsonb, tab regclass, col name DEFAULT NULL) RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (SELECT coalesce(pg_catalog.jsonb_agg(crm._pk_of(x,
					CASE WHEN col IS NULL THEN t -> 'pk' ELSE (t -> 'pk') || pg_catalog.to_jsonb(col) END)), '[]')
			  FROM pg_catalog.jsonb_array_elements(refs) AS t, pg_catalog.jsonb_array_elements(t -> 'rows') AS x
			 WHERE t ->> 'table' = tab::text);

CREATE FUNCTION crm.merge_contacts(survivor bigint, duplicates bigint[], rules jsonb DEFAULT NULL)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	groups jsonb := '{
		"given_name": ["given_name"], "family_name": ["family_name"],
		"email": ["email", "email_verified_at", "email_source"],
		"phone": ["phone", "phone_verified_at", "phone_source"],
		"address": ["city", "region", "postcode", "country", "address_verified_at", "address_source"],
		"title": ["title", "title_verified_at", "title_source"],
		"job_function": ["job_function", "job_function_verified_at"],
		"account": ["account_id", "account_verified_at", "account_source"],
		"lead_source": ["lead_source"]}';
	defaults jsonb := '{
		"given_name": "survivor", "family_name": "survivor", "email": "most_recent",
		"phone": "most_recent", "address": "most_recent", "title": "most_recent",
		"job_function": "most_recent", "account": "most_recent", "lead_source": "survivor"}';
	stages text[] := ARRAY['subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer', 'evangelist'];
	ids bigint[];
	recs jsonb;
	n int;
	g text;
	rule text;
	cols text[];
	pick int;
	newrow jsonb;
	before_refs jsonb;
	after_refs jsonb;
	r record;
	merge_id bigint;
	leftover bigint;
	prev_check text;
BEGIN
	IF survivor IS NULL OR duplicates IS NULL OR pg_catalog.cardinality(duplicates) = 0 THEN
		RAISE EXCEPTION 'a merge needs a survivor and at least one duplicate'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF survivor = ANY (duplicates) OR EXISTS (SELECT 1 FROM pg_catalog.unnest(duplicates) d WHERE d IS NULL)
	   OR (SELECT pg_catalog.count(DISTINCT d) FROM pg_catalog.unnest(duplicates) d) <> pg_catalog.cardinality(duplicates) THEN
		RAISE EXCEPTION 'duplicates must be distinct, not null and must not include the survivor'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	rules := coalesce(rules, '{}');
	IF pg_catalog.jsonb_typeof(rules) <> 'object' THEN
		RAISE EXCEPTION 'rules must be a jsonb object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR g, rule IN SELECT k, v FROM pg_catalog.jsonb_each_text(rules) AS e(k, v) LOOP
		IF NOT groups ? g THEN
			RAISE EXCEPTION 'unrecognized merge field "%"', g
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Fields are given_name, family_name, email, phone, address, title, job_function, account and lead_source.';
		END IF;
		IF rule NOT IN ('survivor', 'most_recent', 'most_complete', 'most_frequent') THEN
			RAISE EXCEPTION 'unrecognized survivorship rule "%" for field "%"', rule, g
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Rules are survivor, most_recent, most_complete and most_frequent.';
		END IF;
	END LOOP;
	ids := ARRAY[survivor] || duplicates;

	-- Lock the contacts; FOR UPDATE also applies the caller's UPDATE policies.
	SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c) ORDER BY pg_catalog.array_position(ids, c.id)), pg_catalog.count(*)
	  INTO recs, n
	  FROM (SELECT * FROM crm.contacts c WHERE c.id = ANY (ids) ORDER BY c.id FOR UPDATE) c;
	IF n <> pg_catalog.cardinality(ids) THEN
		RAISE EXCEPTION 'contact % does not exist or you may not change it',
			(SELECT pg_catalog.min(i) FROM pg_catalog.unnest(ids) i
			  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(recs) e WHERE (e ->> 'id')::bigint = i))
			USING ERRCODE = 'insufficient_privilege';
	END IF;

	-- Survivorship: each field group comes whole from one record.
	newrow := recs -> 0;
	FOR g, cols IN SELECT k, ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v)) FROM pg_catalog.jsonb_each(groups) AS e(k, v) LOOP
		rule := coalesce(rules ->> g, defaults ->> g);
		WITH cand AS (
			SELECT o - 1 AS i, e ->> cols[1] AS v,
				   coalesce((e ->> (g || '_verified_at'))::timestamptz,
							(e ->> (CASE g WHEN 'account' THEN 'account' ELSE g END || '_verified_at'))::timestamptz,
							(e ->> 'updated_at')::timestamptz) AS t
			  FROM pg_catalog.jsonb_array_elements(recs) WITH ORDINALITY AS a(e, o)
			 WHERE e ->> cols[1] IS NOT NULL AND e ->> cols[1] <> '')
		SELECT CASE rule
				 WHEN 'survivor' THEN (SELECT pg_catalog.min(i) FROM cand)
				 WHEN 'most_recent' THEN (SELECT i FROM cand ORDER BY t DESC NULLS LAST, i LIMIT 1)
				 WHEN 'most_complete' THEN (SELECT i FROM cand ORDER BY pg_catalog.length(v) DESC, i LIMIT 1)
				 ELSE (SELECT i FROM cand c1 ORDER BY (SELECT pg_catalog.count(*) FROM cand c2 WHERE c2.v = c1.v) DESC, i LIMIT 1)
			   END INTO pick;
		CONTINUE WHEN pick IS NULL OR pick = 0;
		SELECT newrow || pg_catalog.jsonb_object_agg(c, (recs -> pick) -> c) INTO newrow
		  FROM pg_catalog.unnest(cols) AS c;
	END LOOP;
	-- Lifecycle keeps the furthest stage any of them reached.
	newrow := newrow || pg_catalog.jsonb_build_object('lifecycle_stage',
		(SELECT s FROM pg_catalog.jsonb_array_elements(recs) e, LATERAL (SELECT e ->> 'lifecycle_stage' AS s) x
		  ORDER BY pg_catalog.array_position(stages, s) DESC NULLS LAST LIMIT 1));

	-- The merged records match each other, so the duplicate rules (part 56)
	-- stand aside until the merge is done.
	prev_check := pg_catalog.current_setting('crm.duplicate_check', true);
	PERFORM pg_catalog.set_config('crm.duplicate_check', 'off', true);

	-- Snapshot, then re-point every referencing row to the survivor.
	before_refs := crm._contact_reference_rows(ids);
	FOR r IN SELECT * FROM crm._contact_references() LOOP
		-- A row the survivor (or an earlier duplicate) already has under the
		-- same key (the same tag, the same campaign) is not moved but
		-- dropped; the snapshot keeps it for crm.unmerge.
		IF NOT r.col = ANY (r.pk) THEN
			EXECUTE pg_catalog.format(
				'DELETE FROM %1$s d WHERE d.%2$I = ANY ($2) AND EXISTS (SELECT 1 FROM %1$s s WHERE s.%2$I = ANY ($1)
					AND pg_catalog.array_position($1, s.%2$I) < pg_catalog.array_position($1, d.%2$I) AND %3$s)',
				r.tab, r.col,
				(SELECT pg_catalog.string_agg(pg_catalog.format('s.%1$I = d.%1$I', k), ' AND ') FROM pg_catalog.unnest(r.pk) AS k))
				USING ids, duplicates;
		END IF;
		EXECUTE pg_catalog.format('UPDATE %s SET %I = $1 WHERE %I = ANY ($2)', r.tab, r.col, r.col)
			USING survivor, duplicates;
	END LOOP;
	leftover := crm._contact_reference_count(duplicates);
	IF leftover > 0 THEN
		RAISE EXCEPTION 'cannot merge: % rows you may not change still reference the duplicates', leftover
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Ask a CRM admin to merge these contacts.';
	END IF;

	UPDATE crm.contacts c SET
		given_name = n.given_name, family_name = n.family_name,
		email = n.email, email_verified_at = n.email_verified_at, email_source = n.email_source,
		phone = n.phone, phone_verified_at = n.phone_verified_at, phone_source = n.phone_source,
		city = n.city, region = n.region, postcode = n.postcode, country = n.country,
		address_verified_at = n.address_verified_at, address_source = n.address_source,
		title = n.title, title_verified_at = n.title_verified_at, title_source = n.title_source,
		job_function = n.job_function, job_function_verified_at = n.job_function_verified_at,
		account_id = n.account_id, account_verified_at = n.account_verified_at, account_source = n.account_source,
		lead_source = n.lead_source,
		-- Re-pointed activities may already have scored the survivor further
		-- (e.g. to mql) during this merge; never move it back.
		lifecycle_stage = CASE
			WHEN pg_catalog.array_position(stages, c.lifecycle_stage)
				 > pg_catalog.array_position(stages, n.lifecycle_stage)
			THEN c.lifecycle_stage ELSE n.lifecycle_stage END
	  FROM pg_catalog.jsonb_populate_record(NULL::crm.contacts, newrow) n
	 WHERE c.id = survivor;
	DELETE FROM crm.contacts WHERE id = ANY (duplicates);

	after_refs := crm._contact_reference_rows(ARRAY[survivor]);
	INSERT INTO crm.merges (survivor_id, duplicate_ids, rules, before, after)
	VALUES (survivor, duplicates, rules,
			pg_catalog.jsonb_build_object('contacts', recs, 'refs', before_refs),
			pg_catalog.jsonb_build_object('contacts',
				(SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c)) FROM crm.contacts c WHERE c.id = survivor),
				'refs', after_refs))
	RETURNING id INTO merge_id;
	PERFORM pg_catalog.set_config('crm.duplicate_check', coalesce(prev_check, ''), true);
	RETURN merge_id;
END;
$$;
COMMENT ON FUNCTION crm.merge_contacts(bigint, bigint[], jsonb) IS
	'merge duplicate contacts into a survivor: fields by survivorship rules, every referencing row re-pointed, snapshots kept for crm.unmerge; returns the merge id';

-- Within crm.unmerge: delete the rows referencing the merged contacts that
-- the merge made (a key its result has and the original rows did not) or
-- that the undo itself made (a row, key and contact, neither there when it
-- began nor in the original rows: history and scoring rows written by
-- triggers).
CREATE FUNCTION crm._unmerge_sweep(ids bigint[], before_refs jsonb, after_refs jsonb, now_refs jsonb,
								   only_table regclass DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM crm._contact_references() c WHERE only_table IS NULL OR c.tab = only_table LOOP
		EXECUTE pg_catalog.format(
			'DELETE FROM %s t WHERE t.%I = ANY ($1)
			    AND ((NOT $2 @> pg_catalog.jsonb_build_array(crm._pk_of(pg_catalog.to_jsonb(t), $5))
			          AND $3 @> pg_catalog.jsonb_build_array(crm._pk_of(pg_catalog.to_jsonb(t), $5)))
			         OR NOT ($4 || $7) @> pg_catalog.jsonb_build_array(crm._pk_of(pg_catalog.to_jsonb(t), $6)))',
			r.tab, r.col)
			USING ids, crm._snapshot_pks(before_refs, r.tab), crm._snapshot_pks(after_refs, r.tab),
				  crm._snapshot_pks(now_refs, r.tab, r.col), pg_catalog.to_jsonb(r.pk),
				  pg_catalog.to_jsonb(r.pk) || pg_catalog.to_jsonb(r.col),
				  crm._snapshot_pks(before_refs, r.tab, r.col);
	END LOOP;
END;
$$;

CREATE FUNCTION crm.unmerge(merge_id bigint) RETURNS void
	LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	m crm.merges;
	t jsonb;
	rowj jsonb;
	cur jsonb;
	colnames text;
	setlist text;
	pkcond text;
	ids bigint[];
	now_refs jsonb;
	r record;
	prev_check text;
BEGIN
	SELECT * INTO m FROM crm.merges WHERE id = merge_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'merge % does not exist or is not yours', merge_id USING ERRCODE = 'undefined_object';
	END IF;
	IF m.undone_at IS NOT NULL THEN
		RAISE EXCEPTION 'merge % was already undone at %', merge_id, m.undone_at
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	ids := ARRAY[m.survivor_id] || m.duplicate_ids;

	-- Refuse when anything the merge left has changed since.
	SELECT pg_catalog.to_jsonb(c) INTO cur FROM crm.contacts c WHERE c.id = m.survivor_id FOR UPDATE;
	IF cur IS DISTINCT FROM m.after -> 'contacts' -> 0 THEN
		RAISE EXCEPTION 'cannot undo merge %: contact % changed after the merge', merge_id, m.survivor_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = CASE WHEN cur IS NULL THEN 'The contact was deleted.'
						   ELSE 'Changed fields: ' || (SELECT pg_catalog.string_agg(k, ', ' ORDER BY k)
								FROM pg_catalog.jsonb_each(cur) AS e(k, v)
							   WHERE v IS DISTINCT FROM (m.after -> 'contacts' -> 0) -> k) || '.' END,
				  HINT = 'Undo or repeat those changes by hand, or merge again.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.contacts c WHERE c.id = ANY (m.duplicate_ids)) THEN
		RAISE EXCEPTION 'cannot undo merge %: a contact with a merged id exists again', merge_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	FOR t IN SELECT * FROM pg_catalog.jsonb_array_elements(m.after -> 'refs') LOOP
		FOR rowj IN SELECT * FROM pg_catalog.jsonb_array_elements(t -> 'rows') LOOP
			pkcond := (SELECT pg_catalog.string_agg(pg_catalog.format('t.%I::text = %L', k, rowj ->> k), ' AND ')
						 FROM pg_catalog.jsonb_array_elements_text(t -> 'pk') AS k);
			EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s t WHERE %s AND t.%I = $1 FOR UPDATE',
									  t ->> 'table', pkcond, t ->> 'column')
				INTO cur USING m.survivor_id;
			IF cur IS DISTINCT FROM rowj THEN
				RAISE EXCEPTION 'cannot undo merge %: a row of % changed after the merge', merge_id, t ->> 'table'
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  DETAIL = pg_catalog.format('The row with %s is %s.', crm._pk_of(rowj, t -> 'pk'),
											 CASE WHEN cur IS NULL THEN 'gone' ELSE 'different' END),
						  HINT = 'Undo or repeat that change by hand, or leave the merge in place.';
			END IF;
		END LOOP;
	END LOOP;

	-- Rows referencing the contacts now, before anything is put back.
	now_refs := crm._contact_reference_rows(ids);
	prev_check := pg_catalog.current_setting('crm.duplicate_check', true);
	PERFORM pg_catalog.set_config('crm.duplicate_check', 'off', true);

	-- Put the contacts back: the survivor's values, the duplicates' rows.
	colnames := (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
				   FROM pg_catalog.pg_attribute a
				  WHERE a.attrelid = 'crm.contacts'::regclass AND a.attnum > 0 AND NOT a.attisdropped);
	setlist := (SELECT pg_catalog.string_agg(pg_catalog.format('%1$I = r.%1$I', a.attname), ', ' ORDER BY a.attnum)
				  FROM pg_catalog.pg_attribute a
				 WHERE a.attrelid = 'crm.contacts'::regclass AND a.attnum > 0 AND NOT a.attisdropped
				   AND a.attname <> 'id');
	-- The survivor's lifecycle may move back to where it was: say so to the
	-- scoring part's guard (part 63, crm.set_lifecycle_stage does the same).
	PERFORM pg_catalog.set_config('crm.lifecycle_override', m.survivor_id::text, true);
	PERFORM pg_catalog.set_config('crm.lifecycle_reason', pg_catalog.format('undo of merge %s', merge_id), true);
	EXECUTE pg_catalog.format('UPDATE crm.contacts c SET %s FROM pg_catalog.jsonb_populate_record(NULL::crm.contacts, $1) r WHERE c.id = r.id',
							  setlist)
		USING m.before -> 'contacts' -> 0;
	EXECUTE pg_catalog.format('INSERT INTO crm.contacts (%1$s) SELECT %1$s FROM pg_catalog.jsonb_populate_recordset(NULL::crm.contacts, $1) r WHERE r.id <> $2',
							  colnames)
		USING m.before -> 'contacts', m.survivor_id;

	-- Rows of the before snapshot get their values back: the row that kept
	-- its key through the merge is updated, rows the merge dropped return.
	PERFORM crm._unmerge_sweep(ids, m.before -> 'refs', m.after -> 'refs', now_refs);
	FOR t IN SELECT * FROM pg_catalog.jsonb_array_elements(m.before -> 'refs') LOOP
		-- Triggers fired by tables restored so far may have written rows here.
		PERFORM crm._unmerge_sweep(ids, m.before -> 'refs', m.after -> 'refs', now_refs, (t ->> 'table')::regclass);
		setlist := (SELECT pg_catalog.string_agg(pg_catalog.format('%1$I = r.%1$I', a.attname), ', ' ORDER BY a.attnum)
					  FROM pg_catalog.pg_attribute a
					 WHERE a.attrelid = (t ->> 'table')::regclass AND a.attnum > 0 AND NOT a.attisdropped
					   AND a.attidentity <> 'a' AND a.attgenerated = ''
					   AND NOT a.attname = ANY (ARRAY(SELECT pg_catalog.jsonb_array_elements_text(t -> 'pk'))));
		colnames := (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
					   FROM pg_catalog.pg_attribute a
					  WHERE a.attrelid = (t ->> 'table')::regclass AND a.attnum > 0 AND NOT a.attisdropped
						AND a.attgenerated = '');
		pkcond := (SELECT pg_catalog.string_agg(pg_catalog.format('t.%1$I = r.%1$I', k), ' AND ')
					 FROM pg_catalog.jsonb_array_elements_text(t -> 'pk') AS k);
		-- 1. rows still (or again) under their original contact
		EXECUTE pg_catalog.format(
			'UPDATE %1$s t SET %2$s FROM pg_catalog.jsonb_populate_recordset(NULL::%1$s, $1) r WHERE %3$s AND t.%4$I = r.%4$I',
			t ->> 'table', setlist, pkcond, t ->> 'column')
			USING t -> 'rows';
		-- 2. rows the merge moved to the survivor go back
		EXECUTE pg_catalog.format(
			'WITH r AS (SELECT * FROM pg_catalog.jsonb_populate_recordset(NULL::%1$s, $1)),
				  todo AS (SELECT DISTINCT ON (%5$s) r.* FROM r
							WHERE NOT EXISTS (SELECT 1 FROM %1$s t WHERE %3$s AND t.%4$I = r.%4$I)
							ORDER BY %5$s, pg_catalog.array_position($2, r.%4$I))
			 UPDATE %1$s t SET %2$s FROM todo r
			  WHERE %3$s AND t.%4$I = ANY ($2)
				AND NOT EXISTS (SELECT 1 FROM r o WHERE %6$s AND o.%4$I = t.%4$I)',
			t ->> 'table', setlist, pkcond, t ->> 'column',
			(SELECT pg_catalog.string_agg(pg_catalog.format('r.%I', k), ', ') FROM pg_catalog.jsonb_array_elements_text(t -> 'pk') AS k),
			(SELECT pg_catalog.string_agg(pg_catalog.format('o.%1$I = t.%1$I', k), ' AND ') FROM pg_catalog.jsonb_array_elements_text(t -> 'pk') AS k))
			USING t -> 'rows', ids;
		-- 3. rows the merge dropped come back
		EXECUTE pg_catalog.format(
			'INSERT INTO %1$s (%2$s) OVERRIDING SYSTEM VALUE
			 SELECT %5$s FROM pg_catalog.jsonb_populate_recordset(NULL::%1$s, $1) r
			  WHERE NOT EXISTS (SELECT 1 FROM %1$s t WHERE %3$s AND t.%4$I = r.%4$I)',
			t ->> 'table', colnames, pkcond, t ->> 'column',
			(SELECT pg_catalog.string_agg(pg_catalog.format('r.%I', a.attname), ', ' ORDER BY a.attnum)
			   FROM pg_catalog.pg_attribute a
			  WHERE a.attrelid = (t ->> 'table')::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''))
			USING t -> 'rows';
	END LOOP;
	PERFORM crm._unmerge_sweep(ids, m.before -> 'refs', m.after -> 'refs', now_refs);
	-- Triggers on the history tables may have touched the contacts again.
	EXECUTE pg_catalog.format('UPDATE crm.contacts c SET %s FROM pg_catalog.jsonb_populate_recordset(NULL::crm.contacts, $1) r
							   WHERE c.id = r.id AND pg_catalog.to_jsonb(c) IS DISTINCT FROM pg_catalog.to_jsonb(r)',
		(SELECT pg_catalog.string_agg(pg_catalog.format('%1$I = r.%1$I', a.attname), ', ' ORDER BY a.attnum)
		   FROM pg_catalog.pg_attribute a
		  WHERE a.attrelid = 'crm.contacts'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id'))
		USING m.before -> 'contacts';

	PERFORM pg_catalog.set_config('crm.lifecycle_override', '', true);
	PERFORM pg_catalog.set_config('crm.lifecycle_reason', '', true);
	UPDATE crm.merges SET undone_at = pg_catalog.now(), undone_by = CURRENT_USER WHERE id = merge_id;
	PERFORM pg_catalog.set_config('crm.duplicate_check', coalesce(prev_check, ''), true);
END;
$$;
COMMENT ON FUNCTION crm.unmerge(bigint) IS
	'undo a contact merge: the merged contacts and every row the merge re-pointed or changed are put back; refuses when they changed since';
