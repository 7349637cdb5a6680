-- Record health (its parts at known times), the re-verification queue and
-- the seven-step data audit on a small fixture.
BEGIN;
SELECT plan(38);

UPDATE crm.health_settings SET confidence_weight = 0.4, completeness_weight = 0.25, validity_weight = 0.2,
	uniqueness_weight = 0.15, required_fields = '{given_name,family_name,email,phone,title,account,country}',
	value_per_score_point = 0;
INSERT INTO crm.accounts (id, name, industry, country) VALUES
	(8001, 'Umbrella', 'Software', 'US'), (8002, 'Umbrella Corp', 'software ', 'US'), (8003, 'Hooli', 'SOFTWARE', 'US'),
	(8004, 'Vandelay', 'Retail', 'GB');

-- H1: complete and verified just now
INSERT INTO crm.contacts (id, given_name, family_name, email, phone, title, account_id, country,
						  email_verified_at, phone_verified_at, title_verified_at, account_verified_at)
VALUES (1, 'Hana', 'Ito', 'hana@umbrella.example', '+14155550100', 'Engineer', 8001, 'US', now(), now(), now(), now());
SELECT is(crm.record_health(1), 100.0, 'complete, fresh, valid and unique: 100');

-- H2: only an email, verified one year (365.25 days) ago
INSERT INTO crm.contacts (id, given_name, email, email_verified_at, created_at)
VALUES (2, 'Ivo', 'ivo@hooli.example', now() - interval '365.25 days', now() - interval '400 days');
SELECT is(confidence, 0.775, 'confidence: the email alone, one year old: 0.775') FROM crm.contact_health WHERE contact_id = 2;
SELECT is(completeness, round(2 / 7.0, 4), 'completeness: 2 of 7 required fields') FROM crm.contact_health WHERE contact_id = 2;
SELECT is(health, round(100 * (0.4 * 0.775 + 0.25 * 2 / 7.0 + 0.2 + 0.15), 1),
	'health is the weighted sum of the parts') FROM crm.contact_health WHERE contact_id = 2;
SELECT is(crm.record_health(2), (SELECT health FROM crm.contact_health WHERE contact_id = 2),
	'crm.record_health() equals the view');

-- A field never verified counts from when it was entered
INSERT INTO crm.contacts (id, given_name, title, created_at) VALUES (3, 'Jo', 'Analyst', now() - interval '730.5 days');
SELECT ok(abs(title_confidence - 0.64) < 1e-12, 'an unverified title entered two years ago: 0.8^2')
  FROM crm.contact_health WHERE contact_id = 3;

-- Hard bounce and "left the company"
INSERT INTO crm.contacts (id, given_name, email, title, account_id, email_verified_at, title_verified_at)
VALUES (4, 'Kim', 'kim@umbrella.example', 'CTO', 8001, now() - interval '1 day', now() - interval '1 day');
INSERT INTO crm.activities (contact_id, kind) VALUES (4, 'email_bounced');
SELECT is(email_confidence, 0.0::float8, 'a hard bounce after the last verification zeroes the email')
  FROM crm.contact_health WHERE contact_id = 4;
SELECT is(validity, round(2 / 3.0, 4), 'and counts against validity') FROM crm.contact_health WHERE contact_id = 4;
SELECT is(title_confidence, crm.decay_confidence(0.2, now() - interval '1 day'),
	'the title is untouched by a bounce') FROM crm.contact_health WHERE contact_id = 4;
INSERT INTO crm.activities (contact_id, kind) VALUES (4, 'left_company');
SELECT is(ARRAY[title_confidence, account_confidence], ARRAY[0, 0]::float8[],
	'leaving the company zeroes title and company') FROM crm.contact_health WHERE contact_id = 4;
UPDATE crm.contacts SET email = 'kim@newco.example', email_verified_at = now() + interval '1 second' WHERE id = 4;
SELECT is(email_confidence, 1.0::float8, 're-verifying after the bounce restores confidence')
  FROM crm.contact_health WHERE contact_id = 4;

-- Validity: disposable address and placeholder names
INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (5, 'Test', 'Test', 'x@mailinator.com');
SELECT is(validity, 0.3333, 'disposable address and placeholder name: 1 of 3 checks passed')
  FROM crm.contact_health WHERE contact_id = 5;

SELECT is(ARRAY(SELECT crm._placeholder_text(v) FROM unnest(ARRAY['test', 'TEST  n/a', 'asdfgh', 'N/A', 'na', 'xxx',
		'Foo Bar', '???', '--', '...', ' unknown ', 'Dummy none']) v),
	ARRAY[true, true, true, true, true, true, true, true, true, true, true, true],
	'placeholder words alone or together, any case, are placeholders');
SELECT is(ARRAY(SELECT crm._placeholder_text(v) FROM unnest(ARRAY['', '   ', 'xx', 'Testa', 'Tess Test', 'asd',
		'n/a/b', 'VP Sales', 'Ana', 'foo-bar', '?-']) v),
	ARRAY[false, false, false, false, false, false, false, false, false, false, false],
	'a real word, a blank, or a mix is not');

-- Uniqueness: the same email twice, the same name at the same company
INSERT INTO crm.contacts (id, given_name, family_name, email, account_id) VALUES
	(6, 'Lu', 'Ng', 'lu@hooli.example', 8003), (7, 'Lou', 'Ng', 'lu@hooli.example', NULL),
	(8, 'Max', 'Roe', NULL, 8004), (9, 'max', 'ROE', NULL, 8004), (10, 'Nia', 'Roe', NULL, 8004);
SELECT is(ARRAY(SELECT uniqueness FROM crm.contact_health WHERE contact_id BETWEEN 6 AND 10 ORDER BY contact_id),
	'{0,0,0,0,1}'::numeric[], 'same email, or same name at the same company, is suspected duplicate');

-- Re-verification queue: open deal amount times expected staleness
INSERT INTO crm.pipelines (id, name) VALUES (8100, 'regress audit pipeline');
INSERT INTO crm.pipeline_stages (id, pipeline_id, name, position, probability) VALUES (8101, 8100, 'open', 1, 0.3);
INSERT INTO crm.contacts (id, given_name, email, email_verified_at) VALUES
	(11, 'Q1', 'q1@x.example', now() - interval '365.25 days'),
	(12, 'Q2', 'q2@x.example', now()),
	(13, 'Q3', 'q3@x.example', now() - interval '730.5 days');
INSERT INTO crm.deals (name, pipeline_id, stage_id, contact_id, amount) VALUES
	('q1', 8100, 8101, 11, 10000), ('q2', 8100, 8101, 12, 50000), ('q3', 8100, 8101, 13, 5000);
SELECT is(ARRAY(SELECT contact_id FROM crm.reverification_queue(2)), '{11,13}'::bigint[],
	'queue: 10000 * 0.225 before 5000 * 0.399; a fresh record is not queued');
SELECT is((SELECT priority FROM crm.reverification_queue(1)), 2250.00, 'priority = value * staleness');
SELECT is((SELECT field FROM crm.reverification_queue(1)), 'email', 'naming the stalest field');
UPDATE crm.health_settings SET value_per_score_point = 1000;
SELECT is((SELECT business_value FROM crm.reverification_queue(100) WHERE contact_id = 4),
	(SELECT lead_score * 1000 FROM crm.contacts WHERE id = 4), 'the lead score adds business value');
UPDATE crm.health_settings SET value_per_score_point = 0;

-- The audit
SELECT crm.run_data_audit() AS r1 \gset
SELECT is((SELECT report FROM crm.audit_runs WHERE id = (:'r1'::jsonb ->> 'run_id')::bigint), :'r1'::jsonb,
	'the report is stored in crm.audit_runs');
SELECT is(ARRAY(SELECT k FROM jsonb_object_keys(:'r1'::jsonb) k WHERE k ~ '^[1-7]_' ORDER BY k),
	'{1_locate,2_prioritise,3_duplicates,4_conflicts,5_missing,6_non_uniform,7_repeat}'::text[], 'seven steps');
SELECT is((SELECT (t ->> 'rows')::bigint FROM jsonb_array_elements(:'r1'::jsonb #> '{1_locate,tables}') t
			WHERE t ->> 'table' = 'contacts'), (SELECT count(*) FROM crm.contacts), 'step 1 counts the contacts');
SELECT is((:'r1'::jsonb #>> '{2_prioritise,open_pipeline,amount}')::numeric, 65000::numeric,
	'step 2: the open pipeline');
SELECT is(:'r1'::jsonb #> '{2_prioritise,reverify_first}',
	(SELECT jsonb_agg(to_jsonb(q)) FROM crm.reverification_queue(10) q),
	'step 2 ranks what to re-verify exactly as crm.reverification_queue(10)');
SELECT is(:'r1'::jsonb #>> '{3_duplicates,source}',
	CASE WHEN to_regprocedure('crm.find_duplicates(regclass,jsonb,double precision)') IS NULL
		 THEN 'exact matches (install the dedupe engine for fuzzy matching)' ELSE 'crm.find_duplicates' END,
	'step 3 uses the dedupe engine exactly when it is installed');
SELECT ok(CASE WHEN to_regprocedure('crm.find_duplicates(regclass,jsonb,double precision)') IS NULL
			   THEN (:'r1'::jsonb #>> '{3_duplicates,same_email_groups}')::int = 1
					AND (:'r1'::jsonb #>> '{3_duplicates,same_name_at_company_groups}')::int = 1
			   ELSE (:'r1'::jsonb #> '{3_duplicates}') ? 'pairs' END,
	'step 3 finds the shared email and the repeated name');
SELECT is((:'r1'::jsonb #>> '{4_conflicts,contact_country_differs_from_account}')::int,
	(SELECT count(*)::int FROM crm.contacts c JOIN crm.accounts a ON a.id = c.account_id WHERE c.country <> a.country),
	'step 4 compares contact and account');
SELECT is((:'r1'::jsonb #>> '{5_missing,completeness_percent,phone}')::numeric,
	round(100.0 * (SELECT count(phone) FROM crm.contacts) / (SELECT count(*) FROM crm.contacts), 1),
	'step 5: completeness of phone');
SELECT is((:'r1'::jsonb #>> '{5_missing,average_health}')::numeric,
	(SELECT round(avg(health), 1) FROM crm.contact_health), 'step 5: average health');
SELECT is((:'r1'::jsonb #> '{6_non_uniform,accounts.industry}') - 'examples'::text,
	'{"distinct_values": 4, "distinct_after_normalising": 2, "rows_in_variant_groups": 3}'::jsonb,
	'step 6: three spellings of software');
SELECT is(:'r1'::jsonb #> '{6_non_uniform,accounts.industry,examples,0,spellings}',
	'["SOFTWARE", "Software", "software "]'::jsonb, 'with the spellings');
SELECT is((:'r1'::jsonb #>> '{7_repeat,pg_cron_installed}')::boolean,
	EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'), 'step 7 knows whether pg_cron is there');
-- Without the dedupe engine, step 3 counts exact collisions
SAVEPOINT no_engine;
ALTER FUNCTION crm.find_duplicates(regclass, jsonb, double precision) RENAME TO find_duplicates_regress_hidden;
SELECT crm.run_data_audit() AS r0 \gset
SELECT is((:'r0'::jsonb #> '{3_duplicates}') - 'source'::text,
	'{"same_email_groups": 1, "same_email_contacts": 2, "same_name_at_company_groups": 1}'::jsonb,
	'without the engine: one shared email (two contacts), one name repeated at a company');
SELECT is((:'r0'::jsonb #> '{3_duplicates}') - 'source'::text,
	jsonb_build_object(
		'same_email_groups', (SELECT count(*) FROM (SELECT 1 FROM crm.contacts c WHERE c.email IS NOT NULL
											   GROUP BY c.email HAVING count(*) > 1) x),
		'same_email_contacts', (SELECT sum(k) FROM (SELECT count(*) AS k FROM crm.contacts c WHERE c.email IS NOT NULL
											   GROUP BY c.email HAVING count(*) > 1) x),
		'same_name_at_company_groups', (SELECT count(*) FROM (SELECT 1 FROM crm.contacts c
											   WHERE c.account_id IS NOT NULL AND c.family_name IS NOT NULL
											   GROUP BY c.account_id, lower(c.family_name), lower(COALESCE(c.given_name, ''))
											   HAVING count(*) > 1) x)),
	'as grouping every contact gives');
ROLLBACK TO SAVEPOINT no_engine;
UPDATE crm.contacts SET family_name = 'Ito' WHERE id = 2;
SELECT crm.run_data_audit() AS r2 \gset
SELECT is((:'r2'::jsonb #>> '{7_repeat,previous_run}')::bigint, (:'r1'::jsonb ->> 'run_id')::bigint,
	'the next run refers to the previous one');
SELECT cmp_ok((:'r2'::jsonb #>> '{7_repeat,average_health_change}')::numeric, '>', 0::numeric,
	'and reports the trend: completing a record raised the average health');

SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
	THEN skip('pg_cron is installed here', 1)
	ELSE throws_ok($$SELECT crm.schedule_audit('0 3 1 * *')$$, '55000', 'pg_cron is not installed in this database',
		'without pg_cron, scheduling says so clearly') END;
SELECT is(crm.prune_audit_runs('0 seconds'), 0::bigint, 'runs of this transaction are not older than now');

SELECT * FROM finish();
ROLLBACK;
