/*
 * scoring.c
 *	  The engagement-scoring trigger on crm.activities, in C.
 *
 * Every insert, update and delete of activities folds the points of the
 * rows concerned into crm.engagement_state (one row per contact and
 * decaying rule, stored as value and as-of time: the closed form of
 * exponential decay) and checks whether the contacts touched changed grade
 * or crossed the MQL threshold; only then is the contact row rewritten (its
 * row trigger in part 62 hands the lead off).  This runs on every activity
 * an application logs, so it must cost little next to the insert itself:
 *
 *   - the rules, score groups, settings and stage positions are read once
 *     per backend and kept until a statement trigger on those tables sends
 *     a relcache invalidation (at commit, to every backend; at once, to
 *     this one), like the nickname and email-domain caches;
 *   - the transition table is read directly, and the points of the batch
 *     are summed per (contact, rule) in C, decayed to the transaction time;
 *   - one prepared upsert per statement writes the state, and only when a
 *     decaying or permanent rule is concerned (window rules are counted
 *     from the activities, there is nothing to store);
 *   - the current engagement of a touched contact is read with direct
 *     index scans (its state rows, its activities inside the longest time
 *     window, its contact row), not with queries: a few microseconds each;
 *   - the contact row is rewritten only when its grade or MQL status
 *     changes, by one prepared UPDATE, so that ordinary activities leave
 *     crm.contacts, its indexes and its triggers alone.
 *
 * The arithmetic is the SQL functions' (crm.decayed_value, crm.clamp_points,
 * the caps per rule and per group, the grade bands) and is tested against
 * them: crm.engagement_score() and crm.lead_scores give the same values.
 * The function runs SECURITY DEFINER (declared in SQL), as the plpgsql
 * trigger it replaces did: scores are derived data the user who logs an
 * activity may not write.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "lib/qunique.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "decay.h"

PG_FUNCTION_INFO_V1(crm_activities_score);
PG_FUNCTION_INFO_V1(crm_scoring_config_changed);

/* One active engagement rule, as the trigger needs it. */
typedef struct ScoringRule
{
	int64		id;
	char	   *kind;			/* activity kind */
	int			kind_len;
	double		points;
	bool		has_max;
	double		max_points;		/* cap on the absolute value per contact */
	bool		has_half_life;
	double		half_life;		/* seconds, as crm.decayed_value counts them */
	bool		has_window;
	Interval	window;			/* subtracted from now() as SQL does */
	int			group;			/* index into ScoringCache.groups */
} ScoringRule;

typedef struct ScoringGroup
{
	bool		has_min;
	double		min_points;
	bool		has_max;
	double		max_points;
} ScoringGroup;

typedef struct ScoringCache
{
	bool		valid;
	int			nrules;
	ScoringRule *rules;
	int			ngroups;
	ScoringGroup *groups;
	bool		any_window;
	/* crm.scoring_settings */
	double		ceiling;
	double		mql_threshold;
	double		grade_a_fit;
	double		grade_b_fit;
	double		grade_1_engagement;
	double		grade_2_engagement;
	bool		handoff_enabled;
	/* crm.lifecycle_stages */
	int			nstages;
	char	  **stage_names;
	int		   *stage_positions;
	bool		has_mql_position;
	int			mql_position;
	/* relations and indexes read directly */
	Oid			contacts;
	Oid			contacts_pkey;
	Oid			state;
	Oid			state_pkey;
	Oid			activities;
	Oid			activities_time;	/* (contact_id, occurred_at) */
} ScoringCache;

static ScoringCache Cache;
static MemoryContext CacheContext = NULL;
static bool CallbackRegistered = false;

/* The relations whose invalidation drops the cache (0 until first load). */
#define WATCHED_RELS 7
static Oid	WatchedRels[WATCHED_RELS];
/* Bumped by every invalidation, so one that arrives while loading counts. */
static uint64 Invalidations = 0;
/* Bumped by every load, so an aggregate notices a reload under its feet. */
static uint64 CacheGeneration = 0;

static SPIPlanPtr UpsertPlan = NULL;
static SPIPlanPtr UpdatePlan = NULL;
static SPIPlanPtr InvalidatePlan = NULL;

/* Fold a batch into the state: the stored sum decayed to the later time plus the batch's. */
static const char *const UpsertSql =
"INSERT INTO crm.engagement_state AS s (contact_id, rule_id, value, as_of) "
"SELECT i.contact_id, i.rule_id, i.value, pg_catalog.now() "
"  FROM unnest($1::pg_catalog.int8[], $2::pg_catalog.int8[], $3::pg_catalog.float8[]) "
"       AS i(contact_id, rule_id, value) "
/* activities deleted with their contact need no bookkeeping */
" WHERE EXISTS (SELECT 1 FROM crm.contacts c WHERE c.id = i.contact_id) "
"ON CONFLICT (contact_id, rule_id) DO UPDATE "
"   SET value = (SELECT crm.decayed_value(s.value, s.as_of, r.half_life, greatest(s.as_of, excluded.as_of)) "
"                     + crm.decayed_value(excluded.value, excluded.as_of, r.half_life, "
"                                         greatest(s.as_of, excluded.as_of)) "
"                  FROM crm.engagement_rules r WHERE r.id = s.rule_id), "
"       as_of = greatest(s.as_of, excluded.as_of)";

/* The contacts whose grade or MQL status changed: their row trigger does the rest. */
static const char *const UpdateSql =
"UPDATE crm.contacts c SET engagement_score = x.engagement, engagement_as_of = pg_catalog.now() "
"  FROM unnest($1::pg_catalog.int8[], $2::pg_catalog.float8[]) AS x(id, engagement) "
" WHERE c.id = x.id";

/* The latest hard bounce and "left the company" per contact, for record health. */
static const char *const InvalidateSql =
"INSERT INTO crm.invalidating_events AS e (contact_id, kind, occurred_at) "
"SELECT n.contact_id, n.kind, pg_catalog.max(n.occurred_at) "
"  FROM unnest($1::pg_catalog.int8[], $2::pg_catalog.text[], $3::pg_catalog.timestamptz[]) "
"       AS n(contact_id, kind, occurred_at) "
" GROUP BY n.contact_id, n.kind "
"ON CONFLICT (contact_id, kind) DO UPDATE SET occurred_at = greatest(e.occurred_at, excluded.occurred_at)";

static void
ScoringInvalidate(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < WATCHED_RELS; i++)
		if (!OidIsValid(relid) || WatchedRels[i] == relid)
		{
			Cache.valid = false;
			Invalidations++;
			return;
		}
}

static Oid
CrmRelid(const char *name, bool index)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("crm", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"crm.%s\" does not exist", index ? "index" : "relation", name),
				 errhint("Lead scoring needs it; reinstall the crm extension.")));
	return relid;
}

static AttrNumber
AttnumByName(TupleDesc desc, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	elog(ERROR, "column \"%s\" not found", name);
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/* The index must start with the given columns, or the scans below are wrong. */
static void
CheckIndexColumns(Oid indexid, Oid relid, const char *col1, const char *col2)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Relation	idx = index_open(indexid, AccessShareLock);
	int2vector *keys = &idx->rd_index->indkey;
	bool		ok;

	ok = idx->rd_index->indrelid == relid &&
		keys->dim1 >= (col2 ? 2 : 1) &&
		keys->values[0] == AttnumByName(RelationGetDescr(rel), col1) &&
		(col2 == NULL || keys->values[1] == AttnumByName(RelationGetDescr(rel), col2)) &&
		idx->rd_rel->relam == BTREE_AM_OID;
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index %s of lead scoring has changed", get_rel_name(indexid)),
				 errhint("Reinstall the crm extension.")));
}

static double
GetFloat(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, desc, col, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(d);
}

/* Read the configuration; the caller has connected to SPI. */
static void
LoadCache(void)
{
	MemoryContext old;
	uint64		i;
	char	   *last_group = NULL;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	uint64		invalidations_before = Invalidations;

	if (!CallbackRegistered)
	{
		CacheRegisterRelcacheCallback(ScoringInvalidate, (Datum) 0);
		CallbackRegistered = true;
	}
	if (CacheContext == NULL)
		CacheContext = AllocSetContextCreate(CacheMemoryContext, "crm scoring cache",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(CacheContext);
	memset(&Cache, 0, sizeof(Cache));

	if (SPI_execute("SELECT r.id, r.activity_kind, r.points, r.max_points, r.half_life, r.time_window, "
					"       sg.name, sg.min_points, sg.max_points "
					"  FROM crm.engagement_rules r JOIN crm.score_groups sg ON sg.name = r.group_name "
					" WHERE r.active ORDER BY sg.name, r.id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.engagement_rules");
	old = MemoryContextSwitchTo(CacheContext);
	Cache.nrules = (int) SPI_processed;
	Cache.rules = palloc0(sizeof(ScoringRule) * (Cache.nrules + 1));
	Cache.groups = palloc0(sizeof(ScoringGroup) * (Cache.nrules + 1));
	desc = SPI_tuptable->tupdesc;
	for (i = 0; i < SPI_processed; i++)
	{
		ScoringRule *r = &Cache.rules[i];
		char	   *group;

		tup = SPI_tuptable->vals[i];
		r->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		r->kind = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		r->kind_len = strlen(r->kind);
		r->points = GetFloat(tup, desc, 3, &isnull);
		r->max_points = GetFloat(tup, desc, 4, &isnull);
		r->has_max = !isnull;
		{
			Datum		d = SPI_getbinval(tup, desc, 5, &isnull);

			r->has_half_life = !isnull;
			if (!isnull)
				r->half_life = crm_interval_seconds(DatumGetIntervalP(d));
			d = SPI_getbinval(tup, desc, 6, &isnull);
			r->has_window = !isnull;
			if (!isnull)
				r->window = *DatumGetIntervalP(d);
		}
		if (r->has_window)
			Cache.any_window = true;
		group = SPI_getvalue(tup, desc, 7);
		if (last_group == NULL || strcmp(group, last_group) != 0)
		{
			ScoringGroup *g = &Cache.groups[Cache.ngroups++];

			g->min_points = GetFloat(tup, desc, 8, &isnull);
			g->has_min = !isnull;
			g->max_points = GetFloat(tup, desc, 9, &isnull);
			g->has_max = !isnull;
			last_group = group;
		}
		r->group = Cache.ngroups - 1;
	}
	MemoryContextSwitchTo(old);

	if (SPI_execute("SELECT score_ceiling, mql_threshold, grade_a_fit, grade_b_fit, grade_1_engagement, "
					"       grade_2_engagement, handoff_enabled FROM crm.scoring_settings", true, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crm.scoring_settings must hold exactly one row")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	Cache.ceiling = GetFloat(tup, desc, 1, &isnull);
	Cache.mql_threshold = GetFloat(tup, desc, 2, &isnull);
	Cache.grade_a_fit = GetFloat(tup, desc, 3, &isnull);
	Cache.grade_b_fit = GetFloat(tup, desc, 4, &isnull);
	Cache.grade_1_engagement = GetFloat(tup, desc, 5, &isnull);
	Cache.grade_2_engagement = GetFloat(tup, desc, 6, &isnull);
	Cache.handoff_enabled = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));

	if (SPI_execute("SELECT stage, position FROM crm.lifecycle_stages", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.lifecycle_stages");
	old = MemoryContextSwitchTo(CacheContext);
	Cache.nstages = (int) SPI_processed;
	Cache.stage_names = palloc0(sizeof(char *) * (Cache.nstages + 1));
	Cache.stage_positions = palloc0(sizeof(int) * (Cache.nstages + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		tup = SPI_tuptable->vals[i];
		Cache.stage_names[i] = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
		Cache.stage_positions[i] = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		if (strcmp(Cache.stage_names[i], "mql") == 0)
		{
			Cache.has_mql_position = true;
			Cache.mql_position = Cache.stage_positions[i];
		}
	}
	MemoryContextSwitchTo(old);

	Cache.contacts = CrmRelid("contacts", false);
	Cache.contacts_pkey = CrmRelid("contacts_pkey", true);
	Cache.state = CrmRelid("engagement_state", false);
	Cache.state_pkey = CrmRelid("engagement_state_pkey", true);
	Cache.activities = CrmRelid("activities", false);
	Cache.activities_time = CrmRelid("activities_contact_id_occurred_at_idx", true);
	WatchedRels[0] = CrmRelid("engagement_rules", false);
	WatchedRels[1] = CrmRelid("score_groups", false);
	WatchedRels[2] = CrmRelid("scoring_settings", false);
	WatchedRels[3] = CrmRelid("lifecycle_stages", false);
	WatchedRels[4] = Cache.contacts;
	WatchedRels[5] = Cache.state;
	WatchedRels[6] = Cache.activities;
	CheckIndexColumns(Cache.contacts_pkey, Cache.contacts, "id", NULL);
	CheckIndexColumns(Cache.state_pkey, Cache.state, "contact_id", "rule_id");
	CheckIndexColumns(Cache.activities_time, Cache.activities, "contact_id", "occurred_at");
	CacheGeneration++;
	/* an invalidation that arrived meanwhile makes the next call load again */
	Cache.valid = (Invalidations == invalidations_before);
}

static inline double
Clamp(double v, bool has_min, double min, bool has_max, double max)
{
	if (has_max && v > max)
		v = max;
	if (has_min && v < min)
		v = min;
	return v;
}

/* crm.lifecycle_position(stage) < crm.lifecycle_position('mql') */
static bool
BeforeMql(const char *stage)
{
	int			i;

	if (!Cache.has_mql_position)
		return false;
	for (i = 0; i < Cache.nstages; i++)
		if (strcmp(Cache.stage_names[i], stage) == 0)
			return Cache.stage_positions[i] < Cache.mql_position;
	return false;
}

/* One row of a batch: the activity fields the rules look at. */
typedef struct Change
{
	int64		contact_id;
	int			rule;			/* index into Cache.rules */
	double		value;
} Change;

static int
CompareChanges(const void *a, const void *b)
{
	const Change *x = a;
	const Change *y = b;

	if (x->contact_id != y->contact_id)
		return x->contact_id < y->contact_id ? -1 : 1;
	return x->rule - y->rule;
}

static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

typedef struct Batch
{
	Change	   *changes;
	int			nchanges;
	int			maxchanges;
	int64	   *touched;
	int			ntouched;
	int			maxtouched;
	/* invalidating events (hard bounce, left the company), inserts only */
	Datum	   *inv_contacts;
	Datum	   *inv_kinds;
	Datum	   *inv_times;
	int			ninv;
	int			maxinv;
	TimestampTz now;
} Batch;

static void
AddTouched(Batch *b, int64 contact_id)
{
	if (b->ntouched > 0 && b->touched[b->ntouched - 1] == contact_id)
		return;
	if (b->ntouched == b->maxtouched)
	{
		b->maxtouched *= 2;
		b->touched = repalloc_huge(b->touched, sizeof(int64) * b->maxtouched);
	}
	b->touched[b->ntouched++] = contact_id;
}

/* Add one activity (sign +1 when it arrives, -1 when it goes) to the batch. */
static void
AddActivity(Batch *b, int64 contact_id, text *kind, TimestampTz occurred_at, double sign, bool inserted)
{
	const char *k = VARDATA_ANY(kind);
	int			klen = VARSIZE_ANY_EXHDR(kind);
	int			i;

	for (i = 0; i < Cache.nrules; i++)
	{
		ScoringRule *r = &Cache.rules[i];

		if (r->kind_len != klen || memcmp(r->kind, k, klen) != 0)
			continue;
		AddTouched(b, contact_id);
		if (r->has_window)
			continue;			/* counted from the activities when read */
		if (b->nchanges == b->maxchanges)
		{
			b->maxchanges *= 2;
			b->changes = repalloc_huge(b->changes, sizeof(Change) * b->maxchanges);
		}
		b->changes[b->nchanges].contact_id = contact_id;
		b->changes[b->nchanges].rule = i;
		/* a future activity counts from the moment it is recorded */
		b->changes[b->nchanges].value = r->has_half_life
			? crm_decayed_value_at(sign * r->points, Min(occurred_at, b->now), r->half_life, b->now)
			: sign * r->points;
		b->nchanges++;
	}
	if (inserted && ((klen == 13 && memcmp(k, "email_bounced", 13) == 0) ||
					 (klen == 12 && memcmp(k, "left_company", 12) == 0)))
	{
		if (b->ninv == b->maxinv)
		{
			b->maxinv *= 2;
			b->inv_contacts = repalloc_huge(b->inv_contacts, sizeof(Datum) * b->maxinv);
			b->inv_kinds = repalloc_huge(b->inv_kinds, sizeof(Datum) * b->maxinv);
			b->inv_times = repalloc_huge(b->inv_times, sizeof(Datum) * b->maxinv);
		}
		b->inv_contacts[b->ninv] = Int64GetDatum(contact_id);
		b->inv_kinds[b->ninv] = PointerGetDatum(kind);
		b->inv_times[b->ninv] = TimestampTzGetDatum(occurred_at);
		b->ninv++;
	}
}

typedef struct ActivityColumns
{
	AttrNumber	contact_id;
	AttrNumber	kind;
	AttrNumber	occurred_at;
} ActivityColumns;

/* Read the next row of a transition table through our own read pointer. */
static bool
NextRow(Tuplestorestate *ts, int ptr, TupleTableSlot *slot, const ActivityColumns *cols,
		int64 *contact_id, text **kind, TimestampTz *occurred_at)
{
	bool		isnull;
	Datum		d;

	tuplestore_select_read_pointer(ts, ptr);
	if (!tuplestore_gettupleslot(ts, true, false, slot))
		return false;
	d = slot_getattr(slot, cols->contact_id, &isnull);
	*contact_id = isnull ? 0 : DatumGetInt64(d);
	d = slot_getattr(slot, cols->kind, &isnull);
	*kind = isnull ? NULL : DatumGetTextPCopy(d);
	d = slot_getattr(slot, cols->occurred_at, &isnull);
	*occurred_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	return true;
}

static int
OwnReadPointer(Tuplestorestate *ts)
{
	int			ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
	return ptr;
}

static void
CollectBatch(TriggerData *trigdata, Batch *b)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	ActivityColumns cols;
	TupleTableSlot *newslot = NULL;
	TupleTableSlot *oldslot = NULL;
	int			newptr = 0;
	int			oldptr = 0;
	bool		ins = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
	bool		del = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);

	cols.contact_id = AttnumByName(desc, "contact_id");
	cols.kind = AttnumByName(desc, "kind");
	cols.occurred_at = AttnumByName(desc, "occurred_at");
	if (!del)
	{
		newslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		newptr = OwnReadPointer(trigdata->tg_newtable);
	}
	if (!ins)
	{
		oldslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		oldptr = OwnReadPointer(trigdata->tg_oldtable);
	}

	for (;;)
	{
		int64		nc = 0,
					oc = 0;
		text	   *nk = NULL,
				   *ok = NULL;
		TimestampTz nt = 0,
					ot = 0;
		bool		have_new = false,
					have_old = false;

		if (!del)
			have_new = NextRow(trigdata->tg_newtable, newptr, newslot, &cols, &nc, &nk, &nt);
		if (!ins)
			have_old = NextRow(trigdata->tg_oldtable, oldptr, oldslot, &cols, &oc, &ok, &ot);
		if (!have_new && !have_old)
			break;
		/*
		 * An UPDATE pairs old and new rows by position (PostgreSQL stores
		 * them in step); only rows whose scoring inputs changed count.
		 */
		if (have_new && have_old && nc == oc && nt == ot && nk != NULL && ok != NULL &&
			VARSIZE_ANY_EXHDR(nk) == VARSIZE_ANY_EXHDR(ok) &&
			memcmp(VARDATA_ANY(nk), VARDATA_ANY(ok), VARSIZE_ANY_EXHDR(nk)) == 0)
			continue;
		if (have_old && ok != NULL)
			AddActivity(b, oc, ok, ot, -1.0, false);
		if (have_new && nk != NULL)
			AddActivity(b, nc, nk, nt, 1.0, ins);
	}
	if (newslot)
		ExecDropSingleTupleTableSlot(newslot);
	if (oldslot)
		ExecDropSingleTupleTableSlot(oldslot);
}

/* Relations and scans used to read a contact's current engagement. */
typedef struct Reader
{
	Relation	contacts;
	Relation	contacts_pkey;
	Relation	state;
	Relation	state_pkey;
	Relation	activities;
	Relation	activities_time;
	TupleTableSlot *contact_slot;
	TupleTableSlot *state_slot;
	TupleTableSlot *activity_slot;
	AttrNumber	c_fit,
				c_lead_score,
				c_lead_grade,
				c_stage;
	AttrNumber	s_rule,
				s_value,
				s_as_of;
	AttrNumber	a_kind,
				a_time;
	TimestampTz *cutoffs;		/* per rule: now() - time_window */
	TimestampTz earliest;		/* the earliest of them */
	double	   *group_sums;
	int		   *window_counts;
	Snapshot	snapshot;
} Reader;

static void
OpenReader(Reader *rd, TimestampTz now)
{
	int			i;

	rd->contacts = table_open(Cache.contacts, AccessShareLock);
	rd->contacts_pkey = index_open(Cache.contacts_pkey, AccessShareLock);
	rd->state = table_open(Cache.state, AccessShareLock);
	rd->state_pkey = index_open(Cache.state_pkey, AccessShareLock);
	rd->activities = table_open(Cache.activities, AccessShareLock);
	rd->activities_time = index_open(Cache.activities_time, AccessShareLock);
	rd->contact_slot = table_slot_create(rd->contacts, NULL);
	rd->state_slot = table_slot_create(rd->state, NULL);
	rd->activity_slot = table_slot_create(rd->activities, NULL);
	rd->c_fit = AttnumByName(RelationGetDescr(rd->contacts), "fit_score");
	rd->c_lead_score = AttnumByName(RelationGetDescr(rd->contacts), "lead_score");
	rd->c_lead_grade = AttnumByName(RelationGetDescr(rd->contacts), "lead_grade");
	rd->c_stage = AttnumByName(RelationGetDescr(rd->contacts), "lifecycle_stage");
	rd->s_rule = AttnumByName(RelationGetDescr(rd->state), "rule_id");
	rd->s_value = AttnumByName(RelationGetDescr(rd->state), "value");
	rd->s_as_of = AttnumByName(RelationGetDescr(rd->state), "as_of");
	rd->a_kind = AttnumByName(RelationGetDescr(rd->activities), "kind");
	rd->a_time = AttnumByName(RelationGetDescr(rd->activities), "occurred_at");
	rd->cutoffs = palloc0(sizeof(TimestampTz) * (Cache.nrules + 1));
	rd->earliest = DT_NOEND;
	for (i = 0; i < Cache.nrules; i++)
	{
		if (!Cache.rules[i].has_window)
			continue;
		rd->cutoffs[i] = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																 TimestampTzGetDatum(now),
																 IntervalPGetDatum(&Cache.rules[i].window)));
		if (rd->cutoffs[i] < rd->earliest)
			rd->earliest = rd->cutoffs[i];
	}
	rd->group_sums = palloc0(sizeof(double) * (Cache.ngroups + 1));
	rd->window_counts = palloc0(sizeof(int) * (Cache.nrules + 1));
}

static void
CloseReader(Reader *rd)
{
	ExecDropSingleTupleTableSlot(rd->contact_slot);
	ExecDropSingleTupleTableSlot(rd->state_slot);
	ExecDropSingleTupleTableSlot(rd->activity_slot);
	index_close(rd->activities_time, NoLock);
	table_close(rd->activities, NoLock);
	index_close(rd->state_pkey, NoLock);
	table_close(rd->state, NoLock);
	index_close(rd->contacts_pkey, NoLock);
	table_close(rd->contacts, NoLock);
}

static int
RuleById(int64 id)
{
	int			i;

	for (i = 0; i < Cache.nrules; i++)
		if (Cache.rules[i].id == id)
			return i;
	return -1;
}

/*
 * Engagement of one contact at now, as crm.engagement_now computes it:
 * decaying and permanent rules from the state, window rules counted from
 * the activities, each rule capped, each group clamped, groups summed.
 */
static double
ContactEngagement(Reader *rd, int64 contact_id, TimestampTz now)
{
	ScanKeyData key[2];
	IndexScanDesc scan;
	bool		isnull;
	double		total = 0.0;
	int			i;

	memset(rd->group_sums, 0, sizeof(double) * (Cache.ngroups + 1));

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(contact_id));
	scan = index_beginscan(rd->state, rd->state_pkey, rd->snapshot, 1, 0);
	index_rescan(scan, key, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, rd->state_slot))
	{
		int			ri = RuleById(DatumGetInt64(slot_getattr(rd->state_slot, rd->s_rule, &isnull)));
		ScoringRule *r;
		double		v;

		if (ri < 0 || Cache.rules[ri].has_window)
			continue;
		r = &Cache.rules[ri];
		v = DatumGetFloat8(slot_getattr(rd->state_slot, rd->s_value, &isnull));
		if (r->has_half_life)
			v = crm_decayed_value_at(v, DatumGetTimestampTz(slot_getattr(rd->state_slot, rd->s_as_of, &isnull)),
									 r->half_life, now);
		rd->group_sums[r->group] += Clamp(v, r->has_max, -r->max_points, r->has_max, r->max_points);
	}
	index_endscan(scan);

	if (Cache.any_window)
	{
		memset(rd->window_counts, 0, sizeof(int) * (Cache.nrules + 1));
		ScanKeyInit(&key[1], 2, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(rd->earliest));
		scan = index_beginscan(rd->activities, rd->activities_time, rd->snapshot, 2, 0);
		index_rescan(scan, key, 2, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, rd->activity_slot))
		{
			TimestampTz t = DatumGetTimestampTz(slot_getattr(rd->activity_slot, rd->a_time, &isnull));
			text	   *kind;
			int			klen;

			if (t > now)
				continue;
			kind = DatumGetTextPP(slot_getattr(rd->activity_slot, rd->a_kind, &isnull));
			klen = VARSIZE_ANY_EXHDR(kind);
			for (i = 0; i < Cache.nrules; i++)
			{
				ScoringRule *r = &Cache.rules[i];

				if (r->has_window && t > rd->cutoffs[i] && r->kind_len == klen &&
					memcmp(r->kind, VARDATA_ANY(kind), klen) == 0)
					rd->window_counts[i]++;
			}
		}
		index_endscan(scan);
		for (i = 0; i < Cache.nrules; i++)
		{
			ScoringRule *r = &Cache.rules[i];
			double		sum = 0.0;
			int			n;

			if (rd->window_counts[i] == 0)
				continue;
			/* summed one by one, as sum(r.points) does */
			for (n = 0; n < rd->window_counts[i]; n++)
				sum += r->points;
			rd->group_sums[r->group] += Clamp(sum, r->has_max, -r->max_points, r->has_max, r->max_points);
		}
	}

	for (i = 0; i < Cache.ngroups; i++)
	{
		ScoringGroup *g = &Cache.groups[i];

		total += Clamp(rd->group_sums[i], g->has_min, g->min_points, g->has_max, g->max_points);
	}
	return total;
}

static void
Grade(double fit, double engagement, char *grade)
{
	grade[0] = fit >= Cache.grade_a_fit ? 'A' : (fit >= Cache.grade_b_fit ? 'B' : 'C');
	grade[1] = engagement >= Cache.grade_1_engagement ? '1' :
		(engagement >= Cache.grade_2_engagement ? '2' : '3');
	grade[2] = '\0';
}

static double
NumericAttr(TupleTableSlot *slot, AttrNumber att, bool *isnull)
{
	Datum		d = slot_getattr(slot, att, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
}

/*
 * Whether the contact's row must be rewritten: its grade changed, or its
 * score reached the MQL threshold from below while it is still before mql
 * (the same test the plpgsql version made).  Sets *engagement.
 */
static bool
ContactNeedsUpdate(Reader *rd, int64 contact_id, TimestampTz now, double *engagement)
{
	ScanKeyData key;
	IndexScanDesc scan;
	bool		found;
	bool		isnull;
	double		fit;
	double		lead_score;
	bool		lead_score_null;
	double		score;
	char		grade[3];
	bool		result = false;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(contact_id));
	scan = index_beginscan(rd->contacts, rd->contacts_pkey, rd->snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, rd->contact_slot);
	index_endscan(scan);
	if (!found)
		return false;			/* deleted with its activities */

	*engagement = ContactEngagement(rd, contact_id, now);
	fit = NumericAttr(rd->contact_slot, rd->c_fit, &isnull);
	lead_score = NumericAttr(rd->contact_slot, rd->c_lead_score, &lead_score_null);
	Grade(fit, *engagement, grade);
	{
		Datum		d = slot_getattr(rd->contact_slot, rd->c_lead_grade, &isnull);

		if (isnull || strcmp(TextDatumGetCString(d), grade) != 0)
			result = true;
	}
	score = Clamp(fit + *engagement, true, 0.0, true, Cache.ceiling);
	if (!result && Cache.handoff_enabled && score >= Cache.mql_threshold &&
		(lead_score_null || lead_score < Cache.mql_threshold))
	{
		Datum		d = slot_getattr(rd->contact_slot, rd->c_stage, &isnull);

		result = !isnull && BeforeMql(TextDatumGetCString(d));
	}
	return result;
}

static SPIPlanPtr
Prepare(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		/*
		 * Always the generic plan: the arguments are arrays whose contents
		 * do not change the best plan, and planning a custom one for every
		 * statement would cost more than running it.
		 */
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = p;
	}
	return *plan;
}

static Datum
Int64Array(int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
Float8Array(double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Write the batch's points into crm.engagement_state, summed per (contact, rule). */
static void
WriteState(Batch *b)
{
	int64	   *contacts = palloc(sizeof(int64) * b->nchanges);
	int64	   *rules = palloc(sizeof(int64) * b->nchanges);
	double	   *values = palloc(sizeof(double) * b->nchanges);
	int			n = 0;
	int			i;
	Oid			types[3] = {INT8ARRAYOID, INT8ARRAYOID, FLOAT8ARRAYOID};
	Datum		args[3];

	qsort(b->changes, b->nchanges, sizeof(Change), CompareChanges);
	for (i = 0; i < b->nchanges; i++)
	{
		Change	   *c = &b->changes[i];

		if (n > 0 && contacts[n - 1] == c->contact_id && rules[n - 1] == Cache.rules[c->rule].id)
		{
			values[n - 1] += c->value;
			continue;
		}
		contacts[n] = c->contact_id;
		rules[n] = Cache.rules[c->rule].id;
		values[n] = c->value;
		n++;
	}
	args[0] = Int64Array(contacts, n);
	args[1] = Int64Array(rules, n);
	args[2] = Float8Array(values, n);
	if (SPI_execute_plan(Prepare(&UpsertPlan, UpsertSql, 3, types), args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write crm.engagement_state");
}

static void
WriteInvalidatingEvents(Batch *b)
{
	Oid			types[3] = {INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[3];

	args[0] = PointerGetDatum(construct_array(b->inv_contacts, b->ninv, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(b->inv_kinds, b->ninv, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(b->inv_times, b->ninv, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_plan(Prepare(&InvalidatePlan, InvalidateSql, 3, types), args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write crm.invalidating_events");
}

/* Check every touched contact; rewrite those whose grade or MQL status changed. */
static void
RefreshContacts(Batch *b)
{
	Reader		rd;
	int64	   *ids = palloc(sizeof(int64) * b->ntouched);
	double	   *engagement = palloc(sizeof(double) * b->ntouched);
	int			n = 0;
	int			i;

	qsort(b->touched, b->ntouched, sizeof(int64), CompareInt64);
	b->ntouched = qunique(b->touched, b->ntouched, sizeof(int64), CompareInt64);

	/* see the state just written: a new command, and a snapshot taken now */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	memset(&rd, 0, sizeof(rd));
	rd.snapshot = GetActiveSnapshot();
	OpenReader(&rd, b->now);
	for (i = 0; i < b->ntouched; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (ContactNeedsUpdate(&rd, b->touched[i], b->now, &engagement[n]))
			ids[n++] = b->touched[i];
	}
	CloseReader(&rd);
	PopActiveSnapshot();

	if (n > 0)
	{
		Oid			types[2] = {INT8ARRAYOID, FLOAT8ARRAYOID};
		Datum		args[2];

		args[0] = Int64Array(ids, n);
		args[1] = Float8Array(engagement, n);
		if (SPI_execute_plan(Prepare(&UpdatePlan, UpdateSql, 2, types), args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update crm.contacts");
	}
}

/*
 * crm._activities_score(): AFTER INSERT, UPDATE or DELETE ON crm.activities
 * FOR EACH STATEMENT, with transition tables.
 */
Datum
crm_activities_score(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Batch		b;
	bool		ins,
				del;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scoring trigger function called outside a trigger")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scoring trigger must fire AFTER ... FOR EACH STATEMENT")));
	ins = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
	del = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	if ((!del && trigdata->tg_newtable == NULL) || (!ins && trigdata->tg_oldtable == NULL) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scoring trigger needs the transition tables of an INSERT, UPDATE or DELETE")));
	if (tuplestore_tuple_count(del ? trigdata->tg_oldtable : trigdata->tg_newtable) == 0)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	AcceptInvalidationMessages();
	if (!Cache.valid)
		LoadCache();

	memset(&b, 0, sizeof(b));
	b.now = GetCurrentTransactionStartTimestamp();
	b.maxchanges = b.maxtouched = b.maxinv = 16;
	b.changes = palloc(sizeof(Change) * b.maxchanges);
	b.touched = palloc(sizeof(int64) * b.maxtouched);
	b.inv_contacts = palloc(sizeof(Datum) * b.maxinv);
	b.inv_kinds = palloc(sizeof(Datum) * b.maxinv);
	b.inv_times = palloc(sizeof(Datum) * b.maxinv);
	CollectBatch(trigdata, &b);

	if (b.ninv > 0)
		WriteInvalidatingEvents(&b);
	if (b.nchanges > 0)
		WriteState(&b);
	if (b.ntouched > 0)
		RefreshContacts(&b);
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * crm._scoring_config_changed(): AFTER ... FOR EACH STATEMENT on the tables
 * the trigger caches.  Every backend drops its copy when this commits (and
 * this one at once).
 */
Datum
crm_scoring_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scoring configuration trigger function called outside a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	Cache.valid = false;
	return PointerGetDatum(NULL);
}

/*
 * crm._engagement_of(rule_id, amount, as_of): the engagement of one contact
 * from its rows of crm.engagement_state and its window counts, with the
 * rules from the backend's cache: one aggregate per contact, no join with
 * the rules and groups per row, so crm.engagement_now (and with it
 * crm.lead_scores and crm.rescore_all()) is one pass over the state.  For a
 * decaying or permanent rule, amount is the stored value as of as_of,
 * decayed here to the transaction time; for a window rule, amount is the
 * number of its activities inside the window (as_of null).  Rows of rules
 * that are inactive or gone count for nothing, as in the join it replaces.
 */
typedef struct EngagementOfState
{
	uint64		generation;		/* of the cache the sums are indexed by */
	bool		seen;			/* a row counted */
	double		sums[FLEXIBLE_ARRAY_MEMBER];	/* per group */
} EngagementOfState;

static void
CheckGeneration(EngagementOfState *state)
{
	if (state->generation != CacheGeneration || !Cache.valid)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("scoring rules changed while engagement was being summed"),
				 errhint("Run the query again.")));
}

PG_FUNCTION_INFO_V1(crm_engagement_of_add);
PG_FUNCTION_INFO_V1(crm_engagement_of_final);

static void
EnsureCacheFromSql(void)
{
	if (Cache.valid)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	LoadCache();
	SPI_finish();
}

Datum
crm_engagement_of_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	EngagementOfState *state;
	int			ri;
	ScoringRule *r;
	double		v;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "crm_engagement_of_add called in non-aggregate context");
	EnsureCacheFromSql();
	if (PG_ARGISNULL(0))
	{
		state = MemoryContextAllocZero(aggcontext, offsetof(EngagementOfState, sums) +
									   sizeof(double) * (Cache.ngroups + 1));
		state->generation = CacheGeneration;
	}
	else
		state = (EngagementOfState *) PG_GETARG_POINTER(0);
	CheckGeneration(state);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	ri = RuleById(PG_GETARG_INT64(1));
	if (ri < 0)
		PG_RETURN_POINTER(state);
	r = &Cache.rules[ri];
	v = PG_GETARG_FLOAT8(2);
	if (r->has_window)
	{
		double		sum = 0.0;
		int64		n;

		if (!PG_ARGISNULL(3))
			PG_RETURN_POINTER(state);	/* a stored row of a window rule */
		for (n = 0; n < (int64) v; n++)
			sum += r->points;
		v = sum;
	}
	else
	{
		if (PG_ARGISNULL(3))
			PG_RETURN_POINTER(state);	/* a window count of a rule that is no longer one */
		if (r->has_half_life)
			v = crm_decayed_value_at(v, PG_GETARG_TIMESTAMPTZ(3), r->half_life,
									 GetCurrentTransactionStartTimestamp());
	}
	state->sums[r->group] += Clamp(v, r->has_max, -r->max_points, r->has_max, r->max_points);
	state->seen = true;
	PG_RETURN_POINTER(state);
}

Datum
crm_engagement_of_final(PG_FUNCTION_ARGS)
{
	EngagementOfState *state;
	double		total = 0.0;
	int			i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (EngagementOfState *) PG_GETARG_POINTER(0);
	if (!state->seen)
		PG_RETURN_NULL();
	CheckGeneration(state);
	for (i = 0; i < Cache.ngroups; i++)
	{
		ScoringGroup *g = &Cache.groups[i];

		total += Clamp(state->sums[i], g->has_min, g->min_points, g->has_max, g->max_points);
	}
	PG_RETURN_FLOAT8(total);
}
