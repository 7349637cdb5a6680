-- The reach the policies ask about (crm.visible_owner_ids(), the
-- crm.shared_*_ids() arrays) is cached per session.  A committed change to
-- crm.shares, crm.teams or crm.users must reach a session that has the old
-- answer cached before its next statement, and an answer read under an
-- older snapshot must never be kept for later ones.  Real sessions,
-- through dblink, in a scratch database (their commits cannot live in this
-- suite's rolled-back transaction).
BEGIN;
SELECT plan(11);
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TEMP TABLE conn AS SELECT format('host=%s port=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
	current_setting('port'), current_user) AS base;
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP DATABASE IF EXISTS regress_reach_cache') \gset
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'CREATE DATABASE regress_reach_cache') \gset
SELECT dblink_connect('regress_admin_session', (SELECT base FROM conn) || ' dbname=regress_reach_cache') \gset
SELECT dblink_connect('regress_rep_session', (SELECT base FROM conn) || ' dbname=regress_reach_cache') \gset
SELECT dblink_exec('regress_admin_session', $$
	SET client_min_messages = warning;
	CREATE EXTENSION crm CASCADE;
	DO $d$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_reach_rep') THEN
			CREATE ROLE regress_reach_rep LOGIN;
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_reach_other') THEN
			CREATE ROLE regress_reach_other LOGIN;
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_reach_mgr') THEN
			CREATE ROLE regress_reach_mgr LOGIN;
		END IF;
	END $d$;
	SELECT crm.add_user('regress_reach_mgr', 'manager', NULL, 'East');
	SELECT crm.add_user('regress_reach_rep', 'rep', NULL, 'West');
	SELECT crm.add_user('regress_reach_other', 'rep', NULL, 'West');
	INSERT INTO crm.contacts (id, given_name, owner_id) VALUES
		(1, 'Ann', (SELECT id FROM crm.users WHERE login = 'regress_reach_rep')),
		(2, 'Bob', (SELECT id FROM crm.users WHERE login = 'regress_reach_other')),
		(3, 'Cat', (SELECT id FROM crm.users WHERE login = 'regress_reach_other'));
	$$) \gset

SELECT dblink_exec('regress_rep_session', 'SET ROLE regress_reach_rep') \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT array_agg(id ORDER BY id) FROM crm.contacts') AS t(n bigint[])),
	'{1}'::bigint[], 'the rep sees its own contact (and caches its reach)');

-- a share committed by another session
SELECT dblink_exec('regress_admin_session', $$INSERT INTO crm.shares (user_id, contact_id, access, granted_by)
	SELECT r.id, 2, 'read', o.id FROM crm.users r, crm.users o
	 WHERE r.login = 'regress_reach_rep' AND o.login = 'regress_reach_other'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT array_agg(id ORDER BY id) FROM crm.contacts') AS t(n bigint[])),
	'{1,2}'::bigint[], 'a committed share reaches the rep''s session with its next statement');
SELECT dblink_exec('regress_admin_session', $$DELETE FROM crm.shares WHERE contact_id = 2$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT array_agg(id ORDER BY id) FROM crm.contacts') AS t(n bigint[])),
	'{1}'::bigint[], 'and so does its revocation');

-- An answer read under a snapshot older than a commit is used, but not
-- kept: here a repeatable-read transaction takes its snapshot, another
-- session shares contact 3, and the rep's next statement (which processes
-- that invalidation) recomputes the reach under the old snapshot.
SELECT dblink_exec('regress_rep_session', 'BEGIN ISOLATION LEVEL REPEATABLE READ') \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT crm.shared_contact_ids()') AS t(n bigint[])),
	'{}'::bigint[], 'a repeatable-read transaction sees no share');
SELECT dblink_exec('regress_admin_session', $$INSERT INTO crm.shares (user_id, contact_id, access, granted_by)
	SELECT r.id, 3, 'read', o.id FROM crm.users r, crm.users o
	 WHERE r.login = 'regress_reach_rep' AND o.login = 'regress_reach_other'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT (SELECT count(*) FROM crm.deals), crm.shared_contact_ids()') AS t(d bigint, n bigint[])),
	'{}'::bigint[], 'the share committed since is not in its snapshot, even once its invalidation has come in');
SELECT dblink_exec('regress_rep_session', 'COMMIT') \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT crm.shared_contact_ids()') AS t(n bigint[])),
	'{3}'::bigint[], 'the next transaction sees the share: the old answer was not kept');

-- Inside one read-committed transaction each statement takes a new
-- snapshot, and so must the reach: the locks the rep's statements need are
-- already held, so nothing else would read the invalidation in.
SELECT dblink_exec('regress_rep_session', 'BEGIN') \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT array_agg(id ORDER BY id) FROM crm.contacts') AS t(n bigint[])),
	'{1,3}'::bigint[], 'in a transaction, the rep sees its contact and the shared one');
SELECT dblink_exec('regress_admin_session', $$DELETE FROM crm.shares WHERE contact_id = 3$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT array_agg(id ORDER BY id) FROM crm.contacts') AS t(n bigint[])),
	'{1}'::bigint[], 'a revocation committed meanwhile holds from the transaction''s next statement');
SELECT dblink_exec('regress_admin_session', $$UPDATE crm.users SET active = false WHERE login = 'regress_reach_rep'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT count(*) FROM crm.contacts') AS t(n bigint)),
	0::bigint, 'and so does deactivating the user');
SELECT dblink_exec('regress_rep_session', 'COMMIT') \gset

-- a manager's reach follows the team hierarchy
SELECT dblink_exec('regress_rep_session', 'RESET ROLE; SET ROLE regress_reach_mgr') \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT cardinality(crm.visible_owner_ids())') AS t(n int)),
	1, 'the manager of East reaches only itself');
SELECT dblink_exec('regress_admin_session', $$UPDATE crm.teams SET parent_id = (SELECT id FROM crm.teams WHERE name = 'East')
	WHERE name = 'West'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT cardinality(crm.visible_owner_ids())') AS t(n int)),
	3, 'once West moves under East, its two reps are in the manager''s reach at the next statement');

SELECT dblink_disconnect('regress_rep_session') \gset
SELECT dblink_disconnect('regress_admin_session') \gset
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP DATABASE regress_reach_cache') \gset
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP ROLE regress_reach_rep, regress_reach_other, regress_reach_mgr') \gset

SELECT * FROM finish();
ROLLBACK;
