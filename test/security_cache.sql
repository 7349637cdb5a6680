-- crm.current_user_id() answers from a per-session cache.  A change to
-- crm.users committed by another session must reach a session that has
-- the old answer cached before its next statement: deactivating a user
-- cuts them off at once.  Two real sessions, through dblink, in a scratch
-- database (their commits cannot live in this suite's rolled-back
-- transaction).
BEGIN;
SELECT plan(7);
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TEMP TABLE conn AS SELECT format('host=%s port=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
	current_setting('port'), current_user) AS base;
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP DATABASE IF EXISTS regress_model_cache') \gset
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'CREATE DATABASE regress_model_cache') \gset
SELECT dblink_connect('regress_admin_session', (SELECT base FROM conn) || ' dbname=regress_model_cache') \gset
SELECT dblink_connect('regress_rep_session', (SELECT base FROM conn) || ' dbname=regress_model_cache') \gset
SELECT dblink_exec('regress_admin_session', $$
	SET client_min_messages = warning;
	CREATE EXTENSION crm CASCADE;
	DO $d$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_cache_rep') THEN
			CREATE ROLE regress_cache_rep LOGIN;
		END IF;
	END $d$;
	SELECT crm.add_user('regress_cache_rep', 'rep');
	INSERT INTO crm.contacts (given_name, owner_id) VALUES ('Ann', (SELECT id FROM crm.users WHERE login = 'regress_cache_rep'));
	$$) \gset

SELECT dblink_exec('regress_rep_session', 'SET ROLE regress_cache_rep') \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT crm.current_user_id() IS NOT NULL') AS t(n boolean)), true,
	'the rep''s session knows who it is (and caches it)');
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT count(*) FROM crm.contacts') AS t(n bigint)), 1::bigint,
	'and sees its contact');

SELECT dblink_exec('regress_admin_session', $$UPDATE crm.users SET active = false WHERE login = 'regress_cache_rep'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT crm.current_user_id() IS NULL') AS t(n boolean)), true,
	'an admin''s committed deactivation reaches the rep''s session with its next statement');
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT count(*) FROM crm.contacts') AS t(n bigint)), 0::bigint,
	'which then sees nothing');

SELECT dblink_exec('regress_admin_session', $$UPDATE crm.users SET active = true WHERE login = 'regress_cache_rep'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT count(*) FROM crm.contacts') AS t(n bigint)), 1::bigint,
	'reactivation reaches it just as fast');

SELECT dblink_exec('regress_admin_session', $$UPDATE crm.users SET crm_role = 'analyst' WHERE login = 'regress_cache_rep'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT crm.current_crm_role()') AS t(n text)), 'analyst',
	'so does a change of CRM role');

-- an uncommitted change is not seen by the other session
SELECT dblink_exec('regress_admin_session', $$BEGIN; UPDATE crm.users SET active = false WHERE login = 'regress_cache_rep'$$) \gset
SELECT is((SELECT n FROM dblink('regress_rep_session', 'SELECT crm.current_crm_role()') AS t(n text)), 'analyst',
	'while an uncommitted change is not');
SELECT dblink_exec('regress_admin_session', 'ROLLBACK') \gset

SELECT dblink_disconnect('regress_rep_session') \gset
SELECT dblink_disconnect('regress_admin_session') \gset
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP DATABASE regress_model_cache') \gset
SELECT dblink_exec((SELECT base FROM conn) || ' dbname=postgres', 'DROP ROLE regress_cache_rep') \gset

SELECT * FROM finish();
ROLLBACK;
