/*
 * names.c
 *	  SQL functions for personal names: crm.normalize_name, crm.name_parts,
 *	  crm.given_name_key and crm.given_names_match.
 *
 * The parsing lives in the backend-free name_fold.c and name_parse.c; this
 * file converts between text and UTF-8, turns a failed status into an
 * ereport, and keeps the nickname table in memory.
 *
 * The dedupe engine calls crm.given_names_match() once per candidate pair,
 * so it must not run a query per call.  Each backend loads crm.nicknames
 * once into a hash table from folded name to its sorted "roots": the formal
 * names it may stand for ("al" -> alan, albert, alfred, ...), plus itself
 * when it is a formal name.  Two names match when they are equal or share a
 * root.  The copy is kept until the table changes: a statement trigger on
 * crm.nicknames sends a relcache invalidation for the table (delivered to
 * every backend at commit, and to this one at the next command), and the
 * relcache callback registered here marks the copy stale.  A generation
 * counter, not a flag, is compared, so an invalidation that arrives while
 * the table is being read forces another load.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "names.h"

/* Longest folded name the nickname cache holds (longer ones never match). */
#define NICK_KEYLEN 128

typedef struct NickEntry
{
	char		name[NICK_KEYLEN];	/* hash key: folded name */
	bool		formal;			/* appears as a formal name */
	int			degree;			/* rows with this as the name */
	char	   *key;			/* what crm.given_name_key returns */
	int			nroots;
	int			maxroots;
	char	  **roots;			/* sorted, distinct; set when finalized */
	int			nnear;
	struct NickEntry **near;	/* the names it is listed with, either side */
} NickEntry;

static HTAB *nick_hash;
static MemoryContext nick_context;
static Oid	nick_relid = InvalidOid;
static uint64 nick_inval_gen = 1;	/* bumped by the relcache callback */
static uint64 nick_cache_gen = 0;	/* generation the cache was built at */
static bool nick_callback_registered = false;

/*
 * Raise the error that goes with a failed status from the core.  what names
 * the kind of key for the message; len is the input length in bytes.
 */
void
crm_key_raise(CrmKeyStatus st, const char *what, size_t len)
{
	switch (st)
	{
		case CRM_KEY_OK:
			return;
		case CRM_KEY_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
			break;
		case CRM_KEY_TOOLONG:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("value is too long for a %s key", what),
					 errdetail("The value has %zu bytes; the limit is %d.",
							   len, CRM_KEY_MAX_INPUT)));
			break;
		case CRM_KEY_ICU:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not fold text with ICU: %s", crm_icu_error()),
					 errhint("Check that the ICU library and its data are installed completely.")));
			break;
		case CRM_KEY_PSL:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("libpsl has no built-in public suffix list"),
					 errhint("Install a libpsl build that includes the built-in list.")));
			break;
		default:
			elog(ERROR, "unexpected key status %d", (int) st);
	}
}

/*
 * The UTF-8 bytes of a text argument: the text itself in a UTF-8 database,
 * else a converted copy.
 */
const char *
crm_text_to_utf8(text *t, size_t *len)
{
	const char *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	char	   *u;

	if (GetDatabaseEncoding() == PG_UTF8)
	{
		*len = n;
		return s;
	}
	u = pg_server_to_any(s, n, PG_UTF8);
	*len = (u == s) ? (size_t) n : strlen(u);
	return u;
}

/* A text datum from the buffer, which is freed. */
text *
crm_buf_to_text(CrmBuf *b)
{
	text	   *t;
	const char *s = b->data;
	size_t		n = b->len;

	if (GetDatabaseEncoding() == PG_UTF8)
		t = cstring_to_text_with_len(s, n);
	else
	{
		char	   *copy = pnstrdup(s, n);

		crm_buf_free(b);
		return cstring_to_text(pg_any_to_server(copy, strlen(copy), PG_UTF8));
	}
	crm_buf_free(b);
	return t;
}

PG_FUNCTION_INFO_V1(crm_normalize_name);

Datum
crm_normalize_name(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	size_t		len;
	const char *s = crm_text_to_utf8(arg, &len);
	CrmBuf		out;
	CrmKeyStatus st;

	crm_buf_init(&out);
	st = crm_key_normalize_name(s, len, &out);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&out);
		crm_key_raise(st, "name", len);
	}
	PG_RETURN_TEXT_P(crm_buf_to_text(&out));
}

PG_FUNCTION_INFO_V1(crm_name_parts);

Datum
crm_name_parts(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	size_t		len;
	const char *s = crm_text_to_utf8(arg, &len);
	CrmNameParts p;
	CrmKeyStatus st;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5];
	CrmBuf	   *parts[5];
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	st = crm_key_name_parts(s, len, &p);
	if (st != CRM_KEY_OK)
		crm_key_raise(st, "name", len);
	parts[0] = &p.prefix;
	parts[1] = &p.given;
	parts[2] = &p.middle;
	parts[3] = &p.family;
	parts[4] = &p.suffix;
	for (i = 0; i < 5; i++)
	{
		nulls[i] = (parts[i]->len == 0);
		values[i] = (Datum) 0;
	}
	for (i = 0; i < 5; i++)
	{
		if (nulls[i])
			continue;
		/* The parts are slices of the input, so already in its encoding. */
		if (GetDatabaseEncoding() == PG_UTF8)
			values[i] = PointerGetDatum(cstring_to_text_with_len(parts[i]->data,
																 parts[i]->len));
		else
		{
			char	   *copy = pnstrdup(parts[i]->data, parts[i]->len);

			values[i] = CStringGetTextDatum(pg_any_to_server(copy, strlen(copy),
															 PG_UTF8));
		}
	}
	crm_key_name_parts_free(&p);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* The nickname cache */

static void
NicknamesInval(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == nick_relid)
		nick_inval_gen++;
}

static int
CompareRoots(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Fold a name for the cache; false when it cannot be a key. */
static bool
FoldGiven(const char *s, size_t len, char *key)
{
	CrmBuf		b;
	CrmKeyStatus st;
	bool		ok;

	crm_buf_init(&b);
	st = crm_key_given_name(s, len, &b);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&b);
		crm_key_raise(st, "given name", len);
	}
	ok = b.len > 0 && b.len < NICK_KEYLEN;
	if (ok)
		memcpy(key, b.data, b.len + 1);
	crm_buf_free(&b);
	return ok;
}

static NickEntry *
NickEnter(HTAB *h, const char *key)
{
	bool		found;
	NickEntry  *e = hash_search(h, key, HASH_ENTER, &found);

	if (!found)
	{
		e->formal = false;
		e->degree = 0;
		e->key = NULL;
		e->nroots = 0;
		e->maxroots = 0;
		e->roots = NULL;
		e->nnear = 0;
		e->near = NULL;
	}
	return e;
}

static void
NickAddRoot(NickEntry *e, const char *root)
{
	if (e->nroots == e->maxroots)
	{
		e->maxroots = e->maxroots ? e->maxroots * 2 : 4;
		e->roots = e->roots ? repalloc(e->roots, sizeof(char *) * e->maxroots)
			: palloc(sizeof(char *) * e->maxroots);
	}
	e->roots[e->nroots++] = pstrdup(root);
}

/* Order roots for the key: most nicknames first, then alphabetical. */
static HTAB *sort_hash;

static int
CompareByDegree(const void *a, const void *b)
{
	const char *x = *(char *const *) a;
	const char *y = *(char *const *) b;
	NickEntry  *ex = hash_search(sort_hash, x, HASH_FIND, NULL);
	NickEntry  *ey = hash_search(sort_hash, y, HASH_FIND, NULL);
	int			dx = ex ? ex->degree : 0;
	int			dy = ey ? ey->degree : 0;

	if (dx != dy)
		return dy - dx;
	return strcmp(x, y);
}

static int
CompareEntryNames(const void *a, const void *b)
{
	return strcmp((*(NickEntry *const *) a)->name, (*(NickEntry *const *) b)->name);
}

/*
 * Improve the keys so that as many listed pairs as possible share one.  The
 * most-nicknames rule alone sends Bill to Robert (11 nicknames) while
 * William (8) keeps its own key.  So each name in turn, in name order, takes
 * the root that most of the names it is listed with have as their key (the
 * most-nicknames order on a tie), until nothing changes: Bill and Billy
 * follow Will and William to "william", Bob and Bobby stay with "robert".
 * A few rounds settle the bundled list; the cap bounds an admin's odd one.
 */
static void
ChooseKeysByVote(HTAB *h, NickEntry **pairs, uint64 npairs)
{
	HASH_SEQ_STATUS seq;
	NickEntry  *e;
	NickEntry **all;
	long		n = hash_get_num_entries(h);
	long		k = 0;
	int		   *votes;
	int			maxroots = 1;
	int			round;
	uint64		i;

	if (n == 0)
		return;
	all = palloc(sizeof(NickEntry *) * n);
	hash_seq_init(&seq, h);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		all[k++] = e;
		maxroots = Max(maxroots, e->nroots);
	}
	qsort(all, n, sizeof(NickEntry *), CompareEntryNames);

	/* Who is listed with whom: count, allocate, fill. */
	for (i = 0; i < npairs; i++)
	{
		pairs[2 * i]->nnear++;
		pairs[2 * i + 1]->nnear++;
	}
	for (k = 0; k < n; k++)
	{
		all[k]->near = palloc(sizeof(NickEntry *) * Max(all[k]->nnear, 1));
		all[k]->nnear = 0;
	}
	for (i = 0; i < npairs; i++)
	{
		NickEntry  *a = pairs[2 * i];
		NickEntry  *b = pairs[2 * i + 1];

		a->near[a->nnear++] = b;
		b->near[b->nnear++] = a;
	}

	votes = palloc(sizeof(int) * maxroots);
	for (round = 0; round < 20; round++)
	{
		bool		changed = false;

		for (k = 0; k < n; k++)
		{
			int			best = -1;
			int			j;

			e = all[k];
			if (e->nroots < 2)
				continue;
			memset(votes, 0, sizeof(int) * e->nroots);
			for (j = 0; j < e->nnear; j++)
			{
				char	   *their = e->near[j]->key;
				char	  **hit;

				if (their == NULL)
					continue;
				hit = bsearch(&their, e->roots, e->nroots, sizeof(char *), CompareRoots);
				if (hit != NULL)
					votes[hit - e->roots]++;
			}
			for (j = 0; j < e->nroots; j++)
				if (best < 0 || votes[j] > votes[best] ||
					(votes[j] == votes[best] &&
					 CompareByDegree(&e->roots[j], &e->roots[best]) < 0))
					best = j;
			if (strcmp(e->roots[best], e->key) != 0)
			{
				e->key = e->roots[best];
				changed = true;
			}
		}
		if (!changed)
			break;
	}
	pfree(votes);
	pfree(all);
}

/*
 * (Re)load crm.nicknames into a fresh hash table.
 *
 * The bundled list is a "may be the same name" relation rather than a clean
 * hierarchy: it has both "robert, bob" and "bob, robert", and "bill,
 * robert" next to "bill, william".  Taking every name column as a formal
 * name would make Robert and William share the root "bill".  So each row is
 * read as an undirected pair, and the side with more nicknames in the whole
 * table is the formal one (the row's own direction on a tie): Robert (11
 * nicknames) is the root of Bill (6), and so is William; Robert and William
 * share nothing.
 */
static void
LoadNicknames(void)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt;
	HASHCTL		ctl;
	HTAB	   *h;
	uint64		gen = nick_inval_gen;
	Oid			nsp;
	uint64		i;
	uint64		npairs = 0;
	NickEntry **pairs;
	HASH_SEQ_STATUS seq;
	NickEntry  *e;

	if (!nick_callback_registered)
	{
		CacheRegisterRelcacheCallback(NicknamesInval, (Datum) 0);
		nick_callback_registered = true;
	}

	nsp = get_namespace_oid("crm", false);
	nick_relid = get_relname_relid("nicknames", nsp);
	if (!OidIsValid(nick_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"crm.nicknames\" does not exist"),
				 errhint("Reinstall the extension: DROP EXTENSION crm; CREATE EXTENSION crm;")));

	/* Built under the caller's context; kept only when complete. */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "crm nicknames",
								ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NICK_KEYLEN;
	ctl.entrysize = sizeof(NickEntry);
	ctl.hcxt = cxt;
	h = hash_create("crm nicknames", 4096, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT DISTINCT name, nickname FROM crm.nicknames", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.nicknames");

	MemoryContextSwitchTo(cxt);
	pairs = palloc(sizeof(NickEntry *) * 2 * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		n1;
		bool		n2;
		Datum		d1 = SPI_getbinval(tup, desc, 1, &n1);
		Datum		d2 = SPI_getbinval(tup, desc, 2, &n2);
		char		formal[NICK_KEYLEN];
		char		nick[NICK_KEYLEN];
		size_t		l1;
		size_t		l2;
		const char *s1;
		const char *s2;

		if (n1 || n2)
			continue;
		s1 = crm_text_to_utf8(DatumGetTextPP(d1), &l1);
		s2 = crm_text_to_utf8(DatumGetTextPP(d2), &l2);
		if (!FoldGiven(s1, l1, formal) || !FoldGiven(s2, l2, nick) ||
			strcmp(formal, nick) == 0)
			continue;
		pairs[2 * npairs] = NickEnter(h, formal);
		pairs[2 * npairs]->degree++;
		pairs[2 * npairs + 1] = NickEnter(h, nick);
		npairs++;
	}
	SPI_finish();				/* this switches back to caller */
	MemoryContextSwitchTo(cxt);

	/* Orient each pair: the side with more nicknames is the root. */
	for (i = 0; i < npairs; i++)
	{
		NickEntry  *root = pairs[2 * i];
		NickEntry  *leaf = pairs[2 * i + 1];

		if (leaf->degree > root->degree)
		{
			NickEntry  *t = root;

			root = leaf;
			leaf = t;
		}
		root->formal = true;
		NickAddRoot(leaf, root->name);
	}

	/* A formal name is its own root; sort and de-duplicate the roots. */
	hash_seq_init(&seq, h);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		int			j;
		int			k;

		if (e->formal)
			NickAddRoot(e, e->name);
		if (e->nroots > 1)
			qsort(e->roots, e->nroots, sizeof(char *), CompareRoots);
		for (j = 0, k = 0; j < e->nroots; j++)
			if (k == 0 || strcmp(e->roots[k - 1], e->roots[j]) != 0)
				e->roots[k++] = e->roots[j];
		e->nroots = k;
	}

	/* First keys: the root with the most nicknames, alphabetical on a tie. */
	sort_hash = h;
	hash_seq_init(&seq, h);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		char	  **tmp;

		if (e->nroots == 0)
			continue;
		tmp = palloc(sizeof(char *) * e->nroots);
		memcpy(tmp, e->roots, sizeof(char *) * e->nroots);
		qsort(tmp, e->nroots, sizeof(char *), CompareByDegree);
		e->key = tmp[0];
		pfree(tmp);
	}
	ChooseKeysByVote(h, pairs, npairs);
	pfree(pairs);
	sort_hash = NULL;
	MemoryContextSwitchTo(caller);

	MemoryContextSetParent(cxt, CacheMemoryContext);
	if (nick_context != NULL)
		MemoryContextDelete(nick_context);
	nick_context = cxt;
	nick_hash = h;
	nick_cache_gen = gen;
}

/*
 * Make sure the cache is current.  Other sessions' commits arrive as shared
 * invalidation messages, which a backend reads when it takes a lock; a cache
 * hit takes none, so once per query execution (fn_extra is per execution)
 * read them explicitly, and each statement sees what was committed before it
 * began, as under READ COMMITTED.
 */
static void
EnsureNicknames(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo == NULL)
		AcceptInvalidationMessages();	/* called directly from C */
	else if (fcinfo->flinfo->fn_extra == NULL)
	{
		AcceptInvalidationMessages();
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, 1);
	}
	if (nick_hash == NULL || nick_cache_gen != nick_inval_gen)
		LoadNicknames();
}

/*
 * The roots of a folded name: from the cache, or the name alone when the
 * table does not know it.
 */
static char *const *
Roots(char *key, int *n, char **self)
{
	NickEntry  *e = hash_search(nick_hash, key, HASH_FIND, NULL);

	if (e != NULL && e->nroots > 0)
	{
		*n = e->nroots;
		return e->roots;
	}
	*self = key;
	*n = 1;
	return self;
}

/* Fold a given-name argument into key; false when it folds to nothing. */
static bool
GivenArg(text *t, char *key, size_t keysize, char **longkey)
{
	size_t		len;
	const char *s = crm_text_to_utf8(t, &len);
	CrmBuf		b;
	CrmKeyStatus st;

	*longkey = NULL;
	crm_buf_init(&b);
	st = crm_key_given_name(s, len, &b);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&b);
		crm_key_raise(st, "given name", len);
	}
	if (b.len == 0)
	{
		crm_buf_free(&b);
		key[0] = '\0';
		return false;
	}
	if (b.len < keysize)
		memcpy(key, b.data, b.len + 1);
	else
	{
		/* Too long for the table: it stands for itself only. */
		*longkey = pnstrdup(b.data, b.len);
		key[0] = '\0';
	}
	crm_buf_free(&b);
	return true;
}

PG_FUNCTION_INFO_V1(crm_given_name_key);

/*
 * crm.given_name_key: the root chosen for the name by ChooseKeysByVote, so
 * that Bob, Bobby, Rob and Robert all give "robert", Bill and William
 * "william".
 * A blocking key only: a name with several roots (Al) gets one of them, and
 * crm.given_names_match() is the exact test.
 */
Datum
crm_given_name_key(PG_FUNCTION_ARGS)
{
	char		key[NICK_KEYLEN];
	char	   *longkey;
	NickEntry  *e;

	if (!GivenArg(PG_GETARG_TEXT_PP(0), key, sizeof(key), &longkey))
		PG_RETURN_TEXT_P(cstring_to_text(""));
	if (longkey != NULL)
		PG_RETURN_TEXT_P(cstring_to_text(longkey));
	EnsureNicknames(fcinfo);
	e = hash_search(nick_hash, key, HASH_FIND, NULL);
	PG_RETURN_TEXT_P(cstring_to_text(e != NULL && e->key != NULL ? e->key : key));
}

PG_FUNCTION_INFO_V1(crm_given_names_match);

/*
 * crm.given_names_match: true when both names fold to the same text or
 * share a root.  A name that folds to nothing matches nothing.
 */
Datum
crm_given_names_match(PG_FUNCTION_ARGS)
{
	char		k1[NICK_KEYLEN];
	char		k2[NICK_KEYLEN];
	char	   *l1;
	char	   *l2;
	char	   *self1;
	char	   *self2;
	char *const *r1;
	char *const *r2;
	int			n1;
	int			n2;
	int			i = 0;
	int			j = 0;

	if (!GivenArg(PG_GETARG_TEXT_PP(0), k1, sizeof(k1), &l1) ||
		!GivenArg(PG_GETARG_TEXT_PP(1), k2, sizeof(k2), &l2))
		PG_RETURN_BOOL(false);
	if (l1 != NULL || l2 != NULL)
		PG_RETURN_BOOL(l1 != NULL && l2 != NULL && strcmp(l1, l2) == 0);
	if (strcmp(k1, k2) == 0)
		PG_RETURN_BOOL(true);

	EnsureNicknames(fcinfo);
	r1 = Roots(k1, &n1, &self1);
	r2 = Roots(k2, &n2, &self2);
	/* Both lists are sorted: walk them together. */
	while (i < n1 && j < n2)
	{
		int			c = strcmp(r1[i], r2[j]);

		if (c == 0)
			PG_RETURN_BOOL(true);
		if (c < 0)
			i++;
		else
			j++;
	}
	PG_RETURN_BOOL(false);
}

/*
 * For callers comparing many pairs of a few thousand distinct given names
 * (the dedupe engine, match_cluster.c): the table as a query calling
 * crm.given_names_match() sees it, read once per run.
 */
void
crm_given_names_begin(void)
{
	AcceptInvalidationMessages();
	if (nick_hash == NULL || nick_cache_gen != nick_inval_gen)
		LoadNicknames();
}

/*
 * A given name's roots, each palloc'd: crm.given_names_match(a, b) is true
 * exactly when the lists of a and b share an entry (Roots() holds a name's
 * key among its roots or is the key alone, so equal keys share one).  A
 * name folding to nothing has none; a name too long for the table stands
 * for itself, marked by a leading U+0001 that no folded name has, so it
 * shares only with the same long name.  The table is the one read by
 * crm_given_names_begin().
 */
int
crm_given_name_roots(const char *s, int len, char ***roots)
{
	char		key[NICK_KEYLEN];
	char	   *longkey;
	char	   *self;
	char *const *r;
	int			n;

	*roots = NULL;
	if (!GivenArg(cstring_to_text_with_len(s, len), key, sizeof(key), &longkey))
		return 0;
	if (longkey != NULL)
	{
		*roots = palloc(sizeof(char *));
		(*roots)[0] = psprintf("\x01%s", longkey);
		return 1;
	}
	if (nick_hash == NULL)
		LoadNicknames();
	r = Roots(key, &n, &self);
	*roots = palloc(sizeof(char *) * n);
	for (int i = 0; i < n; i++)
		(*roots)[i] = pstrdup(r[i]);
	return n;
}

PG_FUNCTION_INFO_V1(crm_nicknames_changed);

/*
 * Statement trigger on crm.nicknames: invalidate every backend's cached
 * copy when the transaction commits (and this backend's at the next
 * command).
 */
Datum
crm_nicknames_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function can only be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}
