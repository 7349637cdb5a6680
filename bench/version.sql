-- Seed benchmark: the cost of calling into the crm library at all, against
-- the server's own version().  It keeps the harness honest: the ratio shows
-- the fixed overhead every crm C function pays per call.
SELECT bench.compare('crm.version() x rows',
	format($q$SELECT count(crm.version()) FROM generate_series(1, %s)$q$, :rows),
	'pg_catalog.version()',
	format($q$SELECT count(pg_catalog.version()) FROM generate_series(1, %s)$q$, :rows));
