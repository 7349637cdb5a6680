/*
 * match.c
 *	  The per-pair work of the Fellegi-Sunter record matcher: comparison
 *	  levels of two prepared records, their match weight under a model, the
 *	  evidence in words (match_cluster.c runs them over a whole table and
 *	  clusters the result).
 *
 * Finding duplicates scores every candidate pair that blocking yields, so
 * this is the loop that must be fast; the set logic (mappings, blocking,
 * training by expectation-maximisation, storing models) is SQL in
 * sql/install/5x_*.sql.  A record arrives as a text[] of prepared values in
 * the order of a kinds text[]; a model arrives as a float8[] of log2 Bayes
 * factors (element 1 the prior log2 odds, then each field's levels in turn).
 * Both arrays are the same for every row of a query, so their parsed form is
 * cached in fn_extra and rebuilt only when the bytes differ.
 *
 * Given names use the nickname table through crm.given_names_match(text,
 * text) when it exists; without it that level falls back to string rules.
 * A whole-table run asks names.c for each distinct given name's roots once
 * instead, and compares the roots of each pair.
 * Phones are prepared without parsing (parsing costs tens of microseconds
 * a value, most of a million-record run): "+digits" when written with a
 * country code, "~digits" otherwise.  Only pairs of "+" numbers that differ
 * but share their last six digits go to libphonenumber (the shim's
 * crm_pn_match, which never raises; a number it cannot parse gets the
 * digit rules).
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/pg_list.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include <math.h>

#include "match.h"
#include "phonenumber.h"
#include "similarity.h"

/* Level tables: order is strongest first, "other" last. */
const CrmKindInfo crm_kinds[CRM_KIND_COUNT] = {
	{"id", "ids", 0, {NULL}},
	{"given_name", "given names", 7,
	{"exact", "nickname match", "swapped with family name", "Jaro-Winkler >= 0.92",
	"Jaro-Winkler >= 0.8", "initial matches", "different"}},
	{"family_name", "family names", 5,
	{"exact", "swapped with given name", "Jaro-Winkler >= 0.92", "Jaro-Winkler >= 0.8",
	"different"}},
	{"full_name", "full names", 5,
	{"exact", "name similarity >= 0.95", "name similarity >= 0.88",
	"name similarity >= 0.75", "different"}},
	{"email", "emails", 5,
	{"exact", "canonical form equal", "same local part (without +tags)", "same digits, within three edits",
	"different"}},
	{"phone", "phones", 5,
	{"exact", "same national number", "same short national number", "one digit off",
	"different"}},
	{"company", "companies", 4,
	{"exact", "name similarity >= 0.92", "name similarity >= 0.8", "different"}},
	{"website", "websites", 2, {"same domain", "different"}},
	{"address", "addresses", 4,
	{"exact", "name similarity >= 0.9", "name similarity >= 0.75", "different"}},
	{"city", "cities", 4,
	{"exact", "Jaro-Winkler >= 0.92", "Jaro-Winkler >= 0.8", "different"}},
	{"postcode", "postcodes", 3, {"exact", "one edit apart", "different"}},
	{"region", "regions", 2, {"exact", "different"}},
	{"country", "countries", 2, {"exact", "different"}},
	{"birth_date", "birth dates", 5,
	{"exact", "day and month swapped", "one field off", "within two edits", "different"}},
	{"external_id", "external ids", 4,
	{"exact", "one edit apart", "two edits apart", "different"}},
};

int
crm_kind_lookup(const char *name)
{
	for (int k = 0; k < CRM_KIND_COUNT; k++)
		if (strcmp(crm_kinds[k].name, name) == 0)
			return k;
	return -1;
}

PG_FUNCTION_INFO_V1(crm_match_levels);
PG_FUNCTION_INFO_V1(crm_match_weight);
PG_FUNCTION_INFO_V1(crm_match_levels_weight);
PG_FUNCTION_INFO_V1(crm_match_explain);
PG_FUNCTION_INFO_V1(crm_match_kind_levels);


static bool
SameArray(ArrayType *cached, ArrayType *arg)
{
	return cached != NULL && VARSIZE(cached) == VARSIZE(arg) &&
		memcmp(cached, arg, VARSIZE(arg)) == 0;
}

static void
LookupHelpers(CrmMatchState *st, MemoryContext cxt)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Oid			fn;

	fn = LookupFuncName(list_make2(makeString("crm"), makeString("given_names_match")),
						2, argtypes, true);
	if (OidIsValid(fn) && get_func_rettype(fn) == BOOLOID)
	{
		fmgr_info_cxt(fn, &st->nick_fn, cxt);
		st->has_nick = true;
		st->cxt = cxt;
	}
	st->looked_up = true;
}

static void
ParseKinds(CrmMatchState *st, ArrayType *kinds, MemoryContext cxt)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(kinds) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("field kinds must be a one-dimensional array")));
	deconstruct_array(kinds, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	st->nfields = n;
	st->kinds = MemoryContextAlloc(cxt, sizeof(int) * Max(n, 1));
	st->offset = MemoryContextAlloc(cxt, sizeof(int) * Max(n, 1));
	st->given_idx = st->family_idx = -1;
	st->nweights = 1;
	for (int i = 0; i < n; i++)
	{
		char	   *name;
		int			k;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("field kinds must not contain nulls")));
		name = TextDatumGetCString(elems[i]);
		k = crm_kind_lookup(name);
		if (k < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized field kind \"%s\"", name),
					 errhint("Field kinds are id, given_name, family_name, full_name, email, phone, company, website, address, city, postcode, region, country, birth_date and external_id.")));
		st->kinds[i] = k;
		st->offset[i] = st->nweights;
		st->nweights += crm_kinds[k].nlevels;
		if (k == CRM_KIND_GIVEN_NAME && st->given_idx < 0)
			st->given_idx = i;
		if (k == CRM_KIND_FAMILY_NAME && st->family_idx < 0)
			st->family_idx = i;
	}
}

CrmMatchState *
crm_match_state(FunctionCallInfo fcinfo, ArrayType *kinds, ArrayType *weights)
{
	MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
	CrmMatchState *st = (CrmMatchState *) fcinfo->flinfo->fn_extra;

	if (st == NULL)
	{
		st = MemoryContextAllocZero(cxt, sizeof(CrmMatchState));
		fcinfo->flinfo->fn_extra = st;
	}
	if (!SameArray(st->kinds_raw, kinds))
	{
		if (st->kinds_raw)
		{
			pfree(st->kinds_raw);
			pfree(st->kinds);
			pfree(st->offset);
		}
		st->kinds_raw = NULL;
		ParseKinds(st, kinds, cxt);
		st->kinds_raw = MemoryContextAlloc(cxt, VARSIZE(kinds));
		memcpy(st->kinds_raw, kinds, VARSIZE(kinds));
		if (st->weights_raw)
			pfree(st->weights_raw);
		st->weights_raw = NULL;
	}
	if (weights != NULL && !SameArray(st->weights_raw, weights))
	{
		int			n;

		if (ARR_NDIM(weights) > 1 || ARR_HASNULL(weights))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model weights must be a one-dimensional array without nulls")));
		n = ArrayGetNItems(ARR_NDIM(weights), ARR_DIMS(weights));
		if (n != st->nweights)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model has %d weights, but these fields need %d", n, st->nweights),
					 errhint("Build the weights with crm.match_model_weights() for the same mapping.")));
		if (st->weights_raw)
			pfree(st->weights_raw);
		st->weights_raw = MemoryContextAlloc(cxt, VARSIZE(weights));
		memcpy(st->weights_raw, weights, VARSIZE(weights));
		st->weights = (float8 *) ARR_DATA_PTR(st->weights_raw);
	}
	if (!st->looked_up)
		LookupHelpers(st, cxt);
	return st;
}


static CrmRecordValues
GetRecord(ArrayType *arr, int nfields, const char *which)
{
	CrmRecordValues r;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("record values must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != nfields)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record %s has %d values, but %d field kinds are given", which, n, nfields)));
	r.n = n;
	r.vid = NULL;
	r.dict = NULL;
	r.mask = NULL;
	r.s = palloc(sizeof(char *) * Max(n, 1));
	r.len = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
		{
			r.s[i] = NULL;
			r.len[i] = -1;
		}
		else
		{
			text	   *t = (text *) PG_DETOAST_DATUM_PACKED(elems[i]);

			r.s[i] = VARDATA_ANY(t);
			r.len[i] = VARSIZE_ANY_EXHDR(t);
			if (r.len[i] == 0)
				r.len[i] = -1;
		}
	}
	return r;
}

static inline bool
BytesEq(const char *a, int la, const char *b, int lb)
{
	return la == lb && memcmp(a, b, la) == 0;
}

static Datum
TextDatum(const char *s, int len)
{
	return PointerGetDatum(cstring_to_text_with_len(s, len));
}

/* Call a two-text-argument helper; false/NULL when it returns null. */
static Datum
CallHelper(FmgrInfo *fn, const char *a, int la, const char *b, int lb, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		r;

	InitFunctionCallInfoData(*fcinfo, fn, 2, DEFAULT_COLLATION_OID, NULL, NULL);
	fcinfo->args[0].value = TextDatum(a, la);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = TextDatum(b, lb);
	fcinfo->args[1].isnull = false;
	r = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return r;
}

/* Do a and b hold the same digits in the same order? */
static bool
SameDigits(const char *a, int la, const char *b, int lb)
{
	int			i = 0,
				j = 0;

	for (;;)
	{
		while (i < la && !(a[i] >= '0' && a[i] <= '9'))
			i++;
		while (j < lb && !(b[j] >= '0' && b[j] <= '9'))
			j++;
		if (i == la || j == lb)
			return i == la && j == lb;
		if (a[i++] != b[j++])
			return false;
	}
}

/* Split "x\x1Fy" into its parts; y is empty when there is no separator. */
static void
SplitUnit(const char *s, int len, int *l1, const char **s2, int *l2)
{
	const char *sep = memchr(s, '\x1f', len);

	if (sep == NULL)
	{
		*l1 = len;
		*s2 = s + len;
		*l2 = 0;
	}
	else
	{
		*l1 = sep - s;
		*s2 = sep + 1;
		*l2 = len - (*l1 + 1);
	}
}

/* Copy the digits of s into buf (at least len + 1 bytes); returns count. */
static int
Digits(const char *s, int len, char *buf)
{
	int			o = 0;

	for (int i = 0; i < len; i++)
		if (s[i] >= '0' && s[i] <= '9')
			buf[o++] = s[i];
	buf[o] = '\0';
	return o;
}

static int
CompareDates(const char *a, int la, const char *b, int lb)
{
	char		bufa[64],
				bufb[64];
	char	   *da = la < 64 ? bufa : palloc(la + 1);
	char	   *db = lb < 64 ? bufb : palloc(lb + 1);
	int			na = Digits(a, la, da);
	int			nb = Digits(b, lb, db);
	int			level;

	if (na == nb && memcmp(da, db, na) == 0)
		level = 0;
	else if (na == 8 && nb == 8)
	{
		int			diff = (memcmp(da, db, 4) != 0) + (memcmp(da + 4, db + 4, 2) != 0) +
			(memcmp(da + 6, db + 6, 2) != 0);

		if (memcmp(da, db, 4) == 0 && memcmp(da + 4, db + 6, 2) == 0 &&
			memcmp(da + 6, db + 4, 2) == 0)
			level = 1;
		else if (diff == 1)
			level = 2;
		else if (crm_osa_distance_bytes(da, na, db, nb, 2) <= 2)
			level = 3;
		else
			level = 4;
	}
	else if (crm_osa_distance_bytes(da, na, db, nb, 2) <= 2)
		level = 3;
	else
		level = 4;
	if (da != bufa)
		pfree(da);
	if (db != bufb)
		pfree(db);
	return level;
}

static int
ComparePhones(const char *a, int la, const char *b, int lb)
{
	char		bufa[64],
				bufb[64];
	char	   *da = la < 64 ? bufa : palloc(la + 1);
	char	   *db = lb < 64 ? bufb : palloc(lb + 1);
	int			na = Digits(a, la, da);
	int			nb = Digits(b, lb, db);
	int			level = -1;

	if (na == 0 || nb == 0)
		level = CRM_LEVEL_MISSING;
	else if (na == nb && memcmp(da, db, na) == 0)
		level = 0;
	else if (a[0] == '+' && b[0] == '+')
	{
		/*
		 * Both written with a country code.  Numbers whose last six digits
		 * differ cannot share a national number, so libphonenumber is asked
		 * only about the others; a text it cannot parse gets the digit
		 * rules below.
		 */
		if (na >= 6 && nb >= 6 && memcmp(da + na - 6, db + nb - 6, 6) == 0)
		{
			CrmPnMatch	m;
			int			which;

			if (crm_pn_match(a, la, b, lb, &m, &which) == CRM_PN_OK)
				level = m == CRM_PN_MATCH_EXACT ? 0 : m == CRM_PN_MATCH_NSN ? 1 :
					m == CRM_PN_MATCH_SHORT_NSN ? 2 : 4;
		}
	}
	if (level == -1)
	{
		if (na >= 9 && nb >= 9 && memcmp(da + na - 9, db + nb - 9, 9) == 0)
			level = 1;
		else if (na >= 7 && nb >= 7 && memcmp(da + na - 7, db + nb - 7, 7) == 0)
			level = 2;
	}
	if (level == -1 || level == 4)
		level = (crm_osa_distance_bytes(da, na, db, nb, 1) <= 1) ? 3 : 4;
	if (da != bufa)
		pfree(da);
	if (db != bufb)
		pfree(db);
	return level;
}

/*
 * crm.given_names_match(a, b), remembered for the query: it folds and keys
 * both names on every call, and a table holds few distinct given names, so
 * the same pairs come back again and again.  Names of up to NICK_CACHE_LEN
 * bytes are remembered, at most NICK_CACHE_MAX pairs.
 */
#define NICK_CACHE_LEN 30
#define NICK_CACHE_MAX 200000

typedef struct NickKey
{
	char		a[NICK_CACHE_LEN + 1];
	char		b[NICK_CACHE_LEN + 1];
} NickKey;

typedef struct NickEntry
{
	NickKey		key;
	bool		match;
} NickEntry;

static bool
NicknamesMatch(CrmMatchState *st, const char *a, int la, const char *b, int lb,
			   int32 ida, int32 idb)
{
	NickKey		key;
	NickEntry  *e = NULL;
	bool		found = false;
	bool		isnull;
	Datum		r;

	/*
	 * In a whole-table run (match_cluster.c) each distinct given name's roots
	 * are known: the names match when their sorted root lists meet.
	 */
	if (st->nick_roots != NULL && ida > 0 && idb > 0)
	{
		const int32 *pa = &st->nick_roots->pool[st->nick_roots->off[ida]];
		const int32 *ea = &st->nick_roots->pool[st->nick_roots->off[ida + 1]];
		const int32 *pb = &st->nick_roots->pool[st->nick_roots->off[idb]];
		const int32 *eb = &st->nick_roots->pool[st->nick_roots->off[idb + 1]];

		while (pa < ea && pb < eb)
		{
			if (*pa == *pb)
				return true;
			if (*pa < *pb)
				pa++;
			else
				pb++;
		}
		return false;
	}
	if (la <= NICK_CACHE_LEN && lb <= NICK_CACHE_LEN)
	{
		if (st->nick_cache == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(NickKey);
			ctl.entrysize = sizeof(NickEntry);
			ctl.hcxt = st->cxt;
			st->nick_cache = hash_create("crm nickname pairs", 1024, &ctl,
										 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		memset(&key, 0, sizeof(key));
		memcpy(key.a, a, la);
		memcpy(key.b, b, lb);
		if (hash_get_num_entries(st->nick_cache) < NICK_CACHE_MAX)
			e = hash_search(st->nick_cache, &key, HASH_ENTER, &found);
		else
			e = hash_search(st->nick_cache, &key, HASH_FIND, &found);
		if (found)
			return e->match;
	}
	r = CallHelper(&st->nick_fn, a, la, b, lb, &isnull);
	if (e != NULL)
		e->match = !isnull && DatumGetBool(r);
	return !isnull && DatumGetBool(r);
}

/*
 * crm_jaro_winkler_at_least of field fa of record ra and field fb of rb,
 * first ruled out by the values' character masks when the records have
 * them (the same answer, without reading the strings).
 */
static inline double
JwAtLeast(const CrmRecordValues *ra, int fa, const char *a, int la,
		  const CrmRecordValues *rb, int fb, const char *b, int lb, double floor)
{
	if (ra->mask != NULL && rb->mask != NULL && ra->mask[fa] != NULL && rb->mask[fb] != NULL &&
		crm_jaro_winkler_ruled_out(ra->mask[fa][ra->vid[fa]], la, rb->mask[fb][rb->vid[fb]], lb, floor))
		return 0.0;
	return crm_jaro_winkler_at_least(a, la, b, lb, floor);
}

/* Comparison level of field f of records a and b. */
int
crm_match_compare_field(CrmMatchState *st, int f, const CrmRecordValues *ra, const CrmRecordValues *rb)
{
	int			la,
				lb;
	const char *a = crm_record_value(ra, f, &la);
	const char *b = crm_record_value(rb, f, &lb);
	int			kind = st->kinds[f];
	bool		byid = ra->vid != NULL && rb->vid != NULL;
	double		s;

	if (kind == CRM_KIND_ID || la < 0 || lb < 0)
		return CRM_LEVEL_MISSING;

	/*
	 * The same value is the strongest level of every kind but phone (where
	 * a value without digits counts as missing).
	 */
	if (byid && ra->vid[f] == rb->vid[f] && kind != CRM_KIND_PHONE)
		return 0;

	switch (kind)
	{
		case CRM_KIND_GIVEN_NAME:
		case CRM_KIND_FAMILY_NAME:
			{
				int			other = (kind == CRM_KIND_GIVEN_NAME) ? st->family_idx : st->given_idx;
				int			base;
				const char *ao = NULL,
						   *bo = NULL;
				int			lao = -1,
							lbo = -1;

				if (BytesEq(a, la, b, lb))
					return 0;
				base = (kind == CRM_KIND_GIVEN_NAME) ? 2 : 1;
				if (kind == CRM_KIND_GIVEN_NAME && st->has_nick &&
					NicknamesMatch(st, a, la, b, lb, byid ? ra->vid[f] : 0, byid ? rb->vid[f] : 0))
					return 1;
				if (other >= 0)
				{
					ao = crm_record_value(ra, other, &lao);
					bo = crm_record_value(rb, other, &lbo);
				}
				if (lao > 0 && lbo > 0 &&
					JwAtLeast(ra, f, a, la, rb, other, bo, lbo, 0.92) >= 0.92 &&
					JwAtLeast(ra, other, ao, lao, rb, f, b, lb, 0.92) >= 0.92)
					return base;
				s = JwAtLeast(ra, f, a, la, rb, f, b, lb, 0.8);
				if (s >= 0.92)
					return base + 1;
				if (s >= 0.8)
					return base + 2;
				if (kind == CRM_KIND_GIVEN_NAME && (la == 1 || lb == 1) && a[0] == b[0])
					return 5;
				return crm_kinds[kind].nlevels - 1;
			}
		case CRM_KIND_FULL_NAME:
			if (BytesEq(a, la, b, lb))
				return 0;
			s = crm_name_similarity_bytes(a, la, b, lb);
			return s >= 0.95 ? 1 : s >= 0.88 ? 2 : s >= 0.75 ? 3 : 4;
		case CRM_KIND_COMPANY:
			if (BytesEq(a, la, b, lb))
				return 0;
			s = crm_name_similarity_bytes(a, la, b, lb);
			return s >= 0.92 ? 1 : s >= 0.8 ? 2 : 3;
		case CRM_KIND_ADDRESS:
			if (BytesEq(a, la, b, lb))
				return 0;
			s = crm_name_similarity_bytes(a, la, b, lb);
			return s >= 0.9 ? 1 : s >= 0.75 ? 2 : 3;
		case CRM_KIND_EMAIL:
			{
				int			la1,
							lb1,
							la2,
							lb2;
				const char *a2,
						   *b2;
				const char *ata,
						   *atb;

				SplitUnit(a, la, &la1, &a2, &la2);
				SplitUnit(b, lb, &lb1, &b2, &lb2);
				if (BytesEq(a, la1, b, lb1))
					return 0;
				if (la2 > 0 && lb2 > 0 && BytesEq(a2, la2, b2, lb2))
					return 1;
				ata = memchr(a, '@', la1);
				atb = memchr(b, '@', lb1);
				/* The local parts, without a "+tag" on either side. */
				if (ata && atb && ata > a && atb > b)
				{
					const char *pa = memchr(a, '+', ata - a);
					const char *pb = memchr(b, '+', atb - b);
					int			na = (pa ? pa : ata) - a;
					int			nb = (pb ? pb : atb) - b;

					if (na > 0 && BytesEq(a, na, b, nb))
						return 2;
				}
				/*
				 * A typo: at most three edits apart, and the same digits in
				 * the same order.  Not Jaro-Winkler: local parts are mostly
				 * built from the person's name, which the name fields already
				 * weigh, so two strangers of one name (john.smith12@gmail.com,
				 * john.smith57@yahoo.com) would look alike here too and be
				 * counted twice; and a changed number (a year, a counter) is
				 * another mailbox, not a slip of the keyboard.
				 */
				if (SameDigits(a, la1, b, lb1) && !crm_char_counts_differ(a, la1, b, lb1, 6) &&
					crm_osa_distance_bytes(a, la1, b, lb1, 3) <= 3)
					return 3;
				return 4;
			}
		case CRM_KIND_PHONE:
			return ComparePhones(a, la, b, lb);
		case CRM_KIND_CITY:
			if (BytesEq(a, la, b, lb))
				return 0;
			s = JwAtLeast(ra, f, a, la, rb, f, b, lb, 0.8);
			return s >= 0.92 ? 1 : s >= 0.8 ? 2 : 3;
		case CRM_KIND_POSTCODE:
			if (BytesEq(a, la, b, lb))
				return 0;
			return crm_osa_distance_bytes(a, la, b, lb, 1) <= 1 ? 1 : 2;
		case CRM_KIND_WEBSITE:
		case CRM_KIND_REGION:
		case CRM_KIND_COUNTRY:
			return BytesEq(a, la, b, lb) ? 0 : 1;
		case CRM_KIND_BIRTH_DATE:
			return CompareDates(a, la, b, lb);
		case CRM_KIND_EXTERNAL_ID:
			{
				int			d;

				if (BytesEq(a, la, b, lb))
					return 0;
				d = crm_osa_distance_bytes(a, la, b, lb, 2);
				return d <= 1 ? 1 : d <= 2 ? 2 : 3;
			}
	}
	elog(ERROR, "unexpected field kind %d", kind);
	return CRM_LEVEL_MISSING;	/* keep compiler quiet */
}

static void
CompareRecords(FunctionCallInfo fcinfo, bool with_weights, CrmMatchState **stp, int **levelsp,
			   CrmRecordValues *ra, CrmRecordValues *rb)
{
	ArrayType  *kinds = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(2);
	CrmMatchState *st = crm_match_state(fcinfo, kinds, with_weights ? PG_GETARG_ARRAYTYPE_P(3) : NULL);
	int		   *levels = palloc(sizeof(int) * Max(st->nfields, 1));

	*ra = GetRecord(a, st->nfields, "a");
	*rb = GetRecord(b, st->nfields, "b");
	for (int f = 0; f < st->nfields; f++)
		levels[f] = crm_match_compare_field(st, f, ra, rb);
	*stp = st;
	*levelsp = levels;
}

/*
 * crm.match_levels(kinds text[], a text[], b text[]) -> int2[]
 */
Datum
crm_match_levels(PG_FUNCTION_ARGS)
{
	CrmMatchState *st;
	int		   *levels;
	CrmRecordValues ra,
				rb;
	Datum	   *d;

	CompareRecords(fcinfo, false, &st, &levels, &ra, &rb);
	d = palloc(sizeof(Datum) * Max(st->nfields, 1));
	for (int f = 0; f < st->nfields; f++)
		d[f] = Int16GetDatum((int16) levels[f]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, st->nfields, INT2OID, 2, true, TYPALIGN_SHORT));
}

/*
 * crm.match_weight(kinds text[], a text[], b text[], weights float8[]) -> float8:
 * the total log2 odds that a and b are the same entity.
 */
Datum
crm_match_weight(PG_FUNCTION_ARGS)
{
	CrmMatchState *st;
	int		   *levels;
	CrmRecordValues ra,
				rb;
	double		w;

	CompareRecords(fcinfo, true, &st, &levels, &ra, &rb);
	w = st->weights[0];
	for (int f = 0; f < st->nfields; f++)
		if (levels[f] >= 0)
			w += st->weights[st->offset[f] + levels[f]];
	PG_RETURN_FLOAT8(w);
}

/*
 * crm.match_levels_weight(kinds text[], levels int2[], weights float8[]) -> float8:
 * the weight of an already computed comparison vector (used by training).
 */
Datum
crm_match_levels_weight(PG_FUNCTION_ARGS)
{
	ArrayType  *kinds = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *lv = PG_GETARG_ARRAYTYPE_P(1);
	CrmMatchState *st = crm_match_state(fcinfo, kinds, PG_GETARG_ARRAYTYPE_P(2));
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	double		w;

	deconstruct_array(lv, INT2OID, 2, true, TYPALIGN_SHORT, &elems, &nulls, &n);
	if (n != st->nfields || ARR_NDIM(lv) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("comparison vector has %d levels, but %d field kinds are given",
						n, st->nfields)));
	w = st->weights[0];
	for (int f = 0; f < n; f++)
	{
		int			l;

		if (nulls[f])
			continue;
		l = DatumGetInt16(elems[f]);
		if (l < 0)
			continue;
		if (l >= crm_kinds[st->kinds[f]].nlevels)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("level %d is out of range for field kind \"%s\"",
							l, crm_kinds[st->kinds[f]].name)));
		w += st->weights[st->offset[f] + l];
	}
	PG_RETURN_FLOAT8(w);
}

static void
AppendQuoted(StringInfo buf, const char *s, int len)
{
	char	   *c = pnstrdup(s, len);

	escape_json(buf, c);
	pfree(c);
}

/* The readable part of a prepared value (the email before its canonical form). */
static int
ShownLength(int kind, const char *s, int len)
{
	if (kind == CRM_KIND_EMAIL)
	{
		const char *sep = memchr(s, '\x1f', len);

		if (sep)
			return sep - s;
	}
	return len;
}

/*
 * crm.match_explain(kinds text[], a text[], b text[], weights float8[]) -> jsonb:
 * each field's level and weight, in words.
 */
Datum
crm_match_explain(PG_FUNCTION_ARGS)
{
	CrmMatchState *st;
	int		   *levels;
	CrmRecordValues ra,
				rb;
	StringInfoData buf;
	StringInfoData line;
	double		w;
	bool		first = true;

	CompareRecords(fcinfo, true, &st, &levels, &ra, &rb);
	w = st->weights[0];
	for (int f = 0; f < st->nfields; f++)
		if (levels[f] >= 0)
			w += st->weights[st->offset[f] + levels[f]];

	initStringInfo(&buf);
	initStringInfo(&line);
	appendStringInfo(&buf, "{\"probability\": %.6f, \"weight\": %.2f, \"prior_weight\": %.2f, \"fields\": [",
					 1.0 / (1.0 + pow(2.0, -w)), w, st->weights[0]);
	for (int f = 0; f < st->nfields; f++)
	{
		int			kind = st->kinds[f];
		const CrmKindInfo *ki = &crm_kinds[kind];
		double		fw;

		if (kind == CRM_KIND_ID)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		appendStringInfo(&buf, "{\"field\": \"%s\", ", ki->name);
		resetStringInfo(&line);
		if (levels[f] < 0)
		{
			appendStringInfo(&line, "%s: missing on %s, +0.0", ki->label,
							 (ra.len[f] < 0 && rb.len[f] < 0) ? "both" : "one side");
			appendStringInfoString(&buf, "\"level\": \"missing\", \"weight\": 0, \"text\": ");
			escape_json(&buf, line.data);
			appendStringInfoChar(&buf, '}');
			continue;
		}
		fw = st->weights[st->offset[f] + levels[f]];
		appendStringInfo(&line, "%s: %s (%.*s ~ %.*s), %+.1f", ki->label, ki->levels[levels[f]],
						 ShownLength(kind, ra.s[f], ra.len[f]), ra.s[f],
						 ShownLength(kind, rb.s[f], rb.len[f]), rb.s[f], fw);
		appendStringInfoString(&buf, "\"level\": ");
		escape_json(&buf, ki->levels[levels[f]]);
		appendStringInfo(&buf, ", \"weight\": %.2f, \"a\": ", fw);
		AppendQuoted(&buf, ra.s[f], ShownLength(kind, ra.s[f], ra.len[f]));
		appendStringInfoString(&buf, ", \"b\": ");
		AppendQuoted(&buf, rb.s[f], ShownLength(kind, rb.s[f], rb.len[f]));
		appendStringInfoString(&buf, ", \"text\": ");
		escape_json(&buf, line.data);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * crm.match_kind_levels(kind text) -> text[]: the level names of a kind.
 */
Datum
crm_match_kind_levels(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			k = crm_kind_lookup(name);
	Datum		d[CRM_MAX_LEVELS];

	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized field kind \"%s\"", name),
				 errhint("Field kinds are id, given_name, family_name, full_name, email, phone, company, website, address, city, postcode, region, country, birth_date and external_id.")));
	for (int i = 0; i < crm_kinds[k].nlevels; i++)
		d[i] = CStringGetTextDatum(crm_kinds[k].levels[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, crm_kinds[k].nlevels, TEXTOID, -1, false, TYPALIGN_INT));
}
