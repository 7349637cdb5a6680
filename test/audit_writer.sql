-- The audit trigger's two writers: the direct one (log rows formed in C and
-- heap-inserted, used while crm.audit_log is the plain table) and the SQL
-- one (INSERT ... SELECT to_jsonb(...), used when the log has an INSERT
-- trigger, a rule or unexpected columns).  Both must log the same thing,
-- and that must be what to_jsonb makes of every kind of column.
BEGIN;
SELECT plan(29);
SET client_min_messages = warning;
SET TimeZone = 'UTC';

-- A table with a column of every kind the writer tells apart, audited
-- like a CRM table.
CREATE SCHEMA regress_audit;
CREATE TYPE regress_audit.mood AS ENUM ('sad', 'ok');
CREATE TYPE regress_audit.pair AS (a int, b text);
CREATE DOMAIN regress_audit.posint AS int CHECK (VALUE > 0);
CREATE TABLE regress_audit.kinds (
	id bigint PRIMARY KEY, contact_id bigint, b boolean, i2 smallint, i4 integer, d regress_audit.posint,
	n numeric, f4 real, f8 double precision, dt date, ts timestamp, tstz timestamptz,
	t text, vc varchar(10), bp char(3), iv interval, nm name, e crm.email, m regress_audit.mood,
	j json, jb jsonb, arr text[], p regress_audit.pair, updated_at timestamptz);
CREATE TRIGGER audit_insert AFTER INSERT ON regress_audit.kinds
	REFERENCING NEW TABLE AS crm_new FOR EACH STATEMENT EXECUTE FUNCTION crm._audit();
CREATE TRIGGER audit_update AFTER UPDATE ON regress_audit.kinds
	REFERENCING OLD TABLE AS crm_old NEW TABLE AS crm_new FOR EACH STATEMENT EXECUTE FUNCTION crm._audit();
CREATE TRIGGER audit_delete AFTER DELETE ON regress_audit.kinds
	REFERENCING OLD TABLE AS crm_old FOR EACH STATEMENT EXECUTE FUNCTION crm._audit();

-- The same changes, run once per writer.
CREATE FUNCTION regress_audit.scenario() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_audit.kinds VALUES
		(1, 7, true, 2, 4, 5, 1.50, 1.5, 2.25, '2024-02-29', '2024-01-01 10:00', '2024-01-01 10:00+00',
		 'text', 'vc', 'ab', '1 day', 'nm', 'ann@example.com', 'ok',
		 '{"a": null, "b": [null, 1]}', '{"a": null, "b": {"c": null, "d": 1}}', '{x,NULL}', ROW(1, NULL), now()),
		(2, NULL, false, NULL, NULL, NULL, 'NaN', 'Infinity', 'NaN', 'infinity', '-infinity', NULL,
		 '', NULL, NULL, NULL, NULL, NULL, NULL, '"s"', '5', '{}', NULL, NULL),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	UPDATE regress_audit.kinds SET n = 1.500 WHERE id = 1;
	UPDATE regress_audit.kinds SET n = 2, t = NULL, jb = '{"a": null}', updated_at = now() + interval '1 s' WHERE id = 1;
	UPDATE regress_audit.kinds SET f8 = 'NaN', f4 = 'Infinity' WHERE id = 2;
	UPDATE regress_audit.kinds SET id = id + 10, contact_id = 9 WHERE id IN (2, 3);
	DELETE FROM regress_audit.kinds WHERE id = 1;
END $$;

CREATE FUNCTION regress_audit.logged() RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg(jsonb_build_array(op, row_id, contact_id, user_id, db_role, login,
									   logged_at = now(), old_values, new_values) ORDER BY id)
	  FROM crm.audit_log WHERE table_name = 'kinds'
$$;

SAVEPOINT direct;
SELECT regress_audit.scenario();
SELECT regress_audit.logged() AS direct_log \gset

-- What to_jsonb makes of each kind, checked on the direct writer's rows.
CREATE TEMP TABLE kinds_log AS SELECT * FROM crm.audit_log WHERE table_name = 'kinds';
SELECT is((SELECT new_values FROM kinds_log WHERE op = 'INSERT' AND row_id = 1),
	'{"b": true, "d": 5, "e": "ann@example.com", "j": {"a": null, "b": [null, 1]}, "m": "ok", "n": 1.50, "p": {"a": 1, "b": null},
	  "t": "text", "bp": "ab ", "dt": "2024-02-29", "f4": 1.5, "f8": 2.25, "i2": 2, "i4": 4, "id": 1,
	  "iv": "1 day", "jb": {"a": null, "b": {"c": null, "d": 1}}, "nm": "nm", "ts": "2024-01-01T10:00:00", "vc": "vc", "arr": ["x", null],
	  "tstz": "2024-01-01T10:00:00+00:00", "contact_id": 7}'::jsonb || jsonb_build_object('updated_at', now()),
	'an insert logs every non-NULL column as to_jsonb does, nulls inside values kept');
SELECT is((SELECT new_values FROM kinds_log WHERE op = 'INSERT' AND row_id = 2),
	'{"b": false, "j": "s", "n": "NaN", "t": "", "dt": "infinity", "f4": "Infinity", "f8": "NaN", "id": 2,
	  "jb": 5, "ts": "-infinity", "arr": []}'::jsonb,
	'NaN and infinities are strings, scalar json and jsonb are embedded, an empty string is kept');
SELECT is((SELECT new_values FROM kinds_log WHERE op = 'INSERT' AND row_id = 3), '{"id": 3}'::jsonb,
	'a row of NULLs logs only its key');
SELECT is((SELECT array_agg(contact_id ORDER BY row_id) FROM kinds_log WHERE op = 'INSERT'), '{7,0,0}'::bigint[],
	'contact_id comes from the row, 0 when it has none');
SELECT is((SELECT count(*)::int FROM kinds_log WHERE op = 'UPDATE' AND row_id = 1), 1,
	'an update to an equal number (1.50 to 1.500) is not logged');
SELECT is((SELECT old_values FROM kinds_log WHERE op = 'UPDATE' AND row_id = 1),
	'{"n": 1.50, "t": "text", "jb": {"a": null, "b": {"c": null, "d": 1}}}'::jsonb,
	'an update logs the old values of the changed columns, nested nulls kept');
SELECT is((SELECT new_values FROM kinds_log WHERE op = 'UPDATE' AND row_id = 1),
	'{"n": 2, "t": null, "jb": {"a": null}}'::jsonb,
	'and their new values, a column set to NULL as null, the stamp column left out');
SELECT is((SELECT count(*)::int FROM kinds_log WHERE op = 'UPDATE' AND row_id = 2), 0,
	'NaN to NaN and infinity to infinity are no change');
SELECT is((SELECT jsonb_agg(jsonb_build_array(row_id, contact_id, old_values, new_values) ORDER BY row_id)
			 FROM kinds_log WHERE op = 'UPDATE' AND row_id > 10),
	'[[12, 9, {"id": 2, "contact_id": null}, {"id": 12, "contact_id": 9}],
	  [13, 9, {"id": 3, "contact_id": null}, {"id": 13, "contact_id": 9}]]'::jsonb,
	'a key change pairs old and new rows and logs the new key as row_id');
SELECT is((SELECT old_values->'n' FROM kinds_log WHERE op = 'DELETE'), '2'::jsonb,
	'a delete logs the whole old row');
SELECT is((SELECT new_values FROM kinds_log WHERE op = 'DELETE'), NULL, 'and no new values');
SELECT is((SELECT count(*)::int FROM kinds_log), 7, 'seven changed rows, seven log rows');
SELECT is((SELECT count(DISTINCT id)::int FROM kinds_log), 7, 'each with its own id');
ROLLBACK TO SAVEPOINT direct;

-- An INSERT trigger on the log (say, one that forwards it) makes the
-- trigger write through SQL, so that the trigger fires.
SAVEPOINT via_sql;
CREATE FUNCTION regress_audit.forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_catalog.set_config('regress.forwarded',
		(COALESCE(NULLIF(pg_catalog.current_setting('regress.forwarded', true), ''), '0')::int + 1)::text, true);
	RETURN NEW;
END $$;
CREATE TRIGGER regress_forward BEFORE INSERT ON crm.audit_log FOR EACH ROW EXECUTE FUNCTION regress_audit.forward();
SELECT regress_audit.scenario();
SELECT is(current_setting('regress.forwarded', true), '7', 'with an INSERT trigger on the log, every log row passes it');
SELECT is(regress_audit.logged(), :'direct_log'::jsonb, 'and the SQL writer logs exactly what the direct one does');
ROLLBACK TO SAVEPOINT via_sql;

-- A column the trigger does not know about (with a default) also falls
-- back to SQL, which fills it.
SAVEPOINT extra_column;
ALTER TABLE crm.audit_log ADD COLUMN regress_note text DEFAULT 'noted';
SELECT regress_audit.scenario();
SELECT is(regress_audit.logged(), :'direct_log'::jsonb, 'a log with an extra column gets the same rows');
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'kinds' AND regress_note = 'noted'), 7,
	'with the column''s default');
ROLLBACK TO SAVEPOINT extra_column;

-- And back to the plain log: the direct writer again.
SAVEPOINT direct_again;
SELECT regress_audit.scenario();
SELECT is(regress_audit.logged(), :'direct_log'::jsonb, 'dropping the trigger and column brings the direct writer back');
ROLLBACK TO SAVEPOINT direct_again;

-- A CHECK constraint added to the log binds the direct writer too.
SAVEPOINT log_check;
ALTER TABLE crm.audit_log ADD CONSTRAINT regress_no_kinds CHECK (table_name <> 'kinds') NOT VALID;
SELECT throws_ok($$INSERT INTO regress_audit.kinds (id) VALUES (40)$$, '23514', NULL,
	'a CHECK constraint added to the log holds for the direct writer');
ALTER TABLE crm.audit_log DROP CONSTRAINT regress_no_kinds;
INSERT INTO regress_audit.kinds (id) VALUES (40);
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 40), 1,
	'and no longer once it is dropped');
ROLLBACK TO SAVEPOINT log_check;

-- Log rows belong to the statement's transaction.
SAVEPOINT before_insert;
INSERT INTO regress_audit.kinds (id) VALUES (50);
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 50), 1,
	'the next statement of the transaction sees the log row');
ROLLBACK TO SAVEPOINT before_insert;
SELECT is((SELECT count(*)::int FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 50), 0,
	'a rolled-back change leaves no log row');

-- Who: the crm.users id is cached, and forgotten when crm.users changes,
-- within the same transaction too.
INSERT INTO regress_audit.kinds (id) VALUES (60);
SELECT is((SELECT user_id FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 60), NULL,
	'a login that is no CRM user is logged without user_id');
SELECT is((SELECT db_role::text FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 60), current_user::text,
	'but with its role');
INSERT INTO crm.users (login, display_name, crm_role) VALUES (current_user, 'Test admin', 'admin');
INSERT INTO regress_audit.kinds (id) VALUES (61);
SELECT is((SELECT user_id FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 61),
	(SELECT id FROM crm.users WHERE login = current_user), 'a login registered since is logged with its new id');
UPDATE crm.users SET active = false WHERE login = current_user;
INSERT INTO regress_audit.kinds (id) VALUES (62);
SELECT is((SELECT user_id FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 62),
	(SELECT id FROM crm.users WHERE login = current_user), 'a deactivated user is still named');
UPDATE crm.users SET login = 'regress_renamed' WHERE login = current_user;
INSERT INTO regress_audit.kinds (id) VALUES (63);
SELECT is((SELECT user_id FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 63), NULL,
	'a login whose CRM user moved away is no longer matched');

-- A table's definition change is noticed between two statements.
ALTER TABLE regress_audit.kinds ALTER COLUMN i4 TYPE text;
INSERT INTO regress_audit.kinds (id, i4) VALUES (70, '042');
SELECT is((SELECT new_values->'i4' FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 70), '"042"'::jsonb,
	'a column whose type changed is logged as its new type');
ALTER TABLE regress_audit.kinds RENAME COLUMN t TO note;
INSERT INTO regress_audit.kinds (id, note) VALUES (71, 'renamed');
SELECT is((SELECT new_values FROM crm.audit_log WHERE table_name = 'kinds' AND row_id = 71),
	'{"id": 71, "note": "renamed"}'::jsonb, 'a renamed column is logged under its new name');

SELECT * FROM finish();
ROLLBACK;
