/*
 * match_block.c
 *	  Blocking for the whole-table matcher: the blocking keys of every
 *	  record, computed once per distinct value and grouped in memory.
 *
 * Blocking rules decide which records are compared at all: those sharing a
 * key, such as the phonetic family name with the given initial.
 * crm._match_keys_sql writes the keys as SQL, and training uses it; the
 * finders used to evaluate those expressions for every record (the same
 * phonetic key several times over) and group the keys with a hash
 * aggregate that spilled to disk at a million records.  Here the records'
 * values are already in dictionaries of distinct values (match_cluster.c),
 * so each key part -- an e-mail's canonical address, a phone's last eight
 * digits, a phonetic key, an initial -- is computed once per distinct value
 * and gets an id in a dictionary of parts.  A rule of one part then groups
 * records by that id; a rule of several parts, or an order-free name key,
 * by the id of the joined key.  Rules run one after another, so only one
 * rule's keys are held at a time.
 *
 * The keys are exactly those of crm._match_keys_sql: a part that is NULL or
 * empty gives no key, parts are joined with U+001F, the order-free name key
 * puts the smaller part first by the database's default collation and must
 * match LIKE '_% _%'.  A pgTAP test (test/dedupe_engine.sql) compares the
 * pairs of both.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/varlena.h"
#include "utils/memutils.h"

#include "match.h"
#include "similarity.h"

#define MAX_RULE_PARTS 16

typedef enum Transform
{
	XF_EXACT,
	XF_PHONETIC,
	XF_INITIAL
} Transform;

/* The key parts of one field under one transform. */
typedef struct PartSet
{
	int			f;
	Transform	xf;
	int32	   *pid;			/* by value id: part id, 0 = NULL */
	CrmDict		parts;			/* part strings ('' is a part, not NULL) */
	struct PartSet *next;
} PartSet;

typedef struct RulePart
{
	bool		names;			/* order-free key of given and family name */
	PartSet    *a;				/* the field's parts; given name's for names */
	PartSet    *b;				/* family name's parts, for names */
} RulePart;

typedef struct Rule
{
	int			nparts;
	RulePart	part[MAX_RULE_PARTS];
} Rule;

/* The part of an e-mail or phone that blocking uses, before the transform. */
static const char *
BasePart(int kind, const char *s, int len, int *outlen, char *buf)
{
	if (kind == CRM_KIND_EMAIL)
	{
		/* split_part(value, chr(31), 2) */
		const char *sep = memchr(s, '\x1f', len);
		const char *end;

		if (sep == NULL)
		{
			*outlen = 0;
			return s;
		}
		sep++;
		end = memchr(sep, '\x1f', len - (sep - s));
		*outlen = (end ? end : s + len) - sep;
		return sep;
	}
	if (kind == CRM_KIND_PHONE)
	{
		/* right(regexp_replace(value, '[^0-9]', '', 'g'), 8) */
		int			n = 0;

		for (int i = 0; i < len; i++)
			if (s[i] >= '0' && s[i] <= '9')
				buf[n++] = s[i];
		*outlen = Min(n, 8);
		return buf + n - *outlen;
	}
	*outlen = len;
	return s;
}

/* The parts of field f under xf, for every distinct value of the field. */
static PartSet *
GetPartSet(PartSet **sets, CrmMatchState *st, const CrmBlockInput *in, int f, Transform xf)
{
	PartSet    *ps;
	const CrmDict *d = &in->dict[f];
	char	   *buf = NULL;
	int			bufcap = 0;

	for (ps = *sets; ps != NULL; ps = ps->next)
		if (ps->f == f && ps->xf == xf)
			return ps;
	ps = palloc0(sizeof(PartSet));
	ps->f = f;
	ps->xf = xf;
	ps->pid = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * d->n);
	ps->pid[0] = 0;
	crm_dict_init(&ps->parts, CurrentMemoryContext, true);
	for (int32 id = 1; id < d->n; id++)
	{
		const char *s = d->v[id].s;
		int			len = d->v[id].len;
		const char *p;
		int			plen;

		if (st->kinds[f] == CRM_KIND_PHONE && len >= bufcap)
		{
			bufcap = Max(len + 1, 64);
			buf = buf ? repalloc(buf, bufcap) : palloc(bufcap);
		}
		p = BasePart(st->kinds[f], s, len, &plen, buf);
		switch (xf)
		{
			case XF_EXACT:
				ps->pid[id] = crm_dict_add(&ps->parts, p, plen);
				break;
			case XF_PHONETIC:
				{
					char	   *k = crm_phonetic_key_bytes(p, plen);

					ps->pid[id] = crm_dict_add(&ps->parts, k, strlen(k));
					pfree(k);
				}
				break;
			case XF_INITIAL:
				/* left(value, 1): the first character */
				ps->pid[id] = crm_dict_add(&ps->parts, p, plen > 0 ? pg_mbcharcliplen(p, plen, 1) : 0);
				break;
		}
		if ((id & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	crm_dict_freeze(&ps->parts);
	if (buf)
		pfree(buf);
	ps->next = *sets;
	*sets = ps;
	return ps;
}

static int
FieldOfKind(CrmMatchState *st, int kind)
{
	for (int f = 0; f < st->nfields; f++)
		if (st->kinds[f] == kind)
			return f;
	return -1;
}

/* Parse one rule, "kind[:transform] ..." or "name_initials" / "name_phonetic". */
static void
ParseRule(Rule *rule, const char *text, CrmMatchState *st, const CrmBlockInput *in, PartSet **sets)
{
	char	   *copy = pstrdup(text);
	char	   *save = NULL;
	char	   *tok;

	rule->nparts = 0;
	for (tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
	{
		RulePart   *rp;
		char	   *colon = strchr(tok, ':');
		Transform	xf = XF_EXACT;
		int			kind;
		int			f;

		if (rule->nparts == MAX_RULE_PARTS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("blocking rule \"%s\" has more than %d parts", text, MAX_RULE_PARTS)));
		rp = &rule->part[rule->nparts++];
		if (strcmp(tok, "name_initials") == 0 || strcmp(tok, "name_phonetic") == 0)
		{
			xf = tok[5] == 'i' ? XF_INITIAL : XF_PHONETIC;
			if (st->given_idx < 0 || st->family_idx < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("blocking rule \"%s\" needs both given_name and family_name", text)));
			rp->names = true;
			rp->a = GetPartSet(sets, st, in, st->given_idx, xf);
			rp->b = GetPartSet(sets, st, in, st->family_idx, xf);
			continue;
		}
		if (colon != NULL)
		{
			*colon = '\0';
			if (strcmp(colon + 1, "exact") == 0)
				xf = XF_EXACT;
			else if (strcmp(colon + 1, "phonetic") == 0)
				xf = XF_PHONETIC;
			else if (strcmp(colon + 1, "initial") == 0)
				xf = XF_INITIAL;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unrecognized blocking transform \"%s\"", colon + 1),
						 errhint("Transforms are exact, phonetic and initial.")));
		}
		kind = crm_kind_lookup(tok);
		f = kind > CRM_KIND_ID ? FieldOfKind(st, kind) : -1;
		if (f < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("blocking rule \"%s\" uses field kind \"%s\", which the fields do not have", text, tok)));
		rp->names = false;
		rp->a = GetPartSet(sets, st, in, f, xf);
		rp->b = NULL;
	}
	if (rule->nparts == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a blocking rule must have at least one part")));
	pfree(copy);
}

/* LIKE '_% _%': a space with at least one character before and after it. */
static bool
HasInnerSpace(const char *s, int len)
{
	for (int i = 1; i < len - 1; i++)
		if (s[i] == ' ')
			return true;
	return false;
}

/*
 * Append record r's part to key; false when it has none (the key is NULL).
 */
static bool
AppendPart(StringInfo key, const RulePart *rp, const int32 *row)
{
	if (!rp->names)
	{
		const CrmValue *v = &rp->a->parts.v[rp->a->pid[row[rp->a->f]]];

		if (v->len <= 0)		/* NULL (-1) or '' */
			return false;
		appendBinaryStringInfo(key, v->s, v->len);
		return true;
	}
	else
	{
		const CrmValue *g = &rp->a->parts.v[rp->a->pid[row[rp->a->f]]];
		const CrmValue *fam = &rp->b->parts.v[rp->b->pid[row[rp->b->f]]];
		int			start = key->len;

		/*
		 * CASE WHEN g IS NULL THEN f WHEN f IS NULL THEN g ELSE LEAST(g, f)
		 * || ' ' || GREATEST(g, f) END, then LIKE '_% _%'.
		 */
		if (g->len < 0 && fam->len < 0)
			return false;
		if (g->len < 0)
			appendBinaryStringInfo(key, fam->s, fam->len);
		else if (fam->len < 0)
			appendBinaryStringInfo(key, g->s, g->len);
		else
		{
			bool		gfirst = varstr_cmp(g->s, g->len, fam->s, fam->len, DEFAULT_COLLATION_OID) <= 0;
			const CrmValue *lo = gfirst ? g : fam;
			const CrmValue *hi = gfirst ? fam : g;

			appendBinaryStringInfo(key, lo->s, lo->len);
			appendStringInfoChar(key, ' ');
			appendBinaryStringInfo(key, hi->s, hi->len);
		}
		return HasInnerSpace(key->data + start, key->len - start);
	}
}

/*
 * The blocking keys of every record under every rule (see match.h).
 */
int
crm_match_block_keys(CrmMatchState *st, ArrayType *rules, int maxblock, const CrmBlockInput *in,
					 int32 **keyp, int32 **nkeysp)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work = AllocSetContextCreate(caller, "crm match blocking", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(work);
	Datum	   *texts;
	bool	   *nulls;
	int			nrules;
	PartSet    *sets = NULL;
	int32	   *key;
	int32	   *nkeys;
	StringInfoData kb;

	if (ARR_NDIM(rules) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("blocking rules must be a one-dimensional array")));
	if (maxblock < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_block_size must be at least 2")));
	deconstruct_array(rules, TEXTOID, -1, false, TYPALIGN_INT, &texts, &nulls, &nrules);
	if (nrules == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at least one blocking rule is needed")));
	key = MemoryContextAllocHuge(caller, sizeof(int32) * nrules * ((Size) in->nrec + 1));
	nkeys = MemoryContextAlloc(caller, sizeof(int32) * nrules);
	initStringInfo(&kb);
	for (int i = 0; i < nrules; i++)
	{
		Rule		rule;
		MemoryContext rulecxt;
		CrmDict		keys;
		bool		byid;
		int32	   *size;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("blocking rules must not contain nulls")));
		ParseRule(&rule, TextDatumGetCString(texts[i]), st, in, &sets);
		rulecxt = AllocSetContextCreate(work, "crm match blocking rule", ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(rulecxt);

		/*
		 * Each record's key id: with one part of one field, the part's id
		 * (none for a NULL or empty part); otherwise the id of the joined key.
		 */
		byid = rule.nparts == 1 && !rule.part[0].names;
		if (!byid)
			crm_dict_init(&keys, rulecxt, true);
		for (int32 r = 0; r <= in->nrec; r++)
		{
			const int32 *row = &in->vid[(Size) r * in->nfields];
			int32	   *k = &key[(Size) r * nrules + i];
			bool		ok = true;

			*k = 0;
			if (r == 0 || !in->read[r])
				continue;
			if (byid)
			{
				const PartSet *ps = rule.part[0].a;
				int32		p = ps->pid[row[ps->f]];

				if (p != 0 && ps->parts.v[p].len > 0)
					*k = p;
				continue;
			}
			resetStringInfo(&kb);
			for (int j = 0; j < rule.nparts && ok; j++)
			{
				if (j > 0)
					appendStringInfoChar(&kb, '\x1f');
				ok = AppendPart(&kb, &rule.part[j], row);
			}
			if (ok)
				*k = crm_dict_add(&keys, kb.data, kb.len);
			if ((r & 65535) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		nkeys[i] = byid ? rule.part[0].a->parts.n : keys.n;

		/* Blocks of one record, or of more than maxblock, give no pairs. */
		size = MemoryContextAllocHuge(rulecxt, sizeof(int32) * nkeys[i]);
		memset(size, 0, sizeof(int32) * nkeys[i]);
		for (int32 r = 1; r <= in->nrec; r++)
			size[key[(Size) r * nrules + i]]++;
		for (int32 r = 1; r <= in->nrec; r++)
		{
			int32	   *k = &key[(Size) r * nrules + i];

			if (*k != 0 && (size[*k] < 2 || size[*k] > maxblock))
				*k = 0;
		}
		MemoryContextSwitchTo(work);
		MemoryContextDelete(rulecxt);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	*keyp = key;
	*nkeysp = nkeys;
	return nrules;
}
