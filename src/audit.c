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
 * caller's identity first, then switches to the log's owner for the writing
 * exactly as SECURITY DEFINER would (user id, restricted-operation flag and a
 * pinned search_path), and switches back even on error.
 *
 * Inserted and deleted rows are logged whole, without their NULL columns
 * (an absent key reads as NULL; most CRM rows are mostly empty); updates
 * log only the columns that changed, old and new (src/audit_json.c).
 *
 * Why statement level: the rows arrive in transition tables, so a bulk
 * load pays for one pass over them, not for one trigger call per row.
 * UPDATE pairs old and new rows by their position in the transition tables
 * (PostgreSQL stores them in step), which keeps working when the statement
 * changes the key itself.
 *
 * Why the log rows are written directly: the trigger is meant to stay on,
 * so its cost is the cost of every write to the CRM.  Going through SQL
 * (INSERT INTO crm.audit_log ... SELECT to_jsonb(...) FROM the transition
 * table) spent more on the query machinery and on to_jsonb's per-row type
 * lookups than on the log rows themselves.  The writer here works the way
 * COPY FROM does: jsonb built from the tuples with per-table cached
 * conversions, log rows formed in slots, heap-inserted in batches through
 * table_multi_insert with a bulk-insert state, and their index entries made
 * with ExecInsertIndexTuples, the log's CHECK and NOT NULL constraints
 * checked as the executor would.  The identity and default columns get
 * what their definitions say (nextval of the identity sequence, now()).
 * The rows belong to the current command like any other write, so later
 * statements of the transaction see them and a rollback takes them away.
 * Who the caller is in crm.users is cached per backend, keyed by role name,
 * and forgotten whenever crm.users changes (a relcache invalidation, as in
 * src/users.c).
 *
 * That shortcut is only taken while the log is the plain table this
 * extension created: the expected columns, a heap-like table, no INSERT
 * triggers or rules on it, and no Citus (which must route the rows itself).
 * Otherwise -- someone added a trigger to forward the log, or a column with
 * a default -- the trigger falls back to the SQL statement, so the log's own
 * definition always wins over speed.
 *
 * Append-only: a statement-level BEFORE UPDATE/DELETE/TRUNCATE trigger on
 * crm.audit_log refuses every change, even by the owner, unless the
 * retention function of this file is the one deleting (a backend-local flag
 * no SQL can set).  A superuser can still disable the trigger: nothing in a
 * database protects data from its superuser.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "crm.h"
#include "audit.h"

/* Set only while crm_audit_purge deletes; checked by crm_audit_guard. */
static bool PurgeInProgress = false;

/* Audited tables, by relation id (AuditTableEntry.table, see audit.h). */
typedef struct AuditTableEntry
{
	Oid			relid;
	AuditTable *table;
} AuditTableEntry;

static HTAB *AuditTables = NULL;

/*
 * The columns of crm.audit_log the trigger fills, with their types.  The
 * direct writer needs exactly these (in any order, dropped columns aside).
 */
enum
{
	LOG_CONTACT_ID,
	LOG_ID,
	LOG_LOGGED_AT,
	LOG_USER_ID,
	LOG_DB_ROLE,
	LOG_LOGIN,
	LOG_TABLE_NAME,
	LOG_OP,
	LOG_ROW_ID,
	LOG_OLD_VALUES,
	LOG_NEW_VALUES,
	LOG_NCOLUMNS
};

static const struct
{
	const char *name;
	Oid			type;
}			LogColumns[LOG_NCOLUMNS] = {
	{"contact_id", INT8OID},
	{"id", INT8OID},
	{"logged_at", TIMESTAMPTZOID},
	{"user_id", INT8OID},
	{"db_role", TEXTOID},
	{"login", TEXTOID},
	{"table_name", TEXTOID},
	{"op", TEXTOID},
	{"row_id", INT8OID},
	{"old_values", JSONBOID},
	{"new_values", JSONBOID},
};

/*
 * What the direct writer knows about crm.audit_log's definition; dropped
 * by any relcache invalidation of the log.
 */
static struct
{
	Oid			relid;			/* InvalidOid: not known yet */
	bool		plain;			/* exactly the expected columns */
	Oid			seqid;			/* sequence behind the identity column id */
	AttrNumber	attnums[LOG_NCOLUMNS];
	MemoryContext cxt;			/* holds checks */
	ExprState **checks;			/* the log's CHECK constraints, ready to run */
}			LogShape;

/* Who is who: crm.users id by role name, read as the log's owner. */
typedef struct LogUserEntry
{
	NameData	login;			/* hash key */
	bool		found;
	int64		id;
}			LogUserEntry;

static HTAB *LogUsers = NULL;
static Oid	UsersRelid = InvalidOid;

static bool CallbacksRegistered = false;

/* Rows per heap multi-insert, and jsonb bytes before an early flush. */
#define AUDIT_BATCH_ROWS 1000
#define AUDIT_BATCH_BYTES 65536

/*
 * Columns that change on every update and say nothing by themselves (the
 * SQL writer's copy of the list in src/audit_json.c).
 */
#define AUDIT_SKIP_COLUMNS "'updated_at', 'updated_by', 'fit_score', 'engagement_score', 'engagement_as_of', " \
	"'lead_score', 'lead_grade'"

/*
 * The SQL writer, used when the log is not the plain table (see the file
 * comment).  Whole rows drop their NULL columns only: nested nulls are
 * data (src/audit_json.c says why).  OFFSET 0 keeps each row's jsonb
 * computed once, not once per reference.
 */
static const char *const AuditInsertSql =
"INSERT INTO crm.audit_log (contact_id, user_id, db_role, login, table_name, op, row_id, old_values, new_values) "
"SELECT CASE WHEN $3 OPERATOR(pg_catalog.=) 'contacts' THEN (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8 "
"            ELSE COALESCE((r.j OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8, 0) END, "
"       $4, $1, $2, $3, 'INSERT', "
"       (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8, NULL, r.j "
"  FROM (SELECT (SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::pg_catalog.jsonb) "
"                  FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(t.*)) e "
"                 WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'null') AS j FROM crm_new t OFFSET 0) r";

static const char *const AuditDeleteSql =
"INSERT INTO crm.audit_log (contact_id, user_id, db_role, login, table_name, op, row_id, old_values, new_values) "
"SELECT CASE WHEN $3 OPERATOR(pg_catalog.=) 'contacts' THEN (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8 "
"            ELSE COALESCE((r.j OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8, 0) END, "
"       $4, $1, $2, $3, 'DELETE', "
"       (r.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8, r.j, NULL "
"  FROM (SELECT (SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::pg_catalog.jsonb) "
"                  FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(t.*)) e "
"                 WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'null') AS j FROM crm_old t OFFSET 0) r";

static const char *const AuditUpdateSql =
"INSERT INTO crm.audit_log (contact_id, user_id, db_role, login, table_name, op, row_id, old_values, new_values) "
"SELECT CASE WHEN $3 OPERATOR(pg_catalog.=) 'contacts' THEN (n.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8 "
"            ELSE COALESCE((n.j OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8, 0) END, "
"       $4, $1, $2, $3, 'UPDATE', "
"       (n.j OPERATOR(pg_catalog.->>) 'id')::pg_catalog.int8, d.o, d.n "
"  FROM (SELECT pg_catalog.row_number() OVER () AS i, pg_catalog.to_jsonb(t.*) AS j FROM crm_old t) o "
"  JOIN (SELECT pg_catalog.row_number() OVER () AS i, pg_catalog.to_jsonb(t.*) AS j FROM crm_new t) n "
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

/*
 * Cache invalidation.  Callbacks may not touch the catalogs and may run in
 * the middle of a statement that uses an AuditTable, so they only mark
 * things stale; the next statement drops and rebuilds them.
 */
static void
AuditRelcacheCallback(Datum arg, Oid relid)
{
	if (AuditTables != NULL)
	{
		if (OidIsValid(relid))
		{
			AuditTableEntry *entry = hash_search(AuditTables, &relid, HASH_FIND, NULL);

			if (entry != NULL && entry->table != NULL)
				entry->table->stale = true;
		}
		else
		{
			HASH_SEQ_STATUS status;
			AuditTableEntry *entry;

			hash_seq_init(&status, AuditTables);
			while ((entry = hash_seq_search(&status)) != NULL)
				if (entry->table != NULL)
					entry->table->stale = true;
		}
	}
	if (!OidIsValid(relid) || relid == LogShape.relid)
		LogShape.relid = InvalidOid;
	if (LogUsers != NULL && (!OidIsValid(relid) || relid == UsersRelid))
	{
		hash_destroy(LogUsers);
		LogUsers = NULL;
	}
}

/* A type or cast changed: every table's conversions are decided again. */
static void
AuditSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	AuditRelcacheCallback(arg, InvalidOid);
}

static void
RegisterCallbacks(void)
{
	if (CallbacksRegistered)
		return;
	CacheRegisterRelcacheCallback(AuditRelcacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, AuditSyscacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(CASTSOURCETARGET, AuditSyscacheCallback, (Datum) 0);
	CallbacksRegistered = true;
}

/*
 * The AuditTable of rel, built if missing or stale, and pinned: the caller
 * calls UnpinTable when done, also on error (PG_FINALLY).
 */
static AuditTable *
PinTable(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	AuditTableEntry *entry;
	AuditTable *table;
	bool		found;

	if (AuditTables == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(AuditTableEntry);
		ctl.hcxt = TopMemoryContext;
		AuditTables = hash_create("crm audit tables", 32, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(AuditTables, &relid, HASH_ENTER, &found);
	if (!found)
		entry->table = NULL;
	if (entry->table != NULL && entry->table->stale)
	{
		/* still in use by an outer statement: that one frees it */
		if (entry->table->pins == 0)
			crm_audit_free_table(entry->table);
		else
			entry->table->detached = true;
		entry->table = NULL;
	}
	if (entry->table == NULL)
	{
		table = crm_audit_build_table(rel);
		/* building may have processed invalidations; find the entry again */
		entry = hash_search(AuditTables, &relid, HASH_ENTER, &found);
		if (found && entry->table != NULL)
		{
			if (entry->table->pins == 0)
				crm_audit_free_table(entry->table);
			else
				entry->table->detached = true;
		}
		entry->table = table;
	}
	entry->table->pins++;
	return entry->table;
}

static void
UnpinTable(AuditTable *table)
{
	table->pins--;
	if (table->pins == 0 && table->detached)
		crm_audit_free_table(table);
}

/* crm.audit_log, locked for writing. */
static Relation
OpenLog(void)
{
	Oid			nsp = get_namespace_oid("crm", false);
	Oid			relid = get_relname_relid("audit_log", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"crm.audit_log\" does not exist")));
	return table_open(relid, RowExclusiveLock);
}

/*
 * May the direct writer write into this log?  Its columns are checked once
 * per definition of the log; triggers, rules and Citus every statement.
 */
static bool
LogIsPlain(Relation log)
{
	TriggerDesc *trig = log->trigdesc;

	if (LogShape.relid != RelationGetRelid(log))
	{
		TupleDesc	desc = RelationGetDescr(log);
		int			seen = 0;
		int			i;
		int			k;

		LogShape.plain = true;
		LogShape.seqid = InvalidOid;
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			bool		known = false;

			if (att->attisdropped)
				continue;
			for (k = 0; k < LOG_NCOLUMNS; k++)
				if (strcmp(NameStr(att->attname), LogColumns[k].name) == 0 &&
					att->atttypid == LogColumns[k].type)
				{
					LogShape.attnums[k] = att->attnum;
					known = true;
					seen++;
				}
			if (!known)
				LogShape.plain = false;
		}
		if (seen != LOG_NCOLUMNS ||
			TupleDescAttr(desc, LogShape.attnums[LOG_ID] - 1)->attidentity != ATTRIBUTE_IDENTITY_ALWAYS)
			LogShape.plain = false;

		/*
		 * Columns the writer may leave NULL must allow it (the others it
		 * always fills).
		 */
		if (LogShape.plain)
		{
			static const int nullable[] = {LOG_USER_ID, LOG_ROW_ID, LOG_OLD_VALUES, LOG_NEW_VALUES};

			for (k = 0; k < lengthof(nullable); k++)
				if (TupleDescAttr(desc, LogShape.attnums[nullable[k]] - 1)->attnotnull)
					LogShape.plain = false;
		}

		/*
		 * Under Citus the log may be a distributed table, whose rows only
		 * Citus knows where to put.  Distributing it changes the table, so
		 * checking when its definition changes is enough.
		 */
		if (OidIsValid(get_extension_oid("citus", true)))
			LogShape.plain = false;
		if (LogShape.plain)
			LogShape.seqid = getIdentitySequence(RelationGetRelid(log), LogShape.attnums[LOG_ID], false);

		/*
		 * The CHECK constraints, compiled once per definition of the log
		 * instead of once per statement (what the executor would do with a
		 * fresh ResultRelInfo).  A writer of an outer statement may still be
		 * running the old ones: they live until the transaction ends.
		 */
		if (LogShape.cxt != NULL)
			MemoryContextSetParent(LogShape.cxt, TopTransactionContext);
		LogShape.cxt = NULL;
		LogShape.checks = NULL;
		if (LogShape.plain && desc->constr != NULL && desc->constr->num_check > 0)
		{
			ConstrCheck *check = desc->constr->check;
			MemoryContext old;

			LogShape.cxt = AllocSetContextCreate(TopMemoryContext, "crm audit log checks", ALLOCSET_SMALL_SIZES);
			old = MemoryContextSwitchTo(LogShape.cxt);
			LogShape.checks = palloc(sizeof(ExprState *) * desc->constr->num_check);
			for (i = 0; i < desc->constr->num_check; i++)
				LogShape.checks[i] = ExecInitExpr(expression_planner(stringToNode(check[i].ccbin)), NULL);
			MemoryContextSwitchTo(old);
		}
		LogShape.relid = RelationGetRelid(log);
	}
	if (!LogShape.plain || log->rd_rel->relkind != RELKIND_RELATION || log->rd_rules != NULL)
		return false;
	if (trig != NULL &&
		(trig->trig_insert_before_row || trig->trig_insert_after_row || trig->trig_insert_instead_row ||
		 trig->trig_insert_before_statement || trig->trig_insert_after_statement ||
		 trig->trig_insert_new_table))
		return false;
	return true;
}

/*
 * Switch to the log's owner the way SECURITY DEFINER does: user id,
 * restricted operation, search_path pinned.  No PG_TRY is needed to switch
 * back on error: (sub)transaction abort restores the user id, security
 * context and GUC nesting level, as for SECURITY DEFINER.
 */
typedef struct OwnerSwitch
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} OwnerSwitch;

static void
BecomeLogOwner(Oid owner, OwnerSwitch *sw)
{
	GetUserIdAndSecContext(&sw->save_userid, &sw->save_sec_context);
	SetUserIdAndSecContext(owner, sw->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	sw->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

static void
BecomeCaller(OwnerSwitch *sw)
{
	AtEOXact_GUC(true, sw->save_nestlevel);
	SetUserIdAndSecContext(sw->save_userid, sw->save_sec_context);
}

/*
 * The crm.users id of the role named login (active or not), read as the
 * log's owner; NULL when it has none.  Cached (see the file comment).
 */
static Datum
LogUserId(Name login, bool *isnull)
{
	LogUserEntry *entry;
	LogUserEntry result;
	Oid			argtypes[1] = {NAMEOID};
	Datum		values[1];
	bool		found;
	int			ret;

	if (LogUsers != NULL)
	{
		entry = hash_search(LogUsers, login, HASH_FIND, NULL);
		if (entry != NULL)
		{
			*isnull = !entry->found;
			return Int64GetDatum(entry->id);
		}
	}

	memset(&result, 0, sizeof(result));
	namestrcpy(&result.login, NameStr(*login));
	values[0] = NameGetDatum(login);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	UsersRelid = get_relname_relid("users", get_namespace_oid("crm", false));
	ret = SPI_execute_with_args("SELECT u.id FROM crm.users u WHERE u.login OPERATOR(pg_catalog.=) $1",
								1, argtypes, values, NULL, true, 2);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("more than one crm user has login \"%s\"", NameStr(*login))));
	if (SPI_processed == 1)
	{
		bool		null;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null);

		if (!null)
		{
			result.found = true;
			result.id = DatumGetInt64(d);
		}
	}
	SPI_finish();

	/* The query may have processed invalidations: (re)create the cache. */
	{
		if (LogUsers == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(NameData);
			ctl.entrysize = sizeof(LogUserEntry);
			ctl.hcxt = TopMemoryContext;
			LogUsers = hash_create("crm audit users", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		entry = hash_search(LogUsers, login, HASH_ENTER, &found);
		memcpy(entry, &result, sizeof(result));
	}
	*isnull = !result.found;
	return Int64GetDatum(result.id);
}

/* What every log row of one trigger call shares. */
typedef struct AuditStatement
{
	Datum		user_id;
	bool		user_isnull;
	NameData	db_role;
	NameData	login;
	text	   *db_role_text;
	text	   *login_text;
	text	   *table_name;
	text	   *op;
	bool		is_contacts;	/* contact_id is the row's own id */
	AuditTable *table;
} AuditStatement;

/* The direct writer: crm.audit_log as COPY FROM would fill it. */
typedef struct LogWriter
{
	EState	   *estate;
	ResultRelInfo *rri;
	Relation	rel;
	BulkInsertState bistate;
	CommandId	cid;
	MemoryContext batchcxt;		/* the jsonb of the rows not yet written */
	TupleTableSlot *slots[AUDIT_BATCH_ROWS];
	int			nused;
	Size		bytes;
	TimestampTz logged_at;
} LogWriter;

static void
WriterStart(LogWriter *w, Relation log)
{
	RangeTblEntry *rte;

	memset(w, 0, sizeof(LogWriter));
	w->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(log);
	rte->relkind = log->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	ExecInitRangeTable(w->estate, list_make1(rte));
	w->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(w->estate, w->rri, 1);
	w->rel = w->rri->ri_RelationDesc;
	ExecOpenIndices(w->rri, false);
	w->rri->ri_ConstraintExprs = LogShape.checks;
	w->cid = GetCurrentCommandId(true);
	w->estate->es_output_cid = w->cid;
	w->bistate = GetBulkInsertState();
	w->batchcxt = AllocSetContextCreate(CurrentMemoryContext, "crm audit batch", ALLOCSET_DEFAULT_SIZES);
	w->logged_at = GetCurrentTransactionStartTimestamp();
}

static void
WriterFlush(LogWriter *w)
{
	MemoryContext old;
	int			i;

	if (w->nused == 0)
		return;
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));
	table_multi_insert(w->rel, w->slots, w->nused, w->cid, 0, w->bistate);
	MemoryContextSwitchTo(old);
	for (i = 0; i < w->nused; i++)
	{
		if (w->rri->ri_NumIndices > 0)
			list_free(ExecInsertIndexTuples(w->rri, w->slots[i], w->estate, false, false, NULL, NIL));
		ResetPerTupleExprContext(w->estate);
		ExecClearTuple(w->slots[i]);
	}
	w->nused = 0;
	w->bytes = 0;
	MemoryContextReset(w->batchcxt);
}

static void
WriterAdd(LogWriter *w, AuditStatement *st, Datum contact_id, Datum row_id, bool row_id_isnull,
		  Jsonb *old_values, Jsonb *new_values)
{
	TupleTableSlot *slot;
	Datum	   *v;
	bool	   *n;

	if (w->slots[w->nused] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(w->estate->es_query_cxt);

		w->slots[w->nused] = table_slot_create(w->rel, &w->estate->es_tupleTable);
		MemoryContextSwitchTo(old);
	}
	slot = w->slots[w->nused];
	ExecClearTuple(slot);
	v = slot->tts_values;
	n = slot->tts_isnull;
	memset(n, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);

#define SET(col, value) (v[LogShape.attnums[col] - 1] = (value), n[LogShape.attnums[col] - 1] = false)
	SET(LOG_CONTACT_ID, contact_id);
	SET(LOG_ID, Int64GetDatum(nextval_internal(LogShape.seqid, false)));
	SET(LOG_LOGGED_AT, TimestampTzGetDatum(w->logged_at));
	if (!st->user_isnull)
		SET(LOG_USER_ID, st->user_id);
	SET(LOG_DB_ROLE, PointerGetDatum(st->db_role_text));
	SET(LOG_LOGIN, PointerGetDatum(st->login_text));
	SET(LOG_TABLE_NAME, PointerGetDatum(st->table_name));
	SET(LOG_OP, PointerGetDatum(st->op));
	if (!row_id_isnull)
		SET(LOG_ROW_ID, row_id);
	if (old_values != NULL)
	{
		SET(LOG_OLD_VALUES, PointerGetDatum(old_values));
		w->bytes += VARSIZE(old_values);
	}
	if (new_values != NULL)
	{
		SET(LOG_NEW_VALUES, PointerGetDatum(new_values));
		w->bytes += VARSIZE(new_values);
	}
#undef SET

	ExecStoreVirtualTuple(slot);
	if (w->rel->rd_att->constr != NULL)
	{
		ExecConstraints(w->rri, slot, w->estate);
		ResetPerTupleExprContext(w->estate);
	}
	w->nused++;
	if (w->nused == AUDIT_BATCH_ROWS || w->bytes >= AUDIT_BATCH_BYTES)
		WriterFlush(w);
}

static void
WriterEnd(LogWriter *w)
{
	WriterFlush(w);
	FreeBulkInsertState(w->bistate);
	table_finish_bulk_insert(w->rel, 0);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	ExecCloseResultRelations(w->estate);
	ExecCloseRangeTableRelations(w->estate);
	FreeExecutorState(w->estate);
	MemoryContextDelete(w->batchcxt);
}

/* contact_id and row_id of one log row, from the changed row. */
static Datum
RowIds(AuditStatement *st, TupleTableSlot *slot, Datum *row_id, bool *row_id_isnull)
{
	AuditTable *table = st->table;
	Datum		contact_id = (Datum) 0;
	bool		isnull = true;

	*row_id_isnull = true;
	*row_id = (Datum) 0;
	if (table->id_attnum != 0)
		*row_id = crm_audit_column_int8(table, slot, table->id_attnum, row_id_isnull);
	if (st->is_contacts)
	{
		contact_id = *row_id;
		isnull = *row_id_isnull;
	}
	else if (table->contact_attnum != 0)
		contact_id = crm_audit_column_int8(table, slot, table->contact_attnum, &isnull);
	if (isnull)
		contact_id = Int64GetDatum(0);
	return contact_id;
}

/* One tuple store read from its start with a read pointer of our own. */
static void
StartReading(Tuplestorestate *store)
{
	int			ptr = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(store, ptr);
	tuplestore_rescan(store);
}

/*
 * Write the log rows of one trigger call directly.  Runs as the log's
 * owner; per-row garbage goes into a context reset for every row.
 */
static void
WriteDirect(TriggerData *trigdata, AuditStatement *st, Relation log)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	Tuplestorestate *oldstore = trigdata->tg_oldtable;
	Tuplestorestate *newstore = trigdata->tg_newtable;
	TupleTableSlot *oldslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	TupleTableSlot *newslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "crm audit row", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	LogWriter	w;
	Datum		contact_id;
	Datum		row_id;
	bool		row_id_isnull;
	Jsonb	   *oldvalues;
	Jsonb	   *newvalues;

	WriterStart(&w, log);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		StartReading(oldstore);
		StartReading(newstore);
		for (;;)
		{
			bool		more_old = tuplestore_gettupleslot(oldstore, true, false, oldslot);
			bool		more_new = tuplestore_gettupleslot(newstore, true, false, newslot);

			if (more_old != more_new)
				elog(ERROR, "transition tables of an update differ in length");
			if (!more_new)
				break;
			old = MemoryContextSwitchTo(rowcxt);
			if (crm_audit_row_change(st->table, oldslot, newslot, &oldvalues, &newvalues))
			{
				contact_id = RowIds(st, newslot, &row_id, &row_id_isnull);
				MemoryContextSwitchTo(w.batchcxt);
				oldvalues = (Jsonb *) DatumGetPointer(datumCopy(PointerGetDatum(oldvalues), false, -1));
				newvalues = (Jsonb *) DatumGetPointer(datumCopy(PointerGetDatum(newvalues), false, -1));
				MemoryContextSwitchTo(old);
				WriterAdd(&w, st, contact_id, row_id, row_id_isnull, oldvalues, newvalues);
			}
			else
				MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
	}
	else
	{
		bool		insert = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
		Tuplestorestate *store = insert ? newstore : oldstore;

		StartReading(store);
		while (tuplestore_gettupleslot(store, true, false, newslot))
		{
			Jsonb	   *row;

			old = MemoryContextSwitchTo(rowcxt);
			row = crm_audit_row(st->table, newslot);
			contact_id = RowIds(st, newslot, &row_id, &row_id_isnull);
			MemoryContextSwitchTo(w.batchcxt);
			row = (Jsonb *) DatumGetPointer(datumCopy(PointerGetDatum(row), false, -1));
			MemoryContextSwitchTo(old);
			WriterAdd(&w, st, contact_id, row_id, row_id_isnull, insert ? NULL : row, insert ? row : NULL);
			MemoryContextReset(rowcxt);
		}
	}
	WriterEnd(&w);
	ExecDropSingleTupleTableSlot(oldslot);
	ExecDropSingleTupleTableSlot(newslot);
	MemoryContextDelete(rowcxt);
}

/* Write the log rows of one trigger call through SQL (see the file comment). */
static void
WriteSql(TriggerData *trigdata, AuditStatement *st)
{
	Oid			argtypes[4] = {NAMEOID, NAMEOID, TEXTOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	int			event;
	const char *sql;
	int			ret;

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		event = 0;
		sql = AuditInsertSql;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		event = 1;
		sql = AuditUpdateSql;
	}
	else
	{
		event = 2;
		sql = AuditDeleteSql;
	}

	values[0] = NameGetDatum(&st->db_role);
	values[1] = NameGetDatum(&st->login);
	values[2] = PointerGetDatum(st->table_name);
	values[3] = st->user_id;
	if (st->user_isnull)
		nulls[3] = 'n';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
	if (st->table->plans[event] == NULL)
	{
		/*
		 * Always the generic plan: the parameters only name who and which
		 * table, and planning costs more than the statement.  The plan
		 * lives as long as the AuditTable, which is rebuilt when the
		 * table's row type changes.
		 */
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, 4, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		st->table->plans[event] = plan;
	}
	ret = SPI_execute_plan(st->table->plans[event], values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan returned %s", SPI_result_code_string(ret));
	SPI_finish();
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
	AuditStatement st;
	Relation	log;
	bool		direct;
	OwnerSwitch sw;

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
		st.op = cstring_to_text("INSERT");
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		st.op = cstring_to_text("UPDATE");
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		st.op = cstring_to_text("DELETE");
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
	namestrcpy(&st.db_role, GetUserNameFromId(GetUserId(), false));
	namestrcpy(&st.login, GetUserNameFromId(GetSessionUserId(), false));
	st.db_role_text = cstring_to_text(NameStr(st.db_role));
	st.login_text = cstring_to_text(NameStr(st.login));
	st.table_name = cstring_to_text(RelationGetRelationName(trigdata->tg_relation));
	st.is_contacts = strcmp(RelationGetRelationName(trigdata->tg_relation), "contacts") == 0;

	RegisterCallbacks();
	log = OpenLog();
	direct = LogIsPlain(log);
	st.table = PinTable(trigdata->tg_relation);
	PG_TRY();
	{
		BecomeLogOwner(log->rd_rel->relowner, &sw);
		st.user_id = LogUserId(&st.db_role, &st.user_isnull);
		if (direct)
			WriteDirect(trigdata, &st, log);
		else
			WriteSql(trigdata, &st);
		BecomeCaller(&sw);
	}
	PG_FINALLY();
	{
		UnpinTable(st.table);
	}
	PG_END_TRY();
	table_close(log, NoLock);

	return PointerGetDatum(NULL);
}

/*
 * Run the purge statement as the audit log's owner.  Returns the int8 in
 * the first column of the first row.  The caller has done SPI_connect().
 */
static int64
RunPurgeAsLogOwner(int nargs, Oid *argtypes, Datum *values)
{
	Relation	log = OpenLog();
	OwnerSwitch sw;
	int64		result = 0;
	int			ret;

	BecomeLogOwner(log->rd_rel->relowner, &sw);
	ret = SPI_execute_with_args(AuditPurgeSql, nargs, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = DatumGetInt64(d);
	}
	BecomeCaller(&sw);
	table_close(log, NoLock);
	return result;
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
		removed = RunPurgeAsLogOwner(3, argtypes, values);
	}
	PG_FINALLY();
	{
		PurgeInProgress = false;
	}
	PG_END_TRY();

	SPI_finish();
	PG_RETURN_INT64(removed);
}
