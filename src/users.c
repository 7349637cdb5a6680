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
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"

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

/*
 * A relcache invalidation empties the cache.  Telling crm.users apart from
 * other relations would take a catalog lookup, which callbacks must not do;
 * invalidations are rare next to statements, so any one will do.
 */
static void
UsersInvalidate(Datum arg, Oid relid)
{
	if (UserCache == NULL)
		return;
	hash_destroy(UserCache);
	UserCache = NULL;
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
