/*
 * decay.c
 *	  Exponential decay arithmetic for lead scoring and data health.
 *
 * Engagement scores halve every half-life and field values go stale at a
 * constant annual rate, so both come down to value * 2^(-t/h) and
 * (1 - r)^years.  These run once per stored state row or per contact field
 * in every set-based query (current scores for all contacts, record health
 * for all contacts, rescoring), so they are small C functions rather than
 * SQL expressions: PostgreSQL only inlines SQL functions under conditions
 * that a STRICT or multiply-referenced parameter silently breaks, and a
 * non-inlined SQL call costs microseconds.  The arithmetic also needs care
 * that SQL's power() does not take: it raises an error on underflow, while
 * a score a thousand half-lives old is simply zero.
 *
 * Intervals convert to seconds as date_part('epoch', interval) does (a
 * month is 30 days, a day 24 hours), which keeps every function immutable.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "decay.h"

PG_FUNCTION_INFO_V1(crm_decay_factor);
PG_FUNCTION_INFO_V1(crm_decayed_value);
PG_FUNCTION_INFO_V1(crm_decay_confidence);
PG_FUNCTION_INFO_V1(crm_clamp_points);

/* Seconds in an interval, months counted as 30 days. */
double
crm_interval_seconds(const Interval *span)
{
	return (double) span->time / USECS_PER_SEC
		+ (double) span->day * SECS_PER_DAY
		+ (double) span->month * DAYS_PER_MONTH * SECS_PER_DAY;
}

/*
 * 2^(-elapsed / half_life), 1 when no time has passed (or it runs
 * backwards), 0 beyond a thousand half-lives, where the double would
 * underflow anyway.  NaN for a half-life that is not positive.
 */
double
crm_decay_factor_seconds(double elapsed, double half_life)
{
	double		x;

	if (!(half_life > 0))
		return get_float8_nan();
	if (!(elapsed > 0))
		return 1.0;
	x = elapsed / half_life;
	if (x > 1000.0)
		return 0.0;
	return exp2(-x);
}

static double
TimestampDiffSeconds(TimestampTz later, TimestampTz earlier)
{
	/* as doubles: no int64 overflow between -infinity and infinity */
	return ((double) later - (double) earlier) / USECS_PER_SEC;
}

static void
CheckHalfLife(double seconds)
{
	if (!(seconds > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("half-life must be positive"),
				 errhint("Give an interval such as '30 days'.")));
}

/*
 * crm.decay_factor(elapsed interval, half_life interval) -> float8
 */
Datum
crm_decay_factor(PG_FUNCTION_ARGS)
{
	Interval   *elapsed = PG_GETARG_INTERVAL_P(0);
	Interval   *half_life = PG_GETARG_INTERVAL_P(1);
	double		h = crm_interval_seconds(half_life);

	CheckHalfLife(h);
	PG_RETURN_FLOAT8(crm_decay_factor_seconds(crm_interval_seconds(elapsed), h));
}

/*
 * value stored at value_as_of, decayed with a half-life of half_life
 * seconds (> 0) to as_of.  Shared with the scoring trigger (scoring.c), so
 * that the trigger and the SQL functions agree to the last bit.
 */
double
crm_decayed_value_at(double value, TimestampTz value_as_of, double half_life, TimestampTz as_of)
{
	if (TIMESTAMP_NOT_FINITE(value_as_of) || TIMESTAMP_NOT_FINITE(as_of))
	{
		/* from -infinity, or to +infinity: everything has decayed */
		return as_of > value_as_of ? 0.0 : value;
	}
	return value * crm_decay_factor_seconds(TimestampDiffSeconds(as_of, value_as_of), half_life);
}

/*
 * crm.decayed_value(value float8, value_as_of timestamptz, half_life
 * interval, as_of timestamptz) -> float8
 *
 * Not strict: a null half-life means "no decay", and a null time leaves the
 * value as it is.  Never grows a value when as_of is before value_as_of.
 */
Datum
crm_decayed_value(PG_FUNCTION_ARGS)
{
	double		value;
	double		h;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	value = PG_GETARG_FLOAT8(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_FLOAT8(value);
	h = crm_interval_seconds(PG_GETARG_INTERVAL_P(2));
	CheckHalfLife(h);
	PG_RETURN_FLOAT8(crm_decayed_value_at(value, PG_GETARG_TIMESTAMPTZ(1), h, PG_GETARG_TIMESTAMPTZ(3)));
}

/*
 * crm.decay_confidence(annual_decay float8, verified_at timestamptz, as_of
 * timestamptz) -> float8: (1 - r) ^ years.  Null for a rate outside
 * [0, 1), so a bad configuration row shows as unknown, not as certainty.
 */
Datum
crm_decay_confidence(PG_FUNCTION_ARGS)
{
	double		result;

	if (!crm_decay_confidence_at(PG_GETARG_FLOAT8(0), PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2),
								 &result))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(result);
}

/*
 * The arithmetic of crm.decay_confidence, shared with record health
 * (health.c) so that both agree to the last bit.  Returns false (SQL null)
 * for a rate outside [0, 1).
 */
bool
crm_decay_confidence_at(double rate, TimestampTz verified_at, TimestampTz as_of, double *result)
{
	return crm_decay_confidence_prepared(rate, log1p(-rate), verified_at, as_of, result);
}

/*
 * The same with log1p(-rate) given, for callers that apply one rate to
 * many values.
 */
bool
crm_decay_confidence_prepared(double rate, double log_keep, TimestampTz verified_at, TimestampTz as_of,
							  double *result)
{
	double		years;
	double		exponent;

	if (!(rate >= 0 && rate < 1))
		return false;
	if (as_of <= verified_at || rate == 0)
		*result = 1.0;
	else if (TIMESTAMP_NOT_FINITE(verified_at) || TIMESTAMP_NOT_FINITE(as_of))
		*result = 0.0;
	else
	{
		years = TimestampDiffSeconds(as_of, verified_at) / CRM_DECAY_YEAR_SECONDS;
		exponent = log_keep * years;
		*result = exponent < -700.0 ? 0.0 : exp(exponent);
	}
	return true;
}

/*
 * crm.clamp_points(total float8, min_points float8, max_points float8):
 * total (null counts as 0) clamped to the bounds; null bounds are open.
 */
Datum
crm_clamp_points(PG_FUNCTION_ARGS)
{
	double		total = PG_ARGISNULL(0) ? 0.0 : PG_GETARG_FLOAT8(0);

	if (!PG_ARGISNULL(2) && total > PG_GETARG_FLOAT8(2))
		total = PG_GETARG_FLOAT8(2);
	if (!PG_ARGISNULL(1) && total < PG_GETARG_FLOAT8(1))
		total = PG_GETARG_FLOAT8(1);
	PG_RETURN_FLOAT8(total);
}
