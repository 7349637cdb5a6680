-- The per-session nickname cache: changes committed by other sessions, and
-- parallel workers that build their own copy.
BEGIN;
SELECT plan(7);

CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TEMP TABLE conn AS
SELECT format('host=%s port=%s dbname=%s user=%s',
              split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database(), current_user) AS s;

SELECT ok(NOT crm.given_names_match('Quo', 'Quorra'), 'an unknown pair does not match (and warms the cache)');
SELECT is(crm.given_name_key('Quo'), 'quo', 'an unknown name is its own key');

-- Another session adds a pair and commits.  The checks run as plain
-- statements that take no lock (pgTAP's own functions do, and taking a lock
-- would read the invalidation anyway), then report through pgTAP.
SELECT s AS conn FROM conn \gset
SELECT dblink_exec(:'conn', 'INSERT INTO crm.nicknames (name, nickname) VALUES (''Quorra'', ''Quo'')') AS added \gset
SELECT crm.given_names_match('Quo', 'Quorra') AS m, crm.given_name_key('Quo') AS k \gset
SELECT is(:'added'::text, 'INSERT 0 1', 'another session adds Quorra/Quo');
SELECT ok(:'m'::boolean, 'the next statement here sees the committed pair');
SELECT is(:'k'::text, 'quorra', 'and the key follows');

SELECT dblink_exec(:'conn', 'DELETE FROM crm.nicknames WHERE name = ''Quorra''') AS deleted \gset
SELECT crm.given_names_match('Quo', 'Quorra') AS m \gset
SELECT ok(NOT :'m'::boolean, 'the deletion is seen too');

-- Parallel workers load the table themselves and agree with the leader.
SET LOCAL force_parallel_mode = on;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT is((SELECT count(*)::int FROM crm.nicknames n WHERE crm.given_names_match(n.nickname, n.name)),
	(SELECT count(*)::int FROM crm.nicknames),
	'every row matches its own pair, in parallel workers too');

SELECT * FROM finish();
ROLLBACK;
