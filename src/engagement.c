/*
 * engagement.c
 *	  The engagement state of a contact, one row of crm.contact_engagement,
 *	  and its arithmetic.
 *
 * A contact's engagement is a sum over its activities, rule by rule.  For a
 * rule that decays with a half-life (or never decays) the sum has a closed
 * form: keep its value S as of a time T; later it is worth S * 2^(-dt/h),
 * and an event adds its own points decayed the same way.  For a rule that
 * counts events inside a time window ("web visits in the last 30 days"),
 * the events that can still count are enough: every event dated after T
 * (it enters the window later), and of those inside the window at T only
 * the k most recent, where k events' points reach the rule's cap.  An event
 * older than those k can only be inside a later window together with all
 * k, and then the cap is reached anyway; an event older than the window at
 * T never counts again.  So one row per contact holds everything a score
 * needs, exactly: one as_of, the decayed value of each decaying or
 * permanent rule (rule_ids, rule_values) and the event times that still
 * matter for each window rule (window_rule_ids, window_times), pruned on
 * every write.
 *
 * Reading a score is then one call per contact (crm._engagement_value) with
 * no look at the activities, and writing folds a batch of events into the
 * row with one upsert: crm._engagement_rows builds a row per contact of the
 * batch, crm._engagement_merge adds it to the stored row under the row lock
 * that ON CONFLICT DO UPDATE takes, so concurrent writers never lose each
 * other's points.  Removing an event (a deleted or re-dated activity)
 * subtracts a decaying rule's points like adding them; for a window rule the
 * stored times may have been pruned, so crm._engagement_refill reads the
 * contact's activities inside the window again.  crm.rescore_all()
 * rebuilds every row from the activities with one scan
 * (engagement_rebuild.c), through the builder at the end of this file.
 *
 * Every function takes the rules from the backend cache that the scoring
 * trigger keeps (scoring.c).  Rows are validated when read (an admin may
 * write the table by hand): arrays must be one-dimensional, without nulls
 * and of matching lengths, and rule ids the cache does not know are dropped
 * on the next write, after reading the rules again in case the rule is
 * younger than the cache.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "decay.h"
#include "scoring.h"

PG_FUNCTION_INFO_V1(crm_engagement_value);
PG_FUNCTION_INFO_V1(crm_engagement_rows);
PG_FUNCTION_INFO_V1(crm_engagement_merge);
PG_FUNCTION_INFO_V1(crm_engagement_refill);
PG_FUNCTION_INFO_V1(crm_engagement_build_add);
PG_FUNCTION_INFO_V1(crm_engagement_build_final);

/* Number of elements of a state array, after checking its shape. */
static int
StateArrayLength(ArrayType *a, Oid elemtype, const char *column)
{
	if (ARR_NDIM(a) > 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != elemtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid engagement state: %s must be a one-dimensional array without nulls", column),
				 errhint("Run crm.rescore_all() to rebuild crm.contact_engagement.")));
	return ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
}

/*
 * A state from its columns, pointing into the arrays (which the caller
 * keeps); copy = true copies them into palloc'd space with room to grow.
 */
static void
StateFromArrays(EngagementState *st, TimestampTz as_of, ArrayType *rule_ids, ArrayType *values,
				ArrayType *window_rule_ids, ArrayType *window_times, bool copy)
{
	int			nv = StateArrayLength(rule_ids, INT8OID, "rule_ids");
	int			nt = StateArrayLength(window_rule_ids, INT8OID, "window_rule_ids");

	if (StateArrayLength(values, FLOAT8OID, "rule_values") != nv ||
		StateArrayLength(window_times, TIMESTAMPTZOID, "window_times") != nt)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid engagement state: arrays of different lengths"),
				 errhint("Run crm.rescore_all() to rebuild crm.contact_engagement.")));
	st->as_of = as_of;
	st->nvalues = nv;
	st->ntimes = nt;
	if (!copy)
	{
		st->rule_ids = (int64 *) ARR_DATA_PTR(rule_ids);
		st->values = (double *) ARR_DATA_PTR(values);
		st->window_rule_ids = (int64 *) ARR_DATA_PTR(window_rule_ids);
		st->window_times = (TimestampTz *) ARR_DATA_PTR(window_times);
		return;
	}
	st->rule_ids = palloc(sizeof(int64) * (nv + 1));
	st->values = palloc(sizeof(double) * (nv + 1));
	st->window_rule_ids = palloc(sizeof(int64) * (nt + 1));
	st->window_times = palloc(sizeof(TimestampTz) * (nt + 1));
	if (nv > 0)
	{
		memcpy(st->rule_ids, ARR_DATA_PTR(rule_ids), sizeof(int64) * nv);
		memcpy(st->values, ARR_DATA_PTR(values), sizeof(double) * nv);
	}
	if (nt > 0)
	{
		memcpy(st->window_rule_ids, ARR_DATA_PTR(window_rule_ids), sizeof(int64) * nt);
		memcpy(st->window_times, ARR_DATA_PTR(window_times), sizeof(TimestampTz) * nt);
	}
}

/* The state of arguments first .. first + 4 (as_of and the four arrays). */
static void
StateFromArgs(FunctionCallInfo fcinfo, int first, EngagementState *st, bool copy)
{
	int			i;

	for (i = first; i < first + 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("engagement state must not be null")));
	StateFromArrays(st, PG_GETARG_TIMESTAMPTZ(first), PG_GETARG_ARRAYTYPE_P(first + 1),
					PG_GETARG_ARRAYTYPE_P(first + 2), PG_GETARG_ARRAYTYPE_P(first + 3),
					PG_GETARG_ARRAYTYPE_P(first + 4), copy);
}

TimestampTz
crm_scoring_cutoff(const ScoringRule *r, TimestampTz at)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(at),
												   IntervalPGetDatum(&r->window)));
}

/*
 * Engagement at `at`, as crm.engagement_score computes it: each active
 * decaying or permanent rule's value decayed to `at` (never grown when `at`
 * is earlier than the state), each active window rule's points for its
 * events inside (at - window, at], each rule capped, each group clamped,
 * the groups summed.
 */
double
crm_engagement_at(const EngagementState *st, TimestampTz at)
{
	ScoringCache *c = &crm_scoring;
	double		total = 0.0;
	int			i;

	memset(c->rule_seen, 0, sizeof(bool) * (c->nrules + 1));
	memset(c->group_sums, 0, sizeof(double) * (c->ngroups + 1));
	for (i = 0; i < st->nvalues; i++)
	{
		int			ri = crm_scoring_rule_index(st->rule_ids[i]);
		ScoringRule *r;
		double		v;

		if (ri < 0)
			continue;
		r = &c->rules[ri];
		if (!r->active || r->has_window)
			continue;
		v = st->values[i];
		if (r->has_half_life)
			v = crm_decayed_value_at(v, st->as_of, r->half_life, at);
		c->rule_sums[ri] = c->rule_seen[ri] ? c->rule_sums[ri] + v : v;
		c->rule_seen[ri] = true;
	}
	if (c->any_window && st->ntimes > 0)
	{
		if (!c->cutoffs_valid || c->cutoffs_at != at)
		{
			for (i = 0; i < c->nrules; i++)
				if (c->rules[i].has_window)
					c->cutoffs[i] = crm_scoring_cutoff(&c->rules[i], at);
			c->cutoffs_at = at;
			c->cutoffs_valid = true;
		}
		for (i = 0; i < st->ntimes; i++)
		{
			int			ri = crm_scoring_rule_index(st->window_rule_ids[i]);
			TimestampTz t = st->window_times[i];

			if (ri < 0 || !c->rules[ri].active || !c->rules[ri].has_window ||
				t > at || t <= c->cutoffs[ri])
				continue;
			c->rule_counts[ri] = c->rule_seen[ri] ? c->rule_counts[ri] + 1 : 1;
			c->rule_seen[ri] = true;
		}
	}
	for (i = 0; i < c->nrules; i++)
	{
		ScoringRule *r = &c->rules[i];
		double		v;

		if (!c->rule_seen[i])
			continue;
		if (r->has_window)
		{
			int			n;

			/* summed one by one, as sum(r.points) does */
			v = 0.0;
			for (n = 0; n < c->rule_counts[i]; n++)
				v += r->points;
		}
		else
			v = c->rule_sums[i];
		c->group_sums[r->group] += crm_scoring_clamp(v, r->has_max, -r->max_points, r->has_max, r->max_points);
	}
	for (i = 0; i < c->ngroups; i++)
	{
		ScoringGroup *g = &c->groups[i];

		total += crm_scoring_clamp(c->group_sums[i], g->has_min, g->min_points, g->has_max, g->max_points);
	}
	return total;
}

typedef struct ValuePair
{
	int64		rule_id;
	double		value;
	int			seq;			/* input position: equal ids sum in input order */
} ValuePair;

typedef struct TimePair
{
	int64		rule_id;
	TimestampTz time;
} TimePair;

static int
CompareValuePairs(const void *a, const void *b)
{
	const ValuePair *x = a;
	const ValuePair *y = b;

	if (x->rule_id != y->rule_id)
		return x->rule_id < y->rule_id ? -1 : 1;
	return x->seq - y->seq;
}

static int
CompareTimePairs(const void *a, const void *b)
{
	const TimePair *x = a;
	const TimePair *y = b;

	if (x->rule_id != y->rule_id)
		return x->rule_id < y->rule_id ? -1 : 1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return 0;
}

/*
 * Put a state (whose arrays the caller owns, palloc'd) in its stored form:
 * values sorted by rule and summed per rule, times sorted by rule and time;
 * rules the cache does not know dropped, values of window rules and times of
 * other rules dropped; each window rule's times pruned to those that can
 * still count at as_of or later.
 */
void
crm_engagement_normalize(EngagementState *st)
{
	ScoringCache *c = &crm_scoring;
	ValuePair  *vp;
	TimePair   *tp;
	int			i;
	int			n;

	vp = palloc(sizeof(ValuePair) * (st->nvalues + 1));
	for (i = 0; i < st->nvalues; i++)
	{
		vp[i].rule_id = st->rule_ids[i];
		vp[i].value = st->values[i];
		vp[i].seq = i;
	}
	qsort(vp, st->nvalues, sizeof(ValuePair), CompareValuePairs);
	n = 0;
	for (i = 0; i < st->nvalues; i++)
	{
		int			ri = crm_scoring_rule_index(vp[i].rule_id);

		if (ri < 0 || c->rules[ri].has_window)
			continue;
		if (n > 0 && st->rule_ids[n - 1] == vp[i].rule_id)
		{
			st->values[n - 1] += vp[i].value;
			continue;
		}
		st->rule_ids[n] = vp[i].rule_id;
		st->values[n] = vp[i].value;
		n++;
	}
	st->nvalues = n;
	pfree(vp);

	tp = palloc(sizeof(TimePair) * (st->ntimes + 1));
	for (i = 0; i < st->ntimes; i++)
	{
		tp[i].rule_id = st->window_rule_ids[i];
		tp[i].time = st->window_times[i];
	}
	qsort(tp, st->ntimes, sizeof(TimePair), CompareTimePairs);
	n = 0;
	i = 0;
	while (i < st->ntimes)
	{
		int64		id = tp[i].rule_id;
		int			ri = crm_scoring_rule_index(id);
		int			end = i;
		int			lo,
					hi,
					from;
		TimestampTz cutoff;

		while (end < st->ntimes && tp[end].rule_id == id)
			end++;
		if (ri < 0 || !c->rules[ri].has_window)
		{
			i = end;
			continue;
		}
		/* [lo, hi): inside the window at as_of; [hi, end): still to come */
		cutoff = crm_scoring_cutoff(&c->rules[ri], st->as_of);
		lo = i;
		while (lo < end && tp[lo].time <= cutoff)
			lo++;
		hi = lo;
		while (hi < end && tp[hi].time <= st->as_of)
			hi++;
		from = lo;
		if (c->rules[ri].keep_events >= 0 && hi - lo > c->rules[ri].keep_events)
			from = hi - c->rules[ri].keep_events;
		for (; from < end; from++)
		{
			st->window_rule_ids[n] = tp[from].rule_id;
			st->window_times[n] = tp[from].time;
			n++;
		}
		i = end;
	}
	st->ntimes = n;
	pfree(tp);
}

/* Decay every value to `to` (later than or equal to as_of). */
static void
DecayStateTo(EngagementState *st, TimestampTz to)
{
	int			i;

	for (i = 0; i < st->nvalues; i++)
	{
		int			ri = crm_scoring_rule_index(st->rule_ids[i]);

		if (ri >= 0 && crm_scoring.rules[ri].has_half_life)
			st->values[i] = crm_decayed_value_at(st->values[i], st->as_of, crm_scoring.rules[ri].half_life, to);
	}
	st->as_of = to;
}

/* Whether every rule id of the state is in the cache. */
static bool
StateRulesKnown(const EngagementState *st)
{
	int			i;

	for (i = 0; i < st->nvalues; i++)
		if (crm_scoring_rule_index(st->rule_ids[i]) < 0)
			return false;
	for (i = 0; i < st->ntimes; i++)
		if (crm_scoring_rule_index(st->window_rule_ids[i]) < 0)
			return false;
	return true;
}

/* An array of 8-byte pass-by-value elements: int8, float8, timestamptz. */
Datum
crm_array8(Datum *d, int n, Oid elemtype)
{
	return PointerGetDatum(construct_array(d, n, elemtype, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
Int64ArrayDatum(const int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return crm_array8(d, n, INT8OID);
}

static Datum
Float8ArrayDatum(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return crm_array8(d, n, FLOAT8OID);
}

static Datum
TimestampArrayDatum(const TimestampTz *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = TimestampTzGetDatum(v[i]);
	return crm_array8(d, n, TIMESTAMPTZOID);
}

/*
 * The state as a row of crm.contact_engagement, with the fit the row keeps
 * for crm.rescore_all() (see part 62) or none.
 */
HeapTuple
crm_engagement_tuple_fit(TupleDesc desc, int64 contact_id, const EngagementState *st, Datum fit, bool fit_null)
{
	Datum		values[ENGAGEMENT_NATTS];
	bool		nulls[ENGAGEMENT_NATTS] = {false, false, false, false, false, false, false};

	if (desc->natts != ENGAGEMENT_NATTS)
		elog(ERROR, "crm.contact_engagement has %d columns, expected %d", desc->natts, ENGAGEMENT_NATTS);
	values[0] = Int64GetDatum(contact_id);
	values[1] = TimestampTzGetDatum(st->as_of);
	values[2] = Int64ArrayDatum(st->rule_ids, st->nvalues);
	values[3] = Float8ArrayDatum(st->values, st->nvalues);
	values[4] = Int64ArrayDatum(st->window_rule_ids, st->ntimes);
	values[5] = TimestampArrayDatum(st->window_times, st->ntimes);
	values[6] = fit;
	nulls[6] = fit_null;
	return heap_form_tuple(desc, values, nulls);
}

/* The state as a row of crm.contact_engagement, without a fit of its own. */
HeapTuple
crm_engagement_tuple(TupleDesc desc, int64 contact_id, const EngagementState *st)
{
	return crm_engagement_tuple_fit(desc, contact_id, st, (Datum) 0, true);
}

static TupleDesc
ResultDesc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function returning a row called in a context that cannot accept one");
	return BlessTupleDesc(desc);
}

/*
 * crm._engagement_value(as_of, rule_ids, rule_values, window_rule_ids,
 * window_times, at) -> float8: the engagement the state is worth at `at`.
 */
Datum
crm_engagement_value(PG_FUNCTION_ARGS)
{
	EngagementState st;

	crm_scoring_ensure_cache();
	StateFromArgs(fcinfo, 0, &st, false);
	if (PG_ARGISNULL(5))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(crm_engagement_at(&st, PG_GETARG_TIMESTAMPTZ(5)));
}

/*
 * crm._engagement_rows(value_contacts int8[], value_rules int8[],
 * value_amounts float8[], window_contacts int8[], window_rules int8[],
 * window_times timestamptz[], as_of timestamptz) -> SETOF
 * crm.contact_engagement: one state row per contact of a batch of events,
 * from the batch's decayed values (as of as_of) and window event times,
 * both in contact order.
 */
Datum
crm_engagement_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *vc,
			   *vr,
			   *va,
			   *wc,
			   *wr,
			   *wt;
	int			nv,
				nw,
				i = 0,
				j = 0;
	int64	   *vcp,
			   *vrp,
			   *wcp,
			   *wrp;
	double	   *vap;
	TimestampTz *wtp;
	TimestampTz as_of;
	TupleDesc	desc;
	MemoryContext tmp;
	MemoryContext old;

	for (i = 0; i < 7; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("engagement batch must not be null")));
	crm_scoring_ensure_cache();
	vc = PG_GETARG_ARRAYTYPE_P(0);
	vr = PG_GETARG_ARRAYTYPE_P(1);
	va = PG_GETARG_ARRAYTYPE_P(2);
	wc = PG_GETARG_ARRAYTYPE_P(3);
	wr = PG_GETARG_ARRAYTYPE_P(4);
	wt = PG_GETARG_ARRAYTYPE_P(5);
	as_of = PG_GETARG_TIMESTAMPTZ(6);
	nv = StateArrayLength(vc, INT8OID, "value_contacts");
	nw = StateArrayLength(wc, INT8OID, "window_contacts");
	if (StateArrayLength(vr, INT8OID, "value_rules") != nv || StateArrayLength(va, FLOAT8OID, "value_amounts") != nv ||
		StateArrayLength(wr, INT8OID, "window_rules") != nw || StateArrayLength(wt, TIMESTAMPTZOID, "window_times") != nw)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("engagement batch arrays must have matching lengths")));
	vcp = (int64 *) ARR_DATA_PTR(vc);
	vrp = (int64 *) ARR_DATA_PTR(vr);
	vap = (double *) ARR_DATA_PTR(va);
	wcp = (int64 *) ARR_DATA_PTR(wc);
	wrp = (int64 *) ARR_DATA_PTR(wr);
	wtp = (TimestampTz *) ARR_DATA_PTR(wt);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	desc = rsinfo->setDesc;
	tmp = AllocSetContextCreate(CurrentMemoryContext, "engagement rows", ALLOCSET_DEFAULT_SIZES);
	i = 0;
	j = 0;
	while (i < nv || j < nw)
	{
		int64		contact;
		EngagementState st;
		HeapTuple	tup;

		CHECK_FOR_INTERRUPTS();
		if (j >= nw || (i < nv && vcp[i] <= wcp[j]))
			contact = vcp[i];
		else
			contact = wcp[j];
		old = MemoryContextSwitchTo(tmp);
		memset(&st, 0, sizeof(st));
		st.as_of = as_of;
		st.rule_ids = palloc(sizeof(int64) * (nv - i + 1));
		st.values = palloc(sizeof(double) * (nv - i + 1));
		for (; i < nv && vcp[i] == contact; i++)
		{
			st.rule_ids[st.nvalues] = vrp[i];
			st.values[st.nvalues++] = vap[i];
		}
		st.window_rule_ids = palloc(sizeof(int64) * (nw - j + 1));
		st.window_times = palloc(sizeof(TimestampTz) * (nw - j + 1));
		for (; j < nw && wcp[j] == contact; j++)
		{
			st.window_rule_ids[st.ntimes] = wrp[j];
			st.window_times[st.ntimes++] = wtp[j];
		}
		if (!StateRulesKnown(&st))
			crm_scoring_reload_latest();
		crm_engagement_normalize(&st);
		tup = crm_engagement_tuple(desc, contact, &st);
		MemoryContextSwitchTo(old);
		tuplestore_puttuple(rsinfo->setResult, tup);
		MemoryContextReset(tmp);
	}
	MemoryContextDelete(tmp);
	return (Datum) 0;
}

/*
 * crm._engagement_merge(contact_id, as_of, rule_ids, rule_values,
 * window_rule_ids, window_times, as_of2, rule_ids2, rule_values2,
 * window_rule_ids2, window_times2) -> crm.contact_engagement: two states of
 * a contact added up, as of the later of their times.
 */
Datum
crm_engagement_merge(PG_FUNCTION_ARGS)
{
	EngagementState a;
	EngagementState b;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("engagement state must not be null")));
	crm_scoring_ensure_cache();
	StateFromArgs(fcinfo, 1, &a, true);
	StateFromArgs(fcinfo, 6, &b, false);
	crm_engagement_add(&a, &b);
	PG_RETURN_DATUM(HeapTupleGetDatum(crm_engagement_tuple(ResultDesc(fcinfo), PG_GETARG_INT64(0), &a)));
}

/*
 * Add state b to state a (whose arrays are palloc'd copies), as of the
 * later of their times, and normalize the result.
 */
void
crm_engagement_add(EngagementState *a, const EngagementState *b)
{
	TimestampTz to;
	int			i;

	if (!StateRulesKnown(a) || !StateRulesKnown(b))
		crm_scoring_reload_latest();
	to = Max(a->as_of, b->as_of);
	DecayStateTo(a, to);
	a->rule_ids = repalloc(a->rule_ids, sizeof(int64) * (a->nvalues + b->nvalues + 1));
	a->values = repalloc(a->values, sizeof(double) * (a->nvalues + b->nvalues + 1));
	for (i = 0; i < b->nvalues; i++)
	{
		int			ri = crm_scoring_rule_index(b->rule_ids[i]);
		double		v = b->values[i];

		if (ri >= 0 && crm_scoring.rules[ri].has_half_life)
			v = crm_decayed_value_at(v, b->as_of, crm_scoring.rules[ri].half_life, to);
		a->rule_ids[a->nvalues] = b->rule_ids[i];
		a->values[a->nvalues++] = v;
	}
	a->window_rule_ids = repalloc(a->window_rule_ids, sizeof(int64) * (a->ntimes + b->ntimes + 1));
	a->window_times = repalloc(a->window_times, sizeof(TimestampTz) * (a->ntimes + b->ntimes + 1));
	for (i = 0; i < b->ntimes; i++)
	{
		a->window_rule_ids[a->ntimes] = b->window_rule_ids[i];
		a->window_times[a->ntimes++] = b->window_times[i];
	}
	crm_engagement_normalize(a);
}

/*
 * A state from the columns of a stored row (as_of and the four arrays),
 * copied: the caller may merge into it.
 */
void
crm_engagement_from_datums(EngagementState *st, Datum as_of, Datum rule_ids, Datum values,
						   Datum window_rule_ids, Datum window_times)
{
	StateFromArrays(st, DatumGetTimestampTz(as_of), DatumGetArrayTypeP(rule_ids), DatumGetArrayTypeP(values),
					DatumGetArrayTypeP(window_rule_ids), DatumGetArrayTypeP(window_times), true);
}

/*
 * The times of the given window rules among the contact's activities that
 * can still count at as_of: dated after as_of minus the rule's window.
 */
static void
ActivityTimes(int64 contact_id, TimestampTz as_of, const bool *refill, TimePair **out, int *nout)
{
	ScoringCache *c = &crm_scoring;
	Relation	rel;
	Relation	idx;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData key[2];
	TimestampTz *cutoffs = palloc(sizeof(TimestampTz) * (c->nrules + 1));
	TimestampTz earliest = DT_NOEND;
	AttrNumber	a_kind,
				a_time;
	int			max = 16;
	int			i;

	for (i = 0; i < c->nrules; i++)
		if (refill[i])
		{
			cutoffs[i] = crm_scoring_cutoff(&c->rules[i], as_of);
			if (cutoffs[i] < earliest)
				earliest = cutoffs[i];
		}
	*nout = 0;
	*out = palloc(sizeof(TimePair) * max);
	rel = table_open(c->activities, AccessShareLock);
	idx = index_open(c->activities_time, AccessShareLock);
	a_kind = attnameAttNum(rel, "kind", false);
	a_time = attnameAttNum(rel, "occurred_at", false);
	if (a_kind == InvalidAttrNumber || a_time == InvalidAttrNumber)
		elog(ERROR, "crm.activities has no kind or occurred_at column");
	slot = table_slot_create(rel, NULL);
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(contact_id));
	ScanKeyInit(&key[1], 2, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(earliest));
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), 2, 0);
	index_rescan(scan, key, 2, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, a_time, &isnull);
		TimestampTz t;
		text	   *kind;
		int			klen;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		t = DatumGetTimestampTz(d);
		d = slot_getattr(slot, a_kind, &isnull);
		if (isnull)
			continue;
		kind = DatumGetTextPP(d);
		klen = VARSIZE_ANY_EXHDR(kind);
		for (i = 0; i < c->nrules; i++)
		{
			ScoringRule *r = &c->rules[i];

			if (!refill[i] || t <= cutoffs[i] || r->kind_len != klen ||
				memcmp(r->kind, VARDATA_ANY(kind), klen) != 0)
				continue;
			if (*nout == max)
			{
				max *= 2;
				*out = repalloc_huge(*out, sizeof(TimePair) * max);
			}
			(*out)[*nout].rule_id = r->id;
			(*out)[*nout].time = t;
			(*nout)++;
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	qsort(*out, *nout, sizeof(TimePair), CompareTimePairs);
}

/*
 * crm._engagement_refill(contact_id, as_of, rule_ids, rule_values,
 * window_rule_ids, window_times, removed_contacts int8[], removed_rules
 * int8[], removed_times timestamptz[]) -> crm.contact_engagement: the state
 * with the removed window events (those of this contact in the three
 * arrays, sorted by contact) taken out.  The stored times of a window rule
 * may have been pruned, so the rule's times are read again from the
 * activities; the result keeps, for every time, the larger of the two
 * counts, so that an event another transaction committed to the state but
 * this statement cannot see yet is kept.
 */
Datum
crm_engagement_refill(PG_FUNCTION_ARGS)
{
	ScoringCache *c = &crm_scoring;
	EngagementState st;
	int64		contact_id;
	ArrayType  *rc,
			   *rr,
			   *rt;
	int			nr,
				lo,
				hi,
				i,
				j,
				n;
	int64	   *rcp,
			   *rrp;
	TimestampTz *rtp;
	bool	   *refill;
	bool		any = false;
	TimePair   *cur;
	TimePair   *act;
	int			ncur = 0,
				nact = 0;

	for (i = 0; i < 9; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("engagement state must not be null")));
	crm_scoring_ensure_cache();
	contact_id = PG_GETARG_INT64(0);
	StateFromArgs(fcinfo, 1, &st, true);
	rc = PG_GETARG_ARRAYTYPE_P(6);
	rr = PG_GETARG_ARRAYTYPE_P(7);
	rt = PG_GETARG_ARRAYTYPE_P(8);
	nr = StateArrayLength(rc, INT8OID, "removed_contacts");
	if (StateArrayLength(rr, INT8OID, "removed_rules") != nr ||
		StateArrayLength(rt, TIMESTAMPTZOID, "removed_times") != nr)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("removed events arrays must have matching lengths")));
	rcp = (int64 *) ARR_DATA_PTR(rc);
	rrp = (int64 *) ARR_DATA_PTR(rr);
	rtp = (TimestampTz *) ARR_DATA_PTR(rt);
	if (!StateRulesKnown(&st))
		crm_scoring_reload_latest();

	/* this contact's removals: a binary search in the sorted contacts */
	lo = 0;
	hi = nr;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (rcp[mid] < contact_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = lo; hi < nr && rcp[hi] == contact_id; hi++)
		;

	refill = palloc0(sizeof(bool) * (c->nrules + 1));
	for (i = lo; i < hi; i++)
	{
		int			ri = crm_scoring_rule_index(rrp[i]);

		if (ri >= 0 && c->rules[ri].has_window)
			refill[ri] = any = true;
	}
	if (!any)
	{
		crm_engagement_normalize(&st);
		PG_RETURN_DATUM(HeapTupleGetDatum(crm_engagement_tuple(ResultDesc(fcinfo), contact_id, &st)));
	}

	/* the stored times of the refilled rules, less the removed ones */
	cur = palloc(sizeof(TimePair) * (st.ntimes + 1));
	for (i = 0; i < st.ntimes; i++)
	{
		int			ri = crm_scoring_rule_index(st.window_rule_ids[i]);

		if (ri >= 0 && refill[ri])
		{
			cur[ncur].rule_id = st.window_rule_ids[i];
			cur[ncur++].time = st.window_times[i];
		}
	}
	qsort(cur, ncur, sizeof(TimePair), CompareTimePairs);
	{
		TimePair   *rem = palloc(sizeof(TimePair) * (hi - lo + 1));
		int			nrem = 0;
		int			k = 0;

		for (i = lo; i < hi; i++)
		{
			rem[nrem].rule_id = rrp[i];
			rem[nrem++].time = rtp[i];
		}
		qsort(rem, nrem, sizeof(TimePair), CompareTimePairs);
		/* multiset difference of two sorted lists */
		n = 0;
		for (i = 0; i < ncur; i++)
		{
			while (k < nrem && CompareTimePairs(&rem[k], &cur[i]) < 0)
				k++;
			if (k < nrem && CompareTimePairs(&rem[k], &cur[i]) == 0)
			{
				k++;
				continue;
			}
			cur[n++] = cur[i];
		}
		ncur = n;
	}
	ActivityTimes(contact_id, st.as_of, refill, &act, &nact);

	/* rebuild the times: other rules as they were, refilled ones as the multiset maximum */
	{
		int64	   *ids = palloc(sizeof(int64) * (st.ntimes + ncur + nact + 1));
		TimestampTz *times = palloc(sizeof(TimestampTz) * (st.ntimes + ncur + nact + 1));

		n = 0;
		for (i = 0; i < st.ntimes; i++)
		{
			int			ri = crm_scoring_rule_index(st.window_rule_ids[i]);

			if (ri >= 0 && refill[ri])
				continue;
			ids[n] = st.window_rule_ids[i];
			times[n++] = st.window_times[i];
		}
		i = 0;
		j = 0;
		while (i < ncur || j < nact)
		{
			int			cmp;

			if (i >= ncur)
				cmp = 1;
			else if (j >= nact)
				cmp = -1;
			else
				cmp = CompareTimePairs(&cur[i], &act[j]);
			/* equal elements pair off: each pair is one element of the maximum */
			if (cmp <= 0)
			{
				ids[n] = cur[i].rule_id;
				times[n++] = cur[i].time;
				i++;
				if (cmp == 0)
					j++;
			}
			else
			{
				ids[n] = act[j].rule_id;
				times[n++] = act[j].time;
				j++;
			}
		}
		st.window_rule_ids = ids;
		st.window_times = times;
		st.ntimes = n;
	}
	crm_engagement_normalize(&st);
	PG_RETURN_DATUM(HeapTupleGetDatum(crm_engagement_tuple(ResultDesc(fcinfo), contact_id, &st)));
}

/*
 * Fold one event of rule ri (an index into crm_scoring.rules) at time t
 * into a state being built as of as_of, allocating in cxt.  A decaying
 * rule's event counts from min(t, as_of), as the trigger counts a future
 * event from the moment it is recorded; its points are summed per rule in
 * the order the events come.  A window rule's event time is kept as it is
 * (crm_engagement_build_tuple prunes them).  Shared by the aggregate below
 * and by the one-scan rebuild (engagement_rebuild.c), so that both compute
 * the same bits.
 */
void
crm_engagement_build_event(EngagementBuild *b, MemoryContext cxt, int ri, TimestampTz t, TimestampTz as_of)
{
	ScoringRule *r = &crm_scoring.rules[ri];
	double		v;
	int			j;

	if (r->has_window)
	{
		if (b->ntimes == b->maxtimes)
		{
			if (b->maxtimes >= INT_MAX / 2)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many window events for one contact")));
			b->maxtimes = Max(4, b->maxtimes * 2);
			b->times = b->times == NULL
				? MemoryContextAlloc(cxt, sizeof(EngagementBuildTime) * b->maxtimes)
				: repalloc_huge(b->times, sizeof(EngagementBuildTime) * b->maxtimes);
		}
		b->times[b->ntimes].rule_id = r->id;
		b->times[b->ntimes++].time = t;
		return;
	}
	v = r->has_half_life
		? crm_decayed_value_at(r->points, Min(t, as_of), r->half_life, as_of)
		: r->points;
	for (j = 0; j < b->nvalues && b->values[j].rule != ri; j++)
		;
	if (j < b->nvalues)
	{
		b->values[j].sum += v;
		return;
	}
	if (b->nvalues == b->maxvalues)
	{
		/* one entry per rule: bounded by the number of rules */
		b->maxvalues = Max(4, b->maxvalues * 2);
		b->values = b->values == NULL
			? MemoryContextAlloc(cxt, sizeof(EngagementBuildValue) * b->maxvalues)
			: repalloc(b->values, sizeof(EngagementBuildValue) * b->maxvalues);
	}
	b->values[b->nvalues].rule = ri;
	b->values[b->nvalues++].sum = v;
}

/*
 * The state built, in its stored form (normalized: sorted, window times
 * pruned), as a row of crm.contact_engagement; allocated in the current
 * memory context.
 */
HeapTuple
crm_engagement_build_tuple(TupleDesc desc, int64 contact_id, TimestampTz as_of, const EngagementBuild *b)
{
	EngagementState st;
	int			i;

	memset(&st, 0, sizeof(st));
	st.as_of = as_of;
	st.rule_ids = palloc(sizeof(int64) * (b->nvalues + 1));
	st.values = palloc(sizeof(double) * (b->nvalues + 1));
	for (i = 0; i < b->nvalues; i++)
	{
		st.rule_ids[i] = crm_scoring.rules[b->values[i].rule].id;
		st.values[i] = b->values[i].sum;
	}
	st.nvalues = b->nvalues;
	st.window_rule_ids = palloc(sizeof(int64) * (b->ntimes + 1));
	st.window_times = palloc(sizeof(TimestampTz) * (b->ntimes + 1));
	for (i = 0; i < b->ntimes; i++)
	{
		st.window_rule_ids[i] = b->times[i].rule_id;
		st.window_times[i] = b->times[i].time;
	}
	st.ntimes = b->ntimes;
	crm_engagement_normalize(&st);
	return crm_engagement_tuple(desc, contact_id, &st);
}

/*
 * crm._engagement_build(contact_id, kind, occurred_at, as_of): the
 * aggregate that rebuilds one contact's state from all its activities.
 * crm.rescore_all() now uses crm._engagement_rebuild (one scan, no
 * grouping); the aggregate stays as the reference the tests compare it
 * with, computed by the same two functions above.
 */
typedef struct BuildState
{
	uint64		generation;
	int64		contact_id;
	TimestampTz as_of;
	EngagementBuild b;
} BuildState;

static void
CheckBuildGeneration(BuildState *bs)
{
	if (bs->generation != crm_scoring_generation)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("scoring rules changed while engagement was being rebuilt"),
				 errhint("Run crm.rescore_all() again.")));
}

Datum
crm_engagement_build_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BuildState *bs;
	ScoringCache *c = &crm_scoring;
	text	   *kind;
	int			klen;
	TimestampTz t;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "crm_engagement_build_add called in non-aggregate context");
	crm_scoring_ensure_cache();
	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1) || PG_ARGISNULL(4))
			PG_RETURN_NULL();
		bs = MemoryContextAllocZero(aggcontext, sizeof(BuildState));
		bs->generation = crm_scoring_generation;
		bs->contact_id = PG_GETARG_INT64(1);
		bs->as_of = PG_GETARG_TIMESTAMPTZ(4);
	}
	else
		bs = (BuildState *) PG_GETARG_POINTER(0);
	CheckBuildGeneration(bs);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_GETARG_INT64(1) != bs->contact_id)
		PG_RETURN_POINTER(bs);
	kind = PG_GETARG_TEXT_PP(2);
	klen = VARSIZE_ANY_EXHDR(kind);
	t = PG_GETARG_TIMESTAMPTZ(3);
	for (i = 0; i < c->nrules; i++)
	{
		ScoringRule *r = &c->rules[i];

		if (!r->active || r->kind_len != klen || memcmp(r->kind, VARDATA_ANY(kind), klen) != 0)
			continue;
		crm_engagement_build_event(&bs->b, aggcontext, i, t, bs->as_of);
	}
	PG_RETURN_POINTER(bs);
}

Datum
crm_engagement_build_final(PG_FUNCTION_ARGS)
{
	BuildState *bs;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	bs = (BuildState *) PG_GETARG_POINTER(0);
	CheckBuildGeneration(bs);
	PG_RETURN_DATUM(HeapTupleGetDatum(crm_engagement_build_tuple(ResultDesc(fcinfo), bs->contact_id, bs->as_of,
																 &bs->b)));
}
