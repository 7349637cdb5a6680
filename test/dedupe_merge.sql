-- Merging contacts: survivorship, nothing lost, every reference re-pointed
-- (users' own tables too), undo restores exactly, conflicts refuse, RLS.
BEGIN;
\ir fixtures/model.sql
SELECT plan(24);

-- Two more records of Ann Lee (contact 1), with their own email, phone,
-- history, activities, a campaign membership that collides with Ann's,
-- the same tag, and rows in a user table that references contacts.
INSERT INTO crm.contacts (id, given_name, family_name, email, phone, owner_id, lifecycle_stage, lead_source, city,
                          email_verified_at, title)
VALUES (901, 'Annie', 'Lee', 'ann.lee@mail.example', '+14155552671', pg_temp.uid('regress_rep1'), 'evangelist', 'event',
        'Boston', now() + interval '1 hour', 'CTO'),
       (902, 'Ann', 'Leigh', 'ann@old.example', NULL, pg_temp.uid('regress_rep1'), 'lead', NULL, NULL, NULL, NULL);
INSERT INTO crm.contact_emails (contact_id, email, valid_from, valid_to, source)
VALUES (902, 'ann@older.example', '2020-01-01', '2021-01-01', 'import');
INSERT INTO crm.activities (contact_id, kind, direction, occurred_at, actor_id)
VALUES (901, 'call', 'outbound', '2025-01-02', pg_temp.uid('regress_rep1')),
       (902, 'note', NULL, '2025-01-03', pg_temp.uid('regress_rep1'));
INSERT INTO crm.campaign_members (contact_id, campaign_id, sent_at)
SELECT 901, campaign_id, '2025-02-02' FROM crm.campaign_members WHERE contact_id = 1 LIMIT 1;
INSERT INTO crm.contact_tags (contact_id, tag_id) VALUES (901, 1);
CREATE TABLE regress_orders (id int PRIMARY KEY, buyer bigint REFERENCES crm.contacts ON DELETE CASCADE, total numeric);
INSERT INTO regress_orders VALUES (1, 901, 10), (2, 902, 20), (3, 1, 30), (4, 3, 40);
GRANT SELECT, UPDATE ON regress_orders TO PUBLIC;

-- Everything about contacts 1, 901, 902 before the merge, for comparison.
CREATE FUNCTION pg_temp.state() RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'contacts', (SELECT jsonb_agg(to_jsonb(c) - 'updated_at' - 'updated_by' ORDER BY id) FROM crm.contacts c WHERE id IN (1, 901, 902)),
		'emails', (SELECT jsonb_agg(to_jsonb(h) - 'updated_at' - 'updated_by' ORDER BY id) FROM crm.contact_emails h WHERE contact_id IN (1, 901, 902)),
		'phones', (SELECT jsonb_agg(to_jsonb(h) - 'updated_at' - 'updated_by' ORDER BY id) FROM crm.contact_phones h WHERE contact_id IN (1, 901, 902)),
		'addresses', (SELECT jsonb_agg(to_jsonb(h) - 'updated_at' - 'updated_by' ORDER BY id) FROM crm.contact_addresses h WHERE contact_id IN (1, 901, 902)),
		'activities', (SELECT jsonb_agg(to_jsonb(a) - 'updated_at' - 'updated_by' ORDER BY id) FROM crm.activities a WHERE contact_id IN (1, 901, 902)),
		'members', (SELECT jsonb_agg(to_jsonb(m) - 'updated_at' - 'updated_by' ORDER BY contact_id, campaign_id) FROM crm.campaign_members m WHERE contact_id IN (1, 901, 902)),
		'tags', (SELECT jsonb_agg(to_jsonb(t) ORDER BY contact_id, tag_id) FROM crm.contact_tags t WHERE contact_id IN (1, 901, 902)),
		'deals', (SELECT jsonb_agg(to_jsonb(d) - 'updated_at' - 'updated_by' ORDER BY id) FROM crm.deals d WHERE contact_id IN (1, 901, 902)),
		'tasks', (SELECT jsonb_agg(to_jsonb(t) - 'updated_at' - 'updated_by' ORDER BY id) FROM crm.tasks t WHERE contact_id IN (1, 901, 902)),
		'orders', (SELECT jsonb_agg(to_jsonb(o) ORDER BY id) FROM regress_orders o));
$$;
CREATE TEMP TABLE before AS SELECT pg_temp.state() AS s;
CREATE TEMP TABLE counts AS
SELECT (SELECT count(*) FROM crm.activities) AS activities, (SELECT count(DISTINCT email) FROM crm.contact_emails WHERE contact_id IN (1, 901, 902)) AS emails;

-- Bad calls.
SELECT throws_ok($$SELECT crm.merge_contacts(1, '{1,901}')$$, '22023', NULL, 'the survivor cannot be its own duplicate');
SELECT throws_ok($$SELECT crm.merge_contacts(1, '{}')$$, '22023', NULL, 'a merge needs duplicates');
SELECT throws_ok($$SELECT crm.merge_contacts(1, '{901}', '{"email": "loudest"}')$$, '22023',
	'unrecognized survivorship rule "loudest" for field "email"', 'unknown rules are refused');
SELECT throws_ok($$SELECT crm.merge_contacts(1, '{99999}')$$, '42501', NULL, 'a missing contact is refused');

-- Row-level security: rep2 cannot merge rep1's contacts.
SET ROLE regress_rep2;
SELECT throws_ok($$SELECT crm.merge_contacts(1, '{901}')$$, '42501', NULL, 'a rep cannot merge contacts they may not change');
RESET ROLE;

-- The merge.
SELECT crm.merge_contacts(1, '{901,902}', '{"given_name": "most_complete"}') AS merge1 \gset
SELECT is((SELECT count(*)::int FROM crm.contacts WHERE id IN (1, 901, 902)), 1, 'only the survivor is left');
SELECT is((SELECT given_name FROM crm.contacts WHERE id = 1), 'Annie', 'most_complete picks the longest given name');
SELECT is((SELECT family_name FROM crm.contacts WHERE id = 1), 'Lee', 'survivor keeps its own family name by default');
SELECT is((SELECT email::text FROM crm.contacts WHERE id = 1), 'ann.lee@mail.example', 'the most recently verified email wins');
SELECT is((SELECT phone::text FROM crm.contacts WHERE id = 1), '+14155552671', 'a phone only a duplicate had is kept');
SELECT is((SELECT lifecycle_stage FROM crm.contacts WHERE id = 1), 'evangelist', 'lifecycle keeps the furthest stage');
SELECT is((SELECT title FROM crm.contacts WHERE id = 1), 'CTO', 'empty fields are filled from duplicates');
SELECT is((SELECT count(DISTINCT email)::int FROM crm.contact_emails WHERE contact_id = 1), (SELECT emails::int FROM counts),
	'every distinct email is in the survivor''s history');
SELECT is((SELECT count(*)::int FROM crm.activities), (SELECT activities::int FROM counts), 'no activity is lost');
SELECT is((SELECT count(*)::int FROM crm.activities WHERE contact_id IN (901, 902)), 0, 'activities are re-pointed');
SELECT is((SELECT array_agg(buyer ORDER BY id) FROM regress_orders), '{1,1,1,3}'::bigint[], 'a user table is re-pointed too');
SELECT is((SELECT count(*)::int FROM crm.contact_tags WHERE contact_id = 1 AND tag_id = 1), 1, 'a shared tag is kept once');
SELECT ok((SELECT before -> 'contacts' IS NOT NULL AND after -> 'contacts' IS NOT NULL FROM crm.merges WHERE id = :merge1),
	'the merge is recorded with snapshots');

-- Undo restores everything.
SELECT lives_ok(format('SELECT crm.unmerge(%s)', :merge1), 'unmerge runs');
SELECT is(pg_temp.state(), (SELECT s FROM before), 'every contact and referencing row is as before');
SELECT throws_ok(format('SELECT crm.unmerge(%s)', :merge1), '55000', NULL, 'a merge is undone once');

-- Later changes conflict.
SELECT crm.merge_contacts(1, '{901}') AS merge2 \gset
UPDATE crm.contacts SET title = 'CEO' WHERE id = 1;
SELECT throws_ok(format('SELECT crm.unmerge(%s)', :merge2), '55000', NULL, 'a survivor changed after the merge blocks the undo');
UPDATE crm.contacts SET title = 'CTO' WHERE id = 1;
UPDATE crm.activities SET body = 'edited later' WHERE contact_id = 1 AND kind = 'call' AND occurred_at = '2025-01-02';
SELECT throws_ok(format('SELECT crm.unmerge(%s)', :merge2), '55000', NULL, 'so does a re-pointed row changed since');

-- Unrelated later rows stay with the survivor.
SELECT crm.merge_contacts(1, '{902}') AS merge3 \gset
INSERT INTO regress_orders VALUES (5, 1, 50);
SELECT lives_ok(format('SELECT crm.unmerge(%s)', :merge3), 'a new row for the survivor does not block the undo');

SELECT * FROM finish();
ROLLBACK;
