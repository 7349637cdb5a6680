/*
 * engagement_rebuild.c
 *	  crm._engagement_rebuild(as_of): every contact's engagement state
 *	  (a row of crm.contact_engagement) from one scan of crm.activities.
 *
 * crm.rescore_all() rebuilds the state of every contact after a rule
 * change.  As a GROUP BY contact_id over the aggregate crm._engagement_build
 * this cost a hash aggregate over millions of activities, a function call
 * per activity and a text comparison per activity and rule; the grouping
 * alone took longer than the whole rebuild does here.  So this function
 * does the same in one pass, in C:
 *
 *	- the activities are scanned once, in block order (synchronized scans
 *	  off, so the order and thus the floating-point sums are the same on
 *	  every run), under the active snapshot; only contact_id, kind and
 *	  occurred_at are deformed, and a kind is compared in place with the
 *	  few distinct kinds of the active rules, each mapped to its rules.
 *	  Each activity a rule counts is kept as a 16-byte record (contact,
 *	  time) beside the index of its kind;
 *	- the records are sorted by contact with a stable radix sort (11 bits
 *	  of the contact id's offset from the smallest per pass: two passes for
 *	  a million contacts), so each contact's events stay in scan order;
 *	- each contact's run of records is folded into its state with the very
 *	  builder the aggregate uses (crm_engagement_build_event and
 *	  crm_engagement_build_tuple, engagement.c): a decaying rule's points
 *	  are summed in scan order, as the aggregate sums them, and the window
 *	  events are pruned when the row is formed.  The rows come out in
 *	  contact order, so that the primary key of crm.contact_engagement is
 *	  filled from its right edge, not at random.
 *
 * A hash table of per-contact states was the first design: at a million
 * contacts every activity cost three cache misses (bucket, state, sums)
 * and that was most of the time; sorting touches memory in order.
 *
 * Memory stays within the hash aggregate's limit (get_hash_memory_limit():
 * work_mem times hash_mem_multiplier; 36 bytes per activity counted, with
 * the sort's second buffer): when the records outgrow it, the contacts are
 * split by the top bits of a hash of their id into more parts (as many as
 * the share of the table read before the overflow says are needed; part k
 * of n becomes parts 2k and 2k + 1 of 2n, and so on, so the parts already
 * returned stay returned), and the activities are scanned once per part.
 * A contact is in one part only, and its events are read in the same block
 * order in every part, so the rows do not depend on the number of parts;
 * only their order does (by id within each part).
 *
 * The rows are then written to crm.contact_engagement by
 * crm._engagement_rebuild_write as COPY FROM writes (batched heap inserts,
 * index entries through the executor): with an INSERT ... SELECT of the
 * same rows the whole rebuild took 6.2 s instead of 4.4 s at a million
 * contacts (medians of three), spent on projecting and forming each row
 * twice and on one heap WAL record per row instead of one per page.  It writes only while the table is the plain
 * one made by the extension (no trigger, rule or applicable policy), and
 * otherwise leaves the insert to SQL.
 *
 * Both read past row-level security: they are for
 * crm._rebuild_engagement_state only (EXECUTE revoked from PUBLIC), and
 * check the caller's SELECT privilege on crm.activities (and INSERT on
 * crm.contact_engagement) anyway.
 */
#include "postgres.h"

#include <sys/mman.h>

#include "access/heapam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "port/pg_bitutils.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "scoring.h"

PG_FUNCTION_INFO_V1(crm_engagement_rebuild);
PG_FUNCTION_INFO_V1(crm_engagement_rebuild_write);

/* An activity a rule counts: its contact and time (its kind is kept apart). */
typedef struct RebuildRecord
{
	int64		contact_id;
	TimestampTz time;
} RebuildRecord;

static inline uint32
ContactHash(int64 id)
{
	uint64		k = (uint64) id;

	return murmurhash32((uint32) k ^ (uint32) (k >> 32));
}

/* The part of 2^bits a contact is in: the top bits of a hash of its id. */
static inline uint32
ContactPart(int64 id, int bits)
{
	return ContactHash(id) >> (32 - bits);
}

/* Bytes per record while sorting: two buffers of a record and a kind. */
#define REBUILD_RECORD_BYTES (2 * (sizeof(RebuildRecord) + sizeof(uint16)))

/*
 * Ask for transparent huge pages for a large buffer about to be filled:
 * in a virtual machine a page fault per 4 kB page of a few hundred
 * megabytes cost more than the sort.  Advice only: errors are ignored.
 */
static void
AdviseHugePages(void *p, Size len)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = 2 * 1024 * 1024;
	uintptr_t	start = ((uintptr_t) p + huge - 1) & ~(huge - 1);
	uintptr_t	end = ((uintptr_t) p + len) & ~(huge - 1);

	if (end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#endif
}

/* Radix sort digits. */
#define REBUILD_RADIX_BITS 11
#define REBUILD_RADIX_SIZE (1 << REBUILD_RADIX_BITS)

/* A distinct activity kind of the active rules, and the rules it feeds. */
typedef struct RebuildKind
{
	char	   *kind;
	int			len;
	int			nrules;
	int		   *rules;			/* indexes into crm_scoring.rules, ascending */
} RebuildKind;

/* Most parts the contacts are split into to fit in memory: 2^12. */
#define REBUILD_MAX_PART_BITS 12

typedef struct RebuildState
{
	TimestampTz as_of;
	uint64		generation;
	TupleDesc	desc;
	int			nkinds;
	RebuildKind *kinds;
	Size		memory_limit;
	int			part_bits;		/* 2^part_bits parts */
	int			split_bits;		/* when a part overflows: split it in 2^split_bits */
	uint32		part;			/* the part being returned */
	MemoryContext part_cxt;		/* the records of one part: reset per part */
	MemoryContext row_cxt;		/* one row being formed */
	RebuildRecord *records;		/* of the part, sorted by contact once read */
	uint16	   *record_kinds;	/* index into kinds, beside each record */
	Size		nrecords;
	Size		maxrecords;
	Size		next;			/* the next contact's first record */
	EngagementBuild build;		/* one contact's state, its arrays reused */
} RebuildState;

/* The kinds of the active rules, each with the rules it feeds. */
static void
PrepareKinds(RebuildState *rs)
{
	ScoringCache *c = &crm_scoring;
	int			i,
				k;

	rs->kinds = palloc0(sizeof(RebuildKind) * (c->nrules + 1));
	rs->nkinds = 0;
	for (i = 0; i < c->nrules; i++)
	{
		ScoringRule *r = &c->rules[i];
		RebuildKind *kd = NULL;

		if (!r->active)
			continue;
		for (k = 0; k < rs->nkinds; k++)
			if (rs->kinds[k].len == r->kind_len && memcmp(rs->kinds[k].kind, r->kind, r->kind_len) == 0)
			{
				kd = &rs->kinds[k];
				break;
			}
		if (kd == NULL)
		{
			if (rs->nkinds > PG_UINT16_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many activity kinds in the engagement rules"),
						 errdetail("At most %d distinct kinds can be scored.", PG_UINT16_MAX + 1)));
			kd = &rs->kinds[rs->nkinds++];
			kd->kind = pnstrdup(r->kind, r->kind_len);
			kd->len = r->kind_len;
			kd->rules = palloc(sizeof(int) * c->nrules);
		}
		kd->rules[kd->nrules++] = i;
	}
}

/* The kind's entry, NULL when no active rule counts it. */
static inline const RebuildKind *
FindKind(const RebuildState *rs, const char *kind, int len)
{
	int			k;

	for (k = 0; k < rs->nkinds; k++)
	{
		const RebuildKind *kd = &rs->kinds[k];

		if (kd->len == len && memcmp(kd->kind, kind, len) == 0)
			return kd;
	}
	return NULL;
}

static AttrNumber
ActivityColumn(Relation rel, const char *name, Oid type)
{
	AttrNumber	att = attnameAttNum(rel, name, false);

	if (att <= 0 || TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("crm.activities has no column \"%s\" of type %s", name, format_type_be(type))));
	return att;
}

/*
 * Sort the records of the part by contact, stably: least significant digit
 * first, over the bits of the contact ids' offsets from the smallest.
 */
static void
SortRecords(RebuildState *rs, int64 min_id, int64 max_id)
{
	uint64		range = (uint64) max_id - (uint64) min_id;
	int			bits = range == 0 ? 0 : pg_leftmost_one_pos64(range) + 1;
	RebuildRecord *src = rs->records;
	uint16	   *srck = rs->record_kinds;
	RebuildRecord *dst;
	uint16	   *dstk;
	Size	   *pos;
	Size		n = rs->nrecords;
	int			shift;

	if (bits == 0 || n < 2)
		return;
	dst = MemoryContextAllocHuge(rs->part_cxt, sizeof(RebuildRecord) * n);
	dstk = MemoryContextAllocHuge(rs->part_cxt, sizeof(uint16) * n);
	AdviseHugePages(dst, sizeof(RebuildRecord) * n);
	AdviseHugePages(dstk, sizeof(uint16) * n);
	pos = palloc(sizeof(Size) * REBUILD_RADIX_SIZE);
	for (shift = 0; shift < bits; shift += REBUILD_RADIX_BITS)
	{
		Size		i,
					sum = 0;
		RebuildRecord *tr;
		uint16	   *tk;

		CHECK_FOR_INTERRUPTS();
		memset(pos, 0, sizeof(Size) * REBUILD_RADIX_SIZE);
		for (i = 0; i < n; i++)
			pos[(((uint64) src[i].contact_id - (uint64) min_id) >> shift) & (REBUILD_RADIX_SIZE - 1)]++;
		for (i = 0; i < REBUILD_RADIX_SIZE; i++)
		{
			Size		c = pos[i];

			pos[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
		{
			Size		d = pos[(((uint64) src[i].contact_id - (uint64) min_id) >> shift) & (REBUILD_RADIX_SIZE - 1)]++;

			dst[d] = src[i];
			dstk[d] = srck[i];
		}
		tr = src;
		src = dst;
		dst = tr;
		tk = srck;
		srck = dstk;
		dstk = tk;
	}
	pfree(pos);
	rs->records = src;
	rs->record_kinds = srck;
	pfree(dst);
	pfree(dstk);
}

/*
 * Read the activities of the contacts of part rs->part (of 2^part_bits)
 * that a rule counts, sorted by contact, with one scan.  Returns false,
 * with the part's memory reset, when they outgrow the memory limit.
 */
static bool
ReadPart(RebuildState *rs)
{
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	AttrNumber	a_contact,
				a_kind,
				a_time,
				natts;
	int64		min_id = PG_INT64_MAX;
	int64		max_id = PG_INT64_MIN;
	double		scanned = 0;
	bool		fits = true;

	MemoryContextReset(rs->part_cxt);
	memset(&rs->build, 0, sizeof(rs->build));
	rs->nrecords = 0;
	rs->next = 0;

	rel = table_open(crm_scoring.activities, AccessShareLock);
	if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel))));
	a_contact = ActivityColumn(rel, "contact_id", INT8OID);
	a_kind = ActivityColumn(rel, "kind", TEXTOID);
	a_time = ActivityColumn(rel, "occurred_at", TIMESTAMPTZOID);
	natts = Max(a_contact, Max(a_kind, a_time));

	/* room for as many records as the table has rows, if that fits */
	rs->maxrecords = Max(1024, (Size) Max(rel->rd_rel->reltuples, 0) / (1 << rs->part_bits));
	rs->maxrecords = Min(rs->maxrecords, Max(1024, rs->memory_limit / REBUILD_RECORD_BYTES));
	rs->records = MemoryContextAllocHuge(rs->part_cxt, sizeof(RebuildRecord) * rs->maxrecords);
	rs->record_kinds = MemoryContextAllocHuge(rs->part_cxt, sizeof(uint16) * rs->maxrecords);
	AdviseHugePages(rs->records, sizeof(RebuildRecord) * rs->maxrecords);
	AdviseHugePages(rs->record_kinds, sizeof(uint16) * rs->maxrecords);

	slot = table_slot_create(rel, NULL);
	/* block order from the first block: the same sums on every run */
	scan = table_beginscan_strat(rel, GetActiveSnapshot(), 0, NULL, true, false);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		const RebuildKind *kd;
		struct varlena *kind;
		int64		contact_id;

		CHECK_FOR_INTERRUPTS();
		scanned++;
		slot_getsomeattrs(slot, natts);
		if (slot->tts_isnull[a_contact - 1] || slot->tts_isnull[a_kind - 1] || slot->tts_isnull[a_time - 1])
			continue;
		contact_id = DatumGetInt64(slot->tts_values[a_contact - 1]);
		if (rs->part_bits > 0 && ContactPart(contact_id, rs->part_bits) != rs->part)
			continue;
		kind = (struct varlena *) DatumGetPointer(slot->tts_values[a_kind - 1]);
		if (VARATT_IS_EXTENDED(kind) && !VARATT_IS_SHORT(kind))
		{
			/* compressed or out of line: never for a short kind, but possible */
			kind = pg_detoast_datum_packed(kind);
			kd = FindKind(rs, VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind));
			pfree(kind);
		}
		else
			kd = FindKind(rs, VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind));
		if (kd == NULL)
			continue;

		if (rs->nrecords == rs->maxrecords)
		{
			Size		max = rs->maxrecords * 2;

			if (max * REBUILD_RECORD_BYTES > rs->memory_limit && rs->part_bits < REBUILD_MAX_PART_BITS)
			{
				/*
				 * Split the part in as many as the share of the table read so
				 * far suggests (at least two), not by halves, each costing a
				 * scan started for nothing.
				 */
				double		total = Max(rel->rd_rel->reltuples, 0) / (1 << rs->part_bits);
				double		need = total > scanned ? (double) rs->nrecords * total / scanned : 0;

				rs->split_bits = 1;
				while (rs->split_bits + rs->part_bits < REBUILD_MAX_PART_BITS &&
					   need * REBUILD_RECORD_BYTES > (double) rs->memory_limit * (1 << rs->split_bits))
					rs->split_bits++;
				fits = false;
				break;
			}
			if (max > MaxAllocHugeSize / sizeof(RebuildRecord))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many activities to rebuild engagement from")));
			rs->records = repalloc_huge(rs->records, sizeof(RebuildRecord) * max);
			rs->record_kinds = repalloc_huge(rs->record_kinds, sizeof(uint16) * max);
			rs->maxrecords = max;
		}
		rs->records[rs->nrecords].contact_id = contact_id;
		rs->records[rs->nrecords].time = DatumGetTimestampTz(slot->tts_values[a_time - 1]);
		rs->record_kinds[rs->nrecords++] = (uint16) (kd - rs->kinds);
		min_id = Min(min_id, contact_id);
		max_id = Max(max_id, contact_id);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	if (!fits)
	{
		MemoryContextReset(rs->part_cxt);
		rs->records = NULL;
		rs->record_kinds = NULL;
		rs->nrecords = 0;
		return false;
	}
	SortRecords(rs, min_id, max_id);
	return true;
}

/* Read part rs->part, splitting the contacts further until it fits. */
static void
ReadFittingPart(RebuildState *rs)
{
	while (!ReadPart(rs))
	{
		/* 2^n times the parts: part k becomes parts k * 2^n to (k + 1) * 2^n - 1 */
		rs->part_bits += rs->split_bits;
		rs->part <<= rs->split_bits;
	}
}

/* Set up a rebuild as of as_of, its memory in cxt, and read its first part. */
static RebuildState *
RebuildBegin(TimestampTz as_of, TupleDesc desc, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	RebuildState *rs;

	crm_scoring_ensure_cache();
	rs = palloc0(sizeof(RebuildState));
	rs->desc = desc;
	rs->as_of = as_of;
	rs->generation = crm_scoring_generation;
	rs->memory_limit = get_hash_memory_limit();
	rs->part_bits = 0;
	rs->part = 0;
	rs->part_cxt = AllocSetContextCreate(cxt, "engagement rebuild", ALLOCSET_DEFAULT_SIZES);
	rs->row_cxt = AllocSetContextCreate(cxt, "engagement rebuild row", ALLOCSET_DEFAULT_SIZES);
	PrepareKinds(rs);
	MemoryContextSwitchTo(old);
	if (rs->nkinds > 0)
		ReadFittingPart(rs);
	return rs;
}

/*
 * The next contact's row, formed in the current memory context; NULL after
 * the last one, and then the rebuild's memory is released.
 */
static HeapTuple
RebuildNext(RebuildState *rs)
{
	Size		i;
	int64		contact_id;
	MemoryContext old;
	HeapTuple	tup;

	if (rs->nkinds == 0)
		return NULL;
	while (rs->next >= rs->nrecords)
	{
		if (rs->part + 1 >= ((uint32) 1 << rs->part_bits))
		{
			MemoryContextReset(rs->part_cxt);
			MemoryContextReset(rs->row_cxt);
			rs->records = NULL;
			rs->record_kinds = NULL;
			rs->nrecords = rs->next = 0;
			rs->nkinds = 0;
			return NULL;
		}
		rs->part++;
		ReadFittingPart(rs);
	}
	/* the states refer to rules by their index in the cache: it must not have moved */
	if (rs->generation != crm_scoring_generation)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("scoring rules changed while engagement was being rebuilt"),
				 errhint("Run crm.rescore_all() again.")));

	/* the contact's run of records, in scan order */
	i = rs->next;
	contact_id = rs->records[i].contact_id;
	rs->build.nvalues = 0;
	rs->build.ntimes = 0;
	for (; i < rs->nrecords && rs->records[i].contact_id == contact_id; i++)
	{
		const RebuildKind *kd = &rs->kinds[rs->record_kinds[i]];
		int			r;

		for (r = 0; r < kd->nrules; r++)
			crm_engagement_build_event(&rs->build, rs->part_cxt, kd->rules[r], rs->records[i].time, rs->as_of);
	}
	rs->next = i;
	/* the row's scratch (sorting, pruning, arrays) in a context of our own */
	MemoryContextReset(rs->row_cxt);
	old = MemoryContextSwitchTo(rs->row_cxt);
	tup = crm_engagement_build_tuple(rs->desc, contact_id, rs->as_of, &rs->build);
	MemoryContextSwitchTo(old);
	return heap_copytuple(tup);
}

/*
 * crm._engagement_rebuild(as_of timestamptz) -> SETOF crm.contact_engagement:
 * the state of every contact with an activity of an active rule's kind, as
 * of as_of, in contact id order within each part (one part unless memory
 * ran short), the same rows as GROUP BY contact_id over
 * crm._engagement_build.
 */
Datum
crm_engagement_rebuild(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	HeapTuple	tup;

	if (SRF_IS_FIRSTCALL())
	{
		TupleDesc	desc;
		MemoryContext old;

		funcctx = SRF_FIRSTCALL_INIT();
		/* the row type lives as long as the calls */
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("function returning a row called in a context that cannot accept one")));
		desc = BlessTupleDesc(desc);
		MemoryContextSwitchTo(old);
		funcctx->user_fctx = RebuildBegin(PG_GETARG_TIMESTAMPTZ(0), desc, funcctx->multi_call_memory_ctx);
	}
	funcctx = SRF_PERCALL_SETUP();
	tup = RebuildNext((RebuildState *) funcctx->user_fctx);
	if (tup == NULL)
		SRF_RETURN_DONE(funcctx);
	SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(tup));
}

/*
 * Whether crm.contact_engagement is the plain table this extension made,
 * so that rows can be written to it as COPY FROM writes them: a heap
 * with the seven expected columns, no triggers, no rules, and no row-level
 * security that applies to the current user (the extension owner).
 * Otherwise the caller inserts with SQL, so the table's own definition
 * always wins over speed.
 */
static bool
EngagementWritable(Relation rel)
{
	static const char *const names[ENGAGEMENT_NATTS] = {"contact_id", "as_of", "rule_ids", "rule_values",
	"window_rule_ids", "window_times", "fit_score"};
	static const Oid types[ENGAGEMENT_NATTS] = {INT8OID, TIMESTAMPTZOID, INT8ARRAYOID, FLOAT8ARRAYOID,
	INT8ARRAYOID, TIMESTAMPTZARRAYOID, FLOAT8OID};
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relam != HEAP_TABLE_AM_OID ||
		rel->trigdesc != NULL || rel->rd_rules != NULL || desc->natts != ENGAGEMENT_NATTS ||
		check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return false;
	for (i = 0; i < ENGAGEMENT_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != types[i] || strcmp(NameStr(att->attname), names[i]) != 0 ||
			att->atthasdef || att->attgenerated)
			return false;
	}
	return true;
}

/* Rows per multi-insert, and bytes, as COPY FROM batches them. */
#define REBUILD_BATCH_ROWS 1000
#define REBUILD_BATCH_BYTES 65535

/*
 * crm._engagement_rebuild_write(as_of timestamptz) -> bigint: the rows of
 * crm._engagement_rebuild(as_of) appended to crm.contact_engagement
 * directly, as COPY FROM appends them (table_multi_insert in batches, index
 * entries through the executor, constraints checked), skipping the
 * executor's per-row work; the number of rows written, or NULL (nothing
 * written) when the table is not the plain one this extension made and the
 * caller must INSERT with SQL.  The rows belong to the current command.
 */
Datum
crm_engagement_rebuild_write(PG_FUNCTION_ARGS)
{
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(0);
	Relation	rel;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	CommandId	cid;
	RebuildState *rs;
	MemoryContext cxt;
	MemoryContext batch_cxt;
	MemoryContext old;
	TupleTableSlot *slots[REBUILD_BATCH_ROWS];
	int			nused = 0;
	Size		bytes = 0;
	int64		written = 0;
	int			i;

	crm_scoring_ensure_cache();
	rel = table_open(crm_scoring.engagement, RowExclusiveLock);
	if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel))));
	if (!EngagementWritable(rel))
	{
		table_close(rel, RowExclusiveLock);
		PG_RETURN_NULL();
	}

	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, rri, 1);
	ExecOpenIndices(rri, false);
	cid = GetCurrentCommandId(true);
	estate->es_output_cid = cid;
	bistate = GetBulkInsertState();
	for (i = 0; i < REBUILD_BATCH_ROWS; i++)
		slots[i] = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsHeapTuple);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "engagement rebuild write", ALLOCSET_DEFAULT_SIZES);
	batch_cxt = AllocSetContextCreate(cxt, "engagement rebuild batch", ALLOCSET_DEFAULT_SIZES);
	rs = RebuildBegin(as_of, RelationGetDescr(rel), cxt);
	for (;;)
	{
		HeapTuple	tup;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(batch_cxt);
		tup = RebuildNext(rs);
		MemoryContextSwitchTo(old);
		if (tup != NULL)
		{
			ExecStoreHeapTuple(tup, slots[nused], false);
			if (rel->rd_att->constr != NULL)
				ExecConstraints(rri, slots[nused], estate);
			nused++;
			bytes += tup->t_len;
		}
		if (nused > 0 && (tup == NULL || nused == REBUILD_BATCH_ROWS || bytes >= REBUILD_BATCH_BYTES))
		{
			old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
			table_multi_insert(rel, slots, nused, cid, 0, bistate);
			MemoryContextSwitchTo(old);
			for (i = 0; i < nused; i++)
			{
				if (rri->ri_NumIndices > 0)
					list_free(ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL));
				ResetPerTupleExprContext(estate);
				ExecClearTuple(slots[i]);
			}
			written += nused;
			nused = 0;
			bytes = 0;
			MemoryContextReset(batch_cxt);
		}
		if (tup == NULL)
			break;
	}
	FreeBulkInsertState(bistate);
	table_finish_bulk_insert(rel, 0);
	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	MemoryContextDelete(cxt);
	table_close(rel, NoLock);
	PG_RETURN_INT64(written);
}
