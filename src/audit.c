/*
 * audit.c
 *	  The change audit log: a statement-level trigger that writes one row per
 *	  changed row into crm.audit_log, a guard that keeps the log append-only,
 *	  and the retention function that is the guard's only exception.
 *
 * Why C: the log must say who made a change, and it must be unwritable by
 * the people it records.  A trigger function written in SQL can have only
 * one of the two: SECURITY DEFINER loses the caller's identity (current_user
 * becomes the definer), SECURITY INVOKER needs an INSERT privilege on the
 * log that anyone could use to forge entries.  Here the trigger reads the
 * caller's identity first, then switches to the log's owner for the insert
 * exactly as SECURITY DEFINER would (user id, restricted-operation flag and a
 * pinned search_path), and switches back even on error.
 *
 * Inserted and deleted rows are logged whole, without their NULL columns
 * (an absent key reads as NULL; most CRM rows are mostly empty).
 *
 * Why statement level: the rows arrive in transition tables, so one INSERT
 * ... SELECT per statement logs them all; a bulk load pays one extra query,
 * not one per row.  UPDATE pairs old and new rows by their position in the
 * transition tables (PostgreSQL stores them in step), which keeps working
 * when the statement changes the key itself, and logs only the columns that
 * changed.
 *
 * Append-only: a statement-level BEFORE UPDATE/DELETE/TRUNCATE trigger on
 * crm.audit_log refuses every change, even by the owner, unless the
 * retention function of this file is the one deleting (a backend-local flag
 * no SQL can set).  A superuser can still disable the trigger: nothing in a
 * database protects data from its superuser.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "crm.h"

/* Set only while crm_audit_purge deletes; checked by crm_audit_guard. */
static bool PurgeInProgress = false;

/*
 * Prepared statements of the trigger, per audited table and event, kept
 * for the life of the backend: parsing and planning the INSERT ... SELECT
 * costs far more than running it for a one-row statement.  The plan reads
 * the table's rows through the transition table, whose row type is the
 * table's; a copy of the table's tuple descriptor is kept beside the plan
 * and the plan is prepared again when they no longer match (ALTER TABLE).
 */
typedef struct AuditPlanKey
{
	Oid			relid;
	int			event;			/* TRIGGER_EVENT_INSERT, _UPDATE or _DELETE */
} AuditPlanKey;

typedef struct AuditPlanEntry
{
	AuditPlanKey key;
	SPIPlanPtr	plan;
	TupleDesc	desc;
} AuditPlanEntry;

static HTAB *AuditPlans = NULL;

/*
 * Columns that change on every update and say nothing by themselves: the
 * log row already records who and when.  The lead-scoring snapshot columns
 * of crm.contacts are derived from rules and activities (which are logged)
 * and change with every scored activity, so they are skipped too.
 */
#define AUDIT_SKIP_COLUMNS "'updated_at', 'updated_by', 'fit_score', 'engagement_score', 'engagement_as_of', " \
	"'lead_score', 'lead_grade'"

static const char *const AuditInsertSql =
"INSERT INTO crm.audit_log (contact_id, user_id, db_role, login, table_name, op, row_id, old_values, new_values) "
"SELECT CASE WHEN $3 OPERATOR(pg_catalog.=) 'contacts' THEN (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8 "
"            ELSE COALESCE((r.j OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8, 0) END, "
"       (SELECT u.id FROM crm.users u WHERE u.login OPERATOR(pg_catalog.=) $1), $1, $2, $3, 'INSERT', "
"       (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8, NULL, r.j "
"  FROM (SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(t)) AS j FROM crm_new t) r";

static const char *const AuditDeleteSql =
"INSERT INTO crm.audit_log (contact_id, user_id, db_role, login, table_name, op, row_id, old_values, new_values) "
"SELECT CASE WHEN $3 OPERATOR(pg_catalog.=) 'contacts' THEN (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8 "
"            ELSE COALESCE((r.j OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8, 0) END, "
"       (SELECT u.id FROM crm.users u WHERE u.login OPERATOR(pg_catalog.=) $1), $1, $2, $3, 'DELETE', "
"       (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8, r.j, NULL "
"  FROM (SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(t)) AS j FROM crm_old t) r";

static const char *const AuditUpdateSql =
"INSERT INTO crm.audit_log (contact_id, user_id, db_role, login, table_name, op, row_id, old_values, new_values) "
"SELECT CASE WHEN $3 OPERATOR(pg_catalog.=) 'contacts' THEN (n.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8 "
"            ELSE COALESCE((n.j OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8, 0) END, "
"       (SELECT u.id FROM crm.users u WHERE u.login OPERATOR(pg_catalog.=) $1), $1, $2, $3, 'UPDATE', "
"       (n.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8, d.o, d.n "
"  FROM (SELECT pg_catalog.row_number() OVER () AS i, pg_catalog.to_jsonb(t) AS j FROM crm_old t) o "
"  JOIN (SELECT pg_catalog.row_number() OVER () AS i, pg_catalog.to_jsonb(t) AS j FROM crm_new t) n "
"    ON o.i OPERATOR(pg_catalog.=) n.i "
" CROSS JOIN LATERAL (SELECT pg_catalog.jsonb_object_agg(k, o.j OPERATOR(pg_catalog.->) k) AS o, "
"                            pg_catalog.jsonb_object_agg(k, n.j OPERATOR(pg_catalog.->) k) AS n "
"                       FROM pg_catalog.jsonb_object_keys(n.j) k "
"                      WHERE (o.j OPERATOR(pg_catalog.->) k) IS DISTINCT FROM (n.j OPERATOR(pg_catalog.->) k) "
"                        AND k OPERATOR(pg_catalog.<>) ALL (ARRAY[" AUDIT_SKIP_COLUMNS "])) d "
" WHERE d.n IS NOT NULL";

static const char *const AuditPurgeSql =
"WITH gone AS (DELETE FROM crm.audit_log WHERE logged_at OPERATOR(pg_catalog.<) $1 RETURNING 1) "
"INSERT INTO crm.audit_log (contact_id, user_id, db_role, login, table_name, op, row_id, old_values, new_values) "
"SELECT 0, (SELECT u.id FROM crm.users u WHERE u.login OPERATOR(pg_catalog.=) $2), $2, $3, 'audit_log', 'PURGE', NULL, NULL, "
"       pg_catalog.jsonb_build_object('before', $1, 'rows', (SELECT pg_catalog.count(*) FROM gone)) "
"RETURNING (new_values OPERATOR(pg_catalog.->>) 'rows')::pg_catalog.int8";

/* Owner of crm.audit_log: the role the log is written as. */
static Oid
AuditLogOwner(void)
{
	Oid			nsp = get_namespace_oid("crm", false);
	Oid			relid = get_relname_relid("audit_log", nsp);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"crm.audit_log\" does not exist")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Run one statement as the audit log's owner, with search_path pinned, the
 * way a SECURITY DEFINER function would.  Returns SPI_processed; when
 * result is not NULL, also the int8 in the first column of the first row.
 * The caller has done SPI_connect().
 */
static uint64
RunAsLogOwner(const char *sql, int nargs, Oid *argtypes, Datum *values, int expect, int64 *result,
			  AuditPlanEntry *cached, TupleDesc reldesc)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int			ret;
	uint64		processed;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(AuditLogOwner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	/*
	 * No PG_TRY: on error, (sub)transaction abort restores the user id,
	 * security context and GUC nesting level, as for SECURITY DEFINER.
	 */
	if (cached == NULL)
		ret = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, 0);
	else
	{
		if (cached->plan == NULL)
		{
			/*
			 * Always the generic plan: the parameters only name who and
			 * which table, and planning costs more than the statement.
			 */
			SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
			MemoryContext old;

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "SPI_keepplan failed");
			old = MemoryContextSwitchTo(TopMemoryContext);
			cached->desc = CreateTupleDescCopyConstr(reldesc);
			MemoryContextSwitchTo(old);
			cached->plan = plan;
		}
		ret = SPI_execute_plan(cached->plan, values, NULL, false, 0);
	}
	if (ret != expect)
		elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
	processed = SPI_processed;
	if (result != NULL)
	{
		bool		isnull;
		Datum		d;

		*result = 0;
		if (SPI_processed > 0)
		{
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
				*result = DatumGetInt64(d);
		}
	}
	AtEOXact_GUC(true, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return processed;
}

PG_FUNCTION_INFO_V1(crm_audit_trigger);

/*
 * crm._audit(): AFTER INSERT, UPDATE or DELETE ... FOR EACH STATEMENT, with
 * the transition tables named crm_new and crm_old.
 */
Datum
crm_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *sql;
	Oid			argtypes[3] = {NAMEOID, NAMEOID, TEXTOID};
	Datum		values[3];
	NameData	invoker;
	NameData	login;
	AuditPlanKey key;
	AuditPlanEntry *entry;
	bool		found;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit trigger function called outside a trigger")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit trigger must fire AFTER ... FOR EACH STATEMENT")));

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		sql = AuditInsertSql;
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		sql = AuditUpdateSql;
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		sql = AuditDeleteSql;
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit trigger must fire on INSERT, UPDATE or DELETE")));

	if ((TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) && trigdata->tg_newtable == NULL) ||
		(TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && trigdata->tg_oldtable == NULL) ||
		(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) &&
		 (trigdata->tg_newtable == NULL || trigdata->tg_oldtable == NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit trigger needs REFERENCING transition tables named crm_new and crm_old")));

	/* Statement triggers fire for zero rows too: nothing to log then. */
	if (tuplestore_tuple_count(TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ?
							   trigdata->tg_oldtable : trigdata->tg_newtable) == 0)
		return PointerGetDatum(NULL);

	/* Who: captured before anything switches the user id. */
	namestrcpy(&invoker, GetUserNameFromId(GetUserId(), false));
	namestrcpy(&login, GetUserNameFromId(GetSessionUserId(), false));
	values[0] = NameGetDatum(&invoker);
	values[1] = NameGetDatum(&login);
	values[2] = CStringGetTextDatum(RelationGetRelationName(trigdata->tg_relation));

	/* The prepared statement for this table and event, if still valid. */
	if (AuditPlans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(AuditPlanKey);
		ctl.entrysize = sizeof(AuditPlanEntry);
		ctl.hcxt = TopMemoryContext;
		AuditPlans = hash_create("crm audit plans", 32, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(trigdata->tg_relation);
	key.event = trigdata->tg_event & TRIGGER_EVENT_OPMASK;
	entry = hash_search(AuditPlans, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->plan = NULL;
		entry->desc = NULL;
	}
	else if (entry->plan != NULL &&
			 !equalTupleDescs(entry->desc, RelationGetDescr(trigdata->tg_relation)))
	{
		SPI_freeplan(entry->plan);
		FreeTupleDesc(entry->desc);
		entry->plan = NULL;
		entry->desc = NULL;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
	(void) RunAsLogOwner(sql, 3, argtypes, values, SPI_OK_INSERT, NULL,
						 entry, RelationGetDescr(trigdata->tg_relation));
	SPI_finish();

	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(crm_audit_guard);

/*
 * crm._audit_guard(): BEFORE UPDATE, DELETE or TRUNCATE on crm.audit_log.
 */
Datum
crm_audit_guard(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit guard function called outside a trigger")));
	if (!PurgeInProgress)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the audit log is append-only"),
				 errdetail("Rows of crm.audit_log cannot be updated or deleted, not even by its owner."),
				 errhint("Admins remove old entries with crm.audit_purge(interval).")));
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(crm_audit_purge);

/*
 * crm.audit_purge(older_than interval) returns bigint: delete audit entries
 * logged more than older_than ago, record the purge itself in the log, and
 * return how many rows went.  Only an active CRM admin may call it.
 */
Datum
crm_audit_purge(PG_FUNCTION_ARGS)
{
	Interval   *older_than = PG_GETARG_INTERVAL_P(0);
	TimestampTz cutoff;
	Oid			argtypes[3] = {TIMESTAMPTZOID, NAMEOID, NAMEOID};
	Datum		values[3];
	NameData	invoker;
	NameData	login;
	int64		removed = 0;
	int			ret;
	bool		isnull;
	char	   *role = NULL;

	if (older_than->month < 0 || older_than->day < 0 || older_than->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention interval must not be negative")));

	cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
													 IntervalPGetDatum(older_than)));

	namestrcpy(&invoker, GetUserNameFromId(GetUserId(), false));
	namestrcpy(&login, GetUserNameFromId(GetSessionUserId(), false));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* As the caller: are they an active CRM admin? */
	ret = SPI_execute("SELECT crm.current_crm_role()", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute returned %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			role = TextDatumGetCString(d);
	}
	if (role == NULL || strcmp(role, "admin") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a crm admin may purge the audit log"),
				 errhint("Register the login with crm.add_user(login, 'admin').")));

	values[0] = TimestampTzGetDatum(cutoff);
	values[1] = NameGetDatum(&invoker);
	values[2] = NameGetDatum(&login);

	PurgeInProgress = true;
	PG_TRY();
	{
		(void) RunAsLogOwner(AuditPurgeSql, 3, argtypes, values, SPI_OK_INSERT_RETURNING, &removed,
							 NULL, NULL);
	}
	PG_FINALLY();
	{
		PurgeInProgress = false;
	}
	PG_END_TRY();

	SPI_finish();
	PG_RETURN_INT64(removed);
}
