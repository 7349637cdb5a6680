-- The contacts' scoring trigger stands aside only when crm.rescore_all()
-- or the activity trigger say so, never because a session set something:
-- a rep cannot write scores by hand or step around the lifecycle check.
BEGIN;
\ir fixtures/model.sql
SELECT plan(11);

SET ROLE regress_rep1;
-- the setting that used to switch the trigger off does nothing now
SET LOCAL crm.rescoring = on;
UPDATE crm.contacts SET lead_score = 99, lead_grade = 'A1' WHERE id = 1;
SELECT is(lead_score::float8, crm.clamp_points(fit_score::float8 + COALESCE(engagement_score, 0), 0,
										(SELECT score_ceiling FROM crm.scoring_settings)),
	'a rep who sets crm.rescoring still gets the computed score, not the one written') FROM crm.contacts WHERE id = 1;
SELECT isnt(lead_grade, 'A1', 'nor the grade written') FROM crm.contacts WHERE id = 1;
SELECT throws_ok($$UPDATE crm.contacts SET lifecycle_stage = 'subscriber' WHERE id = 1$$, '23514', NULL,
	'nor can the stage move back');
SELECT throws_ok($$SELECT crm._set_scoring_aside(true)$$, '42501', NULL,
	'a rep may not switch the trigger off');
SELECT is(crm._scoring_stands_aside(), false, 'everyone may ask whether it is off');
RESET crm.rescoring;
RESET ROLE;

-- the flag never outlives what set it
SAVEPOINT inner_work;
SELECT crm._set_scoring_aside(true);
SELECT is(crm._scoring_stands_aside(), true, 'an admin switches it off');
ROLLBACK TO SAVEPOINT inner_work;
SELECT is(crm._scoring_stands_aside(), false, 'the abort of the subtransaction that set it switches it on again');
DO $$ BEGIN
	BEGIN PERFORM crm._set_scoring_aside(true); PERFORM 1 / 0; EXCEPTION WHEN division_by_zero THEN NULL; END;
END $$;
SELECT is(crm._scoring_stands_aside(), false, 'so does an error in the subtransaction that set it');
SELECT crm._set_scoring_aside(true);
DO $$ BEGIN
	BEGIN PERFORM 1 / 0; EXCEPTION WHEN division_by_zero THEN NULL; END;
END $$;
SELECT is(crm._scoring_stands_aside(), true, 'an abort below the level that set it leaves it');
SELECT crm._set_scoring_aside(false);
SELECT is(crm._scoring_stands_aside(), false, 'and it is switched on again explicitly');
SELECT crm.rescore_all();
SELECT is(crm._scoring_stands_aside(), false, 'crm.rescore_all() leaves it on when done');

SELECT * FROM finish();
ROLLBACK;
