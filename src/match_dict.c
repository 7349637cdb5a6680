/*
 * match_dict.c
 *	  Dictionaries of distinct strings for the whole-table matcher: each
 *	  string kept once and named by a small integer id.
 *
 * A million contacts hold a few thousand given names, cities and phonetic
 * keys.  The matcher (match_cluster.c, match_block.c) keeps each distinct
 * value once and works on ids: equal values are equal ids, a common value
 * stays in the processor's cache however many records share it, and
 * grouping records by a key is grouping them by an integer.  The strings
 * live in large chunks of the dictionary's memory context (no allocation
 * per string); a hash table finds a string's id while the dictionary is
 * filled and is dropped when it is complete.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "match.h"

/* String chunks start small (a dictionary may hold a handful) and grow. */
#define DICT_FIRST_CHUNK 8192
#define DICT_CHUNK (1024 * 1024)

typedef struct DictEntry
{
	int32		id;
	uint32		hash;
	char		status;
} DictEntry;

/* The string of an id; id -1 is the one being looked up. */
static inline const char *
DictString(const CrmDict *d, int32 id, int32 *len)
{
	if (id < 0)
	{
		*len = d->probelen;
		return d->probe;
	}
	*len = d->v[id].len;
	return d->v[id].s;
}

static inline bool
DictEqual(const CrmDict *d, int32 a, int32 b)
{
	int32		la,
				lb;
	const char *sa = DictString(d, a, &la);
	const char *sb = DictString(d, b, &lb);

	return la == lb && memcmp(sa, sb, la) == 0;
}

static inline uint32
DictHash(const CrmDict *d, int32 id)
{
	int32		len;
	const char *s = DictString(d, id, &len);

	return hash_bytes((const unsigned char *) s, len);
}

#define SH_PREFIX crmdict
#define SH_ELEMENT_TYPE DictEntry
#define SH_KEY_TYPE int32
#define SH_KEY id
#define SH_HASH_KEY(tb, key) DictHash((CrmDict *) (tb)->private_data, key)
#define SH_EQUAL(tb, a, b) DictEqual((CrmDict *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * An empty dictionary in cxt.  Without dedupe every string added gets a new
 * id (for values that are kept but never compared).
 */
void
crm_dict_init(CrmDict *d, MemoryContext cxt, bool dedupe)
{
	memset(d, 0, sizeof(CrmDict));
	d->cxt = cxt;
	d->cap = 64;
	d->v = MemoryContextAlloc(cxt, sizeof(CrmValue) * d->cap);
	d->v[0].s = NULL;
	d->v[0].len = -1;
	d->n = 1;
	if (dedupe)
		d->h = crmdict_create(cxt, 64, d);
}

/* A copy of len bytes in the dictionary's memory. */
const char *
crm_dict_copy(CrmDict *d, const char *s, int32 len)
{
	char	   *p;

	if (d->arena == NULL || d->arena_used + len > d->arena_size)
	{
		Size		chunk = d->arena == NULL ? DICT_FIRST_CHUNK : Min(d->arena_size * 2, DICT_CHUNK);

		d->arena_size = Max(chunk, (Size) len);
		d->arena = MemoryContextAllocHuge(d->cxt, d->arena_size);
		d->arena_used = 0;
	}
	p = d->arena + d->arena_used;
	if (len > 0)
		memcpy(p, s, len);
	d->arena_used += len;
	return p;
}

/* The id (1 or more) of a string, added when new. */
int32
crm_dict_add(CrmDict *d, const char *s, int32 len)
{
	DictEntry  *e = NULL;
	bool		found;

	if (d->h != NULL)
	{
		d->probe = s;
		d->probelen = len;
		e = crmdict_insert_hash(d->h, -1, hash_bytes((const unsigned char *) s, len), &found);
		if (found)
			return e->id;
	}
	if (d->n == d->cap)
	{
		if (d->cap >= PG_INT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct values")));
		d->cap *= 2;
		d->v = repalloc_huge(d->v, sizeof(CrmValue) * d->cap);
	}
	if (e != NULL)
		e->id = d->n;
	d->v[d->n].s = crm_dict_copy(d, s, len);
	d->v[d->n].len = len;
	return d->n++;
}

/* The dictionary is complete: drop its hash table. */
void
crm_dict_freeze(CrmDict *d)
{
	if (d->h != NULL)
		crmdict_destroy(d->h);
	d->h = NULL;
}
