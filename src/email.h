/*
 * email.h
 *	  The crm.email type: parser interface and on-disk layout.
 *
 * The first half is the backend-free parser core (email_parse.c), which the
 * libFuzzer harness links without the server: it reports a problem as a code
 * and the span of the offending part instead of calling ereport.  The second
 * half, compiled only inside the server (after postgres.h), describes the
 * varlena layout and the fmgr macros used by email.c.
 */
#ifndef CRM_EMAIL_H
#define CRM_EMAIL_H

#include <stddef.h>
#include <stdbool.h>

/* Limits from RFC 5321 section 4.5.3.1 and RFC 5322/3696 errata. */
#define CRM_EMAIL_MAX_LOCAL		64	/* octets in the local part, as typed */
#define CRM_EMAIL_MAX_ADDRESS	254 /* octets in local@domain, ASCII domain */
#define CRM_EMAIL_MAX_DOMAIN	253 /* octets in the ASCII domain */
#define CRM_EMAIL_MAX_LABEL		63	/* octets in one ASCII domain label */
#define CRM_EMAIL_MAX_INPUT		1024	/* octets accepted after trimming */
#define CRM_EMAIL_MAX_KEY		255 /* comparison key parts fit a uint8 */

/* What can be wrong with an address; see CrmEmailProblem() in email.c. */
typedef enum CrmEmailError
{
	CRM_EMAIL_OK = 0,
	CRM_EMAIL_EMPTY,			/* nothing left after trimming */
	CRM_EMAIL_TOO_LONG_INPUT,	/* absurdly long input, not parsed */
	CRM_EMAIL_INVALID_UTF8,		/* bytes that are not UTF-8 */
	CRM_EMAIL_BAD_MAILTO,		/* mailto: with bad %-escape or 2 addresses */
	CRM_EMAIL_NO_AT,			/* no @ at all */
	CRM_EMAIL_MULTIPLE_AT,		/* more than one @ outside quotes */
	CRM_EMAIL_LOCAL_EMPTY,		/* nothing before the @ */
	CRM_EMAIL_LOCAL_TOO_LONG,	/* local part over 64 octets */
	CRM_EMAIL_LOCAL_DOT,		/* leading, trailing or double dot */
	CRM_EMAIL_LOCAL_CHAR,		/* character not allowed unquoted */
	CRM_EMAIL_QUOTE_UNCLOSED,	/* quoted local part without closing quote */
	CRM_EMAIL_QUOTE_CHAR,		/* character not allowed even in quotes */
	CRM_EMAIL_QUOTE_TRAILING,	/* text between closing quote and @ */
	CRM_EMAIL_DOMAIN_EMPTY,		/* nothing after the @ */
	CRM_EMAIL_DOMAIN_TOO_LONG,	/* ASCII domain over 253 octets */
	CRM_EMAIL_DOMAIN_NO_DOT,	/* single-label domain */
	CRM_EMAIL_DOMAIN_NUMERIC,	/* numeric top-level label: bare IP? */
	CRM_EMAIL_LABEL_EMPTY,		/* empty label: leading/trailing/double dot */
	CRM_EMAIL_LABEL_TOO_LONG,	/* label over 63 octets */
	CRM_EMAIL_LABEL_HYPHEN,		/* label starts or ends with a hyphen */
	CRM_EMAIL_LABEL_CHAR,		/* character not allowed in a domain */
	CRM_EMAIL_IDN_PUNYCODE,		/* xn-- label that is not valid Punycode */
	CRM_EMAIL_IDN_INVALID,		/* IDNA rules (bidi, joiners, marks) */
	CRM_EMAIL_IDN_UNAVAILABLE,	/* ICU could not be set up */
	CRM_EMAIL_LITERAL_UNCLOSED, /* [ without ] */
	CRM_EMAIL_LITERAL_INVALID,	/* [...] that is no IPv4 or IPv6 address */
	CRM_EMAIL_TOO_LONG			/* whole address over 254 octets */
} CrmEmailError;

/*
 * A parsed address.  typed/typed_len is the address as it will be kept and
 * printed (trimmed, mailto: removed); it points either into the caller's
 * input or into buf.  lkey and dkey form the comparison key: the local part
 * case-folded (and unquoted when quoting was unnecessary) and the domain in
 * lower-case ASCII (IDNA A-labels, or a canonical address literal).
 *
 * On error, part_off/part_len locate the offending part (local part, label,
 * domain) and char_off/char_len the offending character if there is one,
 * both as offsets into typed.
 */
typedef struct CrmEmailParsed
{
	CrmEmailError error;
	const char *typed;
	size_t		typed_len;
	size_t		local_len;		/* octets of the local part in typed */
	size_t		part_off;
	size_t		part_len;
	size_t		char_off;
	size_t		char_len;
	bool		has_char;
	size_t		lkey_len;
	size_t		dkey_len;
	char		lkey[CRM_EMAIL_MAX_KEY + 1];
	char		dkey[CRM_EMAIL_MAX_KEY + 1];
	char		buf[CRM_EMAIL_MAX_INPUT + 1];
} CrmEmailParsed;

/* Parse UTF-8 text as typed by a person.  Returns out->error. */
extern CrmEmailError crm_email_parse(const char *in, size_t len,
									 CrmEmailParsed *out);

/*
 * Find the address inside a display form such as "Ann Lee" <ann@x.com>,
 * Ann Lee <ann@x.com>, ann@x.com (Ann Lee) or a bare address.  Sets the
 * span of the address text and returns true, or returns false when the
 * text has an unbalanced < or quote.
 */
extern bool crm_email_display_span(const char *in, size_t len,
								   size_t *off, size_t *span);

/*
 * When the typed form is the key local@domain with some ASCII letters in
 * upper case, write a bitmap of those positions to map (room for
 * (CRM_EMAIL_MAX_ADDRESS + 7) / 8 octets), its length without trailing zero
 * octets to *maplen, and return true.  crm_email_apply_casemap() turns the
 * key back into the typed form.
 */
extern bool crm_email_casemap(const CrmEmailParsed *p, unsigned char *map,
							  size_t *maplen);
extern void crm_email_apply_casemap(char *key, size_t len,
									const unsigned char *map, size_t maplen);

/* Is the (lower-case) local part a role mailbox such as info or sales? */
extern bool crm_email_role_local(const char *lkey, size_t len);

/*
 * Provider-aware canonical local part: for Gmail, dots and +tag removed,
 * for providers with sub-addressing, +tag removed.  Writes at most
 * CRM_EMAIL_MAX_KEY octets to local_out and a domain to domain_out
 * (googlemail.com becomes gmail.com); returns false when the domain is not
 * a provider we know, leaving the outputs untouched.
 */
extern bool crm_email_canonical_parts(const char *lkey, size_t llen,
									  const char *dkey, size_t dlen,
									  char *local_out, size_t *local_out_len,
									  const char **domain_out,
									  size_t *domain_out_len);

#ifdef PG_VERSION_NUM

/*
 * On disk: varlena header, a flags octet, two length octets, the local key,
 * the domain key, then the rest:
 *
 *	flags 0:				 the address as typed (UTF-8, never empty);
 *	flags EMAIL_CASEMAP:	 a bitmap of the positions of local@domain (the
 *							 key) that were typed in upper case, trailing
 *							 zero octets dropped, so empty when the address
 *							 was typed exactly as its key.
 *
 * The case map covers the common case of an ASCII address that differs from
 * its key only by letter case, so such values cost the key plus a few bits.
 * Only single octets in the header, so a value needs no alignment and short
 * (1-byte header) varlenas are read in place without copying.  Hashing and
 * equality read the two lengths and the keys, which are contiguous.
 */
typedef struct Email
{
	int32		vl_len_;
	uint8		flags;
	uint8		lkey_len;
	uint8		dkey_len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} Email;

#define EMAIL_HDRSZ		3		/* flags, lkey_len, dkey_len */
#define EMAIL_CASEMAP	0x01

static inline const uint8 *
EmailBytes(const struct varlena *v)
{
	return (const uint8 *) VARDATA_ANY(v);
}

static inline const char *
EmailLkey(const struct varlena *v, size_t *len)
{
	*len = EmailBytes(v)[1];
	return (const char *) EmailBytes(v) + EMAIL_HDRSZ;
}

static inline const char *
EmailDkey(const struct varlena *v, size_t *len)
{
	*len = EmailBytes(v)[2];
	return (const char *) EmailBytes(v) + EMAIL_HDRSZ + EmailBytes(v)[1];
}

#define DatumGetEmailPP(X)		((struct varlena *) PG_DETOAST_DATUM_PACKED(X))
#define PG_GETARG_EMAIL_PP(n)	DatumGetEmailPP(PG_GETARG_DATUM(n))
#define PG_RETURN_EMAIL_P(x)	PG_RETURN_POINTER(x)

#endif							/* PG_VERSION_NUM */

#endif							/* CRM_EMAIL_H */
