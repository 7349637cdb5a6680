/*
 * users.c
 *	  Who is the logged-in CRM user: crm.current_user_id() and
 *	  crm.current_crm_role(), with a per-backend cache.
 *
 * Every row-level security policy and every row stamp asks this question,
 * the stamps once per written row.  Answered by a SQL query it costs a
 * query execution each time (tens of microseconds per inserted row), so
 * the answer is cached per database role in backend memory.
 *
 * The cache must never outlive a change to crm.users: a deactivated user
 * has to lose access with the next statement.  Row changes do not reach
 * other backends by themselves, so a statement trigger on crm.users
 * (crm._users_changed) queues a relcache invalidation for the table;
 * PostgreSQL delivers it to this backend at once (at the next command) and
 * to every other backend when the change commits (before their next
 * statement takes its locks), and on rollback too.  The callback here then
 * empties the cache.
 *
 * The lookup runs with the caller's own rights, exactly as the SQL function
 * it replaces did, and is keyed by role, so SET ROLE switches entries.
 *
 * The same goes for the reach the policies ask about once per query:
 * crm.visible_owner_ids() and the crm.shared_*_ids() arrays.  As PL/pgSQL
 * they cost a function call and a query each, some 20 microseconds, which
 * is most of what the policies add to a one-row lookup.  Here they are
 * cached per role like the user, and forgotten on the same invalidations
 * (crm.teams and crm.shares carry the same statement trigger as crm.users).
 *
 * A cached answer must not be older than the data it was read from.  An
 * invalidation that arrives while the answer is being computed from an
 * older snapshot (another session committed after the query's snapshot
 * was taken) would empty the cache before the stale answer is stored.  So
 * an answer is only stored when a snapshot taken right after computing it
 * equals the one it was read with (same horizon, same transactions in
 * progress: none completed in between) and this transaction ran no
 * command since.  Otherwise it is used for this call only.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/array.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "crm.h"

typedef struct CrmUserEntry
{
	Oid			roleid;			/* hash key: the database role */
	bool		found;			/* an active crm.users row exists */
	int64		id;
	char		crm_role[NAMEDATALEN];
} CrmUserEntry;

static HTAB *UserCache = NULL;
static bool CallbackRegistered = false;

/* The reach arrays, per role and kind. */
typedef enum ReachKind
{
	REACH_OWNERS,
	REACH_CONTACTS,
	REACH_CONTACTS_WRITE,
	REACH_ACCOUNTS,
	REACH_ACCOUNTS_WRITE,
	REACH_DEALS,
	REACH_DEALS_WRITE,
	REACH_NKINDS
} ReachKind;

typedef struct CrmReachEntry
{
	Oid			roleid;			/* hash key */
	ArrayType  *ids[REACH_NKINDS];	/* NULL: not known yet */
} CrmReachEntry;

static MemoryContext ReachContext = NULL;	/* holds ReachCache and its arrays */
static HTAB *ReachCache = NULL;

/*
 * A relcache invalidation empties the caches.  Telling crm.users apart from
 * other relations would take a catalog lookup, which callbacks must not do;
 * invalidations are rare next to statements, so any one will do.  Nothing
 * keeps a pointer into the caches across a query, so they can go at once.
 */
static void
UsersInvalidate(Datum arg, Oid relid)
{
	if (UserCache != NULL)
	{
		hash_destroy(UserCache);
		UserCache = NULL;
	}
	if (ReachContext != NULL)
	{
		MemoryContextDelete(ReachContext);
		ReachContext = NULL;
		ReachCache = NULL;
	}
}

static int
XidCmp(const void *a, const void *b)
{
	TransactionId xa = *(const TransactionId *) a;
	TransactionId xb = *(const TransactionId *) b;

	return xa < xb ? -1 : (xa > xb ? 1 : 0);
}

/*
 * May an answer read under the active snapshot be kept beyond this call?
 * Only when no transaction has completed since that snapshot was taken,
 * and this transaction has run no command since (see the file comment):
 * then a snapshot taken now sees exactly what it saw.  Never inside a
 * parallel operation (which may not take snapshots) or on a standby.
 */
static bool
AnswerIsCurrent(void)
{
	Snapshot	active;
	Snapshot	latest;
	TransactionId *a;
	TransactionId *b;
	uint32		nb;
	uint32		i;
	bool		same;

	if (!ActiveSnapshotSet() || IsInParallelMode())
		return false;
	active = GetActiveSnapshot();
	if (active->snapshot_type != SNAPSHOT_MVCC || active->takenDuringRecovery ||
		active->curcid != GetCurrentCommandId(false))
		return false;
	latest = GetLatestSnapshot();

	/*
	 * The same horizon, and the same transactions in progress below it;
	 * transactions started since (at or above the horizon) do not matter
	 * until they complete, which would move the horizon.
	 */
	if (latest->xmax != active->xmax)
		return false;
	a = palloc(sizeof(TransactionId) * (active->xcnt + 1));
	b = palloc(sizeof(TransactionId) * (latest->xcnt + 1));
	memcpy(a, active->xip, sizeof(TransactionId) * active->xcnt);
	nb = 0;
	for (i = 0; i < latest->xcnt; i++)
		if (TransactionIdPrecedes(latest->xip[i], active->xmax))
			b[nb++] = latest->xip[i];
	same = nb == active->xcnt;
	if (same && nb > 0)
	{
		qsort(a, nb, sizeof(TransactionId), XidCmp);
		qsort(b, nb, sizeof(TransactionId), XidCmp);
		same = memcmp(a, b, sizeof(TransactionId) * nb) == 0;
	}
	pfree(a);
	pfree(b);
	return same;
}

static CrmUserEntry *
LookupCurrentUser(void)
{
	Oid			roleid = GetUserId();
	CrmUserEntry *entry;
	bool		hit;

	if (!CallbackRegistered)
	{
		CacheRegisterRelcacheCallback(UsersInvalidate, (Datum) 0);
		CallbackRegistered = true;
	}
	if (UserCache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CrmUserEntry);
		ctl.hcxt = TopMemoryContext;
		UserCache = hash_create("crm user cache", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	entry = hash_search(UserCache, &roleid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	{
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1];
		CrmUserEntry result;
		int			ret;

		memset(&result, 0, sizeof(result));
		result.roleid = roleid;
		values[0] = ObjectIdGetDatum(roleid);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT u.id, u.crm_role FROM crm.users u "
									"WHERE u.login OPERATOR(pg_catalog.=) "
									"pg_catalog.pg_get_userbyid($1) "
									"AND u.active",
									1, argtypes, values, NULL, true, 2);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
		if (SPI_processed == 1)
		{
			bool		isnull;
			Datum		d;

			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
			{
				char	   *role;

				result.found = true;
				result.id = DatumGetInt64(d);
				role = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
				if (role != NULL)
					strlcpy(result.crm_role, role, NAMEDATALEN);
			}
		}
		SPI_finish();

		if (!AnswerIsCurrent())
		{
			static CrmUserEntry once;

			memcpy(&once, &result, sizeof(result));
			return &once;
		}

		/*
		 * The query may have processed invalidations and emptied the cache;
		 * (re)create it before storing.
		 */
		if (UserCache == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(Oid);
			ctl.entrysize = sizeof(CrmUserEntry);
			ctl.hcxt = TopMemoryContext;
			UserCache = hash_create("crm user cache", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		entry = hash_search(UserCache, &roleid, HASH_ENTER, &hit);
		memcpy(entry, &result, sizeof(result));
	}
	return entry;
}

PG_FUNCTION_INFO_V1(crm_current_user_id);

/*
 * crm.current_user_id(): crm.users id of current_user, NULL when it is not
 * an active CRM user.
 */
Datum
crm_current_user_id(PG_FUNCTION_ARGS)
{
	CrmUserEntry *entry = LookupCurrentUser();

	if (!entry->found)
		PG_RETURN_NULL();
	PG_RETURN_INT64(entry->id);
}

PG_FUNCTION_INFO_V1(crm_current_crm_role);

/*
 * crm.current_crm_role(): CRM role of current_user, NULL when it is not an
 * active CRM user.
 */
Datum
crm_current_crm_role(PG_FUNCTION_ARGS)
{
	CrmUserEntry *entry = LookupCurrentUser();

	if (!entry->found)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(entry->crm_role));
}

PG_FUNCTION_INFO_V1(crm_users_changed);

/*
 * crm._users_changed(): AFTER ... FOR EACH STATEMENT on crm.users; tells
 * every backend (this one now, the others at commit) to forget who is who.
 */
Datum
crm_users_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("user cache trigger function called outside a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * The queries behind the reach arrays, run with the caller's rights and
 * under their row-level security, as the SQL functions they replace were.
 * Every operator and function is schema-qualified: the plans are prepared
 * once per session under whatever search_path the caller has then.
 */
static const char *const ReachMeSql =
"SELECT u.id, u.team_id, u.crm_role OPERATOR(pg_catalog.=) 'manager' FROM crm.users u "
" WHERE u.login OPERATOR(pg_catalog.=) CURRENT_USER AND u.active";

static const char *const ReachTeamSql =
"WITH RECURSIVE subteams(id) AS ("
"	SELECT $2 WHERE $2 IS NOT NULL"
"	UNION"
"	SELECT t.id FROM crm.teams t JOIN subteams s ON t.parent_id OPERATOR(pg_catalog.=) s.id"
"), reports(id) AS ("
"	SELECT $1"
"	UNION"
"	SELECT u.id FROM crm.users u JOIN reports r ON u.manager_id OPERATOR(pg_catalog.=) r.id"
")"
"SELECT pg_catalog.array_agg(DISTINCT x.id ORDER BY x.id)"
"  FROM (SELECT r.id FROM reports r"
"		UNION"
"		SELECT u.id FROM crm.users u JOIN subteams s ON u.team_id OPERATOR(pg_catalog.=) s.id) x";

#define REACH_SHARED_SQL(col) \
"SELECT COALESCE(pg_catalog.array_agg(s." col " ORDER BY s." col "), '{}'::pg_catalog.int8[]) " \
"  FROM crm.shares s " \
" WHERE s.user_id OPERATOR(pg_catalog.=) crm.current_user_id() AND s." col " IS NOT NULL " \
"   AND (NOT $1 OR s.access OPERATOR(pg_catalog.=) 'write')"

static const char *const ReachSharedSql[3] = {
	REACH_SHARED_SQL("contact_id"),
	REACH_SHARED_SQL("account_id"),
	REACH_SHARED_SQL("deal_id"),
};

static SPIPlanPtr ReachPlans[5];	/* me, team, shared contacts, accounts, deals */

static SPIPlanPtr
ReachPlan(int which, const char *sql, int nargs, Oid *argtypes)
{
	if (ReachPlans[which] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		ReachPlans[which] = plan;
	}
	return ReachPlans[which];
}

/* The first column of the only row of the last query, as an array copy. */
static ArrayType *
ReachResult(MemoryContext cxt)
{
	bool		isnull;
	Datum		d;
	MemoryContext old;
	ArrayType  *result;

	if (SPI_processed != 1)
		elog(ERROR, "reach query returned " UINT64_FORMAT " rows", SPI_processed);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	old = MemoryContextSwitchTo(cxt);
	if (isnull)
		result = construct_empty_array(INT8OID);
	else
		result = DatumGetArrayTypePCopy(d);
	MemoryContextSwitchTo(old);
	return result;
}

/* Compute one reach array, allocated in cxt. */
static ArrayType *
ComputeReach(ReachKind kind, MemoryContext cxt)
{
	ArrayType  *result;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (kind == REACH_OWNERS)
	{
		ret = SPI_execute_plan(ReachPlan(0, ReachMeSql, 0, NULL), NULL, NULL, true, 2);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_plan returned %s", SPI_result_code_string(ret));
		if (SPI_processed == 0)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			result = construct_empty_array(INT8OID);
			MemoryContextSwitchTo(old);
		}
		else
		{
			bool		id_null;
			bool		team_null;
			bool		manager_null;
			Datum		id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &id_null);
			Datum		team = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &team_null);
			Datum		manager = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &manager_null);

			if (manager_null || !DatumGetBool(manager))
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);

				result = construct_array(&id, 1, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
				MemoryContextSwitchTo(old);
			}
			else
			{
				Oid			argtypes[2] = {INT8OID, INT8OID};
				Datum		values[2] = {id, team};
				char		nulls[2] = {' ', team_null ? 'n' : ' '};

				ret = SPI_execute_plan(ReachPlan(1, ReachTeamSql, 2, argtypes), values, nulls, true, 1);
				if (ret != SPI_OK_SELECT)
					elog(ERROR, "SPI_execute_plan returned %s", SPI_result_code_string(ret));
				result = ReachResult(cxt);
			}
		}
	}
	else
	{
		int			table = (kind - REACH_CONTACTS) / 2;
		Oid			argtypes[1] = {BOOLOID};
		Datum		values[1];

		values[0] = BoolGetDatum((kind - REACH_CONTACTS) % 2 == 1);
		ret = SPI_execute_plan(ReachPlan(2 + table, ReachSharedSql[table], 1, argtypes), values, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_plan returned %s", SPI_result_code_string(ret));
		result = ReachResult(cxt);
	}
	SPI_finish();
	return result;
}

/* The reach array of the current role, from the cache when it is there. */
static Datum
Reach(ReachKind kind)
{
	Oid			roleid = GetUserId();
	CrmReachEntry *entry;
	ArrayType  *ids;
	bool		found;

	if (!CallbackRegistered)
	{
		CacheRegisterRelcacheCallback(UsersInvalidate, (Datum) 0);
		CallbackRegistered = true;
	}
	if (ReachCache != NULL)
	{
		entry = hash_search(ReachCache, &roleid, HASH_FIND, NULL);
		if (entry != NULL && entry->ids[kind] != NULL)
			PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(entry->ids[kind])));
	}

	/* Computing may process invalidations: no cache pointer is held here. */
	ids = ComputeReach(kind, CurrentMemoryContext);
	if (!AnswerIsCurrent())
		PG_RETURN_ARRAYTYPE_P(ids);
	if (ReachContext == NULL)
	{
		HASHCTL		ctl;

		ReachContext = AllocSetContextCreate(TopMemoryContext, "crm reach cache", ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CrmReachEntry);
		ctl.hcxt = ReachContext;
		ReachCache = hash_create("crm reach cache", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(ReachCache, &roleid, HASH_ENTER, &found);
	if (!found)
		memset(entry->ids, 0, sizeof(entry->ids));
	{
		MemoryContext old = MemoryContextSwitchTo(ReachContext);

		entry->ids[kind] = DatumGetArrayTypePCopy(PointerGetDatum(ids));
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_ARRAYTYPE_P(ids);
}

PG_FUNCTION_INFO_V1(crm_visible_owner_ids);

/*
 * crm.visible_owner_ids(): the users whose records the logged-in user
 * reaches by ownership (self; for a manager the team subtree and every
 * report, any depth); empty when not an active CRM user.
 */
Datum
crm_visible_owner_ids(PG_FUNCTION_ARGS)
{
	return Reach(REACH_OWNERS);
}

PG_FUNCTION_INFO_V1(crm_shared_contact_ids);

/* crm.shared_contact_ids(for_write boolean): contacts shared with the user. */
Datum
crm_shared_contact_ids(PG_FUNCTION_ARGS)
{
	return Reach(PG_GETARG_BOOL(0) ? REACH_CONTACTS_WRITE : REACH_CONTACTS);
}

PG_FUNCTION_INFO_V1(crm_shared_account_ids);

/* crm.shared_account_ids(for_write boolean): accounts shared with the user. */
Datum
crm_shared_account_ids(PG_FUNCTION_ARGS)
{
	return Reach(PG_GETARG_BOOL(0) ? REACH_ACCOUNTS_WRITE : REACH_ACCOUNTS);
}

PG_FUNCTION_INFO_V1(crm_shared_deal_ids);

/* crm.shared_deal_ids(for_write boolean): deals shared with the user. */
Datum
crm_shared_deal_ids(PG_FUNCTION_ARGS)
{
	return Reach(PG_GETARG_BOOL(0) ? REACH_DEALS_WRITE : REACH_DEALS);
}
