-- Duplicate rules on crm.contacts: allow, alert (row and NOTIFY), block
-- (23505 naming the contact), the override, merges, and two sessions
-- inserting the same person at once.
BEGIN;
SELECT plan(18);

INSERT INTO crm.contacts (id, given_name, family_name, email, phone)
VALUES (7001, 'Robert', 'Quennell', 'rob.quennell@example.com', '+14155550199');

-- The check's written-out preparation equals the generic one.
INSERT INTO crm.contacts (id, given_name, family_name, email, phone, city, postcode, region, country)
VALUES (7009, ' Dr. José ', 'García-López', 'Jose.Garcia+x@Gmail.com', '+44 20 7946 0958', 'München', 'ec1a 1bb', 'Bavaria', 'DE');
CREATE FUNCTION pg_temp.prep_mismatches() RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
	EXECUTE format('SELECT count(*) FROM (%s) g JOIN crm.contacts c ON c.id::text = g.id WHERE g.f IS DISTINCT FROM crm._contact_prepared(c)',
		crm._match_records_sql(crm.match_mapping('crm.contacts', NULL))) INTO n;
	RETURN n;
END $$;
SELECT is(pg_temp.prep_mismatches(), 0, 'the duplicate check prepares contacts as the matcher does');
DELETE FROM crm.contacts WHERE id = 7009;
-- No rules: anything goes.
SELECT lives_ok($$INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (7002, 'Rob', 'Quennell', 'ROB.QUENNELL@example.com')$$,
	'without rules a duplicate is inserted');
DELETE FROM crm.contacts WHERE id = 7002;

-- allow: nothing happens either.
INSERT INTO crm.duplicate_rules (name, action, min_probability) VALUES ('regress allow', 'allow', 0.5);
SELECT lives_ok($$INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (7002, 'Rob', 'Quennell', 'ROB.QUENNELL@example.com')$$,
	'an allow rule lets it in');
DELETE FROM crm.contacts WHERE id = 7002;

-- alert: the row goes in, an alert is recorded.
INSERT INTO crm.duplicate_rules (name, action, min_probability) VALUES ('regress alert', 'alert', 0.5);
SELECT lives_ok($$INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (7002, 'Rob', 'Quennell', 'ROB.QUENNELL@example.com')$$,
	'an alert rule lets it in');
SELECT is((SELECT existing_id FROM crm.duplicate_alerts WHERE contact_id = 7002), 7001::bigint, 'and records an alert naming the existing contact');
SELECT ok((SELECT probability >= 0.5 AND evidence ? 'fields' FROM crm.duplicate_alerts WHERE contact_id = 7002), 'with probability and evidence');
SELECT is((SELECT count(*)::int FROM crm.duplicate_alerts WHERE contact_id = 7003), 0, 'no alert for what was not inserted');
INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (7003, 'Maria', 'Oyelaran', 'maria.o@example.net');
SELECT is((SELECT count(*)::int FROM crm.duplicate_alerts WHERE contact_id = 7003), 0, 'a different person raises no alert');

-- block: 23505 with a hint naming the existing contact.
INSERT INTO crm.duplicate_rules (name, action, min_probability) VALUES ('regress block', 'block', 0.9);
SELECT throws_ok($$INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (7004, 'Robert', 'Quennell', 'rob.quennell@example.com')$$,
	'23505', 'duplicate contact: probably the same as contact 7001', 'a block rule refuses the duplicate');
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN unique_violation THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN h;
END $$;
SELECT matches(pg_temp.hint_of($$INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (7004, 'Robert', 'Quennell', 'rob.quennell@example.com')$$),
	'crm\.merge_contacts\(7001, ', 'the hint names the contact and how to merge');
SELECT throws_ok($$UPDATE crm.contacts SET email = 'rob.quennell@example.com', given_name = 'Robert' WHERE id = 7003$$,
	'23505', NULL, 'an update that makes a duplicate is refused too');
SET LOCAL crm.duplicate_check = off;
SELECT lives_ok($$INSERT INTO crm.contacts (id, given_name, family_name, email) VALUES (7004, 'Robert', 'Quennell', 'rob.quennell@example.com')$$,
	'the override lets it in');
RESET crm.duplicate_check;
SELECT lives_ok($$SELECT crm.merge_contacts(7001, '{7002,7004}')$$, 'merging duplicates is not blocked by the rules');
SELECT is((SELECT count(*)::int FROM crm.contacts WHERE id IN (7001, 7002, 7004)), 1, 'and leaves one');

-- Two sessions insert the same person at once, in a scratch database.
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TEMP TABLE conn AS SELECT format('host=%s port=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
	current_setting('port'), current_user) AS base;
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP DATABASE IF EXISTS regress_dedupe_race');
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'CREATE DATABASE regress_dedupe_race');
SELECT dblink_connect('regress_c', (SELECT base FROM conn) || ' dbname=regress_dedupe_race');
SELECT dblink_exec('regress_c', 'CREATE EXTENSION crm CASCADE');
SELECT dblink_exec('regress_c', $$INSERT INTO crm.duplicate_rules (name, action, min_probability) VALUES ('block', 'block', 0.9), ('alert', 'alert', 0.5)$$);
SELECT dblink_exec('regress_c', 'LISTEN crm_duplicate');
SELECT dblink_connect('regress_a', (SELECT base FROM conn) || ' dbname=regress_dedupe_race application_name=regress_a');
SELECT dblink_connect('regress_b', (SELECT base FROM conn) || ' dbname=regress_dedupe_race application_name=regress_b');
SELECT dblink_exec('regress_a', 'BEGIN');
SELECT dblink_exec('regress_a', $$INSERT INTO crm.contacts (given_name, family_name, email) VALUES ('Zed', 'Quigley', 'zed.quigley@race.example')$$);
SELECT dblink_send_query('regress_b', $$INSERT INTO crm.contacts (given_name, family_name, email) VALUES ('Zed', 'Quigley', 'zed.quigley@race.example')$$);
CREATE FUNCTION pg_temp.waits_on_lock(app text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	-- polls for up to a minute (slow under valgrind); returns at once when seen
	FOR i IN 1..1200 LOOP
		PERFORM pg_stat_clear_snapshot();
		IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = app AND wait_event_type = 'Lock') THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN false;
END $$;
SELECT ok(pg_temp.waits_on_lock('regress_b'), 'the second session waits for the first');
SELECT dblink_exec('regress_a', 'COMMIT');
SELECT throws_ok($$SELECT * FROM dblink_get_result('regress_b') AS t(r text)$$, '23505', NULL,
	'and is blocked once the first commits');
SELECT * FROM dblink_get_result('regress_b') AS t(r text);
SELECT is((SELECT n FROM dblink('regress_c', $$SELECT count(*) FROM crm.contacts WHERE family_name = 'Quigley'$$) AS t(n bigint)),
	1::bigint, 'only one of them is in');
-- An alert is announced with NOTIFY crm_duplicate.
SELECT dblink_exec('regress_c', $$UPDATE crm.duplicate_rules SET enabled = false WHERE name = 'block'$$);
SELECT dblink_exec('regress_a', $$INSERT INTO crm.contacts (given_name, family_name, email) VALUES ('Zed', 'Quigly', 'zq@elsewhere.example')$$);
-- The notification reaches the listener asynchronously: poll for it.
CREATE FUNCTION pg_temp.alert_heard() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..1200 LOOP
		IF EXISTS (SELECT 1 FROM dblink_get_notify('regress_c')
					WHERE notify_name = 'crm_duplicate' AND extra::jsonb ->> 'rule' = 'alert') THEN
			RETURN true;
		END IF;
		-- a round trip lets the listener's backend send what it holds
		PERFORM * FROM dblink('regress_c', 'SELECT 1') AS t(one int);
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN false;
END $$;
SELECT ok(pg_temp.alert_heard(), 'an alert is announced on channel crm_duplicate with a JSON payload');
SELECT dblink_disconnect('regress_a');
SELECT dblink_disconnect('regress_b');
SELECT dblink_disconnect('regress_c');
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP DATABASE regress_dedupe_race');

SELECT * FROM finish();
ROLLBACK;
