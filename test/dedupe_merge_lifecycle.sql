-- A merge whose re-pointed activities score the survivor past the MQL
-- threshold keeps that stage: the merge must not move it back.
BEGIN;
\ir fixtures/model.sql
SELECT plan(3);

UPDATE crm.scoring_settings SET mql_threshold = 1;
INSERT INTO crm.contacts (id, given_name, family_name, email, owner_id, lifecycle_stage)
VALUES (911, 'Ruth', 'Okoro', 'ruth.okoro@example.org', pg_temp.uid('regress_rep1'), 'lead'),
       (912, 'Ruth', 'Okoro', 'r.okoro@example.org', pg_temp.uid('regress_rep1'), 'lead');
-- The duplicate collects its history, then is put back to 'lead' on purpose
-- (as crm.set_lifecycle_stage would), so only the merge can lift the survivor.
INSERT INTO crm.activities (contact_id, kind, direction, occurred_at)
SELECT 912, 'form_fill', 'inbound', now() - interval '1 day' FROM generate_series(1, 3);
DO $$ BEGIN
	PERFORM set_config('crm.lifecycle_override', '912', true);
	UPDATE crm.contacts SET lifecycle_stage = 'lead' WHERE id = 912 AND lifecycle_stage <> 'lead';
	PERFORM set_config('crm.lifecycle_override', '', true);
END $$;

SELECT lives_ok($$SELECT crm.merge_contacts(911, ARRAY[912::bigint])$$,
	'merging a duplicate whose activities lift the survivor past MQL succeeds');
SELECT ok(crm.lifecycle_rank((SELECT lifecycle_stage FROM crm.contacts WHERE id = 911)) >= crm.lifecycle_rank('lead'),
	'the survivor keeps at least the furthest stage of the merged records');
SELECT is((SELECT count(*)::int FROM crm.activities WHERE contact_id = 911), 3,
	'the duplicate''s activities moved to the survivor');

SELECT * FROM finish();
ROLLBACK;
