/*
 * match.h
 *	  Field kinds and comparison levels of the Fellegi-Sunter record matcher
 *	  (match.c, match_cluster.c).
 *
 * A record is an array of prepared field values, one per field kind named
 * in the mapping; comparing two records gives each field a level index
 * (0 = strongest agreement, the last = "other", CRM_LEVEL_MISSING when
 * either value is absent).  The SQL side (sql/install/5x) owns mappings,
 * blocking and training; C owns what runs once per candidate pair.
 */
#ifndef CRM_MATCH_H
#define CRM_MATCH_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

#define CRM_LEVEL_MISSING (-1)
#define CRM_MAX_LEVELS 8

typedef enum CrmKind
{
	CRM_KIND_ID = 0,
	CRM_KIND_GIVEN_NAME,
	CRM_KIND_FAMILY_NAME,
	CRM_KIND_FULL_NAME,
	CRM_KIND_EMAIL,
	CRM_KIND_PHONE,
	CRM_KIND_COMPANY,
	CRM_KIND_WEBSITE,
	CRM_KIND_ADDRESS,
	CRM_KIND_CITY,
	CRM_KIND_POSTCODE,
	CRM_KIND_REGION,
	CRM_KIND_COUNTRY,
	CRM_KIND_BIRTH_DATE,
	CRM_KIND_EXTERNAL_ID,
	CRM_KIND_COUNT
} CrmKind;

typedef struct CrmKindInfo
{
	const char *name;			/* as written in a mapping */
	const char *label;			/* plural words for evidence */
	int			nlevels;
	const char *levels[CRM_MAX_LEVELS];
} CrmKindInfo;

extern const CrmKindInfo crm_kinds[CRM_KIND_COUNT];

/* Kind by mapping name, or -1. */
extern int	crm_kind_lookup(const char *name);

/* Parsed kinds and model, cached across the rows of one query. */
typedef struct CrmMatchState
{
	ArrayType  *kinds_raw;		/* copy, to recognise the same argument */
	ArrayType  *weights_raw;
	int			nfields;
	int		   *kinds;
	int			given_idx;		/* field index of given_name, or -1 */
	int			family_idx;
	int		   *offset;			/* into weights, per field */
	float8	   *weights;
	int			nweights;
	bool		looked_up;
	bool		has_nick;
	FmgrInfo	nick_fn;
	MemoryContext cxt;			/* where the state lives */
	struct HTAB *nick_cache;	/* given-name pairs already asked about */
	const struct CrmNickRoots *nick_roots;	/* set by a whole-table run */
} CrmMatchState;

/*
 * The nickname roots of the given names of a whole-table run, by value id
 * (see crm_given_name_roots): value v has the sorted root ids
 * pool[off[v]] .. pool[off[v + 1] - 1], and two given names are nicknames
 * of each other when their lists share one.
 */
typedef struct CrmNickRoots
{
	const int32 *off;
	const int32 *pool;
} CrmNickRoots;

/* A distinct prepared value of a whole-table run; len -1 = missing. */
typedef struct CrmValue
{
	const char *s;
	int32		len;
} CrmValue;

/*
 * A dictionary of distinct strings (match_dict.c): v[id] for ids 1..n-1,
 * v[0] the absent value.  Filled with crm_dict_add, which finds a string's
 * id through a hash table until crm_dict_freeze drops it.
 */
typedef struct CrmDict
{
	MemoryContext cxt;			/* holds the strings and arrays */
	CrmValue   *v;
	int32		n;				/* ids in use, 0 included */
	int32		cap;
	struct crmdict_hash *h;		/* string -> id; NULL when frozen, or
								 * always for a dictionary without dedupe */
	const char *probe;			/* the string being looked up */
	int32		probelen;
	char	   *arena;			/* current chunk for string bytes */
	Size		arena_used;
	Size		arena_size;
} CrmDict;

extern void crm_dict_init(CrmDict *d, MemoryContext cxt, bool dedupe);
extern int32 crm_dict_add(CrmDict *d, const char *s, int32 len);
extern const char *crm_dict_copy(CrmDict *d, const char *s, int32 len);
extern void crm_dict_freeze(CrmDict *d);

/*
 * One record's prepared values: either pointers into the detoasted array
 * (vid NULL), or, in a whole-table run (match_cluster.c), value ids into
 * one dictionary of distinct values per field, dict[f][vid[f]], id 0 being
 * the missing value.  Equal ids are equal values.
 */
typedef struct CrmRecordValues
{
	int			n;
	const char **s;
	int		   *len;			/* -1 = missing */
	const int32 *vid;
	CrmValue   *const *dict;
	const uint64 *const *mask;	/* with vid: per field NULL or, by value id,
								 * crm_jaro_winkler_mask of the value */
} CrmRecordValues;

/* Value of field f of a record and its length (-1 when missing). */
static inline const char *
crm_record_value(const CrmRecordValues *r, int f, int *len)
{
	if (r->vid != NULL)
	{
		const CrmValue *v = &r->dict[f][r->vid[f]];

		*len = v->len;
		return v->s;
	}
	*len = r->len[f];
	return r->s[f];
}

/*
 * Parsed kinds and model of a call, cached in fn_extra (weights may be NULL
 * when only levels are needed).
 */
extern CrmMatchState *crm_match_state(FunctionCallInfo fcinfo, ArrayType *kinds,
									  ArrayType *weights);

/*
 * Blocking keys of a whole-table run (match_block.c): records 1..nrec, those
 * with read[r] set holding value ids vid[r * nfields + f] into dict[f].
 * rules is a text[] of blocking rules, each its parts separated by spaces
 * ("family_name:phonetic given_name:initial").  Returns the number of rules
 * n; (*key)[r * n + k] is the id of record r's key under rule k, below
 * (*nkeys)[k], and 0 when the record has no key or its block (the records
 * sharing the key) has fewer than 2 or more than maxblock records.  Every
 * pair of records sharing a non-zero key is a candidate pair.
 */
typedef struct CrmBlockInput
{
	int			nfields;
	int32		nrec;
	const int32 *vid;
	const CrmDict *dict;
	const bool *read;
} CrmBlockInput;

extern int	crm_match_block_keys(CrmMatchState *st, ArrayType *rules, int maxblock,
								 const CrmBlockInput *in, int32 **key, int32 **nkeys);

/* Level of field f of two records, or CRM_LEVEL_MISSING. */
extern int	crm_match_compare_field(CrmMatchState *st, int f, const CrmRecordValues *ra,
									const CrmRecordValues *rb);

#endif							/* CRM_MATCH_H */
