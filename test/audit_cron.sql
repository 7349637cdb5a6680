-- Step 7 of the data audit, repeat: crm.schedule_audit() with pg_cron for
-- real (tools/test.sh preloads pg_cron with crm_tap as its database and
-- creates the extension there), then the same calls once pg_cron is dropped
-- inside this transaction, which must say clearly that it is missing.
BEGIN;
SELECT plan(15);

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') AS has_pg_cron \gset
\if :has_pg_cron
SELECT crm.schedule_audit('0 3 1 1 *') AS job \gset
SELECT is((SELECT jobid FROM cron.job WHERE jobname = 'crm_data_audit'), :'job'::bigint,
	'schedule_audit returns the id of pg_cron job crm_data_audit');
SELECT is((SELECT jsonb_build_object('schedule', schedule, 'command', command, 'database', database,
									 'username', username, 'active', active)
			 FROM cron.job WHERE jobid = :'job'::bigint),
	jsonb_build_object('schedule', '0 3 1 1 *', 'command', 'SELECT crm.run_data_audit()',
					   'database', current_database(), 'username', current_user, 'active', true),
	'the job runs crm.run_data_audit() on that schedule, in this database, as the caller');
SELECT crm.run_data_audit() AS r1 \gset
SELECT is((:'r1'::jsonb #>> '{7_repeat,pg_cron_installed}')::boolean, true, 'step 7 sees pg_cron');
SELECT is(:'r1'::jsonb #>> '{7_repeat,scheduled}', '0 3 1 1 *', 'step 7 reports the schedule');
SELECT is(:'r1'::jsonb #>> '{7_repeat,hint}', NULL, 'and gives no hint once scheduled');

SELECT is(crm.schedule_audit('0 4 1 1 *'), :'job'::bigint, 'scheduling again keeps the job id');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'crm_data_audit'), 1::bigint,
	'scheduling again replaces the job rather than adding one');
SELECT is((SELECT schedule FROM cron.job WHERE jobid = :'job'::bigint), '0 4 1 1 *',
	'with the new schedule');

SELECT throws_ok($$SELECT crm.schedule_audit('not a schedule')$$, '22023', 'invalid schedule: not a schedule',
	'invalid cron text is refused');
SELECT is((SELECT schedule FROM cron.job WHERE jobid = :'job'::bigint), '0 4 1 1 *',
	'and the job keeps its schedule');

SELECT is(cron.unschedule('crm_data_audit'), true, 'cron.unschedule removes the job');
SELECT crm.run_data_audit() AS r2 \gset
SELECT is((:'r2'::jsonb #> '{7_repeat}') - 'previous_run'::text - 'average_health_change'::text,
	jsonb_build_object('pg_cron_installed', true, 'scheduled', NULL,
					   'hint', 'Schedule it: SELECT crm.schedule_audit(''0 3 1 * *'');'),
	'then step 7 says how to schedule it');
\else
SELECT skip('pg_cron is not installed in this database', 12);
\endif

-- The same without pg_cron.
DROP EXTENSION IF EXISTS pg_cron;
SELECT throws_ok($$SELECT crm.schedule_audit('  ')$$, '22023', 'cron schedule must not be empty',
	'an empty schedule is refused');
SELECT throws_ok($$SELECT crm.schedule_audit('0 3 1 1 *')$$, '55000', 'pg_cron is not installed in this database',
	'without pg_cron, scheduling says so clearly');
SELECT crm.run_data_audit() AS r3 \gset
SELECT is((:'r3'::jsonb #> '{7_repeat}') - 'previous_run'::text - 'average_health_change'::text,
	jsonb_build_object('pg_cron_installed', false, 'scheduled', NULL,
					   'hint', 'Install pg_cron to repeat the audit on a schedule (crm.schedule_audit).'),
	'and step 7 of the audit says pg_cron is missing');

SELECT * FROM finish();
ROLLBACK;
