-- Dedupe: train a matcher on the contacts, find and merge the duplicates, undo one merge, block a new one
\set QUIET on
SET client_min_messages = warning;
\pset footer off

\echo
\echo '-- Comparison functions work on characters in any script:'
SELECT crm.jaro_winkler('Müller', 'Muller') AS jaro_winkler,
       crm.damerau_levenshtein('Jonh', 'John') AS edits,
       crm.name_similarity('Smith, John Michael', 'john smith') AS name_similarity,
       crm.phonetic_key('Иванов') || ' = ' || crm.phonetic_key('Ivanov') AS phonetic;

\echo
\echo '-- 1. Train a model on crm.contacts, without labels (u from random pairs, m by EM on blocked pairs):'
SELECT crm.train_matcher('crm.contacts') AS model_id \gset
SELECT version, stats -> 'records' AS records, stats -> 'candidate_pairs' AS candidate_pairs,
       round((params ->> 'prior')::numeric * (stats ->> 'records')::numeric * ((stats ->> 'records')::numeric - 1) / 2) AS expected_duplicate_pairs
  FROM crm.matcher_models WHERE id = :model_id;

\echo
\echo '-- 2. crm.find_duplicates: pairs with probability >= 0.9, checked against the sample''s truth (entity_id):'
CREATE TEMP TABLE found AS SELECT * FROM crm.find_duplicates();
CREATE TEMP TABLE truth AS
SELECT a.id::text AS a, b.id::text AS b FROM sample.contacts a JOIN sample.contacts b ON a.entity_id = b.entity_id AND a.id < b.id
 WHERE EXISTS (SELECT 1 FROM crm.contacts c WHERE c.id = a.id) AND EXISTS (SELECT 1 FROM crm.contacts c WHERE c.id = b.id);
SELECT count(*) AS pairs_found,
       (SELECT count(*) FROM truth) AS true_pairs,
       round(count(*) FILTER (WHERE t.a IS NOT NULL)::numeric / greatest(count(*), 1), 3) AS precision,
       round(count(*) FILTER (WHERE t.a IS NOT NULL)::numeric / greatest((SELECT count(*) FROM truth), 1), 3) AS recall
  FROM found f LEFT JOIN truth t ON (least(f.id_a::int, f.id_b::int), greatest(f.id_a::int, f.id_b::int)) = (t.a::int, t.b::int);

\echo
\echo '-- 3. Why a pair matches, in words (crm.match_evidence):'
SELECT f.id_a, f.id_b, round(f.probability::numeric, 4) AS p, x ->> 'text' AS evidence
  FROM (SELECT * FROM found ORDER BY probability, id_a LIMIT 1) f, jsonb_array_elements(f.evidence -> 'fields') x;

\echo
\echo '-- 4. crm.duplicate_clusters: groups of records that are one person:'
CREATE TEMP TABLE clusters AS SELECT * FROM crm.duplicate_clusters();
SELECT count(DISTINCT cluster_id) AS clusters, count(*) AS records, max(n) AS largest
  FROM clusters, LATERAL (SELECT count(*) AS n FROM clusters c2 WHERE c2.cluster_id = clusters.cluster_id) s;

\echo
\echo '-- 5. Merge every cluster into its oldest record (crm.merge_contacts keeps every email, phone, activity):'
CREATE TEMP TABLE before_counts AS
SELECT (SELECT count(*) FROM crm.contacts) AS contacts, (SELECT count(*) FROM crm.activities) AS activities,
       (SELECT count(DISTINCT email) FROM crm.contact_emails) AS distinct_emails;
CREATE TEMP TABLE merged AS
SELECT cluster_id, crm.merge_contacts(min(id::bigint), array_agg(id::bigint ORDER BY id::bigint) FILTER (WHERE id::bigint <> min_id)) AS merge_id
  FROM (SELECT cluster_id, id, min(id::bigint) OVER (PARTITION BY cluster_id) AS min_id FROM clusters) c
 GROUP BY cluster_id;
SELECT b.contacts AS contacts_before, (SELECT count(*) FROM crm.contacts) AS contacts_after,
       b.activities AS activities_before, (SELECT count(*) FROM crm.activities) AS activities_after,
       b.distinct_emails AS emails_before, (SELECT count(DISTINCT email) FROM crm.contact_emails) AS emails_after,
       (SELECT count(*) FROM merged) AS merges
  FROM before_counts b;

\echo
\echo '-- 6. Undo one merge (crm.unmerge restores the contacts and every re-pointed row):'
SELECT id AS merge_id, survivor_id, duplicate_ids FROM crm.merges WHERE id = (SELECT min(merge_id) FROM merged) \gset
SELECT id, given_name, family_name, email, lifecycle_stage FROM crm.contacts WHERE id = :survivor_id;
SELECT crm.unmerge(:merge_id);
SELECT id, given_name, family_name, email, lifecycle_stage FROM crm.contacts
 WHERE id = :survivor_id OR id = ANY (:'duplicate_ids'::bigint[]) ORDER BY id;

\echo
\echo '-- 7. A duplicate rule blocks a new copy of an existing contact (SQLSTATE 23505):'
INSERT INTO crm.duplicate_rules (name, action, min_probability) VALUES ('block sure matches', 'block', 0.95);
SET client_min_messages = notice;
SELECT format($f$
DO $d$
BEGIN
	INSERT INTO crm.contacts (given_name, family_name, email) VALUES (%L, %L, %L);
	RAISE NOTICE 'inserted (no rule matched)';
EXCEPTION WHEN unique_violation THEN
	DECLARE msg text; hint text;
	BEGIN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
		RAISE NOTICE 'refused: %%', msg;
		RAISE NOTICE 'hint: %%', hint;
	END;
END $d$$f$, upper(given_name), family_name, upper(email::text))
  FROM crm.contacts WHERE email IS NOT NULL AND given_name IS NOT NULL AND family_name IS NOT NULL ORDER BY id LIMIT 1 \gexec
SET client_min_messages = warning;
DELETE FROM crm.duplicate_rules WHERE name = 'block sure matches';
