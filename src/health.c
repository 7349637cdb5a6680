/*
 * health.c
 *	  Record health: the per-contact parts of crm.contact_health, the
 *	  duplicate-suspicion pre-pass, the email-twin probe of one contact and
 *	  the placeholder test.
 *
 * The view scores every contact the caller may see, so whatever it does
 * per row is multiplied by a million in a real CRM.  Three pieces live here
 * for that reason:
 *
 * crm._contact_health() computes one contact's parts (six field
 * confidences, their weighted mean, completeness, validity, uniqueness and
 * the blended health) in one call.  Written in SQL the same arithmetic was
 * some sixty expression steps per row, each a function call, and rounding
 * five float8 results to numeric went through printf and numeric_in each
 * time.  The arithmetic here is the SQL definition's, step by step and in
 * the same order, so the floats are bit-identical (test/health_parts.sql
 * compares it with the SQL definition kept in that test).  The view rounds
 * only the columns a query reads, with crm._health_round(), which takes a
 * fast path that is provably equal to round(x::numeric, s) and falls back
 * to exactly that expression near a tie.
 *
 * crm._health_duplicate_candidates() is an aggregate over the contacts
 * that hashes each contact's email (with the email type's own hash
 * support, so equal emails hash equally) and its name at a company
 * (account, lower(family name), lower(given name)) and returns the ids
 * whose hash is shared: a superset of the suspected duplicates, usually
 * tiny.  The view then checks only those few rows exactly, with lower()
 * and the email type's equality, so a hash collision can cost time but
 * never change a result.  Grouping a million names by their lower-cased
 * text took a sort of a million wide rows; this is one pass and lookups
 * of 16-byte keys in tables small enough to stay in cache.  Lower-casing
 * for the hash takes an ASCII shortcut only after checking once per query
 * that the collation lower-cases every ASCII character as ASCII does (it
 * does not in a Turkish locale, for one); any other string goes through
 * str_tolower(), as lower() does.
 *
 * crm._health_mailbox_twin() decides the email half of one contact's
 * duplicate suspicion for crm.record_health(), which scores a single
 * contact without the pass above: whether another contact the caller may
 * see has the same email.  Under row-level security PostgreSQL cannot use
 * the email index for that question (the email type's equality is not
 * LEAKPROOF, so the caller's policies must be checked on every row first),
 * so it reads the index itself and then asks, as the caller, which of the
 * few ids found are visible (see the function for why that reveals nothing).
 *
 * crm._placeholder_text() is the placeholder test ("test", "n/a", "asdf",
 * "xxx" ... as a whole name or title).  It was a case-insensitive regular
 * expression with a dozen alternatives, the most expensive expression of
 * the view; here it is a scan of the bytes.
 *
 * A value is a placeholder when it is one or more tokens separated by
 * white space, each token one of (case-insensitive):
 *   test, asdf followed by any word characters, n/a, na, none, unknown,
 *   xxx (three or more x), dummy, foo, bar, one or more "?", one or more
 *   "-", one or more ".".
 * Word characters are ASCII letters, digits, "_" and every non-ASCII byte
 * (letters of other scripts).  Empty or blank values are not placeholders
 * (they are incomplete, which the completeness part counts).
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "decay.h"

PG_FUNCTION_INFO_V1(crm_placeholder_text);
PG_FUNCTION_INFO_V1(crm_contact_health);
PG_FUNCTION_INFO_V1(crm_health_round);
PG_FUNCTION_INFO_V1(crm_health_duplicate_step);
PG_FUNCTION_INFO_V1(crm_health_duplicate_final);
PG_FUNCTION_INFO_V1(crm_health_mailbox_twin);

static inline bool
IsSpace(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline bool
IsWordChar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c >= 0x80;
}

static inline unsigned char
Lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool
TokenIs(const unsigned char *t, int len, const char *word)
{
	int			i;

	if ((int) strlen(word) != len)
		return false;
	for (i = 0; i < len; i++)
		if (Lower(t[i]) != (unsigned char) word[i])
			return false;
	return true;
}

static bool
AllSame(const unsigned char *t, int len, unsigned char c, int min)
{
	int			i;

	if (len < min)
		return false;
	for (i = 0; i < len; i++)
		if (Lower(t[i]) != c)
			return false;
	return true;
}

static bool
PlaceholderToken(const unsigned char *t, int len)
{
	int			i;

	if (len >= 4 && TokenIs(t, 4, "asdf"))
	{
		for (i = 4; i < len; i++)
			if (!IsWordChar(t[i]))
				return false;
		return true;
	}
	return TokenIs(t, len, "test") || TokenIs(t, len, "n/a") || TokenIs(t, len, "na") ||
		TokenIs(t, len, "none") || TokenIs(t, len, "unknown") || TokenIs(t, len, "dummy") ||
		TokenIs(t, len, "foo") || TokenIs(t, len, "bar") ||
		AllSame(t, len, 'x', 3) || AllSame(t, len, '?', 1) ||
		AllSame(t, len, '-', 1) || AllSame(t, len, '.', 1);
}

/*
 * Scan one string's tokens: false as soon as one is not a placeholder word,
 * else true, adding the number of tokens to *tokens.
 */
static bool
PlaceholderTokens(const unsigned char *s, int len, int *tokens)
{
	int			i = 0;

	while (i < len)
	{
		int			start;

		while (i < len && IsSpace(s[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && !IsSpace(s[i]))
			i++;
		if (!PlaceholderToken(s + start, i - start))
			return false;
		(*tokens)++;
	}
	return true;
}

/*
 * crm._placeholder_text(value text) -> boolean
 */
Datum
crm_placeholder_text(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	int			tokens = 0;

	if (!PlaceholderTokens((const unsigned char *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), &tokens))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(tokens > 0);
}

/* Record health of one contact */

/* The decaying fields of a contact, in the order of the settings array. */
enum
{
	HF_EMAIL,
	HF_PHONE,
	HF_TITLE,
	HF_FUNCTION,
	HF_ACCOUNT,
	HF_ADDRESS,
	HF_COUNT
};

/* The fields crm.health_settings.required_fields may name, as bits. */
static const char *const RequiredNames[] = {
	"given_name", "family_name", "email", "phone", "title", "job_function",
	"account", "country", "city", "postcode", "lead_source"
};

enum
{
	RQ_GIVEN_NAME = 1 << 0,
	RQ_FAMILY_NAME = 1 << 1,
	RQ_EMAIL = 1 << 2,
	RQ_PHONE = 1 << 3,
	RQ_TITLE = 1 << 4,
	RQ_JOB_FUNCTION = 1 << 5,
	RQ_ACCOUNT = 1 << 6,
	RQ_COUNTRY = 1 << 7,
	RQ_CITY = 1 << 8,
	RQ_POSTCODE = 1 << 9,
	RQ_LEAD_SOURCE = 1 << 10
};

/* Arguments of crm._contact_health, in order. */
enum
{
	HA_RATES,					/* float8[12]: six rates, then six weights */
	HA_PART_WEIGHTS,			/* float8[4]: confidence, completeness,
								 * validity, uniqueness */
	HA_REQUIRED,				/* text[]: required fields */
	HA_DUPLICATES,				/* bigint[]: suspected duplicates, sorted */
	HA_AS_OF,
	HA_ID,
	HA_GIVEN_NAME,
	HA_FAMILY_NAME,
	HA_EMAIL,
	HA_PHONE,
	HA_TITLE,
	HA_JOB_FUNCTION,
	HA_ACCOUNT_ID,
	HA_COUNTRY,
	HA_CITY,
	HA_REGION,
	HA_POSTCODE,
	HA_LEAD_SOURCE,
	HA_EMAIL_VERIFIED_AT,
	HA_PHONE_VERIFIED_AT,
	HA_TITLE_VERIFIED_AT,
	HA_JOB_FUNCTION_VERIFIED_AT,
	HA_ACCOUNT_VERIFIED_AT,
	HA_ADDRESS_VERIFIED_AT,
	HA_CREATED_AT,
	HA_BOUNCED_AT,
	HA_LEFT_COMPANY_AT,
	HA_DISPOSABLE,
	HA_NARGS
};

/* Result columns of crm._contact_health. */
enum
{
	HR_HEALTH,
	HR_CONFIDENCE,
	HR_COMPLETENESS,
	HR_VALIDITY,
	HR_UNIQUENESS,
	HR_FIELD,					/* HF_COUNT field confidences follow */
	HR_NCOLS = HR_FIELD + HF_COUNT
};

/*
 * The settings decoded once per query and kept in fn_extra, with copies of
 * the arrays they came from: each call compares its arguments with the
 * copies (a few hundred bytes), so a changed argument is never served from
 * a stale cache.
 */
typedef struct HealthCache
{
	struct varlena *rates_raw;
	struct varlena *parts_raw;
	struct varlena *required_raw;
	double		rate[HF_COUNT];
	double		log_keep[HF_COUNT]; /* log1p(-rate), once per query */
	bool		rate_null[HF_COUNT];
	double		weight[HF_COUNT];
	bool		weight_null[HF_COUNT];
	double		part_weight[4];
	int			required;
	int			n_required;
	TupleDesc	tupdesc;
} HealthCache;

static bool
SameVarlena(const struct varlena *a, const struct varlena *b)
{
	return a != NULL && VARSIZE_ANY(a) == VARSIZE_ANY(b) && memcmp(a, b, VARSIZE_ANY(a)) == 0;
}

static struct varlena *
CopyVarlena(MemoryContext cxt, const struct varlena *v)
{
	struct varlena *copy = MemoryContextAlloc(cxt, VARSIZE_ANY(v));

	memcpy(copy, v, VARSIZE_ANY(v));
	return copy;
}

static void
DecodeFloats(ArrayType *a, int n, double *values, bool *nulls, const char *what)
{
	Datum	   *d;
	bool	   *dn;
	int			count;
	int			i;

	if (ARR_ELEMTYPE(a) != FLOAT8OID)
		elog(ERROR, "%s must be float8[]", what);
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &dn, &count);
	if (count != n)
		elog(ERROR, "%s must have %d elements, not %d", what, n, count);
	for (i = 0; i < n; i++)
	{
		nulls[i] = dn[i];
		values[i] = dn[i] ? 0.0 : DatumGetFloat8(d[i]);
	}
	pfree(d);
	pfree(dn);
}

static void
DecodeSettings(HealthCache *hc, MemoryContext cxt, struct varlena *rates, struct varlena *parts,
			   struct varlena *required)
{
	double		both[2 * HF_COUNT];
	bool		both_null[2 * HF_COUNT];
	bool		parts_null[4];
	ArrayType  *req;
	Datum	   *d;
	bool	   *dn;
	int			count;
	int			i,
				j;

	DecodeFloats(DatumGetArrayTypeP(PointerGetDatum(rates)), 2 * HF_COUNT, both, both_null, "rates");
	for (i = 0; i < HF_COUNT; i++)
	{
		hc->rate[i] = both[i];
		hc->log_keep[i] = log1p(-both[i]);
		hc->rate_null[i] = both_null[i];
		hc->weight[i] = both[HF_COUNT + i];
		hc->weight_null[i] = both_null[HF_COUNT + i];
	}
	DecodeFloats(DatumGetArrayTypeP(PointerGetDatum(parts)), 4, hc->part_weight, parts_null, "part weights");
	for (i = 0; i < 4; i++)
		if (parts_null[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("record-health part weights cannot be null")));

	req = DatumGetArrayTypeP(PointerGetDatum(required));
	if (ARR_ELEMTYPE(req) != TEXTOID)
		elog(ERROR, "required fields must be text[]");
	/* cardinality(), as the SQL definition divides by */
	hc->n_required = ArrayGetNItems(ARR_NDIM(req), ARR_DIMS(req));
	if (hc->n_required == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DIVISION_BY_ZERO),
				 errmsg("division by zero"),
				 errdetail("crm.health_settings.required_fields is empty.")));
	deconstruct_array(req, TEXTOID, -1, false, TYPALIGN_INT, &d, &dn, &count);
	hc->required = 0;
	for (i = 0; i < count; i++)
	{
		if (dn[i])
			continue;
		for (j = 0; j < (int) lengthof(RequiredNames); j++)
		{
			text	   *t = DatumGetTextPP(d[i]);

			if (VARSIZE_ANY_EXHDR(t) == strlen(RequiredNames[j]) &&
				memcmp(VARDATA_ANY(t), RequiredNames[j], VARSIZE_ANY_EXHDR(t)) == 0)
				hc->required |= 1 << j;
		}
	}

	if (hc->rates_raw)
		pfree(hc->rates_raw);
	if (hc->parts_raw)
		pfree(hc->parts_raw);
	if (hc->required_raw)
		pfree(hc->required_raw);
	hc->rates_raw = CopyVarlena(cxt, rates);
	hc->parts_raw = CopyVarlena(cxt, parts);
	hc->required_raw = CopyVarlena(cxt, required);
}

/* Whether a sorted bigint[] without nulls contains id. */
static bool
SortedIdsContain(ArrayType *ids, int64 id)
{
	const int64 *v;
	int			lo = 0;
	int			hi;

	if (ARR_ELEMTYPE(ids) != INT8OID || ARR_HASNULL(ids))
		elog(ERROR, "duplicate ids must be a bigint[] without nulls");
	v = (const int64 *) ARR_DATA_PTR(ids);
	hi = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids)) - 1;
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (v[mid] == id)
			return true;
		if (v[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* Filled as the completeness part counts a name or title: not all spaces. */
static bool
Filled(FunctionCallInfo fcinfo, int arg)
{
	text	   *t;
	const char *s;
	int			len;
	int			i;

	if (PG_ARGISNULL(arg))
		return false;
	t = PG_GETARG_TEXT_PP(arg);
	s = VARDATA_ANY(t);
	len = VARSIZE_ANY_EXHDR(t);
	/* btrim(x) <> '': btrim() strips spaces only */
	for (i = 0; i < len; i++)
		if (s[i] != ' ')
			return true;
	return false;
}

/*
 * One field's confidence, as crm._field_confidence did: zero when an
 * invalidating event is at or after the (last) verification, else the
 * decay model, null when the rate or the time is unknown.
 */
static bool
FieldConfidence(const HealthCache *hc, int field, bool v_null, TimestampTz v, bool inv_null,
				TimestampTz inv, bool as_of_null, TimestampTz as_of, double *result)
{
	if (!inv_null && !v_null && inv >= v)
	{
		*result = 0.0;
		return true;
	}
	if (hc->rate_null[field] || v_null || as_of_null)
		return false;
	return crm_decay_confidence_prepared(hc->rate[field], hc->log_keep[field], v, as_of, result);
}

/*
 * round(x::numeric, scale), 0 <= scale <= 4, without printing x.
 *
 * x::numeric is x printed to 15 significant digits (float8_numeric), so it
 * is within half a unit of the 15th digit of x; while |x * 10^scale| <
 * 1e6 that is under 5e-10 after scaling, and the double product x * 10^scale
 * is itself within 2e-10 of the exact one.  So unless the scaled value is
 * within 1e-6 of a tie (k + 0.5), the numeric and the double round to the
 * same integer k, and the answer is k / 10^scale with scale decimals.
 * Near a tie, and for large or non-finite values, the SQL expression
 * itself computes it.
 */
static Datum
RoundToNumeric(double x, int scale)
{
	static const double pow10[] = {1.0, 10.0, 100.0, 1000.0, 10000.0};
	double		t;

	Assert(scale >= 0 && scale < (int) lengthof(pow10));
	t = x * pow10[scale];
	if (isfinite(t) && fabs(t) < 1e6)
	{
		double		fl = floor(t);
		double		frac = t - fl;

		if (fabs(frac - 0.5) > 1e-6)
			return NumericGetDatum(int64_div_fast_to_numeric((int64) fl + (frac > 0.5 ? 1 : 0), scale));
	}
	return DirectFunctionCall2(numeric_round, DirectFunctionCall1(float8_numeric, Float8GetDatum(x)),
							   Int32GetDatum(scale));
}

/*
 * crm._health_round(x float8, scale int) -> numeric: round(x::numeric,
 * scale) by the path above (for tests; scale 0 to 4).
 */
Datum
crm_health_round(PG_FUNCTION_ARGS)
{
	int32		scale = PG_GETARG_INT32(1);

	if (scale < 0 || scale > 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scale must be between 0 and 4")));
	PG_RETURN_DATUM(RoundToNumeric(PG_GETARG_FLOAT8(0), scale));
}

#define ARG_TS(n) (PG_ARGISNULL(n) ? 0 : PG_GETARG_TIMESTAMPTZ(n))

/*
 * crm._contact_health(rates, part_weights, required_fields, duplicates,
 * as_of, <contact columns>, bounced_at, left_company_at, disposable) ->
 * (health, confidence, completeness, validity, uniqueness, six field
 * confidences): the parts of crm.contact_health for one contact, before
 * the view rounds them.  Each
 * step is the SQL definition's (see 65_health.sql), in the same order and
 * with the same null rules.
 */
Datum
crm_contact_health(PG_FUNCTION_ARGS)
{
	HealthCache *hc = (HealthCache *) fcinfo->flinfo->fn_extra;
	struct varlena *rates,
			   *parts,
			   *required;
	Datum		values[HR_NCOLS];
	bool		nulls[HR_NCOLS];
	double		conf[HF_COUNT];
	bool		conf_null[HF_COUNT];
	bool		as_of_null = PG_ARGISNULL(HA_AS_OF);
	TimestampTz as_of = ARG_TS(HA_AS_OF);
	bool		created_null = PG_ARGISNULL(HA_CREATED_AT);
	TimestampTz created = ARG_TS(HA_CREATED_AT);
	bool		bounced_null = PG_ARGISNULL(HA_BOUNCED_AT);
	TimestampTz bounced = ARG_TS(HA_BOUNCED_AT);
	bool		left_null = PG_ARGISNULL(HA_LEFT_COMPANY_AT);
	TimestampTz left = ARG_TS(HA_LEFT_COMPANY_AT);
	bool		email_inv_null;
	TimestampTz email_inv;
	bool		v_null;
	TimestampTz v;
	static const int verified_arg[HF_COUNT] = {
		HA_EMAIL_VERIFIED_AT, HA_PHONE_VERIFIED_AT, HA_TITLE_VERIFIED_AT,
		HA_JOB_FUNCTION_VERIFIED_AT, HA_ACCOUNT_VERIFIED_AT, HA_ADDRESS_VERIFIED_AT
	};
	bool		present[HF_COUNT];
	double		numerator;
	double		denominator;
	bool		denominator_null;
	bool		confidence_null;
	double		confidence = 0.0;
	int			filled;
	double		completeness;
	int			invalid;
	double		validity;
	double		uniqueness;
	double		blended;
	double		health;
	int			i;
	HeapTuple	tuple;

	if (PG_ARGISNULL(HA_RATES) || PG_ARGISNULL(HA_PART_WEIGHTS) || PG_ARGISNULL(HA_REQUIRED) ||
		PG_ARGISNULL(HA_DUPLICATES))
		PG_RETURN_NULL();
	rates = PG_GETARG_RAW_VARLENA_P(HA_RATES);
	parts = PG_GETARG_RAW_VARLENA_P(HA_PART_WEIGHTS);
	required = PG_GETARG_RAW_VARLENA_P(HA_REQUIRED);

	if (hc == NULL)
	{
		TupleDesc	tupdesc;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		hc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(HealthCache));
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		hc->tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
		if (hc->tupdesc->natts != HR_NCOLS)
			elog(ERROR, "return type must have %d columns", HR_NCOLS);
		/* a library newer or older than the SQL declaration must not crash */
		for (i = 0; i < HR_NCOLS; i++)
			if (TupleDescAttr(hc->tupdesc, i)->atttypid != FLOAT8OID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("installed SQL objects do not match the crm library"),
						 errdetail("The library computes record health as float8 columns; the installed function declares other types."),
						 errhint("Run ALTER EXTENSION crm UPDATE, or reinstall the extension.")));
		fcinfo->flinfo->fn_extra = hc;
	}
	if (!SameVarlena(hc->rates_raw, rates) || !SameVarlena(hc->parts_raw, parts) ||
		!SameVarlena(hc->required_raw, required))
		DecodeSettings(hc, fcinfo->flinfo->fn_mcxt, rates, parts, required);

	/* field confidences */
	present[HF_EMAIL] = !PG_ARGISNULL(HA_EMAIL);
	present[HF_PHONE] = !PG_ARGISNULL(HA_PHONE);
	present[HF_TITLE] = !PG_ARGISNULL(HA_TITLE);
	present[HF_FUNCTION] = !PG_ARGISNULL(HA_JOB_FUNCTION);
	present[HF_ACCOUNT] = !PG_ARGISNULL(HA_ACCOUNT_ID);
	present[HF_ADDRESS] = !PG_ARGISNULL(HA_CITY) || !PG_ARGISNULL(HA_POSTCODE) || !PG_ARGISNULL(HA_REGION);
	/* GREATEST(bounced, left) ignores nulls */
	email_inv_null = bounced_null && left_null;
	email_inv = bounced_null ? left : left_null ? bounced : Max(bounced, left);
	for (i = 0; i < HF_COUNT; i++)
	{
		conf_null[i] = true;
		conf[i] = 0.0;
		if (!present[i])
			continue;
		/* COALESCE(field_verified_at, created_at) */
		v_null = PG_ARGISNULL(verified_arg[i]) && created_null;
		v = PG_ARGISNULL(verified_arg[i]) ? created : PG_GETARG_TIMESTAMPTZ(verified_arg[i]);
		if (i == HF_EMAIL)
			conf_null[i] = !FieldConfidence(hc, i, v_null, v, email_inv_null, email_inv, as_of_null, as_of,
											&conf[i]);
		else if (i == HF_ADDRESS)
			conf_null[i] = !FieldConfidence(hc, i, v_null, v, true, 0, as_of_null, as_of, &conf[i]);
		else
			conf_null[i] = !FieldConfidence(hc, i, v_null, v, left_null, left, as_of_null, as_of, &conf[i]);
	}

	/*
	 * confidence: sum of COALESCE(c * w, 0) over the fields, divided by
	 * NULLIF(sum of CASE WHEN c IS NOT NULL THEN w ELSE 0 END, 0); a null
	 * weight of a field with a confidence makes the sum null.
	 */
	numerator = 0.0;
	denominator = 0.0;
	denominator_null = false;
	for (i = 0; i < HF_COUNT; i++)
	{
		double		term = (conf_null[i] || hc->weight_null[i]) ? 0.0 : conf[i] * hc->weight[i];

		numerator = i == 0 ? term : numerator + term;
		if (conf_null[i])
			denominator = i == 0 ? 0.0 : denominator + 0.0;
		else if (hc->weight_null[i])
			denominator_null = true;
		else
			denominator = i == 0 ? hc->weight[i] : denominator + hc->weight[i];
	}
	confidence_null = denominator_null || denominator == 0.0;
	if (!confidence_null)
		confidence = numerator / denominator;

	/* completeness: required fields filled, over cardinality(required) */
	filled = 0;
	if ((hc->required & RQ_GIVEN_NAME) && Filled(fcinfo, HA_GIVEN_NAME))
		filled++;
	if ((hc->required & RQ_FAMILY_NAME) && Filled(fcinfo, HA_FAMILY_NAME))
		filled++;
	if ((hc->required & RQ_EMAIL) && !PG_ARGISNULL(HA_EMAIL))
		filled++;
	if ((hc->required & RQ_PHONE) && !PG_ARGISNULL(HA_PHONE))
		filled++;
	if ((hc->required & RQ_TITLE) && Filled(fcinfo, HA_TITLE))
		filled++;
	if ((hc->required & RQ_JOB_FUNCTION) && !PG_ARGISNULL(HA_JOB_FUNCTION))
		filled++;
	if ((hc->required & RQ_ACCOUNT) && !PG_ARGISNULL(HA_ACCOUNT_ID))
		filled++;
	if ((hc->required & RQ_COUNTRY) && !PG_ARGISNULL(HA_COUNTRY))
		filled++;
	if ((hc->required & RQ_CITY) && !PG_ARGISNULL(HA_CITY))
		filled++;
	if ((hc->required & RQ_POSTCODE) && !PG_ARGISNULL(HA_POSTCODE))
		filled++;
	if ((hc->required & RQ_LEAD_SOURCE) && !PG_ARGISNULL(HA_LEAD_SOURCE))
		filled++;
	completeness = (double) filled / (double) hc->n_required;

	/*
	 * validity: 1 - (checks failed) / 3.  The SQL divides the integer by the
	 * numeric 3.0 and converts to float8, which for 0 to 3 gives exactly the
	 * correctly rounded k / 3.0 computed here.
	 */
	invalid = 0;
	v_null = PG_ARGISNULL(HA_EMAIL_VERIFIED_AT) && created_null;
	v = PG_ARGISNULL(HA_EMAIL_VERIFIED_AT) ? created : PG_GETARG_TIMESTAMPTZ(HA_EMAIL_VERIFIED_AT);
	if (!bounced_null && !v_null && bounced >= v)
		invalid++;
	if (!PG_ARGISNULL(HA_DISPOSABLE) && PG_GETARG_BOOL(HA_DISPOSABLE))
		invalid++;
	{
		/* placeholder test of concat_ws(' ', given, family, title) */
		static const int text_arg[] = {HA_GIVEN_NAME, HA_FAMILY_NAME, HA_TITLE};
		int			tokens = 0;
		bool		all = true;

		for (i = 0; i < (int) lengthof(text_arg) && all; i++)
		{
			text	   *t;

			if (PG_ARGISNULL(text_arg[i]))
				continue;
			t = PG_GETARG_TEXT_PP(text_arg[i]);
			all = PlaceholderTokens((const unsigned char *) VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &tokens);
		}
		if (all && tokens > 0)
			invalid++;
	}
	validity = 1.0 - (double) invalid / 3.0;

	/* uniqueness */
	uniqueness = (!PG_ARGISNULL(HA_ID) &&
				  SortedIdsContain(PG_GETARG_ARRAYTYPE_P(HA_DUPLICATES), PG_GETARG_INT64(HA_ID))) ? 0.0 : 1.0;

	/*
	 * health: 100 * (weighted parts) / (sum of the weights), each sum left to
	 * right as in SQL
	 */
	blended = hc->part_weight[0] * (confidence_null ? 0.0 : confidence);
	blended = blended + hc->part_weight[1] * completeness;
	blended = blended + hc->part_weight[2] * validity;
	blended = blended + hc->part_weight[3] * uniqueness;
	health = (100.0 * blended) /
		(((hc->part_weight[0] + hc->part_weight[1]) + hc->part_weight[2]) + hc->part_weight[3]);

	/*
	 * Unrounded: the view rounds only the columns a query uses, with
	 * crm._health_round()
	 */
	memset(nulls, 0, sizeof(nulls));
	values[HR_HEALTH] = Float8GetDatum(health);
	if (confidence_null)
		nulls[HR_CONFIDENCE] = true;
	else
		values[HR_CONFIDENCE] = Float8GetDatum(confidence);
	values[HR_COMPLETENESS] = Float8GetDatum(completeness);
	values[HR_VALIDITY] = Float8GetDatum(validity);
	values[HR_UNIQUENESS] = Float8GetDatum(uniqueness);
	for (i = 0; i < HF_COUNT; i++)
	{
		nulls[HR_FIELD + i] = conf_null[i];
		values[HR_FIELD + i] = Float8GetDatum(conf[i]);
	}
	tuple = heap_form_tuple(hc->tupdesc, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/* Duplicate suspicion: candidates by hash */

typedef struct DupKey
{
	uint64		hash;
	int64		id;
} DupKey;

#define ST_SORT sort_ids
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Keys in chunks: appending never copies what is stored.  (Parallel
 * workers each hashing a share was measured slower: their states, 16 bytes
 * a key, are copied through the tuple queue several times over.)
 */
#define DUP_CHUNK 65536

typedef struct DupChunk
{
	DupKey	   *k;
	int			used;
} DupChunk;

typedef struct DupKeys
{
	DupChunk   *chunk;
	int			nchunks;
	int			maxchunks;
	Size		n;
} DupKeys;

typedef struct DupState
{
	MemoryContext cxt;
	DupKeys		email;
	DupKeys		name;
	FmgrInfo	email_hash;
	bool		email_hash_extended;
	Oid			collation;
	bool		ascii_simple;
} DupState;

/* Room for one more chunk entry. */
static void
GrowChunks(DupState *st, DupKeys *keys)
{
	int			maxchunks;

	if (keys->nchunks < keys->maxchunks)
		return;
	maxchunks = keys->maxchunks == 0 ? 16 : keys->maxchunks * 2;
	if ((Size) maxchunks > MaxAllocSize / sizeof(DupChunk))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many contacts to check for duplicates")));
	keys->chunk = keys->chunk == NULL
		? MemoryContextAlloc(st->cxt, maxchunks * sizeof(DupChunk))
		: repalloc(keys->chunk, maxchunks * sizeof(DupChunk));
	keys->maxchunks = maxchunks;
}

/* A new, empty chunk at the end. */
static DupChunk *
NewChunk(DupState *st, DupKeys *keys)
{
	DupChunk   *c;

	GrowChunks(st, keys);
	c = &keys->chunk[keys->nchunks++];
	c->k = MemoryContextAlloc(st->cxt, DUP_CHUNK * sizeof(DupKey));
	c->used = 0;
	return c;
}

static void
AddKey(DupState *st, DupKeys *keys, uint64 hash, int64 id)
{
	DupChunk   *c = keys->nchunks == 0 ? NULL : &keys->chunk[keys->nchunks - 1];

	if (c == NULL || c->used == DUP_CHUNK)
		c = NewChunk(st, keys);
	c->k[c->used].hash = hash;
	c->k[c->used].id = id;
	c->used++;
	keys->n++;
}

#define FNV_OFFSET UINT64CONST(0xcbf29ce484222325)
#define FNV_PRIME UINT64CONST(0x100000001b3)

static inline uint64
HashBytes(uint64 h, const unsigned char *s, Size len)
{
	Size		i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * FNV_PRIME;
	return h;
}

/*
 * Hash of lower(value) under the collation: ASCII folded in place when the
 * collation is known to lower-case ASCII as ASCII, anything else through
 * str_tolower() as lower() does.
 */
static uint64
HashLower(DupState *st, uint64 h, text *value)
{
	const unsigned char *s = (const unsigned char *) VARDATA_ANY(value);
	Size		len = VARSIZE_ANY_EXHDR(value);
	Size		i;
	uint64		fast = h;
	char	   *lowered;

	if (st->ascii_simple)
	{
		for (i = 0; i < len; i++)
		{
			unsigned char c = s[i];

			if (c >= 0x80)
				break;
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			fast = (fast ^ c) * FNV_PRIME;
		}
		if (i == len)
			return fast;
	}
	lowered = str_tolower((const char *) s, len, st->collation);
	h = HashBytes(h, (const unsigned char *) lowered, strlen(lowered));
	pfree(lowered);
	return h;
}

/* Whether lower() under the collation maps every ASCII character as ASCII. */
static bool
AsciiLowersSimply(Oid collation)
{
	char		ascii[127];
	char	   *lowered;
	bool		simple;
	int			i;

	for (i = 0; i < 127; i++)
		ascii[i] = (char) (i + 1);
	lowered = str_tolower(ascii, sizeof(ascii), collation);
	simple = strlen(lowered) == sizeof(ascii);
	for (i = 0; simple && i < 127; i++)
	{
		char		c = ascii[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		simple = lowered[i] == c;
	}
	pfree(lowered);
	return simple;
}

static inline uint64
Mix64(uint64 h)
{
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/*
 * crm._health_duplicate_step(state internal, id bigint, email crm.email,
 * account_id bigint, family_name text, given_name text) -> internal
 */
Datum
crm_health_duplicate_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	DupState   *st;
	int64		id;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "crm_health_duplicate_step called in non-aggregate context");
	if (PG_ARGISNULL(0))
	{
		Oid			email_type = get_fn_expr_argtype(fcinfo->flinfo, 2);
		TypeCacheEntry *tc;

		st = MemoryContextAllocZero(aggcxt, sizeof(DupState));
		st->cxt = aggcxt;
		if (!OidIsValid(email_type))
			elog(ERROR, "could not determine the email argument's type");
		tc = lookup_type_cache(email_type, TYPECACHE_HASH_EXTENDED_PROC_FINFO | TYPECACHE_HASH_PROC_FINFO);
		if (OidIsValid(tc->hash_extended_proc_finfo.fn_oid))
		{
			fmgr_info_copy(&st->email_hash, &tc->hash_extended_proc_finfo, aggcxt);
			st->email_hash_extended = true;
		}
		else if (OidIsValid(tc->hash_proc_finfo.fn_oid))
			fmgr_info_copy(&st->email_hash, &tc->hash_proc_finfo, aggcxt);
		else
			elog(ERROR, "type %s has no hash function", format_type_be(email_type));
		/* lower() of the names uses their collation */
		st->collation = OidIsValid(PG_GET_COLLATION()) ? PG_GET_COLLATION() : DEFAULT_COLLATION_OID;
		st->ascii_simple = AsciiLowersSimply(st->collation);
	}
	else
		st = (DupState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	id = PG_GETARG_INT64(1);

	if (!PG_ARGISNULL(2))
	{
		uint64		h;

		if (st->email_hash_extended)
			h = DatumGetUInt64(FunctionCall2Coll(&st->email_hash, InvalidOid, PG_GETARG_DATUM(2),
												 Int64GetDatum(0)));
		else
			h = DatumGetUInt32(FunctionCall1Coll(&st->email_hash, InvalidOid, PG_GETARG_DATUM(2)));
		AddKey(st, &st->email, Mix64(h), id);
	}
	/* the name at a company: account, lower(family), lower(given or '') */
	if (!PG_ARGISNULL(3) && !PG_ARGISNULL(4))
	{
		uint64		h = HashLower(st, FNV_OFFSET, PG_GETARG_TEXT_PP(4));

		/* a separator that no UTF-8 text contains */
		h = (h ^ 0xFF) * FNV_PRIME;
		if (!PG_ARGISNULL(5))
			h = HashLower(st, h, PG_GETARG_TEXT_PP(5));
		h = Mix64(h ^ Mix64((uint64) PG_GETARG_INT64(3)));
		AddKey(st, &st->name, h, id);
	}
	PG_RETURN_POINTER(st);
}

/*
 * Append the ids of the keys whose hash occurs more than once.  The keys
 * are first scattered by the top bits of their hash into partitions small
 * enough that each one's table stays in the processor's cache (a single
 * table for a million keys is mostly cache misses).  Within a partition, an
 * open addressing set of the hashes, at most half full: each slot holds a
 * hash with its low bit set (0 is an empty slot) and bit 1 marking a hash
 * seen twice.  Dropping two bits of the hash can only add candidates.
 */
#define DUP_PARTITION_BITS 8
#define DUP_PARTITIONS (1 << DUP_PARTITION_BITS)

static inline int
DupPartition(uint64 hash)
{
	return (int) (hash >> (64 - DUP_PARTITION_BITS));
}

static void
CollectShared(DupKeys *keys, int64 **ids, Size *n, Size *cap)
{
	Size		start[DUP_PARTITIONS + 1];
	Size		fill[DUP_PARTITIONS];
	DupKey	   *part;
	uint64	   *slot;
	Size		largest = 0;
	Size		size;
	int			c,
				j,
				p;

	if (keys->n < 2)
		return;
	if (keys->n > MaxAllocHugeSize / sizeof(DupKey))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many contacts to check for duplicates")));

	/* scatter by partition */
	memset(fill, 0, sizeof(fill));
	for (c = 0; c < keys->nchunks; c++)
		for (j = 0; j < keys->chunk[c].used; j++)
			fill[DupPartition(keys->chunk[c].k[j].hash)]++;
	start[0] = 0;
	for (p = 0; p < DUP_PARTITIONS; p++)
	{
		start[p + 1] = start[p] + fill[p];
		largest = Max(largest, fill[p]);
		fill[p] = start[p];
	}
	part = palloc_extended(keys->n * sizeof(DupKey), MCXT_ALLOC_HUGE);
	for (c = 0; c < keys->nchunks; c++)
		for (j = 0; j < keys->chunk[c].used; j++)
		{
			const DupKey *k = &keys->chunk[c].k[j];

			part[fill[DupPartition(k->hash)]++] = *k;
		}

	size = 16;
	while (size < largest * 2)
		size *= 2;
	slot = palloc_extended(size * sizeof(uint64), MCXT_ALLOC_HUGE);
	for (p = 0; p < DUP_PARTITIONS; p++)
	{
		Size		psize = 16;
		Size		mask;
		Size		i;
		int			pass;

		if (start[p + 1] - start[p] < 2)
			continue;
		while (psize < (start[p + 1] - start[p]) * 2)
			psize *= 2;
		mask = psize - 1;
		memset(slot, 0, psize * sizeof(uint64));
		for (pass = 0; pass < 2; pass++)
		{
			for (i = start[p]; i < start[p + 1]; i++)
			{
				const DupKey *k = &part[i];
				uint64		tag = (k->hash & ~UINT64CONST(3)) | 1;
				Size		at = (Size) k->hash & mask;

				while (slot[at] != 0 && (slot[at] | 2) != (tag | 2))
					at = (at + 1) & mask;
				if (pass == 0)
					slot[at] = slot[at] == 0 ? tag : (slot[at] | 2);
				else if (slot[at] & 2)
				{
					if (*n == *cap)
					{
						*cap = *cap == 0 ? 256 : *cap * 2;
						*ids = *ids == NULL ? palloc_extended(*cap * sizeof(int64), MCXT_ALLOC_HUGE)
							: repalloc_huge(*ids, *cap * sizeof(int64));
					}
					(*ids)[(*n)++] = k->id;
				}
			}
		}
	}
	pfree(slot);
	pfree(part);
}

/*
 * crm._health_duplicate_final(state internal) -> bigint[]: the ids that
 * share an email hash or a name hash with another contact, sorted, each
 * once.
 */
Datum
crm_health_duplicate_final(PG_FUNCTION_ARGS)
{
	DupState   *st = PG_ARGISNULL(0) ? NULL : (DupState *) PG_GETARG_POINTER(0);
	int64	   *ids = NULL;
	Size		n = 0;
	Size		cap = 0;
	Size		i,
				out;
	Datum	   *elems;
	ArrayType  *result;

	if (st != NULL)
	{
		CollectShared(&st->email, &ids, &n, &cap);
		CollectShared(&st->name, &ids, &n, &cap);
	}
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(INT8OID));
	sort_ids(ids, n);
	out = 0;
	for (i = 0; i < n; i++)
		if (out == 0 || ids[out - 1] != ids[i])
			ids[out++] = ids[i];
	if (out > (Size) MaxAllocSize / sizeof(Datum))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many suspected duplicates")));
	elems = palloc(out * sizeof(Datum));
	for (i = 0; i < out; i++)
		elems[i] = Int64GetDatum(ids[i]);
	result = construct_array(elems, (int) out, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(elems);
	pfree(ids);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* Duplicate suspicion of one contact: another visible contact, same email */

/*
 * The btree index of crm.contacts on (email) alone, under the email type's
 * default operator family, or InvalidOid.  Looked up on every call (a walk
 * over the table's few indexes in the relcache), so a dropped or rebuilt
 * index is never used stale.
 */
static Oid
EmailIndex(Relation rel, AttrNumber email_att, Oid btree_opf)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = idx->rd_index;

		if (idx->rd_rel->relam == BTREE_AM_OID && form->indnkeyatts == 1 &&
			form->indkey.values[0] == email_att && form->indisvalid && form->indisready &&
			RelationGetIndexExpressions(idx) == NIL && RelationGetIndexPredicate(idx) == NIL &&
			idx->rd_opfamily[0] == btree_opf)
			found = RelationGetRelid(idx);
		index_close(idx, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	list_free(indexes);
	return found;
}

/*
 * crm._health_mailbox_twin(contact_id bigint, email crm.email) -> boolean:
 * whether a contact other than contact_id that the caller may see has an
 * email equal (crm.=) to the given one.
 *
 * crm.record_health() asks this for one contact.  The plain query (EXISTS
 * over crm.contacts WHERE email = $2 AND id <> $1) cannot use the email
 * index for anyone under row-level security: the email type's equality is
 * not LEAKPROOF, so PostgreSQL must apply the policies first, which scans
 * the caller's whole slice (every contact, for an admin: 0.1 s a call at a
 * million).  So this reads the index itself, for the ids of the contacts
 * with that email under the query's snapshot, and then asks, as the caller
 * and so under the caller's policies, whether any of those ids other than
 * contact_id is visible (SELECT EXISTS ... WHERE id = ANY ($1), an index
 * probe by primary key).  The answer is what the plain query gives: it
 * tells the caller nothing they could not find by reading the contacts they
 * may see, and the caller needs the SELECT privilege on the table (checked
 * first, so a caller without it learns nothing, not even "no twin").
 * Without a usable email index it runs the plain query.
 */
Datum
crm_health_mailbox_twin(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr visible_plan = NULL;
	static SPIPlanPtr plain_plan = NULL;
	static Oid	plain_plan_type = InvalidOid;
	int64		self = PG_GETARG_INT64(0);
	Datum		email = PG_GETARG_DATUM(1);
	Oid			email_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	Oid			relid;
	Relation	rel;
	AttrNumber	id_att,
				email_att;
	TypeCacheEntry *tc;
	Oid			index_oid;
	int64	   *ids = NULL;
	int			nids = 0;
	int			cap = 0;
	bool		result = false;
	int			ret;

	relid = get_relname_relid("contacts", get_namespace_oid("crm", false));
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"crm.contacts\" does not exist")));
	id_att = get_attnum(relid, "id");
	email_att = get_attnum(relid, "email");
	if (id_att == InvalidAttrNumber || email_att == InvalidAttrNumber || !OidIsValid(email_type) ||
		get_atttype(relid, email_att) != email_type || get_atttype(relid, id_att) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("installed SQL objects do not match the crm library"),
				 errdetail("crm.contacts must have the columns id bigint and email crm.email."),
				 errhint("Run ALTER EXTENSION crm UPDATE, or reinstall the extension.")));

	/* the caller must be allowed to read the two columns, as the query would */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		(pg_attribute_aclcheck(relid, id_att, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		 pg_attribute_aclcheck(relid, email_att, GetUserId(), ACL_SELECT) != ACLCHECK_OK))
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "contacts");

	rel = table_open(relid, AccessShareLock);
	tc = lookup_type_cache(email_type, TYPECACHE_BTREE_OPFAMILY | TYPECACHE_EQ_OPR_FINFO);
	index_oid = OidIsValid(tc->btree_opf) && OidIsValid(tc->eq_opr_finfo.fn_oid) ?
		EmailIndex(rel, email_att, tc->btree_opf) : InvalidOid;
	if (OidIsValid(index_oid))
	{
		Relation	idx = index_open(index_oid, AccessShareLock);
		IndexScanDesc scan;
		ScanKeyData key;
		TupleTableSlot *slot = table_slot_create(rel, NULL);

		ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, email_type, InvalidOid,
							   tc->eq_opr_finfo.fn_oid, email);
		scan = index_beginscan(rel, idx, ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot(),
							   1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		id = slot_getattr(slot, id_att, &isnull);

			if (isnull || DatumGetInt64(id) == self)
				continue;
			if (nids == cap)
			{
				cap = cap == 0 ? 8 : cap * 2;
				ids = ids == NULL ? palloc(sizeof(int64) * cap) : repalloc(ids, sizeof(int64) * cap);
			}
			ids[nids++] = DatumGetInt64(id);
			CHECK_FOR_INTERRUPTS();
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(idx, NoLock);
	}
	table_close(rel, NoLock);

	/*
	 * Which of them the caller may see, or the plain query without an
	 * index.  The check runs even when the index found no other contact, so
	 * that how long a call takes does not tell whether contacts the caller
	 * cannot see have this email (beyond a few heap fetches).
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (OidIsValid(index_oid))
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(nids, 1));
		Datum		values[1];

		if (visible_plan == NULL)
		{
			Oid			argtypes[1] = {INT8ARRAYOID};
			SPIPlanPtr	plan = SPI_prepare("SELECT EXISTS (SELECT FROM crm.contacts c WHERE c.id = ANY ($1))",
										   1, argtypes);

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "SPI_keepplan failed");
			visible_plan = plan;
		}
		for (int i = 0; i < nids; i++)
			elems[i] = Int64GetDatum(ids[i]);
		values[0] = PointerGetDatum(construct_array(elems, nids, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
													TYPALIGN_DOUBLE));
		ret = SPI_execute_plan(visible_plan, values, NULL, true, 1);
	}
	else
	{
		Datum		values[2];

		/* prepared for the email type of this installation */
		if (plain_plan != NULL && plain_plan_type != email_type)
		{
			SPI_freeplan(plain_plan);
			plain_plan = NULL;
		}
		if (plain_plan == NULL)
		{
			Oid			argtypes[2] = {INT8OID, email_type};
			SPIPlanPtr	plan = SPI_prepare("SELECT EXISTS (SELECT FROM crm.contacts c "
										   "WHERE c.email OPERATOR(crm.=) $2 AND c.id <> $1)",
										   2, argtypes);

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "SPI_keepplan failed");
			plain_plan = plan;
			plain_plan_type = email_type;
		}
		values[0] = Int64GetDatum(self);
		values[1] = email;
		ret = SPI_execute_plan(plain_plan, values, NULL, true, 1);
	}
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "SPI_execute_plan returned %s", SPI_result_code_string(ret));
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		result = !isnull && DatumGetBool(d);
	}
	SPI_finish();
	PG_RETURN_BOOL(result);
}
