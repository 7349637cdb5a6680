/*
 * email.c
 *	  The crm.email type: SQL glue around the parser in email_parse.c.
 *
 * A value stores the comparison key (case-folded local part, lower-case
 * ASCII domain) in front of the address as typed, so that equality,
 * ordering and hashing are a memcmp over a few dozen octets with no IDNA or
 * case folding at query time, while output prints exactly what the user
 * entered.  Binary send/recv use the typed text, and recv runs it through
 * the same parser as input, so nothing unchecked can enter through COPY
 * BINARY.  Problems found by the parser become one ereport with the value,
 * a detail naming the bad part and a hint; crm.email_problem() returns the
 * same detail as text for cleaning imports without exceptions.
 *
 * Values are kept in UTF-8.  In databases with another encoding, input is
 * converted to UTF-8 first and output back to the database encoding.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"

#include "email.h"

PG_FUNCTION_INFO_V1(crm_email_in);
PG_FUNCTION_INFO_V1(crm_email_out);
PG_FUNCTION_INFO_V1(crm_email_recv);
PG_FUNCTION_INFO_V1(crm_email_send);
PG_FUNCTION_INFO_V1(crm_email_from_text);
PG_FUNCTION_INFO_V1(crm_email_to_text);
PG_FUNCTION_INFO_V1(crm_email_eq);
PG_FUNCTION_INFO_V1(crm_email_ne);
PG_FUNCTION_INFO_V1(crm_email_lt);
PG_FUNCTION_INFO_V1(crm_email_le);
PG_FUNCTION_INFO_V1(crm_email_gt);
PG_FUNCTION_INFO_V1(crm_email_ge);
PG_FUNCTION_INFO_V1(crm_email_cmp);
PG_FUNCTION_INFO_V1(crm_email_sortsupport);
PG_FUNCTION_INFO_V1(crm_email_hash);
PG_FUNCTION_INFO_V1(crm_email_hash_extended);
PG_FUNCTION_INFO_V1(crm_email_domain);
PG_FUNCTION_INFO_V1(crm_email_local);
PG_FUNCTION_INFO_V1(crm_email_domain_suffixes);
PG_FUNCTION_INFO_V1(crm_email_canonical);
PG_FUNCTION_INFO_V1(crm_email_is_role);
PG_FUNCTION_INFO_V1(crm_email_from_display);
PG_FUNCTION_INFO_V1(crm_try_email);
PG_FUNCTION_INFO_V1(crm_email_problem);

/*
 * The address as typed, as a palloc'd UTF-8 string: stored as is, or
 * rebuilt from the key and the case map (see email.h).
 */
static char *
EmailTyped(const struct varlena *v, size_t *len)
{
	size_t		ll,
				dl,
				keys,
				rest;
	const char *l = EmailLkey(v, &ll);
	const char *d = EmailDkey(v, &dl);
	char	   *r;

	keys = EMAIL_HDRSZ + ll + dl;
	rest = VARSIZE_ANY_EXHDR(v) - keys;
	if (!(EmailBytes(v)[0] & EMAIL_CASEMAP))
	{
		*len = rest;
		return pnstrdup((const char *) EmailBytes(v) + keys, rest);
	}
	*len = ll + 1 + dl;
	r = palloc(*len + 1);
	memcpy(r, l, ll);
	r[ll] = '@';
	memcpy(r + ll + 1, d, dl);
	r[*len] = '\0';
	crm_email_apply_casemap(r, *len, EmailBytes(v) + keys, rest);
	return r;
}

/*
 * The parsed part named by off/len as a NUL-terminated string in the
 * database encoding, for messages.
 */
static char *
Part(const CrmEmailParsed *p, size_t off, size_t len)
{
	char	   *s = pnstrdup(p->typed + off, len);

	if (!pg_verify_mbstr(PG_UTF8, s, (int) len, true))
		return pstrdup("?");
	if (GetDatabaseEncoding() != PG_UTF8)
		return pg_any_to_server(s, (int) len, PG_UTF8);
	return s;
}

/*
 * The reason a value is refused, as a full sentence, and how to fix it.
 * Used both for ereport and for crm.email_problem().
 */
static void
CrmEmailProblem(const CrmEmailParsed *p, char **detail, char **hint)
{
	char	   *part = Part(p, p->part_off, p->part_len);
	char	   *ch = p->has_char ? Part(p, p->char_off, p->char_len) : NULL;

	*hint = NULL;
	switch (p->error)
	{
		case CRM_EMAIL_OK:
			*detail = NULL;
			break;
		case CRM_EMAIL_EMPTY:
			*detail = pstrdup("The value is empty.");
			*hint = pstrdup("Use NULL for a missing address.");
			break;
		case CRM_EMAIL_TOO_LONG_INPUT:
			*detail = psprintf("The value is longer than %d bytes.", CRM_EMAIL_MAX_INPUT);
			*hint = psprintf("An address has at most %d characters.", CRM_EMAIL_MAX_ADDRESS);
			break;
		case CRM_EMAIL_INVALID_UTF8:
			*detail = pstrdup("The value contains a NUL character or bytes that are not valid UTF-8.");
			*hint = pstrdup("Convert the data to the database encoding before loading it.");
			break;
		case CRM_EMAIL_BAD_MAILTO:
			*detail = pstrdup("The mailto: link has an invalid %-escape or more than one address.");
			*hint = pstrdup("Store one address per value, without the mailto: link syntax.");
			break;
		case CRM_EMAIL_NO_AT:
			*detail = pstrdup("The address has no \"@\".");
			*hint = pstrdup("An address is written local-part@domain, as in ann@example.com.");
			break;
		case CRM_EMAIL_MULTIPLE_AT:
			*detail = pstrdup("The address has more than one \"@\".");
			*hint = pstrdup("Store one address per value; an \"@\" in the local part must be inside quotes.");
			break;
		case CRM_EMAIL_LOCAL_EMPTY:
			*detail = pstrdup("The local part (before the \"@\") is empty.");
			*hint = pstrdup("An address is written local-part@domain, as in ann@example.com.");
			break;
		case CRM_EMAIL_LOCAL_TOO_LONG:
			*detail = psprintf("The local part \"%s\" is longer than %d bytes.", part,
							   CRM_EMAIL_MAX_LOCAL);
			*hint = pstrdup("Check that the value holds one address and nothing else.");
			break;
		case CRM_EMAIL_LOCAL_DOT:
			*detail = psprintf("The local part \"%s\" starts or ends with a dot, or has two dots in a row.",
							   part);
			*hint = pstrdup("Remove the extra dot, or put the local part in double quotes if it is really meant.");
			break;
		case CRM_EMAIL_LOCAL_CHAR:
			*detail = psprintf("The local part \"%s\" contains \"%s\", which is not allowed outside quotes.",
							   part, ch ? ch : "");
			*hint = pstrdup("Remove the character, or put the local part in double quotes if it is really meant.");
			break;
		case CRM_EMAIL_QUOTE_UNCLOSED:
			*detail = psprintf("The quoted local part in \"%s\" has no closing quote.", part);
			*hint = pstrdup("Close the quote before the \"@\", and write a quote inside it as \\\".");
			break;
		case CRM_EMAIL_QUOTE_CHAR:
			*detail = pstrdup("The quoted local part contains a control or invisible character.");
			*hint = pstrdup("Remove the control or invisible character.");
			break;
		case CRM_EMAIL_QUOTE_TRAILING:
			*detail = psprintf("The text \"%s\" follows the closing quote of the local part.", part);
			*hint = pstrdup("The closing quote must be followed directly by \"@\".");
			break;
		case CRM_EMAIL_DOMAIN_EMPTY:
			*detail = pstrdup("The domain (after the \"@\") is empty.");
			*hint = pstrdup("An address is written local-part@domain, as in ann@example.com.");
			break;
		case CRM_EMAIL_DOMAIN_TOO_LONG:
			*detail = psprintf("The domain \"%s\" is longer than %d bytes in its ASCII form.",
							   part, CRM_EMAIL_MAX_DOMAIN);
			*hint = pstrdup("Check that the value holds one address and nothing else.");
			break;
		case CRM_EMAIL_DOMAIN_NO_DOT:
			*detail = psprintf("The domain \"%s\" has no dot.", part);
			*hint = pstrdup("Use the full domain name, as in example.com rather than example.");
			break;
		case CRM_EMAIL_DOMAIN_NUMERIC:
			*detail = psprintf("The domain \"%s\" ends in a numeric label.", part);
			*hint = pstrdup("Write an IP address in brackets, as in ann@[192.0.2.1].");
			break;
		case CRM_EMAIL_LABEL_EMPTY:
			*detail = psprintf("The domain \"%s\" starts or ends with a dot, or has two dots in a row.",
							   part);
			*hint = pstrdup("Remove the extra dot.");
			break;
		case CRM_EMAIL_LABEL_TOO_LONG:
			*detail = psprintf("The domain label \"%s\" is longer than %d bytes.", part,
							   CRM_EMAIL_MAX_LABEL);
			*hint = pstrdup("Check the domain for a missing dot.");
			break;
		case CRM_EMAIL_LABEL_HYPHEN:
			*detail = psprintf("The domain label \"%s\" starts or ends with a hyphen.", part);
			*hint = pstrdup("Remove the hyphen.");
			break;
		case CRM_EMAIL_LABEL_CHAR:
			if (ch)
				*detail = psprintf("The domain label \"%s\" contains \"%s\", which is not allowed in a domain name.",
								   part, ch);
			else
				*detail = psprintf("The domain label \"%s\" contains a character that is not allowed in a domain name.",
								   part);
			*hint = pstrdup("Domain names consist of letters, digits and hyphens separated by dots.");
			break;
		case CRM_EMAIL_IDN_PUNYCODE:
			*detail = psprintf("The domain label \"%s\" is not valid Punycode.", part);
			*hint = pstrdup("Type the internationalized domain in its Unicode form, as in bücher.de.");
			break;
		case CRM_EMAIL_IDN_INVALID:
			*detail = psprintf("The internationalized domain label \"%s\" breaks the IDNA rules (mixed writing directions, joiners or a leading combining mark).",
							   part);
			*hint = pstrdup("Check the domain for stray invisible or combining characters.");
			break;
		case CRM_EMAIL_IDN_UNAVAILABLE:
			*detail = pstrdup("The ICU library could not convert the internationalized domain.");
			*hint = pstrdup("Check the server log and the ICU installation.");
			break;
		case CRM_EMAIL_LITERAL_UNCLOSED:
			*detail = psprintf("The address literal \"%s\" has no closing bracket.", part);
			*hint = pstrdup("Write an IP address as [192.0.2.1] or [IPv6:2001:db8::1].");
			break;
		case CRM_EMAIL_LITERAL_INVALID:
			*detail = psprintf("The address literal \"%s\" is not an IPv4 or IPv6 address.", part);
			*hint = pstrdup("Write an IP address as [192.0.2.1] or [IPv6:2001:db8::1].");
			break;
		case CRM_EMAIL_TOO_LONG:
			*detail = psprintf("The address is longer than %d bytes with its domain in ASCII form.",
							   CRM_EMAIL_MAX_ADDRESS);
			*hint = pstrdup("Check that the value holds one address and nothing else.");
			break;
	}
}

/*
 * Parse text in the database encoding.  Returns false and fills p when the
 * value is invalid.
 */
static bool
ParseServerText(const char *s, size_t len, CrmEmailParsed *p)
{
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		s = pg_server_to_any(s, (int) len, PG_UTF8);
		len = strlen(s);
	}
	return crm_email_parse(s, len, p) == CRM_EMAIL_OK;
}

static void
ReportInvalid(const char *input, const CrmEmailParsed *p)
{
	char	   *detail,
			   *hint;

	CrmEmailProblem(p, &detail, &hint);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "email", input),
			 detail ? errdetail("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/* Build the on-disk value from a parse result. */
static struct varlena *
MakeEmail(const CrmEmailParsed *p)
{
	uint8		map[(CRM_EMAIL_MAX_ADDRESS + 7) / 8 + 1];
	size_t		maplen = 0;
	bool		casemap = p->typed_len <= CRM_EMAIL_MAX_ADDRESS &&
		crm_email_casemap(p, map, &maplen);
	size_t		rest = casemap ? maplen : p->typed_len;
	size_t		size = VARHDRSZ + EMAIL_HDRSZ + p->lkey_len + p->dkey_len + rest;
	Email	   *e = (Email *) palloc(size);
	char	   *w = e->data;

	SET_VARSIZE(e, size);
	e->flags = casemap ? EMAIL_CASEMAP : 0;
	e->lkey_len = (uint8) p->lkey_len;
	e->dkey_len = (uint8) p->dkey_len;
	memcpy(w, p->lkey, p->lkey_len);
	w += p->lkey_len;
	memcpy(w, p->dkey, p->dkey_len);
	w += p->dkey_len;
	memcpy(w, casemap ? (const char *) map : p->typed, rest);
	return (struct varlena *) e;
}

/*
 * Parse and build a value.  shown is the input as the user wrote it, for
 * the message; when NULL the input itself is shown (it is then known to be
 * a terminated string only on error paths that copy it).
 */
static struct varlena *
EmailFromServerText(const char *s, size_t len, const char *shown)
{
	CrmEmailParsed p;

	if (!ParseServerText(s, len, &p))
		ReportInvalid(shown ? shown : pnstrdup(s, len), &p);
	return MakeEmail(&p);
}

/*
 * Text in the database encoding from UTF-8 octets; returns s itself when it
 * is already a terminated string in a UTF-8 database.
 */
static char *
ToServer(char *s, size_t len)
{
	if (GetDatabaseEncoding() == PG_UTF8)
		return s[len] == '\0' ? s : pnstrdup(s, len);
	return pg_any_to_server(pnstrdup(s, len), (int) len, PG_UTF8);
}

Datum
crm_email_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	PG_RETURN_EMAIL_P(EmailFromServerText(s, strlen(s), s));
}

Datum
crm_email_out(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		len;
	char	   *t = EmailTyped(v, &len);

	PG_RETURN_CSTRING(ToServer(t, len));
}

/* Binary input: the typed address as text, checked exactly like input. */
Datum
crm_email_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nbytes;
	char	   *s = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);

	PG_RETURN_EMAIL_P(EmailFromServerText(s, (size_t) nbytes, s));
}

Datum
crm_email_send(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		len;
	char	   *t = EmailTyped(v, &len);
	char	   *s = ToServer(t, len);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendtext(&buf, s, strlen(s));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
crm_email_from_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_EMAIL_P(EmailFromServerText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), NULL));
}

Datum
crm_email_to_text(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		len;
	char	   *t = EmailTyped(v, &len);

	PG_RETURN_TEXT_P(cstring_to_text(ToServer(t, len)));
}

/* Local key first, then domain key; each by octets, shorter first. */
static int
EmailCmp(const struct varlena *a, const struct varlena *b)
{
	size_t		al,
				bl;
	const char *ak = EmailLkey(a, &al);
	const char *bk = EmailLkey(b, &bl);
	int			r = memcmp(ak, bk, Min(al, bl));

	if (r != 0)
		return r;
	if (al != bl)
		return al < bl ? -1 : 1;
	ak = EmailDkey(a, &al);
	bk = EmailDkey(b, &bl);
	r = memcmp(ak, bk, Min(al, bl));
	if (r != 0)
		return r;
	if (al != bl)
		return al < bl ? -1 : 1;
	return 0;
}

static inline bool
EmailEq(const struct varlena *a, const struct varlena *b)
{
	const uint8 *ab = EmailBytes(a);
	const uint8 *bb = EmailBytes(b);

	return ab[1] == bb[1] && ab[2] == bb[2] &&
		memcmp(ab + EMAIL_HDRSZ, bb + EMAIL_HDRSZ, ab[1] + ab[2]) == 0;
}

#define EMAIL_CMP_FUNC(name, expr) \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	struct varlena *a = PG_GETARG_EMAIL_PP(0); \
	struct varlena *b = PG_GETARG_EMAIL_PP(1); \
	bool		r = (expr); \
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	PG_RETURN_BOOL(r); \
}

EMAIL_CMP_FUNC(crm_email_eq, EmailEq(a, b))
EMAIL_CMP_FUNC(crm_email_ne, !EmailEq(a, b))
EMAIL_CMP_FUNC(crm_email_lt, EmailCmp(a, b) < 0)
EMAIL_CMP_FUNC(crm_email_le, EmailCmp(a, b) <= 0)
EMAIL_CMP_FUNC(crm_email_gt, EmailCmp(a, b) > 0)
EMAIL_CMP_FUNC(crm_email_ge, EmailCmp(a, b) >= 0)

Datum
crm_email_cmp(PG_FUNCTION_ARGS)
{
	struct varlena *a = PG_GETARG_EMAIL_PP(0);
	struct varlena *b = PG_GETARG_EMAIL_PP(1);
	int			r = EmailCmp(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(r);
}

/* Sort comparator without the fmgr call of crm_email_cmp. */
static int
EmailFastCmp(Datum x, Datum y, SortSupport ssup)
{
	struct varlena *a = DatumGetEmailPP(x);
	struct varlena *b = DatumGetEmailPP(y);
	int			r = EmailCmp(a, b);

	if ((Pointer) a != DatumGetPointer(x))
		pfree(a);
	if ((Pointer) b != DatumGetPointer(y))
		pfree(b);
	return r;
}

/*
 * Abbreviated key: the first 8 octets of the local key, zero-padded, as a
 * big-endian integer.  Keys hold no NUL, so padding sorts a shorter key
 * first exactly as EmailCmp does.
 */
static Datum
EmailAbbrev(Datum original, SortSupport ssup)
{
	struct varlena *v = DatumGetEmailPP(original);
	size_t		len,
				i;
	const char *l = EmailLkey(v, &len);
	uint64		k = 0;

	for (i = 0; i < 8; i++)
		k = (k << 8) | (i < len ? (uint8) l[i] : 0);
	if ((Pointer) v != DatumGetPointer(original))
		pfree(v);
	return UInt64GetDatum(k);
}

static bool
EmailAbbrevAbort(int memtupcount, SortSupport ssup)
{
	return false;
}

Datum
crm_email_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = EmailFastCmp;
	if (ssup->abbreviate && SIZEOF_DATUM == 8)
	{
		ssup->abbrev_full_comparator = EmailFastCmp;
		ssup->comparator = ssup_datum_unsigned_cmp;
		ssup->abbrev_converter = EmailAbbrev;
		ssup->abbrev_abort = EmailAbbrevAbort;
	}
	PG_RETURN_VOID();
}

/* Hash the two key lengths and both keys: exactly what equality compares. */
Datum
crm_email_hash(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	const uint8 *b = EmailBytes(v);
	Datum		h = hash_any(b + 1, 2 + b[1] + b[2]);

	PG_FREE_IF_COPY(v, 0);
	return h;
}

Datum
crm_email_hash_extended(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	const uint8 *b = EmailBytes(v);
	Datum		h = hash_any_extended(b + 1, 2 + b[1] + b[2], PG_GETARG_INT64(1));

	PG_FREE_IF_COPY(v, 0);
	return h;
}

/* The domain as compared: lower case, internationalized labels as A-labels. */
Datum
crm_email_domain(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		len;
	const char *d = EmailDkey(v, &len);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(d, (int) len));
}

/* The local part as typed (quotes included when they were typed). */
Datum
crm_email_local(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		len;
	char	   *t = EmailTyped(v, &len);
	char	   *at = t + len;

	/* The domain holds no @, so the last one ends the local part. */
	while (at > t && at[-1] != '@')
		at--;
	if (at == t)
		elog(ERROR, "corrupt crm.email value: no \"@\"");
	PG_RETURN_TEXT_P(cstring_to_text(ToServer(t, (size_t) (at - t - 1))));
}

/*
 * The domain and each parent domain, most specific first, without the
 * top-level label: a.b.example.com gives {a.b.example.com, b.example.com,
 * example.com}.  Domain list lookups match any of these.
 */
Datum
crm_email_domain_suffixes(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		len,
				i;
	const char *d = EmailDkey(v, &len);
	Datum		elems[CRM_EMAIL_MAX_KEY];
	int			n = 0;
	size_t		last_dot = len;

	for (i = len; i > 0; i--)
		if (d[i - 1] == '.')
		{
			last_dot = i - 1;
			break;
		}
	if (d[0] != '[')
	{
		elems[n++] = PointerGetDatum(cstring_to_text_with_len(d, (int) len));
		for (i = 0; i < last_dot; i++)
			if (d[i] == '.' && i + 1 < last_dot)
				elems[n++] = PointerGetDatum(cstring_to_text_with_len(d + i + 1,
																	  (int) (len - i - 1)));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Provider-aware canonical address (Gmail dots and +tags, sub-addressing),
 * and for every other domain the comparison form: folded local part and
 * lower-case ASCII domain.
 */
Datum
crm_email_canonical(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		llen,
				dlen,
				outl,
				outd;
	const char *l = EmailLkey(v, &llen);
	const char *d = EmailDkey(v, &dlen);
	char		local[CRM_EMAIL_MAX_KEY + 1];
	const char *dom;
	StringInfoData s;
	CrmEmailParsed *p = palloc(sizeof(CrmEmailParsed));

	if (!crm_email_canonical_parts(l, llen, d, dlen, local, &outl, &dom, &outd))
	{
		memcpy(local, l, llen);
		outl = llen;
		dom = d;
		outd = dlen;
	}
	initStringInfo(&s);
	appendBinaryStringInfo(&s, local, (int) outl);
	appendStringInfoChar(&s, '@');
	appendBinaryStringInfo(&s, dom, (int) outd);

	/*
	 * Case folding can lengthen a local part past 64 octets; such an
	 * address has no shorter spelling, so it is its own canonical form.
	 */
	if (crm_email_parse(s.data, s.len, p) != CRM_EMAIL_OK)
		PG_RETURN_EMAIL_P(PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0)));
	PG_RETURN_EMAIL_P(MakeEmail(p));
}

Datum
crm_email_is_role(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_EMAIL_PP(0);
	size_t		len;
	const char *l = EmailLkey(v, &len);

	PG_RETURN_BOOL(crm_email_role_local(l, len));
}

/*
 * The address inside a display form; NULL-free: raises the usual input
 * error when the text holds no single valid address.
 */
static bool
ParseDisplay(text *t, CrmEmailParsed *p, bool *syntax_ok)
{
	const char *s = VARDATA_ANY(t);
	size_t		len = VARSIZE_ANY_EXHDR(t),
				off,
				span;

	*syntax_ok = crm_email_display_span(s, len, &off, &span);
	if (!*syntax_ok)
		return false;
	return ParseServerText(s + off, span, p);
}

Datum
crm_email_from_display(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	CrmEmailParsed *p = palloc(sizeof(CrmEmailParsed));
	bool		syntax_ok;

	if (!ParseDisplay(t, p, &syntax_ok))
	{
		if (!syntax_ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", "email",
							text_to_cstring(t)),
					 errdetail("The text has an unclosed quote or angle bracket, or more than one address in angle brackets."),
					 errhint("Write one address, as in \"Ann Lee\" <ann@example.com>.")));
		ReportInvalid(text_to_cstring(t), p);
	}
	PG_RETURN_EMAIL_P(MakeEmail(p));
}

Datum
crm_try_email(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	CrmEmailParsed *p = palloc(sizeof(CrmEmailParsed));

	if (!ParseServerText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), p))
		PG_RETURN_NULL();
	PG_RETURN_EMAIL_P(MakeEmail(p));
}

Datum
crm_email_problem(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	CrmEmailParsed *p = palloc(sizeof(CrmEmailParsed));
	char	   *detail,
			   *hint;

	if (ParseServerText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), p))
		PG_RETURN_NULL();
	CrmEmailProblem(p, &detail, &hint);
	PG_RETURN_TEXT_P(cstring_to_text(detail));
}
