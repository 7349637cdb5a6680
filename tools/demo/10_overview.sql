-- crm itself: version and what the extension installed
SELECT crm.version() AS crm_version,
	(SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	  WHERE e.extname = 'crm' AND d.deptype = 'e') AS objects_installed;
