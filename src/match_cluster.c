/*
 * match_cluster.c
 *	  Finding duplicates over a whole table in one pass: prepared records and
 *	  blocks in, candidate pairs deduplicated, scored and clustered in C.
 *
 * crm.find_duplicates and crm.duplicate_clusters (sql/install/53) open one
 * cursor that yields every prepared record (rid, id, values) and pass the
 * blocking rules.  Scoring pair by pair through SQL costs a join, an array
 * deconstruction and a call per pair, and deduplicating pairs across
 * blocking rules costs a sort of wide rows; here the records are read once,
 * grouped by their blocking keys (match_block.c), each block's pairs become
 * 64-bit keys, one sort removes the duplicates, and every unique pair is
 * compared field by field (match.c) with the records already split.  The clustering
 * (union-find, strongest link first, with the guard against chaining) then
 * runs on the same arrays, so a million records never cross the SQL
 * boundary as pairs.  crm.match_clusters offers the same clustering for
 * pairs scored elsewhere.
 *
 * Scoring is bound by memory, not arithmetic: the pairs come sorted by their
 * first record, and the second is anywhere in a table of a million.  So a
 * record is a short row of value ids, one per field, into a dictionary of
 * each field's distinct values (a common name or a city is stored once and
 * stays in the cache; equal ids are equal values), and the loop asks for
 * the rows, values and bytes of the pairs a few steps ahead before it needs
 * them.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include <math.h>

#include "match.h"
#include "names.h"
#include "similarity.h"


PG_FUNCTION_INFO_V1(crm_match_clusters);
PG_FUNCTION_INFO_V1(crm_match_run_pairs);
PG_FUNCTION_INFO_V1(crm_match_run_clusters);
PG_FUNCTION_INFO_V1(crm_match_run_summary);

/* Pairs are 64-bit keys: the smaller record number high, the larger low. */
static inline uint64
PairKey(int32 a, int32 b)
{
	return a < b ? ((uint64) a << 32) | (uint32) b : ((uint64) b << 32) | (uint32) a;
}

static inline int32
PairA(uint64 k)
{
	return (int32) (k >> 32);
}

static inline int32
PairB(uint64 k)
{
	return (int32) (k & 0xFFFFFFFF);
}


/* Clustering */

typedef struct ClusterEdge
{
	int32		a;
	int32		b;
	float8		p;
} ClusterEdge;

static int
EdgeCmpDesc(const void *x, const void *y)
{
	const ClusterEdge *ex = x;
	const ClusterEdge *ey = y;

	if (ex->p != ey->p)
		return ex->p > ey->p ? -1 : 1;
	if (ex->a != ey->a)
		return ex->a < ey->a ? -1 : 1;
	return (ex->b > ey->b) - (ex->b < ey->b);
}

static int32
Find(int32 *parent, int32 x)
{
	while (parent[x] != x)
	{
		parent[x] = parent[parent[x]];
		x = parent[x];
	}
	return x;
}

/*
 * Group records 1..n linked by pairs (keys, probability p) at or above minp.
 * Links are taken strongest first; two groups join through a link only when,
 * among the scored pairs between them, the links at or above minp are at
 * least twice the pairs scored below the veto level (1 - minp, at most
 * 0.5).  That stops a chain A ~ B ~ C from joining A and C when A and C were
 * compared and found different.  Returns each record's group, named by its
 * smallest record number (element 0 unused).
 */
static int32 *
ClusterPairs(int32 n, int64 ne, const uint64 *keys, const float8 *p, float8 minp)
{
	float8		veto = Min(0.5, 1.0 - minp);
	int32	   *parent,
			   *size,
			   *next,
			   *tail,
			   *minid;
	int64	   *deg,
			   *start;
	int32	   *adj;
	float8	   *adjp;
	ClusterEdge *edges;
	int64		nstrong = 0;
	int64		nadj = 0;

	parent = palloc(sizeof(int32) * (n + 1));
	size = palloc(sizeof(int32) * (n + 1));
	next = palloc(sizeof(int32) * (n + 1));
	tail = palloc(sizeof(int32) * (n + 1));
	minid = palloc(sizeof(int32) * (n + 1));
	deg = palloc0(sizeof(int64) * (n + 2));
	start = palloc0(sizeof(int64) * (n + 2));
	for (int32 i = 0; i <= n; i++)
	{
		parent[i] = i;
		size[i] = 1;
		next[i] = 0;
		tail[i] = i;
		minid[i] = i;
	}

	/*
	 * Only pairs whose records both have a strong link can ever be counted by
	 * the guard; the adjacency keeps those alone.
	 */
	for (int64 i = 0; i < ne; i++)
		if (p[i] >= minp && PairA(keys[i]) != PairB(keys[i]))
		{
			deg[PairA(keys[i])] |= 1;
			deg[PairB(keys[i])] |= 1;
			nstrong++;
		}
	for (int64 i = 0; i < ne; i++)
	{
		int32		x = PairA(keys[i]),
					y = PairB(keys[i]);

		if ((deg[x] & 1) && (deg[y] & 1) && x != y)
		{
			deg[x] += 2;
			deg[y] += 2;
			nadj += 2;
		}
	}
	for (int32 i = 1; i <= n + 1; i++)
		start[i] = start[i - 1] + (deg[i - 1] >> 1);
	adj = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(nadj, 1));
	adjp = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float8) * Max(nadj, 1));
	for (int32 i = 0; i <= n + 1; i++)
		deg[i] = 0;
	edges = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ClusterEdge) * Max(nstrong, 1));
	nstrong = 0;
	for (int64 i = 0; i < ne; i++)
	{
		int32		x = PairA(keys[i]),
					y = PairB(keys[i]);

		if (x == y || start[x + 1] == start[x] || start[y + 1] == start[y])
			continue;
		adj[start[x] + deg[x]] = y;
		adjp[start[x] + deg[x]++] = p[i];
		adj[start[y] + deg[y]] = x;
		adjp[start[y] + deg[y]++] = p[i];
		if (p[i] >= minp)
		{
			edges[nstrong].a = x;
			edges[nstrong].b = y;
			edges[nstrong++].p = p[i];
		}
	}
	qsort(edges, nstrong, sizeof(ClusterEdge), EdgeCmpDesc);

	for (int64 e = 0; e < nstrong; e++)
	{
		int32		rx = Find(parent, edges[e].a);
		int32		ry = Find(parent, edges[e].b);
		int32		small,
					big;
		int64		strong = 0,
					weak = 0;

		CHECK_FOR_INTERRUPTS();
		if (rx == ry)
			continue;
		small = size[rx] <= size[ry] ? rx : ry;
		big = small == rx ? ry : rx;
		/* Count the scored pairs between the two groups. */
		for (int32 m = small; m != 0; m = next[m])
			for (int64 k = start[m]; k < start[m] + deg[m]; k++)
				if (Find(parent, adj[k]) == big)
				{
					if (adjp[k] >= minp)
						strong++;
					else if (adjp[k] < veto)
						weak++;
				}
		if (strong < 2 * weak)
			continue;
		parent[small] = big;
		size[big] += size[small];
		next[tail[big]] = small;
		tail[big] = tail[small];
		minid[big] = Min(minid[big], minid[small]);
	}

	for (int32 i = 1; i <= n; i++)
		next[i] = minid[Find(parent, i)];
	pfree(parent);
	pfree(size);
	pfree(tail);
	pfree(minid);
	pfree(deg);
	pfree(start);
	pfree(adj);
	pfree(adjp);
	pfree(edges);
	return next;
}

static void
CheckMinProbability(float8 minp)
{
	if (isnan(minp) || minp <= 0.0 || minp > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("minimum probability must be greater than 0 and at most 1")));
}

/*
 * crm.match_clusters(a int4[], b int4[], p float8[], n int, min_probability float8) -> int4[]
 *
 * a, b hold every scored candidate pair (record numbers 1..n) and p its
 * probability; returns the group of each record (see ClusterPairs).
 */
Datum
crm_match_clusters(PG_FUNCTION_ARGS)
{
	ArrayType  *aa = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *ab = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *ap = PG_GETARG_ARRAYTYPE_P(2);
	int32		n = PG_GETARG_INT32(3);
	float8		minp = PG_GETARG_FLOAT8(4);
	int			ne;
	int32	   *va,
			   *vb,
			   *group;
	uint64	   *keys;
	Datum	   *out;

	if (ARR_HASNULL(aa) || ARR_HASNULL(ab) || ARR_HASNULL(ap) ||
		ARR_NDIM(aa) > 1 || ARR_NDIM(ab) > 1 || ARR_NDIM(ap) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pair arrays must be one-dimensional and without nulls")));
	ne = ArrayGetNItems(ARR_NDIM(aa), ARR_DIMS(aa));
	if (ArrayGetNItems(ARR_NDIM(ab), ARR_DIMS(ab)) != ne ||
		ArrayGetNItems(ARR_NDIM(ap), ARR_DIMS(ap)) != ne)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pair arrays must have the same length")));
	if (n < 0 || n > (int32) (MaxAllocSize / sizeof(int64) / 2) - 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record count %d is out of range", n)));
	CheckMinProbability(minp);
	va = (int32 *) ARR_DATA_PTR(aa);
	vb = (int32 *) ARR_DATA_PTR(ab);
	keys = palloc(sizeof(uint64) * Max(ne, 1));
	for (int i = 0; i < ne; i++)
	{
		if (va[i] < 1 || va[i] > n || vb[i] < 1 || vb[i] > n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("record number out of range 1..%d", n)));
		keys[i] = PairKey(va[i], vb[i]);
	}
	group = ClusterPairs(n, ne, keys, (float8 *) ARR_DATA_PTR(ap), minp);

	out = palloc(sizeof(Datum) * Max(n, 1));
	for (int32 i = 1; i <= n; i++)
		out[i - 1] = Int32GetDatum(group[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, INT4OID, 4, true, TYPALIGN_INT));
}

/* A whole table's records, read from one cursor */

/* Largest record number accepted. */
#define MAX_RECORDS 200000000

/*
 * The records of a run.  A record is a row of value ids, one per field,
 * into that field's dictionary of distinct values (match_dict.c): comparing
 * two records touches one short row each, equal values are told by their
 * ids, and a value shared by many records (a common given name, a city) is
 * stored once and stays in the processor's cache.  Values of a kind never
 * compared (the id) are kept one per record, without a hash table.
 */
typedef struct RunData
{
	MemoryContext cxt;			/* holds everything below */
	int			nfields;
	int32		nrec;			/* highest record number read */
	int32		cap;			/* per-record arrays hold 0..cap-1 */
	int32	   *vid;			/* value ids: [rid * nfields + f] */
	CrmDict    *dict;			/* per field */
	CrmValue  **dictv;			/* dict[f].v, as CrmRecordValues wants */
	uint64	  **mask;			/* per field NULL or, by value id, its
								 * characters (fields compared by
								 * Jaro-Winkler) */
	bool	   *read;			/* [rid]: was the record read? */
	const char **id;			/* ids: [rid] */
	int		   *idlen;
	CrmDict		ids;			/* holds the ids' bytes */
	uint64	   *pairs;			/* the candidate pairs' keys */
} RunData;

static void
GrowRecords(RunData *rd, int32 rid)
{
	int32		newcap = rd->cap;
	Size		nf = rd->nfields;

	if (rid < 1 || rid >= MAX_RECORDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record number %d is out of range", rid)));
	if (rid < rd->cap)
		return;
	while (newcap <= rid)
		newcap = newcap >= MAX_RECORDS / 2 ? MAX_RECORDS : newcap * 2;
	rd->vid = repalloc_huge(rd->vid, sizeof(int32) * nf * newcap);
	rd->read = repalloc_huge(rd->read, sizeof(bool) * newcap);
	rd->id = repalloc_huge(rd->id, sizeof(char *) * newcap);
	rd->idlen = repalloc_huge(rd->idlen, sizeof(int) * newcap);
	memset(rd->read + rd->cap, 0, sizeof(bool) * (newcap - rd->cap));
	rd->cap = newcap;
}

static void
AddRecord(RunData *rd, int32 rid, Datum id, ArrayType *f)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	text	   *t = DatumGetTextPP(id);
	int32	   *row;

	GrowRecords(rd, rid);
	if (rd->read[rid])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record number %d occurs twice", rid)));
	if (ARR_NDIM(f) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("record values must be a one-dimensional array")));
	deconstruct_array(f, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != rd->nfields)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record %d has %d values, but %d field kinds are given", rid, n, rd->nfields)));
	row = &rd->vid[(Size) rid * rd->nfields];
	for (int i = 0; i < n; i++)
	{
		row[i] = 0;
		if (!nulls[i])
		{
			text	   *v = DatumGetTextPP(elems[i]);
			int			l = VARSIZE_ANY_EXHDR(v);

			if (l > 0)
				row[i] = crm_dict_add(&rd->dict[i], VARDATA_ANY(v), l);
		}
	}
	rd->idlen[rid] = VARSIZE_ANY_EXHDR(t);
	rd->id[rid] = crm_dict_copy(&rd->ids, VARDATA_ANY(t), rd->idlen[rid]);
	rd->read[rid] = true;
	rd->nrec = Max(rd->nrec, rid);
}

/* Read every row of the cursor: (rid int4, id text, f text[]). */
static void
ReadCursor(RunData *rd, const char *name)
{
	Portal		portal;
	MemoryContext batch = AllocSetContextCreate(rd->cxt, "crm match read", ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_find(name);
	if (portal == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_CURSOR),
				 errmsg("cursor \"%s\" does not exist", name)));
	for (;;)
	{
		SPITupleTable *tt;
		TupleDesc	td;

		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		tt = SPI_tuptable;
		td = tt->tupdesc;
		if (td->natts != 3 || SPI_gettypeid(td, 1) != INT4OID || SPI_gettypeid(td, 2) != TEXTOID ||
			SPI_gettypeid(td, 3) != TEXTARRAYOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("cursor must return columns (int4, text, text[])")));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = tt->vals[i];
			bool		nrid,
						nid,
						nf;
			Datum		rid = SPI_getbinval(tup, td, 1, &nrid);
			Datum		id = SPI_getbinval(tup, td, 2, &nid);
			Datum		f = SPI_getbinval(tup, td, 3, &nf);
			MemoryContext old = MemoryContextSwitchTo(batch);

			if (nrid || nid || nf)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("cursor rows must have a record number, an id and values")));
			AddRecord(rd, DatumGetInt32(rid), id, DatumGetArrayTypeP(f));
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(tt);
		MemoryContextReset(batch);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	MemoryContextDelete(batch);
}

static inline void
Prefetch(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
	__builtin_prefetch(p);
#endif
}

/* Dictionaries of more values than this are not expected in the cache. */
#define BIG_DICT 8192

/*
 * How many records ahead of the block being scored their rows, then their
 * values in the large dictionaries, then those values' bytes are fetched.
 */
#define PREFETCH_ROWS 48
#define PREFETCH_VALUES 24
#define PREFETCH_BYTES 12

static inline float8
Probability(float8 w)
{
	return 1.0 / (1.0 + pow(2.0, -w));
}

/* Match weight (log2 odds) of probability p; p in [0, 1]. */
static double
WeightOf(float8 p)
{
	if (p <= 0)
		return -INFINITY;
	if (p >= 1)
		return INFINITY;
	return log2(p / (1.0 - p));
}

/*
 * True for the kinds whose comparison is cheap next to the string
 * similarities of names, addresses and emails: those are compared first.
 */
static bool
CheapKind(int kind)
{
	switch (kind)
	{
		case CRM_KIND_GIVEN_NAME:
		case CRM_KIND_FAMILY_NAME:
		case CRM_KIND_FULL_NAME:
		case CRM_KIND_COMPANY:
		case CRM_KIND_ADDRESS:
		case CRM_KIND_EMAIL:
			return false;
		default:
			return true;
	}
}

/*
 * How pairs are scored: the fields in comparison order, and the bounds for
 * stopping early.
 *
 * Only three things about a pair are ever used: its exact weight when its
 * probability reaches minp, and otherwise whether it falls below the veto
 * level of ClusterPairs (1 - minp, at most 0.5) or between the two.  So the
 * fields are compared cheapest first, and once the weight so far plus the
 * most (least) the remaining fields can add shows the pair must stay below
 * minp and below (at or above) the veto level, the rest are not compared and
 * the pair gets that bound for its weight, which classifies it the same.
 * A pair compared in full is summed in field order, as before, so its
 * weight is exactly what it always was.  When only the pairs at or above
 * minp are kept (finding pairs, counting them), the veto level does not
 * matter and a pair stops as soon as it must stay below minp.
 */
typedef struct Scorer
{
	CrmMatchState *st;
	int			nf;
	int			ncmp;			/* fields compared (not ids) */
	int		   *order;			/* [ncmp] */
	int		   *level;			/* [nf] */
	double	   *maxrest;		/* [ncmp + 1]: most the fields from k on add */
	double	   *minrest;
	double		minw;			/* below: under minp */
	double		vetolo;			/* below: under the veto level */
	double		vetohi;			/* above: over it */
	bool		strong_only;	/* only "at or above minp" matters */
} Scorer;

static void
InitScorer(Scorer *sc, CrmMatchState *st, float8 minp, bool strong_only)
{
	int			nf = st->nfields;

	/*
	 * A margin far above the rounding of a handful of additions, far below
	 * any difference between weights that matters.
	 */
	const double margin = 1e-6;
	double		vetow = WeightOf(Min(0.5, 1.0 - minp));

	sc->st = st;
	sc->nf = nf;
	sc->ncmp = 0;

	/*
	 * Near 1 the probability itself rounds (to 1 from a weight of about 53),
	 * so there nothing is skipped for being below minp.
	 */
	sc->minw = minp > 0.999999 ? -INFINITY : WeightOf(minp) - margin;
	sc->vetolo = vetow - margin;
	sc->vetohi = vetow + margin;
	sc->strong_only = strong_only;
	sc->order = palloc(sizeof(int) * Max(nf, 1));
	sc->level = palloc(sizeof(int) * Max(nf, 1));
	sc->maxrest = palloc(sizeof(double) * (nf + 1));
	sc->minrest = palloc(sizeof(double) * (nf + 1));
	for (int f = 0; f < nf; f++)
	{
		sc->level[f] = CRM_LEVEL_MISSING;
		if (st->kinds[f] == CRM_KIND_ID)
			continue;
		if (CheapKind(st->kinds[f]))
			sc->order[sc->ncmp++] = f;
	}
	for (int f = 0; f < nf; f++)
		if (st->kinds[f] != CRM_KIND_ID && !CheapKind(st->kinds[f]))
			sc->order[sc->ncmp++] = f;
	sc->maxrest[sc->ncmp] = sc->minrest[sc->ncmp] = 0;
	for (int k = sc->ncmp - 1; k >= 0; k--)
	{
		int			f = sc->order[k];
		double		hi = 0,
					lo = 0;			/* a missing value adds nothing */

		for (int l = 0; l < crm_kinds[st->kinds[f]].nlevels; l++)
		{
			hi = Max(hi, st->weights[st->offset[f] + l]);
			lo = Min(lo, st->weights[st->offset[f] + l]);
		}
		sc->maxrest[k] = sc->maxrest[k + 1] + hi;
		sc->minrest[k] = sc->minrest[k + 1] + lo;
	}
}

/* The weight of a pair of records (see Scorer). */
static inline double
ScoreOne(Scorer *sc, const CrmRecordValues *ra, const CrmRecordValues *rb)
{
	const float8 *weights = sc->st->weights;
	double		sofar = weights[0];
	double		w = weights[0];

	for (int k = 0; k < sc->ncmp; k++)
	{
		int			f = sc->order[k];
		double		hi = sofar + sc->maxrest[k],
					lo = sofar + sc->minrest[k];

		if (hi < sc->minw && (sc->strong_only || hi < sc->vetolo || lo > sc->vetohi))
			/* Below minp, and on one side of the veto level if it matters. */
			return (sc->strong_only || hi < sc->vetolo) ? hi : lo;
		sc->level[f] = crm_match_compare_field(sc->st, f, ra, rb);
		if (sc->level[f] >= 0)
			sofar += weights[sc->st->offset[f] + sc->level[f]];
	}
	for (int f = 0; f < sc->nf; f++)
		if (sc->level[f] >= 0)
			w += weights[sc->st->offset[f] + sc->level[f]];
	return w;
}

/*
 * Score every candidate pair once; returns the number of pairs, their keys
 * in rd->pairs and match weights (log2 odds) in *wp: all of them, or with
 * strong_only those at or above min_probability.
 *
 * The pairs are taken block by block, rule after rule: a block's records
 * (at most max_block_size) are fetched into the cache once and compared
 * with each other there, where a million records taken pair by pair would
 * fetch one from main memory for almost every pair.  A pair of records that
 * also share the key of an earlier rule was scored with that rule's block,
 * so each pair is scored exactly once, without sorting the pairs to find
 * the duplicates.
 */
static int64
BlockAndScore(FunctionCallInfo fcinfo, RunData *rd, bool strong_only, float8 **wp)
{
	ArrayType  *kinds = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *weights = PG_GETARG_ARRAYTYPE_P(1);
	CrmMatchState *st = crm_match_state(fcinfo, kinds, weights);
	float8		minp = PG_GETARG_FLOAT8(3);
	int			nf = rd->nfields;
	CrmBlockInput in;
	Scorer		sc;
	MemoryContext scratch,
				old;
	int32	   *key,
			   *nkeys,
			   *start,
			   *members;
	int			nrules;
	int			nbig = 0;
	int		   *big;
	int64		np = 0;
	int64		nscored = 0;
	int64		cap = 1024;
	float8	   *wt;
	double		w;
	CrmRecordValues ra,
				rb;

	if (st->nfields != rd->nfields)
		elog(ERROR, "field count changed while reading");
	InitScorer(&sc, st, minp, strong_only);

	in.nfields = nf;
	in.nrec = rd->nrec;
	in.vid = rd->vid;
	in.dict = rd->dict;
	in.read = rd->read;
	nrules = crm_match_block_keys(st, PG_GETARG_ARRAYTYPE_P(4), PG_GETARG_INT32(5), &in, &key, &nkeys);

	/*
	 * Fields with many distinct values: their values are scattered in
	 * memory and are fetched ahead with the records.  A field with few stays
	 * in the cache.
	 */
	big = palloc(sizeof(int) * Max(nf, 1));
	for (int f = 0; f < nf; f++)
		if (rd->dict[f].n > BIG_DICT && st->kinds[f] != CRM_KIND_ID)
			big[nbig++] = f;

	rd->pairs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * cap);
	wt = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float8) * cap);
	members = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * ((Size) rd->nrec + 1));
	ra.n = rb.n = nf;
	ra.s = rb.s = NULL;
	ra.len = rb.len = NULL;
	ra.dict = rb.dict = rd->dictv;
	ra.mask = rb.mask = (const uint64 *const *) rd->mask;

	scratch = AllocSetContextCreate(CurrentMemoryContext, "crm match pairs", ALLOCSET_DEFAULT_SIZES);
	for (int k = 0; k < nrules; k++)
	{
		int32		nm = 0;
		int32		pfrow = 0,
					pfval = 0,
					pfstr = 0;

		/* The records of each block of rule k, in record order. */
		start = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * ((Size) nkeys[k] + 1));
		memset(start, 0, sizeof(int32) * ((Size) nkeys[k] + 1));
		for (int32 r = 1; r <= rd->nrec; r++)
			start[key[(Size) r * nrules + k]]++;
		start[0] = 0;
		for (int32 i = 0, sum = 0; i <= nkeys[k]; i++)
		{
			int32		c = (i < nkeys[k]) ? start[i] : 0;

			start[i] = sum;
			sum += c;
		}
		for (int32 r = 1; r <= rd->nrec; r++)
		{
			int32		kr = key[(Size) r * nrules + k];

			if (kr != 0)
			{
				members[start[kr]++] = r;
				nm++;
			}
		}
		/* Now block i is members[start[i - 1] .. start[i] - 1]. */

		old = MemoryContextSwitchTo(scratch);
		for (int32 i = 1, lo = 0; i < nkeys[k]; lo = start[i], i++)
		{
			int32		n = start[i] - lo;
			const int32 *m = &members[lo];

			if (n < 2)
				continue;

			/*
			 * Ask for the records of this block and the next ones, and then
			 * for their scattered values, some records ahead of their use.
			 */
			for (; pfrow < Min(nm, Max(lo + PREFETCH_ROWS, start[i])); pfrow++)
			{
				Prefetch(&rd->vid[(Size) members[pfrow] * nf]);
				if (k > 0)
					Prefetch(&key[(Size) members[pfrow] * nrules]);
			}
			for (; pfval < Min(pfrow, Max(lo + PREFETCH_VALUES, start[i])); pfval++)
			{
				const int32 *row = &rd->vid[(Size) members[pfval] * nf];

				for (int j = 0; j < nbig; j++)
					Prefetch(&rd->dictv[big[j]][row[big[j]]]);
			}
			for (; pfstr < Min(pfval, Max(lo + PREFETCH_BYTES, start[i])); pfstr++)
			{
				const int32 *row = &rd->vid[(Size) members[pfstr] * nf];

				for (int j = 0; j < nbig; j++)
					if (row[big[j]] != 0)
						Prefetch(rd->dictv[big[j]][row[big[j]]].s);
			}

			for (int x = 0; x < n - 1; x++)
			{
				const int32 *ka = &key[(Size) m[x] * nrules];

				ra.vid = &rd->vid[(Size) m[x] * nf];
				for (int y = x + 1; y < n; y++)
				{
					const int32 *kb = &key[(Size) m[y] * nrules];
					bool		seen = false;

					/* Scored already with an earlier rule's block? */
					for (int e = 0; e < k && !seen; e++)
						seen = ka[e] != 0 && ka[e] == kb[e];
					if (seen)
						continue;
					if (np == cap)
					{
						if ((Size) cap * 2 > MaxAllocHugeSize / sizeof(uint64))
							ereport(ERROR,
									(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
									 errmsg("too many candidate pairs"),
									 errhint("Use stricter blocking rules or a smaller max_block_size in the mapping.")));
						cap *= 2;
						rd->pairs = repalloc_huge(rd->pairs, sizeof(uint64) * cap);
						wt = repalloc_huge(wt, sizeof(float8) * cap);
					}
					rb.vid = &rd->vid[(Size) m[y] * nf];
					w = ScoreOne(&sc, &ra, &rb);
					if ((++nscored & 1023) == 0)
					{
						MemoryContextReset(scratch);
						CHECK_FOR_INTERRUPTS();
					}
					if (strong_only && Probability(w) < minp)
						continue;
					rd->pairs[np] = PairKey(m[x], m[y]);
					wt[np++] = w;
				}
			}
		}
		MemoryContextSwitchTo(old);
		pfree(start);
	}
	MemoryContextDelete(scratch);
	pfree(members);
	pfree(key);
	pfree(nkeys);
	pfree(big);
	*wp = wt;
	return np;
}

static int
Int32Cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * The nickname roots of each distinct given name (crm_given_name_roots), as
 * sorted ids: once per name, where asking crm.given_names_match() about
 * every pair of names a million records bring together meant millions of
 * calls.
 */
static CrmNickRoots *
GivenNameRoots(const CrmDict *d)
{
	CrmNickRoots *nr = palloc(sizeof(CrmNickRoots));
	int32	   *off = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * ((Size) d->n + 1));
	int32	   *pool;
	int64		cap = Max(d->n, 16);
	int64		used = 0;
	CrmDict		ids;

	crm_dict_init(&ids, CurrentMemoryContext, true);
	pool = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * cap);
	crm_given_names_begin();
	off[0] = off[1] = 0;
	for (int32 v = 1; v < d->n; v++)
	{
		char	  **roots;
		int			n = crm_given_name_roots(d->v[v].s, d->v[v].len, &roots);
		int64		start = used;

		if (used + n > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many nickname roots")));
		if (used + n > cap)
		{
			cap = Max(cap * 2, used + n);
			pool = repalloc_huge(pool, sizeof(int32) * cap);
		}
		for (int i = 0; i < n; i++)
		{
			pool[used++] = crm_dict_add(&ids, roots[i], strlen(roots[i]));
			pfree(roots[i]);
		}
		if (roots != NULL)
			pfree(roots);
		qsort(&pool[start], used - start, sizeof(int32), Int32Cmp);
		off[v + 1] = used;
		if ((v & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	crm_dict_freeze(&ids);
	nr->off = off;
	nr->pool = pool;
	return nr;
}

static void
ReadAndScore(FunctionCallInfo fcinfo, RunData *rd, bool strong_only, float8 **w, int64 *np)
{
	ArrayType  *kinds = PG_GETARG_ARRAYTYPE_P(0);
	CrmMatchState *st = crm_match_state(fcinfo, kinds, PG_GETARG_ARRAYTYPE_P(1));

	/* the six arguments every runner starts with */
	if (PG_NARGS() < 6)
		elog(ERROR, "crm's SQL functions do not match its library; run ALTER EXTENSION crm UPDATE");
	memset(rd, 0, sizeof(RunData));
	rd->cxt = CurrentMemoryContext;
	rd->nfields = st->nfields;
	rd->cap = 1024;
	rd->vid = palloc(sizeof(int32) * rd->nfields * rd->cap);
	rd->read = palloc0(sizeof(bool) * rd->cap);
	rd->id = palloc(sizeof(char *) * rd->cap);
	rd->idlen = palloc(sizeof(int) * rd->cap);
	rd->dict = palloc(sizeof(CrmDict) * Max(rd->nfields, 1));
	rd->dictv = palloc(sizeof(CrmValue *) * Max(rd->nfields, 1));
	rd->mask = palloc(sizeof(uint64 *) * Max(rd->nfields, 1));
	for (int f = 0; f < rd->nfields; f++)
		crm_dict_init(&rd->dict[f], rd->cxt, st->kinds[f] != CRM_KIND_ID);
	crm_dict_init(&rd->ids, rd->cxt, false);
	ReadCursor(rd, TextDatumGetCString(PG_GETARG_DATUM(2)));
	for (int f = 0; f < rd->nfields; f++)
	{
		CrmDict    *d = &rd->dict[f];

		crm_dict_freeze(d);
		rd->dictv[f] = d->v;
		rd->mask[f] = NULL;
		if (st->kinds[f] == CRM_KIND_GIVEN_NAME || st->kinds[f] == CRM_KIND_FAMILY_NAME ||
			st->kinds[f] == CRM_KIND_CITY)
		{
			rd->mask[f] = MemoryContextAllocHuge(rd->cxt, sizeof(uint64) * d->n);
			rd->mask[f][0] = 0;
			for (int32 id = 1; id < d->n; id++)
				rd->mask[f][id] = crm_jaro_winkler_mask(d->v[id].s, d->v[id].len);
		}
	}

	st->nick_roots = NULL;
	if (st->has_nick && st->given_idx >= 0)
		st->nick_roots = GivenNameRoots(&rd->dict[st->given_idx]);
	*np = BlockAndScore(fcinfo, rd, strong_only, w);
	st->nick_roots = NULL;
}

static Datum
RecordArray(RunData *rd, int32 rid)
{
	Datum	   *d = palloc(sizeof(Datum) * rd->nfields);
	bool	   *nulls = palloc(sizeof(bool) * rd->nfields);
	int			dims[1] = {rd->nfields};
	int			lbs[1] = {1};

	for (int f = 0; f < rd->nfields; f++)
	{
		const CrmValue *v = &rd->dictv[f][rd->vid[(Size) rid * rd->nfields + f]];

		nulls[f] = v->len < 0;
		d[f] = nulls[f] ? (Datum) 0 : PointerGetDatum(cstring_to_text_with_len(v->s, v->len));
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * crm._match_run_pairs(kinds text[], weights float8[], records refcursor,
 *						min_probability float8, blocking text[], max_block_size int)
 *	-> TABLE (id_a text, id_b text, weight float8, a text[], b text[])
 *
 * Every candidate pair scoring at or above min_probability, with both
 * records' prepared values (for the evidence).
 */
Datum
crm_match_run_pairs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	float8		minp = PG_GETARG_FLOAT8(3);
	MemoryContext work,
				old;
	RunData		rd;
	float8	   *w;
	int64		np;

	CheckMinProbability(minp);
	InitMaterializedSRF(fcinfo, 0);
	work = AllocSetContextCreate(CurrentMemoryContext, "crm match run", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	ReadAndScore(fcinfo, &rd, true, &w, &np);
	for (int64 i = 0; i < np; i++)
	{
		int32		a = PairA(rd.pairs[i]),
					b = PairB(rd.pairs[i]);
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (Probability(w[i]) < minp)
			continue;
		values[0] = PointerGetDatum(cstring_to_text_with_len(rd.id[a], rd.idlen[a]));
		values[1] = PointerGetDatum(cstring_to_text_with_len(rd.id[b], rd.idlen[b]));
		values[2] = Float8GetDatum(w[i]);
		values[3] = RecordArray(&rd, a);
		values[4] = RecordArray(&rd, b);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return (Datum) 0;
}

/*
 * crm._match_run_clusters(kinds text[], weights float8[], records refcursor,
 *						   min_probability float8, blocking text[], max_block_size int)
 *	-> TABLE (cluster int4, id text, probability float8)
 *
 * The records of every group of two or more, the group named by its
 * smallest record number, with each record's strongest link inside it.
 */
Datum
crm_match_run_clusters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	float8		minp = PG_GETARG_FLOAT8(3);
	MemoryContext work,
				old;
	RunData		rd;
	float8	   *p,
			   *best;
	int32	   *group,
			   *gsize;
	int64		np;

	CheckMinProbability(minp);
	InitMaterializedSRF(fcinfo, 0);
	work = AllocSetContextCreate(CurrentMemoryContext, "crm match run", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	ReadAndScore(fcinfo, &rd, false, &p, &np);
	for (int64 i = 0; i < np; i++)
		p[i] = Probability(p[i]);
	group = ClusterPairs(rd.nrec, np, rd.pairs, p, minp);
	best = palloc0(sizeof(float8) * (rd.nrec + 1));
	gsize = palloc0(sizeof(int32) * (rd.nrec + 1));
	for (int32 r = 1; r <= rd.nrec; r++)
		gsize[group[r]]++;
	for (int64 i = 0; i < np; i++)
	{
		int32		a = PairA(rd.pairs[i]),
					b = PairB(rd.pairs[i]);

		if (group[a] == group[b])
		{
			best[a] = Max(best[a], p[i]);
			best[b] = Max(best[b], p[i]);
		}
	}
	for (int32 r = 1; r <= rd.nrec; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if (gsize[group[r]] < 2 || !rd.read[r])
			continue;
		values[0] = Int32GetDatum(group[r]);
		values[1] = PointerGetDatum(cstring_to_text_with_len(rd.id[r], rd.idlen[r]));
		values[2] = Float8GetDatum(best[r]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return (Datum) 0;
}

/*
 * Order of the pairs crm.find_duplicates returns: weight descending, then
 * the first id, then the second, as text under the database's collation.
 */
typedef struct SummaryPair
{
	double		w;
	int32		a;
	int32		b;
} SummaryPair;

static int
SummaryPairCmp(const RunData *rd, const SummaryPair *x, const SummaryPair *y)
{
	int			c;

	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	c = varstr_cmp(rd->id[x->a], rd->idlen[x->a], rd->id[y->a], rd->idlen[y->a], DEFAULT_COLLATION_OID);
	if (c != 0)
		return c;
	return varstr_cmp(rd->id[x->b], rd->idlen[x->b], rd->id[y->b], rd->idlen[y->b], DEFAULT_COLLATION_OID);
}

typedef struct IdRef
{
	const char *s;
	int			len;
} IdRef;

static int
IdRefCmp(const void *x, const void *y)
{
	const IdRef *a = x;
	const IdRef *b = y;
	int			c = memcmp(a->s, b->s, Min(a->len, b->len));

	return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/*
 * crm._match_run_summary(kinds text[], weights float8[], records refcursor,
 *						  min_probability float8, blocking text[],
 *						  max_block_size int, examples int)
 *	-> TABLE (pairs bigint, ids bigint, id_a text[], id_b text[], weight float8[])
 *
 * What crm._match_run_pairs would return, summed up in one row: how many
 * pairs score at or above min_probability, how many distinct ids they
 * name, and the first examples of them in crm.find_duplicates' order.  The
 * same records, blocks and scores; no row, record values or evidence per
 * pair, and pairs are only kept once they reach min_probability.  (The
 * data audit reports just this.)
 */
Datum
crm_match_run_summary(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	float8		minp = PG_GETARG_FLOAT8(3);
	int32		nexamples = PG_GETARG_INT32(6);
	MemoryContext work,
				old;
	RunData		rd;
	float8	   *w;
	int64		np;
	int64		npairs = 0;
	int64		nids = 0;
	bool	   *named;
	IdRef	   *refs;
	int32		nrefs = 0;
	SummaryPair *top;
	int32		ntop = 0;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	Datum	   *ea,
			   *eb,
			   *ew;

	CheckMinProbability(minp);
	if (nexamples < 0 || nexamples > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of examples must be between 0 and 1000")));
	InitMaterializedSRF(fcinfo, 0);
	work = AllocSetContextCreate(CurrentMemoryContext, "crm match run", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	ReadAndScore(fcinfo, &rd, true, &w, &np);

	named = palloc0(sizeof(bool) * ((Size) rd.nrec + 1));
	top = palloc(sizeof(SummaryPair) * (nexamples + 1));
	for (int64 i = 0; i < np; i++)
	{
		SummaryPair p;
		int32		at;

		if (Probability(w[i]) < minp)
			continue;
		p.w = w[i];
		p.a = PairA(rd.pairs[i]);
		p.b = PairB(rd.pairs[i]);
		npairs++;
		named[p.a] = named[p.b] = true;

		/* keep the first nexamples, in order, by insertion */
		if (ntop == nexamples && (ntop == 0 || SummaryPairCmp(&rd, &p, &top[ntop - 1]) >= 0))
			continue;
		at = ntop < nexamples ? ntop++ : ntop - 1;
		while (at > 0 && SummaryPairCmp(&rd, &p, &top[at - 1]) < 0)
		{
			top[at] = top[at - 1];
			at--;
		}
		top[at] = p;
		if ((npairs & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	/* distinct ids, as count(DISTINCT id) over both columns */
	refs = MemoryContextAllocHuge(work, sizeof(IdRef) * ((Size) rd.nrec + 1));
	for (int32 r = 1; r <= rd.nrec; r++)
		if (named[r])
		{
			refs[nrefs].s = rd.id[r];
			refs[nrefs].len = rd.idlen[r];
			nrefs++;
		}
	qsort(refs, nrefs, sizeof(IdRef), IdRefCmp);
	for (int32 i = 0; i < nrefs; i++)
		if (i == 0 || IdRefCmp(&refs[i - 1], &refs[i]) != 0)
			nids++;

	ea = palloc(sizeof(Datum) * Max(ntop, 1));
	eb = palloc(sizeof(Datum) * Max(ntop, 1));
	ew = palloc(sizeof(Datum) * Max(ntop, 1));
	for (int32 i = 0; i < ntop; i++)
	{
		ea[i] = PointerGetDatum(cstring_to_text_with_len(rd.id[top[i].a], rd.idlen[top[i].a]));
		eb[i] = PointerGetDatum(cstring_to_text_with_len(rd.id[top[i].b], rd.idlen[top[i].b]));
		ew[i] = Float8GetDatum(top[i].w);
	}
	values[0] = Int64GetDatum(npairs);
	values[1] = Int64GetDatum(nids);
	values[2] = PointerGetDatum(construct_array(ea, ntop, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(eb, ntop, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(ew, ntop, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return (Datum) 0;
}
