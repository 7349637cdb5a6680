/*
 * crm.c
 *	  Module entry point: library set-up and the version handshake.
 *
 * The shared library and the SQL objects that point into it are installed
 * separately (make install, then CREATE/ALTER EXTENSION), so they can drift
 * apart: a new crm.so under an old catalog, or the reverse.  Calling a C
 * function whose SQL declaration no longer matches its code can misbehave in
 * ways that are hard to trace, so the library checks once, when a backend
 * loads it, that the installed extension version equals the one it was built
 * for, and refuses with a hint otherwise.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "crm.h"
#include "phone.h"

PG_MODULE_MAGIC;

/*
 * Installed version of extension "crm" in the current database, or NULL when
 * it is not installed here (e.g. LOAD 'crm' in another database).
 */
static char *
InstalledVersion(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *result = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("crm"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			result = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/*
 * Refuse to run when the catalog and the library disagree.  Skipped while an
 * extension script runs, because CREATE and ALTER EXTENSION load the new
 * library before the catalog records the new version.
 */
static void
CheckVersion(void)
{
	char	   *installed;

	if (!IsTransactionState() || creating_extension)
		return;

	installed = InstalledVersion();
	if (installed == NULL || strcmp(installed, CRM_VERSION) == 0)
		return;

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("crm library version %s does not match installed extension version %s",
					CRM_VERSION, installed),
			 errdetail("The shared library crm.so was built for version %s, but this database has version %s of the SQL objects.",
					   CRM_VERSION, installed),
			 errhint("Run ALTER EXTENSION crm UPDATE TO '%s', or reinstall the crm package that matches version %s.",
					 CRM_VERSION, installed)));
}

void
_PG_init(void)
{
	/*
	 * An error here leaves the library unregistered, so every later call in
	 * this backend repeats the check and refuses again until fixed.
	 */
	CheckVersion();

	/*
	 * GUCs come after the check: if it fails, the next load runs _PG_init
	 * again, and a second definition of the same GUC would be an error.
	 */
	crm_phone_init();
}

PG_FUNCTION_INFO_V1(crm_version);

/*
 * crm.version(): the version the loaded library was built as.
 */
Datum
crm_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(CRM_VERSION));
}
