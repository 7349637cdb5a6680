-- Change audit cost: inserts into crm.contacts (whose triggers also write
-- the email history) with the audit triggers on, against the same inserts
-- with every audit trigger off.  Issue target: ≤ 1.3×.  Measured both as
-- one bulk INSERT of :rows / 10 rows and as 1,000 single-row INSERTs
-- (one statement each, the worst case for a statement-level trigger).
SET client_min_messages = warning;
CREATE FUNCTION bench.audit(on_off boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t text;
BEGIN
	FOR t IN SELECT DISTINCT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
			  WHERE c.relnamespace = 'crm'::regnamespace AND g.tgname LIKE 'audit\_%'
	LOOP
		EXECUTE format('ALTER TABLE crm.%I %s TRIGGER audit_insert', t, CASE WHEN on_off THEN 'ENABLE' ELSE 'DISABLE' END);
	END LOOP;
END $$;
CREATE SEQUENCE bench.n;

SELECT bench.compare('bulk insert, audited',
	format($q$INSERT INTO crm.contacts (given_name, family_name, email, lifecycle_stage, lead_source)
			  SELECT 'Given' || g, 'Family' || g, ('b' || g || '@example.com')::crm.email, 'lead', 'web'
				FROM (SELECT nextval('bench.n') g FROM generate_series(1, %s)) s$q$, greatest(:rows / 10, 1000)),
	'bulk insert, audit off',
	format($q$SELECT bench.audit(false);
			  INSERT INTO crm.contacts (given_name, family_name, email, lifecycle_stage, lead_source)
			  SELECT 'Given' || g, 'Family' || g, ('b' || g || '@example.com')::crm.email, 'lead', 'web'
				FROM (SELECT nextval('bench.n') g FROM generate_series(1, %s)) s;
			  SELECT bench.audit(true)$q$, greatest(:rows / 10, 1000)));

SELECT bench.compare('1000 single-row inserts, audited',
	$q$DO $d$ BEGIN
		FOR i IN 1..1000 LOOP
			INSERT INTO crm.contacts (given_name, email, lifecycle_stage)
			VALUES ('One', ('s' || nextval('bench.n') || '@example.com')::crm.email, 'lead');
		END LOOP; END $d$$q$,
	'1000 single-row inserts, audit off',
	$q$SELECT bench.audit(false);
	   DO $d$ BEGIN
		FOR i IN 1..1000 LOOP
			INSERT INTO crm.contacts (given_name, email, lifecycle_stage)
			VALUES ('One', ('s' || nextval('bench.n') || '@example.com')::crm.email, 'lead');
		END LOOP; END $d$;
	   SELECT bench.audit(true)$q$, 5);

SELECT bench.compare('bulk update of one column, audited',
	format($q$UPDATE crm.contacts SET title = 'T' || id WHERE id <= %s$q$, greatest(:rows / 10, 1000)),
	'bulk update, audit off',
	format($q$SELECT bench.audit(false); ALTER TABLE crm.contacts DISABLE TRIGGER audit_update;
			  UPDATE crm.contacts SET title = 'T' || id WHERE id <= %s;
			  ALTER TABLE crm.contacts ENABLE TRIGGER audit_update; SELECT bench.audit(true)$q$, greatest(:rows / 10, 1000)));
SELECT bench.note('audit rows written', (SELECT count(*) FROM crm.audit_log), 'rows');
