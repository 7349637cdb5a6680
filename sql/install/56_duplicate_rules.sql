-- crm install script, part 56: duplicate rules on crm.contacts.
--
-- When a contact is inserted or its identifying fields change, the contacts
-- that share a blocking key with it (email, phone, or phonetic family name
-- with the given initial; all indexed) are scored with the current model,
-- and the strictest enabled rule whose threshold the best match reaches
-- acts: allow (nothing), alert (a row in crm.duplicate_alerts and NOTIFY
-- crm_duplicate), or block (SQLSTATE 23505 with a hint naming the contact).
-- Two sessions inserting the same person at once are serialized by
-- transaction advisory locks on the new row's blocking keys, so the second
-- one sees the first once it commits.

CREATE TABLE crm.duplicate_rules (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE,
	action text NOT NULL CHECK (action IN ('allow', 'alert', 'block')),
	min_probability float8 NOT NULL DEFAULT 0.9 CHECK (min_probability > 0 AND min_probability <= 1),
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE crm.duplicate_rules IS
	'what happens when a new or changed contact probably duplicates an existing one: allow, alert or block, above a match probability';
SELECT pg_catalog.pg_extension_config_dump('crm.duplicate_rules', '');
GRANT SELECT ON crm.duplicate_rules TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON crm.duplicate_rules TO crm_admin;
ALTER TABLE crm.duplicate_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.duplicate_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY read_all ON crm.duplicate_rules FOR SELECT TO PUBLIC USING (true);
CREATE POLICY admin_write ON crm.duplicate_rules FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin')
	WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');

CREATE TABLE crm.duplicate_alerts (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rule_id bigint REFERENCES crm.duplicate_rules ON DELETE SET NULL,
	contact_id bigint NOT NULL,
	existing_id bigint NOT NULL,
	probability float8 NOT NULL,
	evidence jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	created_by name NOT NULL DEFAULT CURRENT_USER,
	resolved_at timestamptz
);
COMMENT ON TABLE crm.duplicate_alerts IS
	'possible duplicates found when contacts were inserted or changed under an alert rule; see crm.purge_duplicate_alerts for retention';
SELECT pg_catalog.pg_extension_config_dump('crm.duplicate_alerts', '');
CREATE INDEX ON crm.duplicate_alerts (created_at);
-- Alerts are written by whoever changes contacts (the trigger runs with
-- their rights) and read by anyone; admins resolve and purge them.
GRANT SELECT, INSERT ON crm.duplicate_alerts TO PUBLIC;
GRANT UPDATE, DELETE ON crm.duplicate_alerts TO crm_admin;
ALTER TABLE crm.duplicate_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.duplicate_alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY read_all ON crm.duplicate_alerts FOR SELECT TO PUBLIC USING (true);
CREATE POLICY insert_own ON crm.duplicate_alerts FOR INSERT TO PUBLIC WITH CHECK (created_by = CURRENT_USER);
CREATE POLICY admin_write ON crm.duplicate_alerts FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin')
	WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');

CREATE FUNCTION crm.purge_duplicate_alerts(older_than interval DEFAULT '90 days') RETURNS bigint
	LANGUAGE sql VOLATILE
BEGIN ATOMIC
	WITH d AS (DELETE FROM crm.duplicate_alerts WHERE created_at < pg_catalog.now() - older_than RETURNING 1)
	SELECT pg_catalog.count(*) FROM d;
END;
COMMENT ON FUNCTION crm.purge_duplicate_alerts(interval) IS
	'retention for crm.duplicate_alerts: delete alerts older than the interval, return how many';

-- Index the blocking keys the check looks up.
CREATE INDEX contacts_phone_idx ON crm.contacts (phone);
CREATE INDEX contacts_name_key_idx ON crm.contacts
	(crm.phonetic_key(family_name), pg_catalog.left(crm.match_fold(given_name), 1));

-- Prepared values of a contact under crm.match_contacts_mapping(), written
-- out so the check below plans once per session; the dedupe_rules test
-- checks it against the generic preparation (crm._match_records_sql).
-- The e-mail column already holds a parsed crm.email: its canonical form
-- is taken directly, not by printing and parsing it again as the generic
-- preparation of a text column does (the same value, a parse less per
-- candidate the check scores).
CREATE FUNCTION crm._contact_prepared(c crm.contacts) RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN ARRAY[NULLIF(pg_catalog.btrim(c.id::text), ''),
		crm.match_fold(crm.normalize_name(NULLIF(pg_catalog.btrim(c.given_name), ''))),
		crm.match_fold(crm.normalize_name(NULLIF(pg_catalog.btrim(c.family_name), ''))),
		NULLIF(pg_catalog.lower(pg_catalog.btrim(NULLIF(pg_catalog.btrim(c.email::text), ''))), '') || pg_catalog.chr(31)
			|| pg_catalog.lower(crm.email_canonical(c.email)::text),
		NULLIF(NULLIF(CASE WHEN NULLIF(pg_catalog.btrim(c.phone::text), '') LIKE '+%' THEN '+' ELSE '~' END
			|| pg_catalog.regexp_replace(pg_catalog.regexp_replace(NULLIF(pg_catalog.btrim(c.phone::text), ''), '[A-Za-z;#].*$', ''), '[^0-9]', '', 'g'), '+'), '~'),
		crm.match_fold(NULLIF(pg_catalog.btrim(c.city), '')),
		NULLIF(pg_catalog.upper(pg_catalog.regexp_replace(NULLIF(pg_catalog.btrim(c.postcode), ''), '[^0-9A-Za-z]', '', 'g')), ''),
		crm.match_fold(NULLIF(pg_catalog.btrim(c.region), '')),
		crm.match_fold(NULLIF(pg_catalog.btrim(c.country), ''))];

-- The weights the duplicate check scores crm.contacts with: the newest
-- model trained on crm.contacts with the default mapping, else the
-- defaults with the prior from the planner's row estimate.
CREATE FUNCTION crm._contact_weights() RETURNS float8[]
	LANGUAGE plpgsql STABLE
	-- STABLE: reads crm.matcher_models and pg_class.
AS $$
DECLARE
	kinds CONSTANT text[] := ARRAY['id', 'given_name', 'family_name', 'email', 'phone', 'city', 'postcode', 'region', 'country'];
	-- crm.match_mapping(crm.contacts)'s "fields", written out.
	want_fields CONSTANT jsonb := '[{"kind": "id", "columns": ["id"]}, {"kind": "given_name", "columns": ["given_name"]},
		{"kind": "family_name", "columns": ["family_name"]}, {"kind": "email", "columns": ["email"]},
		{"kind": "phone", "columns": ["phone"]}, {"kind": "city", "columns": ["city"]},
		{"kind": "postcode", "columns": ["postcode"]}, {"kind": "region", "columns": ["region"]},
		{"kind": "country", "columns": ["country"]}]';
	w float8[];
	n bigint;
BEGIN
	SELECT crm.match_model_weights(kinds, mm.params -> 'fields', (mm.params ->> 'prior')::float8) INTO w
	  FROM crm.matcher_models mm WHERE mm.source = 'crm.contacts' AND mm.fields = want_fields
	 ORDER BY mm.version DESC LIMIT 1;
	IF w IS NULL THEN
		SELECT greatest(c.reltuples::bigint, 2) INTO n FROM pg_catalog.pg_class c WHERE c.oid = 'crm.contacts'::regclass;
		w := crm.match_model_weights(kinds, '{}', 1.0 / n);
	END IF;
	RETURN w;
END;
$$;
COMMENT ON FUNCTION crm._contact_weights() IS
	'the model weights the duplicate check scores contacts with';

-- Existing contacts that probably are the given one under weights w.
CREATE FUNCTION crm._contact_duplicates(contact crm.contacts, min_probability float8, w float8[])
	RETURNS TABLE (id bigint, probability float8, evidence jsonb)
	LANGUAGE plpgsql STABLE
	-- STABLE: reads crm.contacts.
AS $$
DECLARE
	kinds CONSTANT text[] := ARRAY['id', 'given_name', 'family_name', 'email', 'phone', 'city', 'postcode', 'region', 'country'];
	fn text[] := crm._contact_prepared(contact);
	pk text := crm.phonetic_key(contact.family_name);
	gi text := pg_catalog.left(crm.match_fold(contact.given_name), 1);
BEGIN
	RETURN QUERY
	SELECT s.id, s.p, crm.match_explain(kinds, fn, s.fc, w)
	  FROM (SELECT c.id, x.fc,
				   1.0 / (1.0 + pg_catalog.power(2.0::float8, -crm.match_weight(kinds, fn, x.fc, w))) AS p
			  FROM crm.contacts c, LATERAL (SELECT crm._contact_prepared(c) AS fc) x
			 WHERE c.id IS DISTINCT FROM contact.id
			   AND (c.email OPERATOR(crm.=) contact.email OR c.phone OPERATOR(crm.=) contact.phone
					OR (crm.phonetic_key(c.family_name) = pk
						AND pg_catalog.left(crm.match_fold(c.given_name), 1) = gi))) s
	 WHERE s.p >= min_probability
	 ORDER BY s.p DESC, s.id;
END;
$$;
COMMENT ON FUNCTION crm._contact_duplicates(crm.contacts, float8, float8[]) IS
	'existing contacts that probably are the given contact row under the given model weights, best first';

-- Existing contacts that probably are the given one, best first.
CREATE FUNCTION crm.contact_duplicates(contact crm.contacts, min_probability float8 DEFAULT 0.5)
	RETURNS TABLE (id bigint, probability float8, evidence jsonb)
	LANGUAGE plpgsql STABLE
	-- STABLE: reads crm.contacts and crm.matcher_models.
	-- plpgsql, not SQL: its plan is kept for the session.
AS $$
BEGIN
	RETURN QUERY
	SELECT d.id, d.probability, d.evidence
	  FROM crm._contact_duplicates(contact, min_probability, crm._contact_weights()) d;
END;
$$;
COMMENT ON FUNCTION crm.contact_duplicates(crm.contacts, float8) IS
	'existing contacts that probably are the given contact row, with probability and evidence, best first';

-- The check of one new or changed contact under the enabled rules.
-- Called from the triggers below, which fix the search_path.
CREATE FUNCTION crm._duplicate_check_row(c crm.contacts, op text, w float8[], minp float8) RETURNS void
	LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	rule crm.duplicate_rules;
	best record;
	keys bigint[];
	alert_id bigint;
BEGIN
	-- Serialize with concurrent inserts of the same person: lock each
	-- blocking key of the row, in a fixed order.
	keys := ARRAY(SELECT DISTINCT pg_catalog.hashtextextended(k, 7219)
					FROM pg_catalog.unnest(ARRAY[
						'e:' || pg_catalog.lower(c.email::text), 'p:' || c.phone::text,
						'n:' || crm.phonetic_key(c.family_name) || ':' || pg_catalog.left(crm.match_fold(c.given_name), 1)]) AS k
				   WHERE k IS NOT NULL ORDER BY 1);
	PERFORM pg_catalog.pg_advisory_xact_lock(k) FROM pg_catalog.unnest(keys) AS k;

	SELECT d.* INTO best FROM crm._contact_duplicates(c, minp, w) d LIMIT 1;
	IF best.id IS NULL THEN
		RETURN;
	END IF;
	-- The strictest rule the match reaches: block before alert.
	SELECT r.* INTO rule FROM crm.duplicate_rules r
	 WHERE r.enabled AND r.min_probability <= best.probability
	 ORDER BY CASE r.action WHEN 'block' THEN 0 WHEN 'alert' THEN 1 ELSE 2 END, r.min_probability DESC, r.id
	 LIMIT 1;
	IF rule.action = 'block' THEN
		RAISE EXCEPTION 'duplicate contact: probably the same as contact %', best.id
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('Rule "%s" blocks matches with probability %s or more; this one has %s.',
											 rule.name, rule.min_probability, pg_catalog.round(best.probability::numeric, 4)),
				  HINT = pg_catalog.format('Update contact %s instead, merge with crm.merge_contacts(%s, ARRAY[...]) afterwards, or insert anyway after SET LOCAL crm.duplicate_check = off.',
										   best.id, best.id);
	ELSIF rule.action = 'alert' THEN
		INSERT INTO crm.duplicate_alerts (rule_id, contact_id, existing_id, probability, evidence)
		VALUES (rule.id, c.id, best.id, best.probability, best.evidence)
		RETURNING id INTO alert_id;
		PERFORM pg_catalog.pg_notify('crm_duplicate', pg_catalog.json_build_object(
			'alert_id', alert_id, 'rule', rule.name, 'contact_id', c.id, 'existing_id', best.id,
			'probability', pg_catalog.round(best.probability::numeric, 4), 'operation', op)::text);
	END IF;
END;
$$;
COMMENT ON FUNCTION crm._duplicate_check_row(crm.contacts, text, float8[], float8) IS
	'the duplicate rules'' check of one new or changed contact: lock its keys, find its best match, then alert or block';

-- Updates: per changed row.
CREATE FUNCTION crm._duplicate_check() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	minp float8;
BEGIN
	IF pg_catalog.current_setting('crm.duplicate_check', true) = 'off' THEN
		RETURN NULL;
	END IF;
	SELECT pg_catalog.min(r.min_probability) INTO minp FROM crm.duplicate_rules r WHERE r.enabled AND r.action <> 'allow';
	IF minp IS NOT NULL THEN
		PERFORM crm._duplicate_check_row(NEW, pg_catalog.lower(TG_OP), crm._contact_weights(), minp);
	END IF;
	RETURN NULL;
END;
$$;
-- Inserts: once per statement over its new rows (the transition table),
-- so the rules and the model are read once however many rows come in.
-- Row-level AFTER triggers also fire only once all rows are in, so every
-- row sees the others either way.
CREATE FUNCTION crm._duplicate_check_insert() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	minp float8;
	w float8[];
	c crm.contacts;
BEGIN
	IF pg_catalog.current_setting('crm.duplicate_check', true) = 'off' THEN
		RETURN NULL;
	END IF;
	SELECT pg_catalog.min(r.min_probability) INTO minp FROM crm.duplicate_rules r WHERE r.enabled AND r.action <> 'allow';
	IF minp IS NULL THEN
		RETURN NULL;
	END IF;
	w := crm._contact_weights();
	FOR c IN SELECT * FROM crm_new_contacts LOOP
		PERFORM crm._duplicate_check_row(c, 'insert', w, minp);
	END LOOP;
	RETURN NULL;
END;
$$;
-- AFTER: the rows exist (their ids are known) and a block still rolls the
-- statement back.
CREATE TRIGGER duplicate_check AFTER UPDATE OF given_name, family_name, email, phone ON crm.contacts
	FOR EACH ROW EXECUTE FUNCTION crm._duplicate_check();
CREATE TRIGGER duplicate_check_insert AFTER INSERT ON crm.contacts
	REFERENCING NEW TABLE AS crm_new_contacts
	FOR EACH STATEMENT EXECUTE FUNCTION crm._duplicate_check_insert();
