/*
 * scoring.c
 *	  The engagement-scoring trigger on crm.activities, in C, and the
 *	  backend cache of the scoring rules it shares with engagement.c.
 *
 * Every insert, update and delete of activities folds the points of the
 * rows concerned into crm.contact_engagement (one row per contact: the
 * decayed value of each decaying rule as of one time, and the event times
 * of each window rule that can still count; see engagement.c) and checks
 * whether the contacts touched changed grade or crossed the MQL threshold;
 * only then is the contact row rewritten (its row trigger in part 62 hands
 * the lead off).  This runs on every activity an application logs, so it
 * must cost little next to the insert itself:
 *
 *   - the rules, score groups, settings and stage positions are read once
 *     per backend and kept until a statement trigger on those tables sends
 *     a relcache invalidation (at commit, to every backend; at once, to
 *     this one), like the nickname and email-domain caches;
 *   - the transition table is read directly, and the points of the batch
 *     are summed per (contact, rule) in C, decayed to the transaction time;
 *   - one prepared upsert per statement writes one state row per contact
 *     and returns each contact's new engagement: nothing is read back;
 *   - the contact row is read through its primary key and rewritten only
 *     when its grade or MQL status changes, by one prepared UPDATE, so that
 *     ordinary activities leave crm.contacts, its indexes and its triggers
 *     alone.
 *
 * The arithmetic is the SQL functions' (crm.decayed_value, crm.clamp_points,
 * the caps per rule and per group, the grade bands) and is tested against
 * them: crm.engagement_score() replays the activities for a moment before
 * the state and gives the same values.  The function runs SECURITY DEFINER
 * (declared in SQL), as the plpgsql trigger it replaces did: scores are
 * derived data the user who logs an activity may not write.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "nodes/pg_list.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "decay.h"
#include "scoring.h"

PG_FUNCTION_INFO_V1(crm_activities_score);
PG_FUNCTION_INFO_V1(crm_scoring_config_changed);

ScoringCache crm_scoring;
/* Bumped by every load, so an aggregate notices a reload under its feet. */
uint64		crm_scoring_generation = 0;

static MemoryContext CacheContext = NULL;
static bool CallbackRegistered = false;

/* The relations whose invalidation drops the cache (0 until first load). */
#define WATCHED_RELS 7
static Oid	WatchedRels[WATCHED_RELS];
/* Bumped by every invalidation, so one that arrives while loading counts. */
static uint64 Invalidations = 0;
/* The last reload with the latest snapshot: once per command is enough. */
static TransactionId LatestReloadXid = InvalidTransactionId;
static CommandId LatestReloadCid = InvalidCommandId;

static SPIPlanPtr UpsertPlan = NULL;
static SPIPlanPtr RefillPlan = NULL;
static SPIPlanPtr UpdatePlan = NULL;
static SPIPlanPtr GradePlan = NULL;
static SPIPlanPtr InvalidatePlan = NULL;

/*
 * Fold a batch into the state: a row per contact built from the batch,
 * added to the stored row (decayed to the later time, window times merged
 * and pruned) under the row lock of ON CONFLICT.  Returns every written
 * contact's engagement now.
 */
static const char *const UpsertSql =
"INSERT INTO crm.contact_engagement AS s (contact_id, as_of, rule_ids, rule_values, window_rule_ids, window_times) "
"SELECT b.contact_id, b.as_of, b.rule_ids, b.rule_values, b.window_rule_ids, b.window_times "
"  FROM crm._engagement_rows($1, $2, $3, $4, $5, $6, pg_catalog.now()) b "
/* activities deleted with their contact need no bookkeeping */
" WHERE EXISTS (SELECT 1 FROM crm.contacts c WHERE c.id = b.contact_id) "
"ON CONFLICT (contact_id) DO UPDATE "
"   SET (as_of, rule_ids, rule_values, window_rule_ids, window_times) = "
"       (SELECT m.as_of, m.rule_ids, m.rule_values, m.window_rule_ids, m.window_times "
"          FROM crm._engagement_merge(s.contact_id, s.as_of, s.rule_ids, s.rule_values, s.window_rule_ids, "
"                                     s.window_times, excluded.as_of, excluded.rule_ids, excluded.rule_values, "
"                                     excluded.window_rule_ids, excluded.window_times) m) "
"RETURNING s.contact_id, crm._engagement_value(s.as_of, s.rule_ids, s.rule_values, s.window_rule_ids, "
"                                             s.window_times, pg_catalog.now()), s.fit_score";

/* Take removed window events out of the state (rare: deletes and re-dated activities). */
static const char *const RefillSql =
"UPDATE crm.contact_engagement s "
"   SET (as_of, rule_ids, rule_values, window_rule_ids, window_times) = "
"       (SELECT m.as_of, m.rule_ids, m.rule_values, m.window_rule_ids, m.window_times "
"          FROM crm._engagement_refill(s.contact_id, s.as_of, s.rule_ids, s.rule_values, s.window_rule_ids, "
"                                      s.window_times, $1, $2, $3) m) "
" WHERE s.contact_id = ANY ($1) "
"RETURNING s.contact_id, crm._engagement_value(s.as_of, s.rule_ids, s.rule_values, s.window_rule_ids, "
"                                             s.window_times, pg_catalog.now()), s.fit_score";

/*
 * The contacts whose grade changed, with their new score and grade: the
 * contacts' own scoring trigger stands aside (src/scoring_guard.c), as for
 * crm.rescore_all(), since there is nothing left for it to do.
 */
static const char *const GradeSql =
"UPDATE crm.contacts c SET fit_score = x.fit, engagement_score = x.engagement, engagement_as_of = pg_catalog.now(), "
"       lead_score = x.score, lead_grade = x.grade "
"  FROM unnest($1::pg_catalog.int8[], $2::pg_catalog.float8[], $3::pg_catalog.float8[], $4::pg_catalog.text[], "
"              $5::pg_catalog.float8[]) "
"       AS x(id, engagement, score, grade, fit) "
" WHERE c.id = x.id";

/* The contacts that reach the MQL threshold: their row trigger does the rest. */
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
			crm_scoring.valid = false;
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

double
crm_scoring_clamp(double v, bool has_min, double min, bool has_max, double max)
{
	if (has_max && v > max)
		v = max;
	if (has_min && v < min)
		v = min;
	return v;
}

static ScoringCache *SortCache;

static int
CompareRuleIds(const void *a, const void *b)
{
	int64		x = SortCache->rules[*(const int *) a].id;
	int64		y = SortCache->rules[*(const int *) b].id;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * How many of a window rule's most recent events can matter: the smallest n
 * whose points, summed one by one as the readers sum them, reach the cap
 * (adding more of the same sign never moves a sum back under it).  -1: all.
 */
static int
KeepEvents(const ScoringRule *r)
{
	double		sum = 0.0;
	int			n = 0;

	if (!r->has_window || !r->has_max)
		return -1;
	while (fabs(sum) < r->max_points && n < 100000)
	{
		sum += r->points;
		n++;
	}
	return fabs(sum) >= r->max_points ? n : -1;
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
	ScoringCache *c = &crm_scoring;

	if (!CallbackRegistered)
	{
		CacheRegisterRelcacheCallback(ScoringInvalidate, (Datum) 0);
		CallbackRegistered = true;
	}
	if (CacheContext == NULL)
		CacheContext = AllocSetContextCreate(CacheMemoryContext, "crm scoring cache",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(CacheContext);
	memset(c, 0, sizeof(*c));

	/* active rules first, by group; then the inactive ones, kept for their half-life */
	if (SPI_execute("SELECT r.id, r.activity_kind, r.points, r.max_points, r.half_life, r.time_window, "
					"       sg.name, sg.min_points, sg.max_points, r.active "
					"  FROM crm.engagement_rules r JOIN crm.score_groups sg ON sg.name = r.group_name "
					" ORDER BY r.active DESC, sg.name, r.id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.engagement_rules");
	old = MemoryContextSwitchTo(CacheContext);
	c->nrules = (int) SPI_processed;
	c->rules = palloc0(sizeof(ScoringRule) * (c->nrules + 1));
	c->by_id = palloc0(sizeof(int) * (c->nrules + 1));
	c->groups = palloc0(sizeof(ScoringGroup) * (c->nrules + 1));
	desc = SPI_tuptable->tupdesc;
	for (i = 0; i < SPI_processed; i++)
	{
		ScoringRule *r = &c->rules[i];
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
		r->active = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		r->keep_events = KeepEvents(r);
		c->by_id[i] = (int) i;
		if (!r->active)
		{
			r->group = -1;
			continue;
		}
		if (r->has_window)
			c->any_window = true;
		group = SPI_getvalue(tup, desc, 7);
		if (last_group == NULL || strcmp(group, last_group) != 0)
		{
			ScoringGroup *g = &c->groups[c->ngroups++];

			g->min_points = GetFloat(tup, desc, 8, &isnull);
			g->has_min = !isnull;
			g->max_points = GetFloat(tup, desc, 9, &isnull);
			g->has_max = !isnull;
			last_group = group;
		}
		r->group = c->ngroups - 1;
	}
	SortCache = c;
	qsort(c->by_id, c->nrules, sizeof(int), CompareRuleIds);
	c->rule_sums = palloc0(sizeof(double) * (c->nrules + 1));
	c->rule_counts = palloc0(sizeof(int) * (c->nrules + 1));
	c->rule_seen = palloc0(sizeof(bool) * (c->nrules + 1));
	c->group_sums = palloc0(sizeof(double) * (c->ngroups + 1));
	c->cutoffs = palloc0(sizeof(TimestampTz) * (c->nrules + 1));
	MemoryContextSwitchTo(old);

	if (SPI_execute("SELECT score_ceiling, mql_threshold, grade_a_fit, grade_b_fit, grade_1_engagement, "
					"       grade_2_engagement, handoff_enabled FROM crm.scoring_settings", true, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crm.scoring_settings must hold exactly one row")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	c->ceiling = GetFloat(tup, desc, 1, &isnull);
	c->mql_threshold = GetFloat(tup, desc, 2, &isnull);
	c->grade_a_fit = GetFloat(tup, desc, 3, &isnull);
	c->grade_b_fit = GetFloat(tup, desc, 4, &isnull);
	c->grade_1_engagement = GetFloat(tup, desc, 5, &isnull);
	c->grade_2_engagement = GetFloat(tup, desc, 6, &isnull);
	c->handoff_enabled = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));

	if (SPI_execute("SELECT stage, position FROM crm.lifecycle_stages", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.lifecycle_stages");
	old = MemoryContextSwitchTo(CacheContext);
	c->nstages = (int) SPI_processed;
	c->stage_names = palloc0(sizeof(char *) * (c->nstages + 1));
	c->stage_positions = palloc0(sizeof(int) * (c->nstages + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		tup = SPI_tuptable->vals[i];
		c->stage_names[i] = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
		c->stage_positions[i] = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		if (strcmp(c->stage_names[i], "mql") == 0)
		{
			c->has_mql_position = true;
			c->mql_position = c->stage_positions[i];
		}
	}
	MemoryContextSwitchTo(old);

	c->contacts = CrmRelid("contacts", false);
	c->contacts_pkey = CrmRelid("contacts_pkey", true);
	c->engagement = CrmRelid("contact_engagement", false);
	c->activities = CrmRelid("activities", false);
	c->activities_time = CrmRelid("activities_contact_id_occurred_at_idx", true);
	WatchedRels[0] = CrmRelid("engagement_rules", false);
	WatchedRels[1] = CrmRelid("score_groups", false);
	WatchedRels[2] = CrmRelid("scoring_settings", false);
	WatchedRels[3] = CrmRelid("lifecycle_stages", false);
	WatchedRels[4] = c->contacts;
	WatchedRels[5] = c->engagement;
	WatchedRels[6] = c->activities;
	c->engagement_pkey = CrmRelid("contact_engagement_pkey", true);
	CheckIndexColumns(c->engagement_pkey, c->engagement, "contact_id", NULL);
	{
		Relation	rel = table_open(c->engagement, AccessShareLock);
		List	   *indexes = RelationGetIndexList(rel);

		c->engagement_direct = rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
			list_length(indexes) == 1 && linitial_oid(indexes) == c->engagement_pkey &&
			AttnumByName(RelationGetDescr(rel), "contact_id") == 1 &&
			AttnumByName(RelationGetDescr(rel), "fit_score") == ENGAGEMENT_NATTS &&
			RelationGetDescr(rel)->natts == ENGAGEMENT_NATTS;
		list_free(indexes);
		table_close(rel, AccessShareLock);
	}
	CheckIndexColumns(c->contacts_pkey, c->contacts, "id", NULL);
	CheckIndexColumns(c->activities_time, c->activities, "contact_id", "occurred_at");
	crm_scoring_generation++;
	/* an invalidation that arrived meanwhile makes the next call load again */
	c->valid = (Invalidations == invalidations_before);
}

/* The cache, loaded if needed, for functions called from SQL. */
void
crm_scoring_ensure_cache(void)
{
	if (crm_scoring.valid)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	LoadCache();
	SPI_finish();
}

/*
 * Read the rules again with the latest snapshot: a state row written by a
 * transaction that committed after this statement began may name a rule
 * created after it too.  Once per command.
 */
void
crm_scoring_reload_latest(void)
{
	TransactionId xid = GetTopTransactionIdIfAny();
	CommandId	cid = GetCurrentCommandId(false);

	if (LatestReloadXid == xid && LatestReloadCid == cid && TransactionIdIsValid(xid))
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetLatestSnapshot());
	LoadCache();
	PopActiveSnapshot();
	SPI_finish();
	LatestReloadXid = xid;
	LatestReloadCid = cid;
}

/* Index of the rule with this id in crm_scoring.rules, -1 when unknown. */
int
crm_scoring_rule_index(int64 id)
{
	ScoringCache *c = &crm_scoring;
	int			lo = 0;
	int			hi = c->nrules;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int64		v = c->rules[c->by_id[mid]].id;

		if (v == id)
			return c->by_id[mid];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* crm.lifecycle_position(stage) < crm.lifecycle_position('mql') */
static bool
BeforeMql(const char *stage)
{
	int			i;

	if (!crm_scoring.has_mql_position)
		return false;
	for (i = 0; i < crm_scoring.nstages; i++)
		if (strcmp(crm_scoring.stage_names[i], stage) == 0)
			return crm_scoring.stage_positions[i] < crm_scoring.mql_position;
	return false;
}

/* A decaying or permanent rule's points for one contact, from a batch. */
typedef struct ValueChange
{
	int64		contact_id;
	int64		rule_id;
	double		value;
	int			seq;			/* arrival order: equal keys sum in it */
} ValueChange;

/* A window rule's event for one contact, from a batch. */
typedef struct TimeChange
{
	int64		contact_id;
	int64		rule_id;
	TimestampTz time;
} TimeChange;

static int
CompareValueChanges(const void *a, const void *b)
{
	const ValueChange *x = a;
	const ValueChange *y = b;

	if (x->contact_id != y->contact_id)
		return x->contact_id < y->contact_id ? -1 : 1;
	if (x->rule_id != y->rule_id)
		return x->rule_id < y->rule_id ? -1 : 1;
	return x->seq - y->seq;
}

static int
CompareTimeChanges(const void *a, const void *b)
{
	const TimeChange *x = a;
	const TimeChange *y = b;

	if (x->contact_id != y->contact_id)
		return x->contact_id < y->contact_id ? -1 : 1;
	if (x->rule_id != y->rule_id)
		return x->rule_id < y->rule_id ? -1 : 1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return 0;
}

/* A growable array of fixed-size elements. */
typedef struct Growing
{
	char	   *data;
	int			n;
	int			max;
	Size		size;
} Growing;

static void
GrowingInit(Growing *g, Size size)
{
	g->size = size;
	g->n = 0;
	g->max = 16;
	g->data = palloc(size * g->max);
}

static void *
GrowingAdd(Growing *g)
{
	if (g->n == g->max)
	{
		if ((Size) g->max * 2 * g->size >= MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many activities in one statement for lead scoring")));
		g->max *= 2;
		g->data = repalloc_huge(g->data, g->size * g->max);
	}
	return g->data + g->size * g->n++;
}

typedef struct Batch
{
	Growing		values;			/* ValueChange */
	Growing		added;			/* TimeChange: window events that arrive */
	Growing		removed;		/* TimeChange: window events that go */
	/* invalidating events (hard bounce, left the company), inserts only */
	Growing		inv_contacts;	/* Datum */
	Growing		inv_kinds;
	Growing		inv_times;
	TimestampTz now;
} Batch;

/* Add one activity (sign +1 when it arrives, -1 when it goes) to the batch. */
static void
AddActivity(Batch *b, int64 contact_id, text *kind, TimestampTz occurred_at, double sign, bool inserted)
{
	const char *k = VARDATA_ANY(kind);
	int			klen = VARSIZE_ANY_EXHDR(kind);
	int			i;

	for (i = 0; i < crm_scoring.nrules; i++)
	{
		ScoringRule *r = &crm_scoring.rules[i];

		if (!r->active || r->kind_len != klen || memcmp(r->kind, k, klen) != 0)
			continue;
		if (r->has_window)
		{
			TimeChange *t = GrowingAdd(sign > 0 ? &b->added : &b->removed);

			t->contact_id = contact_id;
			t->rule_id = r->id;
			t->time = occurred_at;
		}
		else
		{
			ValueChange *v = GrowingAdd(&b->values);

			v->contact_id = contact_id;
			v->rule_id = r->id;
			v->seq = b->values.n;
			/* a future activity counts from the moment it is recorded */
			v->value = r->has_half_life
				? crm_decayed_value_at(sign * r->points, Min(occurred_at, b->now), r->half_life, b->now)
				: sign * r->points;
		}
	}
	if (inserted && ((klen == 13 && memcmp(k, "email_bounced", 13) == 0) ||
					 (klen == 12 && memcmp(k, "left_company", 12) == 0)))
	{
		*(Datum *) GrowingAdd(&b->inv_contacts) = Int64GetDatum(contact_id);
		*(Datum *) GrowingAdd(&b->inv_kinds) = PointerGetDatum(kind);
		*(Datum *) GrowingAdd(&b->inv_times) = TimestampTzGetDatum(occurred_at);
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

/* Window events as three arrays (contacts, rules, times), sorted. */
static void
TimeArrays(Growing *g, Datum *args)
{
	TimeChange *t = (TimeChange *) g->data;
	Datum	   *c = palloc(sizeof(Datum) * (g->n + 1));
	Datum	   *r = palloc(sizeof(Datum) * (g->n + 1));
	Datum	   *w = palloc(sizeof(Datum) * (g->n + 1));
	int			i;

	qsort(t, g->n, sizeof(TimeChange), CompareTimeChanges);
	for (i = 0; i < g->n; i++)
	{
		c[i] = Int64GetDatum(t[i].contact_id);
		r[i] = Int64GetDatum(t[i].rule_id);
		w[i] = TimestampTzGetDatum(t[i].time);
	}
	args[0] = crm_array8(c, g->n, INT8OID);
	args[1] = crm_array8(r, g->n, INT8OID);
	args[2] = crm_array8(w, g->n, TIMESTAMPTZOID);
}

/*
 * The engagement of each contact written, from a statement's RETURNING, and
 * the fit its state row keeps (crm.rescore_all() leaves the current fit
 * there when only the fit changed; see part 62).
 */
typedef struct Written
{
	int64		contact_id;
	double		engagement;
	bool		has_fit;
	double		fit;
	int			seq;			/* later writes win */
} Written;

static int
CompareWritten(const void *a, const void *b)
{
	const Written *x = a;
	const Written *y = b;

	if (x->contact_id != y->contact_id)
		return x->contact_id < y->contact_id ? -1 : 1;
	return x->seq - y->seq;
}

static void
CollectWritten(Growing *out)
{
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Written    *w;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		e;

		if (isnull)
			continue;
		e = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		w = GrowingAdd(out);
		w->contact_id = DatumGetInt64(id);
		w->engagement = isnull ? 0.0 : DatumGetFloat8(e);
		e = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);
		w->has_fit = !isnull;
		w->fit = isnull ? 0.0 : DatumGetFloat8(e);
		w->seq = out->n;
	}
}

/* Write changes into crm.contact_engagement with one upsert, one row per contact. */
static void
UpsertState(Batch *b, Growing *values, Growing *added, Growing *written)
{
	ValueChange *v = (ValueChange *) values->data;
	Datum	   *vc = palloc(sizeof(Datum) * (values->n + 1));
	Datum	   *vr = palloc(sizeof(Datum) * (values->n + 1));
	Datum	   *va = palloc(sizeof(Datum) * (values->n + 1));
	int			n = 0;
	int			i;
	Oid			types[6] = {INT8ARRAYOID, INT8ARRAYOID, FLOAT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	TIMESTAMPTZARRAYOID};
	Datum		args[6];
	double		sum = 0.0;

	/* summed per (contact, rule) in arrival order */
	qsort(v, values->n, sizeof(ValueChange), CompareValueChanges);
	for (i = 0; i < values->n; i++)
	{
		if (n > 0 && DatumGetInt64(vc[n - 1]) == v[i].contact_id && DatumGetInt64(vr[n - 1]) == v[i].rule_id)
		{
			sum += v[i].value;
			va[n - 1] = Float8GetDatum(sum);
			continue;
		}
		sum = v[i].value;
		vc[n] = Int64GetDatum(v[i].contact_id);
		vr[n] = Int64GetDatum(v[i].rule_id);
		va[n] = Float8GetDatum(sum);
		n++;
	}
	args[0] = crm_array8(vc, n, INT8OID);
	args[1] = crm_array8(vr, n, INT8OID);
	args[2] = crm_array8(va, n, FLOAT8OID);
	TimeArrays(added, &args[3]);
	if (SPI_execute_plan(Prepare(&UpsertPlan, UpsertSql, 6, types), args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not write crm.contact_engagement");
	CollectWritten(written);
}

/*
 * Fold one contact's changes into its stored row directly, without an SQL
 * statement: the row is found through the primary key, locked (the newest
 * version, as UPDATE does under READ COMMITTED), merged and rewritten in
 * place, usually as a HOT update.  False when there is no row to update
 * (none yet, or deleted meanwhile): the upsert then decides.
 */
static bool
UpdateStateDirect(Relation rel, Relation idx, IndexInfo *info, TupleTableSlot *slot, Snapshot snapshot,
				  int64 contact_id, const EngagementState *delta, TimestampTz now, double *engagement,
				  bool *has_fit, double *fit)
{
	ScanKeyData key;
	IndexScanDesc scan;
	bool		found;
	TM_FailureData tmfd;
	TM_Result	res;
	EngagementState st;
	HeapTuple	newtup;
	ItemPointerData tid;
	Datum		keyvalue[1];
	bool		keynull[1] = {false};
	int			i;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(contact_id));
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	if (!found)
		return false;
	tid = slot->tts_tid;
	res = table_tuple_lock(rel, &tid, snapshot, slot, GetCurrentCommandId(false), LockTupleNoKeyExclusive,
						   LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
	if (res != TM_Ok)
		return false;
	slot_getallattrs(slot);
	for (i = 0; i < ENGAGEMENT_NATTS - 1; i++)
		if (slot->tts_isnull[i])
			return false;		/* let the upsert report it */
	*has_fit = !slot->tts_isnull[ENGAGEMENT_NATTS - 1];
	*fit = *has_fit ? DatumGetFloat8(slot->tts_values[ENGAGEMENT_NATTS - 1]) : 0.0;
	crm_engagement_from_datums(&st, slot->tts_values[1], slot->tts_values[2], slot->tts_values[3],
							   slot->tts_values[4], slot->tts_values[5]);
	crm_engagement_add(&st, delta);
	*engagement = crm_engagement_at(&st, now);
	newtup = crm_engagement_tuple_fit(RelationGetDescr(rel), contact_id, &st, Float8GetDatum(*fit), !*has_fit);
	tid = slot->tts_tid;
	ExecClearTuple(slot);
	simple_heap_update(rel, &tid, newtup);
	if (!HeapTupleIsHeapOnly(newtup))
	{
		keyvalue[0] = Int64GetDatum(contact_id);
		index_insert(idx, keyvalue, keynull, &newtup->t_self, rel, UNIQUE_CHECK_YES, true, info);
	}
	heap_freetuple(newtup);
	return true;
}

/* The changes of one contact as a state as of now (not normalized). */
static void
DeltaState(EngagementState *st, ValueChange *v, int nv, TimeChange *t, int nt, TimestampTz now)
{
	int			i;

	st->as_of = now;
	st->nvalues = nv;
	st->ntimes = nt;
	st->rule_ids = palloc(sizeof(int64) * (nv + 1));
	st->values = palloc(sizeof(double) * (nv + 1));
	st->window_rule_ids = palloc(sizeof(int64) * (nt + 1));
	st->window_times = palloc(sizeof(TimestampTz) * (nt + 1));
	for (i = 0; i < nv; i++)
	{
		st->rule_ids[i] = v[i].rule_id;
		st->values[i] = v[i].value;
	}
	for (i = 0; i < nt; i++)
	{
		st->window_rule_ids[i] = t[i].rule_id;
		st->window_times[i] = t[i].time;
	}
}

/*
 * Write the batch's points into crm.contact_engagement, one row per
 * contact: the rows that exist directly, the others (and every row under
 * REPEATABLE READ or SERIALIZABLE, or when the table has been changed) by
 * one upsert, whose ON CONFLICT also settles a row another transaction
 * inserts meanwhile.
 */
static void
WriteState(Batch *b, Growing *written)
{
	ValueChange *v = (ValueChange *) b->values.data;
	TimeChange *t = (TimeChange *) b->added.data;
	int			nv = b->values.n;
	int			nt = b->added.n;
	int			i = 0,
				j = 0;
	Growing		rest_values;
	Growing		rest_added;
	bool		direct = crm_scoring.engagement_direct && !IsolationUsesXactSnapshot();
	Relation	rel = NULL;
	Relation	idx = NULL;
	IndexInfo  *info = NULL;
	TupleTableSlot *slot = NULL;
	Snapshot	snapshot = NULL;
	MemoryContext tmp;
	MemoryContext old;

	qsort(v, nv, sizeof(ValueChange), CompareValueChanges);
	qsort(t, nt, sizeof(TimeChange), CompareTimeChanges);
	GrowingInit(&rest_values, sizeof(ValueChange));
	GrowingInit(&rest_added, sizeof(TimeChange));
	if (direct)
	{
		/* see this transaction's earlier writes */
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
		snapshot = GetActiveSnapshot();
		rel = table_open(crm_scoring.engagement, RowExclusiveLock);
		idx = index_open(crm_scoring.engagement_pkey, RowExclusiveLock);
		info = BuildIndexInfo(idx);
		slot = table_slot_create(rel, NULL);
	}
	tmp = AllocSetContextCreate(CurrentMemoryContext, "engagement write", ALLOCSET_DEFAULT_SIZES);
	while (i < nv || j < nt)
	{
		int64		contact = (j >= nt || (i < nv && v[i].contact_id <= t[j].contact_id))
			? v[i].contact_id : t[j].contact_id;
		int			i0 = i,
					j0 = j;
		bool		done = false;
		Written    *w;
		double		engagement = 0.0;
		bool		has_fit = false;
		double		fit = 0.0;

		CHECK_FOR_INTERRUPTS();
		while (i < nv && v[i].contact_id == contact)
			i++;
		while (j < nt && t[j].contact_id == contact)
			j++;
		if (direct)
		{
			EngagementState delta;

			old = MemoryContextSwitchTo(tmp);
			DeltaState(&delta, v + i0, i - i0, t + j0, j - j0, b->now);
			done = UpdateStateDirect(rel, idx, info, slot, snapshot, contact, &delta, b->now, &engagement,
									 &has_fit, &fit);
			MemoryContextSwitchTo(old);
			MemoryContextReset(tmp);
		}
		if (done)
		{
			w = GrowingAdd(written);
			w->contact_id = contact;
			w->engagement = engagement;
			w->has_fit = has_fit;
			w->fit = fit;
			w->seq = written->n;
			continue;
		}
		for (; i0 < i; i0++)
			*(ValueChange *) GrowingAdd(&rest_values) = v[i0];
		for (; j0 < j; j0++)
			*(TimeChange *) GrowingAdd(&rest_added) = t[j0];
	}
	MemoryContextDelete(tmp);
	if (direct)
	{
		ExecDropSingleTupleTableSlot(slot);
		index_close(idx, NoLock);
		table_close(rel, NoLock);
		PopActiveSnapshot();
	}
	if (rest_values.n > 0 || rest_added.n > 0)
		UpsertState(b, &rest_values, &rest_added, written);
}

/* Take the removed window events out of the state. */
static void
RemoveWindowEvents(Batch *b, Growing *written)
{
	Oid			types[3] = {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[3];

	TimeArrays(&b->removed, args);
	if (SPI_execute_plan(Prepare(&RefillPlan, RefillSql, 3, types), args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not update crm.contact_engagement");
	CollectWritten(written);
}

static void
WriteInvalidatingEvents(Batch *b)
{
	Oid			types[3] = {INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[3];
	int			n = b->inv_contacts.n;

	args[0] = crm_array8((Datum *) b->inv_contacts.data, n, INT8OID);
	args[1] = PointerGetDatum(construct_array((Datum *) b->inv_kinds.data, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = crm_array8((Datum *) b->inv_times.data, n, TIMESTAMPTZOID);
	if (SPI_execute_plan(Prepare(&InvalidatePlan, InvalidateSql, 3, types), args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write crm.invalidating_events");
}

static void
Grade(double fit, double engagement, char *grade)
{
	grade[0] = fit >= crm_scoring.grade_a_fit ? 'A' : (fit >= crm_scoring.grade_b_fit ? 'B' : 'C');
	grade[1] = engagement >= crm_scoring.grade_1_engagement ? '1' :
		(engagement >= crm_scoring.grade_2_engagement ? '2' : '3');
	grade[2] = '\0';
}

static double
NumericAttr(TupleTableSlot *slot, AttrNumber att, bool *isnull)
{
	Datum		d = slot_getattr(slot, att, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
}

/*
 * Rewrite the contact rows whose grade changed or whose score reached the
 * MQL threshold from below while they are still before mql (the same test
 * the row trigger makes).  A grade change alone is written with its new
 * score and grade; a hand-off, or a contact never scored, goes through the
 * row trigger, which assigns the owner (and computes the fit).
 */
static void
RefreshContacts(Growing *written)
{
	Written    *w = (Written *) written->data;
	Datum	   *ids = palloc(sizeof(Datum) * (written->n + 1));
	Datum	   *engagement = palloc(sizeof(Datum) * (written->n + 1));
	Datum	   *grade_ids = palloc(sizeof(Datum) * (written->n + 1));
	Datum	   *grade_engagement = palloc(sizeof(Datum) * (written->n + 1));
	Datum	   *grade_scores = palloc(sizeof(Datum) * (written->n + 1));
	Datum	   *grades = palloc(sizeof(Datum) * (written->n + 1));
	Datum	   *grade_fits = palloc(sizeof(Datum) * (written->n + 1));
	int			n = 0;
	int			ngrades = 0;
	int			i;
	Relation	contacts;
	Relation	pkey;
	TupleTableSlot *slot;
	AttrNumber	c_fit,
				c_lead_score,
				c_lead_grade,
				c_stage;
	Snapshot	snapshot;

	qsort(w, written->n, sizeof(Written), CompareWritten);

	/* see the state just written: a new command, and a snapshot taken now */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	snapshot = GetActiveSnapshot();
	contacts = table_open(crm_scoring.contacts, AccessShareLock);
	pkey = index_open(crm_scoring.contacts_pkey, AccessShareLock);
	slot = table_slot_create(contacts, NULL);
	c_fit = AttnumByName(RelationGetDescr(contacts), "fit_score");
	c_lead_score = AttnumByName(RelationGetDescr(contacts), "lead_score");
	c_lead_grade = AttnumByName(RelationGetDescr(contacts), "lead_grade");
	c_stage = AttnumByName(RelationGetDescr(contacts), "lifecycle_stage");
	for (i = 0; i < written->n; i++)
	{
		ScanKeyData key;
		IndexScanDesc scan;
		bool		found;
		bool		isnull;
		bool		fit_null;
		double		fit;
		double		lead_score;
		bool		lead_score_null;
		double		score;
		char		grade[3];
		bool		regraded;
		bool		crossing = false;
		Datum		d;

		/* the last write of each contact */
		if (i + 1 < written->n && w[i + 1].contact_id == w[i].contact_id)
			continue;
		CHECK_FOR_INTERRUPTS();
		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(w[i].contact_id));
		scan = index_beginscan(contacts, pkey, snapshot, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, slot);
		index_endscan(scan);
		if (!found)
			continue;			/* deleted with its activities */
		fit = NumericAttr(slot, c_fit, &fit_null);
		if (w[i].has_fit)
		{
			fit = w[i].fit;
			fit_null = false;
		}
		lead_score = NumericAttr(slot, c_lead_score, &lead_score_null);
		Grade(fit, w[i].engagement, grade);
		d = slot_getattr(slot, c_lead_grade, &isnull);
		regraded = isnull || strcmp(TextDatumGetCString(d), grade) != 0;
		score = crm_scoring_clamp(fit + w[i].engagement, true, 0.0, true, crm_scoring.ceiling);
		if (crm_scoring.handoff_enabled && score >= crm_scoring.mql_threshold &&
			(lead_score_null || lead_score < crm_scoring.mql_threshold))
		{
			d = slot_getattr(slot, c_stage, &isnull);
			crossing = !isnull && BeforeMql(TextDatumGetCString(d));
		}
		if (crossing || (regraded && fit_null))
		{
			ids[n] = Int64GetDatum(w[i].contact_id);
			engagement[n++] = Float8GetDatum(w[i].engagement);
		}
		else if (regraded)
		{
			grade_ids[ngrades] = Int64GetDatum(w[i].contact_id);
			grade_engagement[ngrades] = Float8GetDatum(w[i].engagement);
			grade_scores[ngrades] = Float8GetDatum(score);
			grade_fits[ngrades] = Float8GetDatum(fit);
			grades[ngrades++] = CStringGetTextDatum(grade);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	index_close(pkey, NoLock);
	table_close(contacts, NoLock);
	PopActiveSnapshot();

	if (ngrades > 0)
	{
		Oid			types[5] = {INT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID};
		Datum		args[5];
		int			aside;

		args[0] = crm_array8(grade_ids, ngrades, INT8OID);
		args[1] = crm_array8(grade_engagement, ngrades, FLOAT8OID);
		args[2] = crm_array8(grade_scores, ngrades, FLOAT8OID);
		args[3] = PointerGetDatum(construct_array(grades, ngrades, TEXTOID, -1, false, TYPALIGN_INT));
		args[4] = crm_array8(grade_fits, ngrades, FLOAT8OID);
		aside = crm_scoring_aside_begin();
		if (SPI_execute_plan(Prepare(&GradePlan, GradeSql, 5, types), args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update crm.contacts");
		crm_scoring_aside_end(aside);
	}
	if (n > 0)
	{
		Oid			types[2] = {INT8ARRAYOID, FLOAT8ARRAYOID};
		Datum		args[2];

		args[0] = crm_array8(ids, n, INT8OID);
		args[1] = crm_array8(engagement, n, FLOAT8OID);
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
	Growing		written;
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
	if (!crm_scoring.valid)
		LoadCache();

	memset(&b, 0, sizeof(b));
	b.now = GetCurrentTransactionStartTimestamp();
	GrowingInit(&b.values, sizeof(ValueChange));
	GrowingInit(&b.added, sizeof(TimeChange));
	GrowingInit(&b.removed, sizeof(TimeChange));
	GrowingInit(&b.inv_contacts, sizeof(Datum));
	GrowingInit(&b.inv_kinds, sizeof(Datum));
	GrowingInit(&b.inv_times, sizeof(Datum));
	GrowingInit(&written, sizeof(Written));
	CollectBatch(trigdata, &b);

	if (b.inv_contacts.n > 0)
		WriteInvalidatingEvents(&b);
	if (b.values.n > 0 || b.added.n > 0)
		WriteState(&b, &written);
	if (b.removed.n > 0)
		RemoveWindowEvents(&b, &written);
	if (written.n > 0)
		RefreshContacts(&written);
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
	crm_scoring.valid = false;
	return PointerGetDatum(NULL);
}
