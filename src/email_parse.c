/*
 * email_parse.c
 *	  Backend-free parser for crm.email: what people type to a checked address
 *	  and its comparison key.
 *
 * Input is the text a person typed or pasted: surrounding white space
 * (including no-break and zero-width spaces and a byte-order mark) and a
 * mailto: prefix are dropped, the rest must be one address as mail systems
 * accept it (RFC 5321 with RFC 6531 UTF-8 local parts): a dot-atom or quoted
 * local part of at most 64 octets, and a domain of letter-digit-hyphen labels
 * of at most 63 octets each, with at least one dot, or an IPv4/IPv6 literal
 * in brackets.  Internationalized domains go through ICU's UTS #46 mapping
 * (non-transitional, STD3 rules, bidi and CONTEXTJ checks), so the stored
 * key uses A-labels and bücher.de equals xn--bcher-kva.de.
 *
 * The result keeps the address as typed, for printing, and a key made of
 * the case-folded local part and the lower-case ASCII domain, for equality,
 * ordering and hashing, so that comparisons never redo IDNA.  Plain ASCII
 * domains are checked and lowered here without calling ICU, which keeps
 * input close to the cost of lower(text).
 *
 * This file includes no PostgreSQL header: it allocates nothing, reports
 * problems as a code plus the span of the offending part, and is linked
 * as-is by the libFuzzer harness in test/fuzz/email_fuzz.c.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicode/uchar.h>
#include <unicode/uidna.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "email.h"

#define FOLD_UNITS 1024			/* UTF-16 units; local parts are <= 64 octets */

static inline bool
IsAsciiAtext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static inline bool
IsLdh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-';
}

static inline unsigned char
AsciiLower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/*
 * Decode one UTF-8 sequence at s (len octets available).  Returns its length
 * and sets *cp, or returns 0 for anything that is not well-formed UTF-8
 * (overlong forms, surrogates, values above U+10FFFF, truncation).
 */
static size_t
Utf8Decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t	c;
	size_t		n,
				i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	else if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		c &= 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		c &= 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		c &= 0x07;
	}
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
		(c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

/*
 * Non-ASCII characters allowed in a local part (RFC 6531 UTF8-non-ascii),
 * minus the ones nobody can see or type on purpose: controls, format
 * characters, separators, private use and unassigned code points.
 */
static bool
UnicodeAllowedInLocal(uint32_t cp)
{
	switch (u_charType((UChar32) cp))
	{
		case U_CONTROL_CHAR:
		case U_FORMAT_CHAR:
		case U_UNASSIGNED:
		case U_PRIVATE_USE_CHAR:
		case U_SURROGATE:
		case U_SPACE_SEPARATOR:
		case U_LINE_SEPARATOR:
		case U_PARAGRAPH_SEPARATOR:
			return false;
		default:
			return true;
	}
}

/* Length of a white-space-like character at the start of s, or 0. */
static size_t
LeadingSpace(const unsigned char *s, size_t len)
{
	if (len >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')))
		return 1;
	if (len >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
		return 2;				/* U+00A0 no-break space */
	if (len >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x8B)
		return 3;				/* U+200B zero-width space */
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		return 3;				/* U+FEFF byte-order mark */
	return 0;
}

/* Length of a white-space-like character at the end of s, or 0. */
static size_t
TrailingSpace(const unsigned char *s, size_t len)
{
	if (len >= 1 && (s[len - 1] == ' ' || (s[len - 1] >= '\t' && s[len - 1] <= '\r')))
		return 1;
	if (len >= 2 && s[len - 2] == 0xC2 && s[len - 1] == 0xA0)
		return 2;
	if (len >= 3 && s[len - 3] == 0xE2 && s[len - 2] == 0x80 && s[len - 1] == 0x8B)
		return 3;
	if (len >= 3 && s[len - 3] == 0xEF && s[len - 2] == 0xBB && s[len - 1] == 0xBF)
		return 3;
	return 0;
}

static void
Trim(const char **s, size_t *len)
{
	size_t		n;

	while ((n = LeadingSpace((const unsigned char *) *s, *len)) > 0)
	{
		*s += n;
		*len -= n;
	}
	while ((n = TrailingSpace((const unsigned char *) *s, *len)) > 0)
		*len -= n;
}

static inline int
HexValue(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static CrmEmailError
Fail(CrmEmailParsed *out, CrmEmailError e, size_t part_off, size_t part_len)
{
	out->error = e;
	out->part_off = part_off;
	out->part_len = part_len;
	return e;
}

static CrmEmailError
FailChar(CrmEmailParsed *out, CrmEmailError e, size_t part_off, size_t part_len,
		 size_t char_off, size_t char_len)
{
	out->has_char = true;
	out->char_off = char_off;
	out->char_len = char_len;
	return Fail(out, e, part_off, part_len);
}

/*
 * Case-fold UTF-8 text with ICU the way Unicode defines canonical caseless
 * matching (D145: NFD, fold, NFD), composed to NFC at the end so keys stay
 * short.  Folding can break normalization (U+00DF U+0301 folds to "ss" plus
 * a mark that then composes with the second s), which is why the text is
 * decomposed first and recomposed after.  Returns false when the result
 * does not fit in cap octets or ICU fails.
 */
static bool
FoldUtf8(const char *s, size_t len, char *dst, size_t cap, size_t *dst_len)
{
	UChar		a[FOLD_UNITS],
				b[FOLD_UNITS];
	int32_t		alen,
				blen,
				olen;
	UErrorCode	err = U_ZERO_ERROR;
	const UNormalizer2 *nfd,
			   *nfc;

	u_strFromUTF8(a, FOLD_UNITS, &alen, s, (int32_t) len, &err);
	if (U_FAILURE(err))
		return false;
	nfd = unorm2_getNFDInstance(&err);
	nfc = unorm2_getNFCInstance(&err);
	if (U_FAILURE(err))
		return false;
	blen = unorm2_normalize(nfd, a, alen, b, FOLD_UNITS, &err);
	if (U_FAILURE(err))
		return false;
	alen = u_strFoldCase(a, FOLD_UNITS, b, blen, U_FOLD_CASE_DEFAULT, &err);
	if (U_FAILURE(err))
		return false;
	blen = unorm2_normalize(nfc, a, alen, b, FOLD_UNITS, &err);
	if (U_FAILURE(err))
		return false;
	u_strToUTF8(dst, (int32_t) cap, &olen, b, blen, &err);
	if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING || olen < 0 ||
		(size_t) olen > cap)
		return false;
	*dst_len = (size_t) olen;
	return true;
}

/* Case-fold: ASCII fast path, ICU for anything else. */
static bool
FoldLocal(const char *s, size_t len, char *dst, size_t cap, size_t *dst_len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if ((unsigned char) s[i] >= 0x80)
			return FoldUtf8(s, len, dst, cap, dst_len);
	if (len > cap)
		return false;
	for (i = 0; i < len; i++)
		dst[i] = (char) AsciiLower((unsigned char) s[i]);
	*dst_len = len;
	return true;
}

/*
 * Check that s is a dot-atom: atext (or allowed UTF-8) separated by single
 * dots, not starting or ending with one.  On failure, *bad and *badlen locate
 * the character and *dot says whether it was a dot problem.
 */
static bool
IsDotAtom(const char *s, size_t len, size_t *bad, size_t *badlen, bool *dot)
{
	size_t		i = 0;

	*dot = false;
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '.')
		{
			if (i == 0 || i + 1 == len || s[i + 1] == '.')
			{
				*bad = (i + 1 < len && s[i + 1] == '.' && i > 0) ? i + 1 : i;
				*badlen = 1;
				*dot = true;
				return false;
			}
			i++;
		}
		else if (c < 0x80)
		{
			if (!IsAsciiAtext(c))
			{
				*bad = i;
				*badlen = 1;
				return false;
			}
			i++;
		}
		else
		{
			uint32_t	cp;
			size_t		n = Utf8Decode((const unsigned char *) s + i, len - i, &cp);

			if (n == 0 || !UnicodeAllowedInLocal(cp))
			{
				*bad = i;
				*badlen = n ? n : 1;
				return false;
			}
			i += n;
		}
	}
	return true;
}

/*
 * The local part: typed[0 .. local_len) is known to hold no unquoted @.
 * Checks it and writes its key.
 */
static CrmEmailError
ParseLocal(CrmEmailParsed *out, size_t local_len, bool quoted)
{
	const char *s = out->typed;
	char		raw[CRM_EMAIL_MAX_LOCAL];
	char		folded[CRM_EMAIL_MAX_KEY + 1];
	size_t		rawlen = 0,
				flen,
				bad,
				badlen,
				i;
	bool		dot;

	if (!quoted)
	{
		if (local_len == 0)
			return Fail(out, CRM_EMAIL_LOCAL_EMPTY, 0, 0);
		if (!IsDotAtom(s, local_len, &bad, &badlen, &dot))
			return FailChar(out, dot ? CRM_EMAIL_LOCAL_DOT : CRM_EMAIL_LOCAL_CHAR,
							0, local_len, bad, badlen);
		if (local_len > CRM_EMAIL_MAX_LOCAL)
			return Fail(out, CRM_EMAIL_LOCAL_TOO_LONG, 0, local_len);
		if (!FoldLocal(s, local_len, out->lkey, CRM_EMAIL_MAX_KEY, &out->lkey_len))
			return Fail(out, CRM_EMAIL_LOCAL_TOO_LONG, 0, local_len);
		return CRM_EMAIL_OK;
	}

	/* Quoted: the caller found the closing quote at local_len - 1. */
	if (local_len > CRM_EMAIL_MAX_LOCAL)
		return Fail(out, CRM_EMAIL_LOCAL_TOO_LONG, 0, local_len);
	for (i = 1; i + 1 < local_len;)
	{
		size_t		n = 1;

		if (s[i] == '\\')
			i++;
		if ((unsigned char) s[i] >= 0x80)
		{
			uint32_t	cp;

			n = Utf8Decode((const unsigned char *) s + i, local_len - 1 - i, &cp);
			if (n == 0)
				n = 1;			/* cannot happen: input was validated */
		}
		memcpy(raw + rawlen, s + i, n);
		rawlen += n;
		i += n;
	}
	if (rawlen == 0)
		return Fail(out, CRM_EMAIL_LOCAL_EMPTY, 0, local_len);
	if (!FoldLocal(raw, rawlen, folded, CRM_EMAIL_MAX_KEY, &flen))
		return Fail(out, CRM_EMAIL_LOCAL_TOO_LONG, 0, local_len);

	/*
	 * "john.smith"@x is the same mailbox as john.smith@x (RFC 5321 4.1.2):
	 * unnecessary quotes are not part of the key.
	 */
	if (IsDotAtom(folded, flen, &bad, &badlen, &dot))
	{
		memcpy(out->lkey, folded, flen);
		out->lkey_len = flen;
		return CRM_EMAIL_OK;
	}
	out->lkey_len = 0;
	out->lkey[out->lkey_len++] = '"';
	for (i = 0; i < flen; i++)
	{
		if (out->lkey_len + 3 > CRM_EMAIL_MAX_KEY)
			return Fail(out, CRM_EMAIL_LOCAL_TOO_LONG, 0, local_len);
		if (folded[i] == '"' || folded[i] == '\\')
			out->lkey[out->lkey_len++] = '\\';
		out->lkey[out->lkey_len++] = folded[i];
	}
	out->lkey[out->lkey_len++] = '"';
	return CRM_EMAIL_OK;
}

/* Strict dotted-quad IPv4 (RFC 5321 IPv4-address-literal), canonicalized. */
static bool
ParseIPv4(const char *s, size_t len, char *dst, size_t *dst_len)
{
	unsigned	v[4];
	int			parts = 0;
	size_t		i = 0;

	while (parts < 4)
	{
		size_t		digits = 0;
		unsigned	n = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 3)
		{
			n = n * 10 + (unsigned) (s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || n > 255)
			return false;
		v[parts++] = n;
		if (parts < 4)
		{
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	if (i != len)
		return false;
	*dst_len = (size_t) snprintf(dst, 20, "%u.%u.%u.%u", v[0], v[1], v[2], v[3]);
	return true;
}

/* [a.b.c.d] or [IPv6:...]; the key is the canonical text form. */
static CrmEmailError
ParseLiteral(CrmEmailParsed *out, size_t doff, size_t dlen)
{
	const char *d = out->typed + doff;
	const char *in;
	size_t		inlen,
				n;
	char		tmp[64];
	char		canon[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];

	if (dlen < 2 || d[dlen - 1] != ']')
		return Fail(out, CRM_EMAIL_LITERAL_UNCLOSED, doff, dlen);
	in = d + 1;
	inlen = dlen - 2;
	if (inlen > 5 && strncasecmp(in, "IPv6:", 5) == 0)
	{
		if (inlen - 5 >= sizeof(tmp))
			return Fail(out, CRM_EMAIL_LITERAL_INVALID, doff, dlen);
		memcpy(tmp, in + 5, inlen - 5);
		tmp[inlen - 5] = '\0';
		if (inet_pton(AF_INET6, tmp, addr) != 1 ||
			inet_ntop(AF_INET6, addr, canon, sizeof(canon)) == NULL)
			return Fail(out, CRM_EMAIL_LITERAL_INVALID, doff, dlen);
		out->dkey_len = (size_t) snprintf(out->dkey, sizeof(out->dkey),
										  "[ipv6:%s]", canon);
		return CRM_EMAIL_OK;
	}
	if (!ParseIPv4(in, inlen, canon, &n))
		return Fail(out, CRM_EMAIL_LITERAL_INVALID, doff, dlen);
	out->dkey_len = (size_t) snprintf(out->dkey, sizeof(out->dkey), "[%s]", canon);
	return CRM_EMAIL_OK;
}

/*
 * Check an ASCII domain label by label and write it lower-cased to dst.
 * Offsets reported are relative to the string checked, plus base.
 * *has_ace is set when a label starts with xn--, which only ICU can check.
 */
static CrmEmailError
CheckAsciiDomain(CrmEmailParsed *out, const char *d, size_t dlen, size_t base,
				 char *dst, bool *has_ace)
{
	size_t		start = 0,
				i;

	*has_ace = false;
	for (;;)
	{
		size_t		end = start;

		while (end < dlen && d[end] != '.')
			end++;
		if (end == start)
			return Fail(out, CRM_EMAIL_LABEL_EMPTY, base, dlen);
		for (i = start; i < end; i++)
			if (!IsLdh((unsigned char) d[i]))
			{
				size_t		n = 1;
				uint32_t	cp;

				if ((unsigned char) d[i] >= 0x80)
					n = Utf8Decode((const unsigned char *) d + i, end - i, &cp);
				return FailChar(out, CRM_EMAIL_LABEL_CHAR, base + start, end - start,
								base + i, n ? n : 1);
			}
		if (end - start > CRM_EMAIL_MAX_LABEL)
			return Fail(out, CRM_EMAIL_LABEL_TOO_LONG, base + start, end - start);
		if (d[start] == '-' || d[end - 1] == '-')
			return Fail(out, CRM_EMAIL_LABEL_HYPHEN, base + start, end - start);
		if (end - start >= 4 && strncasecmp(d + start, "xn--", 4) == 0)
			*has_ace = true;
		if (end == dlen)
			break;
		start = end + 1;
	}
	if (dlen > CRM_EMAIL_MAX_DOMAIN)
		return Fail(out, CRM_EMAIL_DOMAIN_TOO_LONG, base, dlen);
	for (i = 0; i < dlen; i++)
		dst[i] = (char) AsciiLower((unsigned char) d[i]);
	return CRM_EMAIL_OK;
}

static const UIDNA *
Uts46(void)
{
	static UIDNA *idna = NULL;

	if (idna == NULL)
	{
		UErrorCode	err = U_ZERO_ERROR;

		idna = uidna_openUTS46(UIDNA_USE_STD3_RULES | UIDNA_CHECK_BIDI |
							   UIDNA_CHECK_CONTEXTJ |
							   UIDNA_NONTRANSITIONAL_TO_ASCII |
							   UIDNA_NONTRANSITIONAL_TO_UNICODE, &err);
		if (U_FAILURE(err))
			idna = NULL;
	}
	return idna;
}

/*
 * Map UTS #46 error bits to our codes.  Hyphens in the third and fourth
 * positions are a registration rule, not something mail systems refuse.
 */
static CrmEmailError
IdnaError(uint32_t errors)
{
	errors &= ~(uint32_t) UIDNA_ERROR_HYPHEN_3_4;
	if (errors == 0)
		return CRM_EMAIL_OK;
	if (errors & UIDNA_ERROR_EMPTY_LABEL)
		return CRM_EMAIL_LABEL_EMPTY;
	if (errors & (UIDNA_ERROR_DISALLOWED | UIDNA_ERROR_LABEL_HAS_DOT))
		return CRM_EMAIL_LABEL_CHAR;
	if (errors & (UIDNA_ERROR_PUNYCODE | UIDNA_ERROR_INVALID_ACE_LABEL))
		return CRM_EMAIL_IDN_PUNYCODE;
	if (errors & UIDNA_ERROR_LABEL_TOO_LONG)
		return CRM_EMAIL_LABEL_TOO_LONG;
	if (errors & UIDNA_ERROR_DOMAIN_NAME_TOO_LONG)
		return CRM_EMAIL_DOMAIN_TOO_LONG;
	if (errors & (UIDNA_ERROR_LEADING_HYPHEN | UIDNA_ERROR_TRAILING_HYPHEN))
		return CRM_EMAIL_LABEL_HYPHEN;
	return CRM_EMAIL_IDN_INVALID;
}

/*
 * Convert a domain with ICU.  On error, find the first label ICU refuses on
 * its own, so the message can name it; otherwise name the whole domain.
 */
static CrmEmailError
ConvertIdn(CrmEmailParsed *out, size_t doff, size_t dlen)
{
	const UIDNA *idna = Uts46();
	const char *d = out->typed + doff;
	UIDNAInfo	info = UIDNA_INFO_INITIALIZER;
	UErrorCode	err = U_ZERO_ERROR;
	CrmEmailError e;
	int32_t		n;
	size_t		start = 0;

	if (idna == NULL)
		return Fail(out, CRM_EMAIL_IDN_UNAVAILABLE, doff, dlen);
	n = uidna_nameToASCII_UTF8(idna, d, (int32_t) dlen, out->dkey,
							   CRM_EMAIL_MAX_KEY, &info, &err);
	if (err == U_BUFFER_OVERFLOW_ERROR || err == U_STRING_NOT_TERMINATED_WARNING ||
		(U_SUCCESS(err) && n > CRM_EMAIL_MAX_KEY))
		return Fail(out, CRM_EMAIL_DOMAIN_TOO_LONG, doff, dlen);
	if (U_FAILURE(err))
		return Fail(out, CRM_EMAIL_IDN_UNAVAILABLE, doff, dlen);
	e = IdnaError(info.errors);
	if (e == CRM_EMAIL_OK)
	{
		out->dkey_len = (size_t) n;
		return CRM_EMAIL_OK;
	}
	while (start <= dlen)
	{
		size_t		end = start;
		char		tmp[CRM_EMAIL_MAX_KEY + 1];
		UIDNAInfo	linfo = UIDNA_INFO_INITIALIZER;
		UErrorCode	lerr = U_ZERO_ERROR;

		while (end < dlen && d[end] != '.')
			end++;
		if (end > start)
		{
			uidna_labelToASCII_UTF8(idna, d + start, (int32_t) (end - start), tmp,
									CRM_EMAIL_MAX_KEY, &linfo, &lerr);
			if (U_SUCCESS(lerr) && IdnaError(linfo.errors) != CRM_EMAIL_OK)
				return Fail(out, IdnaError(linfo.errors), doff + start, end - start);
		}
		start = end + 1;
	}
	return Fail(out, e, doff, dlen);
}

static CrmEmailError
ParseDomain(CrmEmailParsed *out, size_t doff)
{
	const char *d = out->typed + doff;
	size_t		dlen = out->typed_len - doff;
	size_t		i,
				last;
	bool		ascii = true,
				has_ace,
				numeric;
	CrmEmailError e;

	if (dlen == 0)
		return Fail(out, CRM_EMAIL_DOMAIN_EMPTY, doff, 0);
	if (d[0] == '[')
		return ParseLiteral(out, doff, dlen);
	for (i = 0; i < dlen; i++)
		if ((unsigned char) d[i] >= 0x80)
		{
			ascii = false;
			break;
		}
	if (ascii)
	{
		e = CheckAsciiDomain(out, d, dlen, doff, out->dkey, &has_ace);
		if (e != CRM_EMAIL_OK)
			return e;
		out->dkey_len = dlen;
		if (has_ace && (e = ConvertIdn(out, doff, dlen)) != CRM_EMAIL_OK)
			return e;
	}
	else
	{
		char		check[CRM_EMAIL_MAX_KEY + 1];

		if ((e = ConvertIdn(out, doff, dlen)) != CRM_EMAIL_OK)
			return e;
		/* Belt and braces: the result must itself be a valid ASCII domain. */
		e = CheckAsciiDomain(out, out->dkey, out->dkey_len, 0, check, &has_ace);
		if (e != CRM_EMAIL_OK)
		{
			out->has_char = false;
			return Fail(out, e, doff, dlen);
		}
	}

	/* At least two labels, and the last one must not be all digits. */
	last = out->dkey_len;
	while (last > 0 && out->dkey[last - 1] != '.')
		last--;
	if (last == 0)
		return Fail(out, CRM_EMAIL_DOMAIN_NO_DOT, doff, dlen);
	numeric = true;
	for (i = last; i < out->dkey_len; i++)
		if (out->dkey[i] < '0' || out->dkey[i] > '9')
			numeric = false;
	if (numeric)
		return Fail(out, CRM_EMAIL_DOMAIN_NUMERIC, doff, dlen);
	if (out->dkey_len > CRM_EMAIL_MAX_DOMAIN)
		return Fail(out, CRM_EMAIL_DOMAIN_TOO_LONG, doff, dlen);
	return CRM_EMAIL_OK;
}

/*
 * mailto:addr?query -> addr, %-escapes decoded into out->buf.  A comma
 * separates several recipients, which one value cannot hold.
 */
static CrmEmailError
StripMailto(CrmEmailParsed *out, const char **s, size_t *len)
{
	const char *q;
	size_t		i,
				n = 0;

	*s += 7;
	*len -= 7;
	q = memchr(*s, '?', *len);
	if (q)
		*len = (size_t) (q - *s);
	for (i = 0; i < *len; i++)
	{
		unsigned char c = (unsigned char) (*s)[i];

		if (c == '%')
		{
			int			hi,
						lo;

			if (i + 2 >= *len)
				return Fail(out, CRM_EMAIL_BAD_MAILTO, 0, 0);
			hi = HexValue((unsigned char) (*s)[i + 1]);
			lo = HexValue((unsigned char) (*s)[i + 2]);
			if (hi < 0 || lo < 0)
				return Fail(out, CRM_EMAIL_BAD_MAILTO, 0, 0);
			c = (unsigned char) (hi * 16 + lo);
			i += 2;
		}
		if (c == ',' || c == '\0')
			return Fail(out, CRM_EMAIL_BAD_MAILTO, 0, 0);
		out->buf[n++] = (char) c;
	}
	*s = out->buf;
	*len = n;
	Trim(s, len);
	return CRM_EMAIL_OK;
}

CrmEmailError
crm_email_parse(const char *in, size_t len, CrmEmailParsed *out)
{
	const char *s = in;
	const char *at;
	size_t		i,
				local_len;
	bool		quoted = false;
	CrmEmailError e;

	out->error = CRM_EMAIL_OK;
	out->has_char = false;
	out->part_off = out->part_len = out->char_off = out->char_len = 0;
	out->lkey_len = out->dkey_len = 0;
	out->local_len = 0;

	Trim(&s, &len);
	out->typed = s;
	out->typed_len = len;
	if (len > CRM_EMAIL_MAX_INPUT)
	{
		out->typed_len = 0;
		return Fail(out, CRM_EMAIL_TOO_LONG_INPUT, 0, 0);
	}
	if (len >= 7 && strncasecmp(s, "mailto:", 7) == 0)
	{
		if ((e = StripMailto(out, &s, &len)) != CRM_EMAIL_OK)
			return e;
		out->typed = s;
		out->typed_len = len;
	}
	if (len == 0)
		return Fail(out, CRM_EMAIL_EMPTY, 0, 0);

	/* Well-formed UTF-8 throughout; no NUL (recv could smuggle one in). */
	for (i = 0; i < len;)
	{
		uint32_t	cp;
		size_t		n = Utf8Decode((const unsigned char *) s + i, len - i, &cp);

		if (n == 0 || cp == 0)
			return FailChar(out, CRM_EMAIL_INVALID_UTF8, 0, len, i, 1);
		i += n;
	}

	/* Split local part and domain. */
	if (s[0] == '"')
	{
		quoted = true;
		for (i = 1; i < len; i++)
		{
			unsigned char c = (unsigned char) s[i];

			if (c == '"')
				break;
			if (c == '\\')
			{
				if (++i >= len)
					break;
				c = (unsigned char) s[i];
			}
			if (c < 0x80)
			{
				if (c < 32 || c == 127)
					return FailChar(out, CRM_EMAIL_QUOTE_CHAR, 0, len, i, 1);
			}
			else
			{
				uint32_t	cp;
				size_t		n = Utf8Decode((const unsigned char *) s + i, len - i, &cp);

				if (!UnicodeAllowedInLocal(cp))
					return FailChar(out, CRM_EMAIL_QUOTE_CHAR, 0, len, i, n);
				i += n - 1;
			}
		}
		if (i >= len)
			return Fail(out, CRM_EMAIL_QUOTE_UNCLOSED, 0, len);
		local_len = i + 1;
		if (local_len == len)
			return Fail(out, CRM_EMAIL_NO_AT, 0, len);
		if (s[local_len] != '@')
		{
			const char *next = memchr(s + local_len, '@', len - local_len);
			size_t		end = next ? (size_t) (next - s) : len;

			return Fail(out, CRM_EMAIL_QUOTE_TRAILING, local_len, end - local_len);
		}
	}
	else
	{
		at = memchr(s, '@', len);
		if (at == NULL)
			return Fail(out, CRM_EMAIL_NO_AT, 0, len);
		local_len = (size_t) (at - s);
	}
	out->local_len = local_len;
	at = memchr(s + local_len + 1, '@', len - local_len - 1);
	if (at != NULL)
		return FailChar(out, CRM_EMAIL_MULTIPLE_AT, 0, len, (size_t) (at - s), 1);

	if ((e = ParseLocal(out, local_len, quoted)) != CRM_EMAIL_OK)
		return e;
	if ((e = ParseDomain(out, local_len + 1)) != CRM_EMAIL_OK)
		return e;
	if (local_len + 1 + out->dkey_len > CRM_EMAIL_MAX_ADDRESS)
		return Fail(out, CRM_EMAIL_TOO_LONG, 0, len);
	return CRM_EMAIL_OK;
}

bool
crm_email_display_span(const char *in, size_t len, size_t *off, size_t *span)
{
	size_t		i,
				lt = 0,
				gt = 0,
				nlt = 0,
				end;
	bool		inq = false;

	for (i = 0; i < len; i++)
	{
		char		c = in[i];

		if (c == '\\' && inq)
		{
			i++;
			continue;
		}
		if (c == '"')
			inq = !inq;
		else if (!inq && c == '<')
		{
			nlt++;
			lt = i;
			gt = 0;
		}
		else if (!inq && c == '>' && nlt > 0 && gt == 0)
			gt = i;
	}
	if (inq || nlt > 1)
		return false;
	if (nlt == 1)
	{
		if (gt == 0)
			return false;
		*off = lt + 1;
		*span = gt - lt - 1;
		return true;
	}

	/* ann@x.com (Ann Lee): drop one trailing comment. */
	end = len;
	while (end > 0 && (in[end - 1] == ' ' || in[end - 1] == '\t'))
		end--;
	if (end > 0 && in[end - 1] == ')')
	{
		size_t		j = end - 1;
		int			depth = 0;

		for (;;)
		{
			if (in[j] == ')')
				depth++;
			else if (in[j] == '(' && --depth == 0)
				break;
			if (j == 0)
				return false;
			j--;
		}
		end = j;
	}
	*off = 0;
	*span = end;
	return true;
}

bool
crm_email_casemap(const CrmEmailParsed *p, unsigned char *map, size_t *maplen)
{
	size_t		n = p->lkey_len + 1 + p->dkey_len,
				i;

	if (p->typed_len != n || n > CRM_EMAIL_MAX_ADDRESS)
		return false;
	memset(map, 0, (n + 7) / 8);
	*maplen = 0;
	for (i = 0; i < n; i++)
	{
		unsigned char t = (unsigned char) p->typed[i];
		unsigned char k = (unsigned char) (i < p->lkey_len ? p->lkey[i] :
										   i == p->lkey_len ? '@' :
										   p->dkey[i - p->lkey_len - 1]);

		if (t == k)
			continue;
		if (t >= 'A' && t <= 'Z' && t + ('a' - 'A') == k)
		{
			map[i / 8] |= (unsigned char) (1 << (i % 8));
			*maplen = i / 8 + 1;
			continue;
		}
		return false;
	}
	return true;
}

void
crm_email_apply_casemap(char *key, size_t len, const unsigned char *map,
						size_t maplen)
{
	size_t		i;

	for (i = 0; i < len && i / 8 < maplen; i++)
		if (((map[i / 8] >> (i % 8)) & 1) && key[i] >= 'a' && key[i] <= 'z')
			key[i] = (char) (key[i] - ('a' - 'A'));
}

/* Role mailboxes, sorted for bsearch; documented in docs/email.md. */
static const char *const role_locals[] = {
	"abuse", "accounting", "accounts", "admin", "administrator", "all",
	"billing", "careers", "contact", "contactus", "customercare",
	"customerservice", "do-not-reply", "donotreply", "enquiries", "enquiry",
	"feedback", "finance", "hello", "help", "helpdesk", "hostmaster", "hr",
	"info", "information", "inquiries", "inquiry", "investors", "it", "jobs",
	"legal", "mail", "mailer-daemon", "marketing", "media", "newsletter",
	"no-reply", "no_reply", "noreply", "notifications", "office", "orders",
	"postmaster", "press", "privacy", "recruiting", "recruitment", "root",
	"sales", "security", "service", "shop", "staff", "support", "team",
	"webmaster"
};

static int
CompareRole(const void *key, const void *elem)
{
	return strcmp((const char *) key, *(const char *const *) elem);
}

bool
crm_email_role_local(const char *lkey, size_t len)
{
	char		buf[32];
	const char *plus = memchr(lkey, '+', len);

	if (plus)
		len = (size_t) (plus - lkey);
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, lkey, len);
	buf[len] = '\0';
	return bsearch(buf, role_locals, sizeof(role_locals) / sizeof(role_locals[0]),
				   sizeof(role_locals[0]), CompareRole) != NULL;
}

#define CANON_PLUS	1			/* +tag is dropped */
#define CANON_DOTS	2			/* dots are ignored */

typedef struct Provider
{
	const char *domain;
	int			rules;
	const char *canonical_domain;
} Provider;

/*
 * Providers whose documented behaviour we rely on; docs/email.md lists them.
 * Yahoo's "-keyword" disposable addresses are left alone: a hyphen is also
 * an ordinary character in Yahoo user names.
 */
static const Provider providers[] = {
	{"fastmail.com", CANON_PLUS, NULL},
	{"fastmail.fm", CANON_PLUS, NULL},
	{"gmail.com", CANON_PLUS | CANON_DOTS, NULL},
	{"googlemail.com", CANON_PLUS | CANON_DOTS, "gmail.com"},
	{"hotmail.co.uk", CANON_PLUS, NULL},
	{"hotmail.com", CANON_PLUS, NULL},
	{"hotmail.de", CANON_PLUS, NULL},
	{"hotmail.fr", CANON_PLUS, NULL},
	{"hotmail.it", CANON_PLUS, NULL},
	{"icloud.com", CANON_PLUS, NULL},
	{"live.com", CANON_PLUS, NULL},
	{"mac.com", CANON_PLUS, NULL},
	{"me.com", CANON_PLUS, NULL},
	{"msn.com", CANON_PLUS, NULL},
	{"outlook.com", CANON_PLUS, NULL},
	{"pm.me", CANON_PLUS, NULL},
	{"proton.me", CANON_PLUS, NULL},
	{"protonmail.ch", CANON_PLUS, NULL},
	{"protonmail.com", CANON_PLUS, NULL},
	{"yandex.com", CANON_PLUS, NULL},
	{"yandex.ru", CANON_PLUS, NULL}
};

bool
crm_email_canonical_parts(const char *lkey, size_t llen,
						  const char *dkey, size_t dlen,
						  char *local_out, size_t *local_out_len,
						  const char **domain_out, size_t *domain_out_len)
{
	const Provider *p = NULL;
	size_t		i,
				n = 0;

	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strlen(providers[i].domain) == dlen &&
			memcmp(providers[i].domain, dkey, dlen) == 0)
		{
			p = &providers[i];
			break;
		}
	if (p == NULL || llen == 0 || lkey[0] == '"' || llen > CRM_EMAIL_MAX_KEY)
		return false;
	for (i = 0; i < llen; i++)
	{
		if ((p->rules & CANON_PLUS) && lkey[i] == '+')
			break;
		if ((p->rules & CANON_DOTS) && lkey[i] == '.')
			continue;
		local_out[n++] = lkey[i];
	}
	if (n == 0)
		return false;
	*local_out_len = n;
	*domain_out = p->canonical_domain ? p->canonical_domain : p->domain;
	*domain_out_len = strlen(*domain_out);
	return true;
}
