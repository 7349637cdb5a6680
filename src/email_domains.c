/*
 * email_domains.c
 *	  Free and disposable domain lookups for crm.email, from a per-backend
 *	  hash table built from crm.email_domains.
 *
 * crm.email_is_free() and friends run once per row over imports of millions
 * of addresses, so they cannot afford a query per call (a bitmap index probe
 * through the SQL function executor costs tens of microseconds).  Instead
 * each backend loads the table once into an open-addressing hash table in
 * its own memory (about 1 MB for the shipped 12,800 rows) and answers each
 * call with one probe per domain label.
 *
 * The copy is kept right by relcache invalidation: a statement-level trigger
 * on crm.email_domains (crm_email_domains_changed) invalidates the table's
 * relcache entry, which PostgreSQL delivers to this backend at the end of
 * the changing statement, to every other backend when the change commits,
 * and replays on abort; our relcache callback then drops the copy and the
 * next call reloads it.  So lookups see committed changes from the next
 * transaction on, and the backend's own changes from the next statement.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "email.h"

PG_FUNCTION_INFO_V1(crm_email_domain_kind);
PG_FUNCTION_INFO_V1(crm_email_is_free);
PG_FUNCTION_INFO_V1(crm_email_is_disposable);
PG_FUNCTION_INFO_V1(crm_email_domains_changed);

typedef struct DomainSlot
{
	const char *domain;			/* NULL: empty slot */
	uint32		hash;
	uint8		len;
	bool		builtin;
	char		kind;			/* 'f'ree, 'd'isposable, 'o'rdinary */
} DomainSlot;

static MemoryContext DomainsContext = NULL;
static DomainSlot *Slots = NULL;
static uint32 SlotMask = 0;
static bool CacheValid = false;
static uint64 InvalCount = 0;	/* invalidations seen, to detect one mid-load */
static bool CallbackRegistered = false;
static Oid	CachedRelid = InvalidOid;

static void
DomainsInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == CachedRelid)
	{
		CacheValid = false;
		InvalCount++;
	}
}

static DomainSlot *
FindSlot(const char *d, size_t len, uint32 h)
{
	uint32		i = h & SlotMask;

	for (;;)
	{
		DomainSlot *s = &Slots[i];

		if (s->domain == NULL ||
			(s->hash == h && s->len == len && memcmp(s->domain, d, len) == 0))
			return s;
		i = (i + 1) & SlotMask;
	}
}

/* Add one row; for the same domain an admin row beats a built-in one. */
static void
AddDomain(const char *d, size_t len, char kind, bool builtin)
{
	uint32		h = DatumGetUInt32(hash_any((const unsigned char *) d, (int) len));
	DomainSlot *s = FindSlot(d, len, h);

	if (s->domain != NULL && !s->builtin && builtin)
		return;
	if (s->domain == NULL)
	{
		s->domain = MemoryContextStrdup(DomainsContext, d);
		s->hash = h;
		s->len = (uint8) len;
	}
	s->kind = kind;
	s->builtin = builtin;
}

static void
LoadDomains(void)
{
	Oid			nsp,
				relid;
	uint64		i,
				n;
	uint32		size = 64;
	uint64		start;

	nsp = get_namespace_oid("crm", false);
	relid = get_relname_relid("email_domains", nsp);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table crm.email_domains does not exist"),
				 errhint("Reinstall the extension with DROP EXTENSION crm and CREATE EXTENSION crm.")));

	if (!CallbackRegistered)
	{
		CacheRegisterRelcacheCallback(DomainsInvalidate, (Datum) 0);
		CallbackRegistered = true;
	}
	if (DomainsContext == NULL)
		DomainsContext = AllocSetContextCreate(CacheMemoryContext, "crm email domains",
											   ALLOCSET_DEFAULT_SIZES);
	CacheValid = false;
	Slots = NULL;
	MemoryContextReset(DomainsContext);
	CachedRelid = relid;
	start = InvalCount;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT domain, kind, builtin FROM crm.email_domains", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.email_domains");
	n = SPI_processed;
	while (size < 2 * n + 2)
		size *= 2;
	Slots = MemoryContextAllocZero(DomainsContext, sizeof(DomainSlot) * size);
	SlotMask = size - 1;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *domain = SPI_getvalue(tup, desc, 1);
		char	   *kind = SPI_getvalue(tup, desc, 2);
		char	   *builtin = SPI_getvalue(tup, desc, 3);
		size_t		len;

		/* The table's CHECK constraints make NULLs and long names impossible. */
		if (domain == NULL || kind == NULL || builtin == NULL)
			continue;
		len = strlen(domain);
		if (len == 0 || len > CRM_EMAIL_MAX_DOMAIN)
			continue;
		AddDomain(domain, len, kind[0], builtin[0] == 't');
	}
	SPI_finish();

	/* Valid unless the table changed while we read it; then reload next time. */
	CacheValid = (InvalCount == start);
}

/*
 * Kind of the most specific entry for the address's domain or a parent
 * domain ('f', 'd', 'o'), or 0 when none matches.
 */
static char
DomainKind(struct varlena *v)
{
	size_t		len,
				i;
	const char *d = EmailDkey(v, &len);

	if (!CacheValid || Slots == NULL)
		LoadDomains();
	if (len == 0 || d[0] == '[')
		return 0;
	for (i = 0; i < len; i++)
	{
		if (i == 0 || d[i - 1] == '.')
		{
			const char *s = d + i;
			size_t		slen = len - i;
			DomainSlot *slot;

			/* Stop before the top-level label: no list holds "com". */
			if (memchr(s, '.', slen) == NULL)
				break;
			slot = FindSlot(s, slen, DatumGetUInt32(hash_any((const unsigned char *) s, (int) slen)));
			if (slot->domain != NULL)
				return slot->kind;
		}
	}
	return 0;
}

Datum
crm_email_domain_kind(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);

	switch (DomainKind(v))
	{
		case 'f':
			PG_RETURN_TEXT_P(cstring_to_text("free"));
		case 'd':
			PG_RETURN_TEXT_P(cstring_to_text("disposable"));
		case 'o':
			PG_RETURN_TEXT_P(cstring_to_text("ordinary"));
		default:
			PG_RETURN_NULL();
	}
}

Datum
crm_email_is_free(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DomainKind(PG_GETARG_EMAIL_PP(0)) == 'f');
}

Datum
crm_email_is_disposable(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DomainKind(PG_GETARG_EMAIL_PP(0)) == 'd');
}

/*
 * Statement-level trigger on crm.email_domains: have every backend drop its
 * copy (this one at the end of the statement, others at commit).
 */
Datum
crm_email_domains_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "not called by the trigger manager");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
