/*
 * match_prepare.c
 *	  Preparing values for the record matcher: crm.match_fold and the
 *	  finders' per-record preparation of names and phones.
 *
 * Every record of a table is prepared before it is compared (the SQL of
 * crm._match_records_sql), so a million records mean a million calls per
 * field.  Names repeat: a million contacts hold some thousands of distinct
 * given names and cities.  So the finders' folding functions remember, per
 * query (in fn_extra), what each distinct input gave, and stop remembering
 * when inputs rarely repeat or when they have seen enough of them:
 * crm._match_prepare_fold is crm.match_fold(x), crm._match_prepare_name
 * crm.match_fold(crm.normalize_name(x)) in one call.
 * crm._match_prepare_phone is the phone preparation that was two regular
 * expressions, written out.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "match.h"
#include "similarity.h"

PG_FUNCTION_INFO_V1(crm_match_fold);
PG_FUNCTION_INFO_V1(crm_match_prepare_fold);
PG_FUNCTION_INFO_V1(crm_match_prepare_name);
PG_FUNCTION_INFO_V1(crm_match_prepare_phone);

/* names.c */
extern Datum crm_normalize_name(PG_FUNCTION_ARGS);

/* At most this many distinct inputs are remembered per call site. */
#define MEMO_MAX 65536
/* After this many calls, remembering stops unless a quarter were repeats. */
#define MEMO_TRIAL 8192

/* What a call site's distinct inputs gave: out[id], NULL for a NULL result. */
typedef struct PrepMemo
{
	CrmDict		in;
	text	  **out;
	int32		outcap;
	int64		calls;
	int64		hits;
	bool		off;
} PrepMemo;

/*
 * The remembered result of input t, or NULL with *id set to where the result
 * goes (0: not remembered).
 */
static text *
MemoLookup(FunctionCallInfo fcinfo, text *t, bool *found, int32 *id)
{
	PrepMemo   *m = (PrepMemo *) fcinfo->flinfo->fn_extra;
	int32		before;

	*found = false;
	*id = 0;
	if (m == NULL)
	{
		m = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PrepMemo));
		crm_dict_init(&m->in, fcinfo->flinfo->fn_mcxt, true);
		m->outcap = 64;
		m->out = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(text *) * m->outcap);
		fcinfo->flinfo->fn_extra = m;
	}
	if (m->off)
		return NULL;
	m->calls++;
	if (m->calls == MEMO_TRIAL && m->hits * 4 < m->calls)
	{
		m->off = true;
		return NULL;
	}
	before = m->in.n;
	if (before >= MEMO_MAX)
		return NULL;
	*id = crm_dict_add(&m->in, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	if (*id < before)
	{
		m->hits++;
		*found = true;
		return m->out[*id];
	}
	return NULL;
}

static void
MemoStore(FunctionCallInfo fcinfo, int32 id, text *result)
{
	PrepMemo   *m = (PrepMemo *) fcinfo->flinfo->fn_extra;

	if (id <= 0)
		return;
	if (id >= m->outcap)
	{
		m->outcap = Min(Max(m->outcap * 2, id + 1), MEMO_MAX);
		m->out = repalloc(m->out, sizeof(text *) * m->outcap);
	}
	if (result != NULL)
	{
		text	   *copy = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE_ANY(result));

		memcpy(copy, result, VARSIZE_ANY(result));
		result = copy;
	}
	m->out[id] = result;
}

/* crm.match_fold of len bytes: a text, or NULL when nothing is left. */
static text *
Fold(const char *s, int len)
{
	char	   *f = crm_fold_bytes(s, len);

	return f[0] == '\0' ? NULL : cstring_to_text(f);
}

static Datum
ReturnText(FunctionCallInfo fcinfo, text *t)
{
	if (t == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(t);
}

/*
 * crm.match_fold(text) -> text: transliterated to ASCII, lower case,
 * punctuation turned into single spaces; NULL when nothing is left.  Not
 * remembered: its other callers (the duplicate check, an index) fold a few
 * values per query.
 */
Datum
crm_match_fold(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	return ReturnText(fcinfo, Fold(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/*
 * crm._match_prepare_fold(text) -> text: crm.match_fold(x), remembered per
 * distinct input.
 */
Datum
crm_match_prepare_fold(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	text	   *r;
	bool		found;
	int32		id;

	r = MemoLookup(fcinfo, t, &found, &id);
	if (found)
		return ReturnText(fcinfo, r);
	r = Fold(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	MemoStore(fcinfo, id, r);
	return ReturnText(fcinfo, r);
}

/*
 * crm._match_prepare_name(text) -> text: crm.match_fold(crm.normalize_name(x)),
 * remembered per distinct input.
 */
Datum
crm_match_prepare_name(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	text	   *r;
	text	   *n;
	bool		found;
	int32		id;

	r = MemoLookup(fcinfo, t, &found, &id);
	if (found)
		return ReturnText(fcinfo, r);
	n = DatumGetTextPP(DirectFunctionCall1(crm_normalize_name, PointerGetDatum(t)));
	r = Fold(VARDATA_ANY(n), VARSIZE_ANY_EXHDR(n));
	MemoStore(fcinfo, id, r);
	return ReturnText(fcinfo, r);
}

/*
 * crm._match_prepare_phone(text) -> text: "+" when the number is written
 * with a country code ("+..."), else "~", then its digits up to the first
 * letter, ';' or '#' (an extension); NULL when there are no digits.  The
 * same as
 *   NULLIF(NULLIF(CASE WHEN x LIKE '+%' THEN '+' ELSE '~' END
 *     || regexp_replace(regexp_replace(x, '[A-Za-z;#].*$', ''), '[^0-9]', '', 'g'),
 *     '+'), '~')
 * (ASCII letters and digits only, as those ranges are).
 */
Datum
crm_match_prepare_phone(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	text	   *r = (text *) palloc(VARHDRSZ + len + 1);
	char	   *o = VARDATA(r);
	int			n = 0;

	o[n++] = (len > 0 && s[0] == '+') ? '+' : '~';
	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ';' || c == '#')
			break;
		if (c >= '0' && c <= '9')
			o[n++] = c;
	}
	if (n == 1)
		PG_RETURN_NULL();
	SET_VARSIZE(r, VARHDRSZ + n);
	PG_RETURN_TEXT_P(r);
}
