/*
 * key_parse.c
 *	  Domain keys (public suffix list) and postal code normalization.
 *
 * crm_key_domain() finds the host in what people paste into a "website" or
 * "email" field (a URL, a bare host name, an e-mail address, "Ann <a@b>"),
 * converts it with ICU's UTS #46 to its ASCII form (lower case, IDN as
 * punycode, so "bücher.de" and "xn--bcher-kva.de" agree) and asks libpsl for
 * the registrable domain: the public suffix plus one label.  That is what
 * identifies an organization: "www.acme.co.uk", "shop.acme.co.uk" and
 * "acme.co.uk" all give "acme.co.uk".  Anything without a registrable
 * domain (an IP address, a bare suffix such as "co.uk", one label, a host
 * name that UTS #46 refuses) yields "not found" rather than an error, so the
 * function can run over any column.  libpsl's built-in list is compiled
 * into the library, so there is no file to find or parse at run time.
 *
 * crm_key_postcode() is table-driven: each country lists the shapes a
 * code may have as patterns of digits (9) and letters (A) with the spaces
 * and hyphens removed, and the printed form.  Canada, the Netherlands and
 * the United Kingdom add letter rules that a shape cannot express.  Other
 * countries get folding only (upper case, one space between parts).
 *
 * No PostgreSQL headers: the fuzz harness links this file directly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>
#include <unicode/uidna.h>
#include <unicode/uloc.h>

#include "names.h"

#define MAX_HOST	253

static UIDNA *uts46;

/* Cut the host name out of a URL, e-mail address or bare host name. */
static void
FindHost(const char *s, size_t len, const char **host, size_t *hlen)
{
	size_t		b = 0;
	size_t		e = len;
	size_t		i;
	const char *at;

	while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' ||
					 s[b] == '\r' || s[b] == '<'))
		b++;
	while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' ||
					 s[e - 1] == '\r' || s[e - 1] == '>'))
		e--;

	/* scheme:// */
	for (i = b; i < e && i - b < 32; i++)
	{
		char		c = s[i];

		if (c == ':' && i > b && e - i >= 3 && s[i + 1] == '/' && s[i + 2] == '/')
		{
			size_t		k;

			b = i + 3;
			/* authority ends at / ? # */
			for (k = b; k < e; k++)
				if (s[k] == '/' || s[k] == '?' || s[k] == '#' || s[k] == '\\')
					break;
			e = k;
			/* userinfo@ */
			for (k = e; k > b; k--)
				if (s[k - 1] == '@')
				{
					b = k;
					break;
				}
			goto port;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (i > b && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
			break;
	}

	/* An e-mail address: the domain follows the last '@'. */
	at = NULL;
	for (i = e; i > b; i--)
		if (s[i - 1] == '@')
		{
			at = s + i - 1;
			break;
		}
	if (at != NULL)
		b = (size_t) (at - s) + 1;
	for (i = b; i < e; i++)
		if (s[i] == '/' || s[i] == '?' || s[i] == '#' || s[i] == ' ' ||
			s[i] == '>' || s[i] == ',' || s[i] == ';' || s[i] == '\\')
			break;
	e = i;

port:
	/* :port */
	if (e > b && s[b] != '[')
	{
		for (i = e; i > b; i--)
		{
			if (s[i - 1] == ':')
			{
				e = i - 1;
				break;
			}
			if (s[i - 1] < '0' || s[i - 1] > '9')
				break;
		}
	}
	while (e > b && s[e - 1] == '.')
		e--;
	*host = s + b;
	*hlen = e - b;
}

/*
 * The registrable domain of s, in ASCII, appended to out; *found is false
 * (and out empty) when there is none.
 */
CrmKeyStatus
crm_key_domain(const char *s, size_t len, CrmBuf *out, bool *found)
{
	const char *host;
	size_t		hlen;
	char		ascii[MAX_HOST + 64];
	UErrorCode	err = U_ZERO_ERROR;
	UIDNAInfo	info = UIDNA_INFO_INITIALIZER;
	int32_t		alen;
	const psl_ctx_t *psl;
	const char *reg;
	const char *last;
	bool		numeric = true;

	*found = false;
	crm_buf_append(out, "", 0);
	if (len > CRM_KEY_MAX_INPUT)
		return CRM_KEY_TOOLONG;
	FindHost(s, len, &host, &hlen);
	/* UTS #46 can only shrink a name so much: skip hopeless input early. */
	if (hlen == 0 || hlen > 4 * MAX_HOST || host[0] == '[')
		return out->failed ? CRM_KEY_NOMEM : CRM_KEY_OK;

	if (uts46 == NULL)
	{
		uts46 = uidna_openUTS46(UIDNA_USE_STD3_RULES | UIDNA_CHECK_BIDI |
								UIDNA_CHECK_CONTEXTJ |
								UIDNA_NONTRANSITIONAL_TO_ASCII, &err);
		if (U_FAILURE(err))
		{
			uts46 = NULL;
			return CRM_KEY_ICU;
		}
	}
	alen = uidna_nameToASCII_UTF8(uts46, host, (int32_t) hlen, ascii,
								  (int32_t) sizeof(ascii) - 1, &info, &err);
	if (U_FAILURE(err) || info.errors != 0 || alen <= 0 || alen > MAX_HOST)
		return CRM_KEY_OK;
	ascii[alen] = '\0';

	/* A numeric last label is an IPv4 address, never a domain. */
	last = strrchr(ascii, '.');
	last = last ? last + 1 : ascii;
	for (; *last; last++)
		if (*last < '0' || *last > '9')
			numeric = false;
	if (numeric)
		return CRM_KEY_OK;

	psl = psl_builtin();
	if (psl == NULL)
		return CRM_KEY_PSL;
	reg = psl_registrable_domain(psl, ascii);
	if (reg == NULL || *reg == '\0')
		return CRM_KEY_OK;
	crm_buf_append(out, reg, strlen(reg));
	*found = true;
	return out->failed ? CRM_KEY_NOMEM : CRM_KEY_OK;
}

/* Postal codes */

typedef struct PostcodeShape
{
	const char *pattern;		/* 9 = digit, A = letter, no separators */
	const char *format;			/* the same with the printed separators */
} PostcodeShape;

typedef struct PostcodeRule
{
	const char *country;
	PostcodeShape shapes[3];
	const char *detail;
	const char *hint;
} PostcodeRule;

static const PostcodeRule postcode_rules[] = {
	{"US", {{"99999", "99999"}, {"999999999", "99999-9999"}},
		"A US ZIP code has 5 digits, or 9 digits with ZIP+4.",
	"Write it as 12345 or 12345-6789."},
	{"CA", {{"A9A9A9", "A9A 9A9"}},
		"A Canadian postal code is letter, digit, letter, digit, letter, digit; it never uses D, F, I, O, Q or U, nor starts with W or Z.",
	"Write it as K1A 0B1."},
	{"GB", {{NULL, NULL}},
		"A UK postcode is an outward code (A9, A99, AA9, AA99, A9A or AA9A) and an inward code (digit, letter, letter).",
	"Write it as SW1A 1AA."},
	{"DE", {{"99999", "99999"}},
		"A German Postleitzahl has 5 digits.",
	"Write it as 10115."},
	{"FR", {{"99999", "99999"}},
		"A French code postal has 5 digits.",
	"Write it as 75001."},
	{"AU", {{"9999", "9999"}},
		"An Australian postcode has 4 digits.",
	"Write it as 2000."},
	{"NL", {{"9999AA", "9999 AA"}},
		"A Dutch postcode is 4 digits, the first not 0, and 2 letters other than SA, SD or SS.",
	"Write it as 1012 AB."},
	{"IN", {{"999999", "999999"}},
		"An Indian PIN code has 6 digits, the first not 0.",
	"Write it as 110001."},
	{"JP", {{"9999999", "999-9999"}},
		"A Japanese postal code has 7 digits.",
	"Write it as 100-0001."},
	{"BR", {{"99999999", "99999-999"}},
		"A Brazilian CEP has 8 digits.",
	"Write it as 01310-100."},
	{"ES", {{"99999", "99999"}},
		"A Spanish código postal has 5 digits.",
	"Write it as 28001."},
	{"IT", {{"99999", "99999"}},
		"An Italian CAP has 5 digits.",
	"Write it as 00118."},
	{"AT", {{"9999", "9999"}},
		"An Austrian postcode has 4 digits.",
	"Write it as 1010."},
	{"BE", {{"9999", "9999"}},
		"A Belgian postcode has 4 digits.",
	"Write it as 1000."},
	{"CH", {{"9999", "9999"}},
		"A Swiss postcode has 4 digits.",
	"Write it as 8001."},
	{"DK", {{"9999", "9999"}},
		"A Danish postcode has 4 digits.",
	"Write it as 1050."},
	{"NO", {{"9999", "9999"}},
		"A Norwegian postcode has 4 digits.",
	"Write it as 0150."},
	{"SE", {{"99999", "999 99"}},
		"A Swedish postcode has 5 digits.",
	"Write it as 114 55."},
	{"PL", {{"99999", "99-999"}},
		"A Polish postcode has 5 digits.",
	"Write it as 00-950."},
	{"PT", {{"9999999", "9999-999"}},
		"A Portuguese postcode has 7 digits.",
	"Write it as 1000-001."},
	{"FI", {{"99999", "99999"}},
		"A Finnish postcode has 5 digits.",
	"Write it as 00100."},
	{NULL, {{NULL, NULL}}, NULL, NULL}
};

static const char *const detail_chars =
"A postal code contains only letters, digits, spaces and hyphens.";
static const char *const hint_chars =
"Remove the other characters, and put the city or country in their own fields.";
static const char *const detail_other =
"A postal code has 2 to 10 letters and digits.";
static const char *const hint_other =
"Check the code, and that the country is the right one.";

static inline bool
IsDigit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
IsUpper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
MatchShape(const char *code, size_t n, const char *pattern)
{
	size_t		i;

	if (strlen(pattern) != n)
		return false;
	for (i = 0; i < n; i++)
	{
		if (pattern[i] == '9' ? !IsDigit(code[i]) : !IsUpper(code[i]))
			return false;
	}
	return true;
}

static void
Format(CrmBuf *out, const char *code, const char *format)
{
	size_t		k = 0;

	for (; *format; format++)
	{
		if (*format == '9' || *format == 'A')
			crm_buf_putc(out, code[k++]);
		else
			crm_buf_putc(out, *format);
	}
}

/* UK: outward code (2-4) and inward code (digit letter letter). */
static bool
PostcodeGB(const char *c, size_t n, CrmBuf *out)
{
	static const char *const outward[] = {"A9", "A99", "AA9", "AA99", "A9A", "AA9A", NULL};
	const char *in;
	int			k;

	if (n == 6 && memcmp(c, "GIR0AA", 6) == 0)
	{
		crm_buf_append(out, "GIR 0AA", 7);
		return true;
	}
	if (n < 5 || n > 7)
		return false;
	in = c + n - 3;
	if (!IsDigit(in[0]) || !IsUpper(in[1]) || !IsUpper(in[2]) ||
		strchr("CIKMOV", in[1]) != NULL || strchr("CIKMOV", in[2]) != NULL)
		return false;
	if (strchr("QVX", c[0]) != NULL)
		return false;
	for (k = 0; outward[k]; k++)
		if (MatchShape(c, n - 3, outward[k]))
			break;
	if (outward[k] == NULL)
		return false;
	crm_buf_append(out, c, n - 3);
	crm_buf_putc(out, ' ');
	crm_buf_append(out, in, 3);
	return true;
}

/* Is cc an ISO 3166-1 alpha-2 code that ICU knows? */
static bool
IsCountry(const char *cc)
{
	const char *const *list = uloc_getISOCountries();

	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, cc) == 0)
			return true;
	return false;
}

/* Letter and digit rules beyond the shape. */
static bool
ExtraRules(const char *cc, const char *c, size_t n)
{
	size_t		i;

	if (strcmp(cc, "CA") == 0)
	{
		for (i = 0; i < n; i += 2)
			if (strchr("DFIOQU", c[i]) != NULL)
				return false;
		return c[0] != 'W' && c[0] != 'Z';
	}
	if (strcmp(cc, "NL") == 0)
		return c[0] != '0' && !(c[4] == 'S' && (c[5] == 'A' || c[5] == 'D' || c[5] == 'S'));
	if (strcmp(cc, "IN") == 0)
		return c[0] != '0';
	return true;
}

/*
 * Normalize a postal code for a country (ISO 3166-1 alpha-2, any case; "UK"
 * is read as GB).  On CRM_KEY_INVALID, *detail and *hint say why and how to
 * fix it; on CRM_KEY_BADARG the country code is not two letters.
 */
CrmKeyStatus
crm_key_postcode(const char *s, size_t len, const char *country,
					   size_t clen, CrmBuf *out, const char **detail,
					   const char **hint)
{
	CrmBuf		f;
	CrmBuf		g;
	char		cc[3];
	char		code[16];
	size_t		n = 0;
	size_t		i;
	size_t		b = 0;
	const PostcodeRule *rule;
	CrmKeyStatus st;
	int			k;

	*detail = NULL;
	*hint = NULL;
	crm_buf_append(out, "", 0);
	while (clen > 0 && country[0] == ' ')
		country++, clen--;
	while (clen > 0 && country[clen - 1] == ' ')
		clen--;
	if (clen != 2)
		return CRM_KEY_BADARG;
	for (i = 0; i < 2; i++)
	{
		char		c = country[i];

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (!IsUpper(c))
			return CRM_KEY_BADARG;
		cc[i] = c;
	}
	cc[2] = '\0';
	if (strcmp(cc, "UK") == 0)
		strcpy(cc, "GB");
	if (!IsCountry(cc))
		return CRM_KEY_BADARG;

	/* Fold (NFKC: fullwidth digits), then upper-case and squeeze. */
	crm_buf_init(&f);
	st = crm_fold(s, len, &f);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&f);
		return st;
	}
	for (i = 0; i < f.len; i++)
		if (f.data[i] >= 'a' && f.data[i] <= 'z')
			f.data[i] -= 'a' - 'A';

	/* Squeeze: one space between parts, none next to a hyphen. */
	crm_buf_init(&g);
	{
		bool		space = false;

		for (i = 0; i < f.len; i++)
		{
			char		c = f.data[i];

			if (c == ' ')
				space = true;
			else if (c == '-')
			{
				if (g.len > 0 && g.data[g.len - 1] != '-')
					crm_buf_putc(&g, '-');
				space = false;
			}
			else
			{
				if (space && g.len > 0 && g.data[g.len - 1] != '-')
					crm_buf_putc(&g, ' ');
				space = false;
				crm_buf_putc(&g, c);
			}
		}
		while (g.len > 0 && g.data[g.len - 1] == '-')
			g.data[--g.len] = '\0';
	}
	crm_buf_free(&f);
	if (g.failed)
	{
		crm_buf_free(&g);
		return CRM_KEY_NOMEM;
	}

	/* Optional "NL-" style country prefixes (also D- and F-). */
	for (;;)
	{
		if (g.len - b > 3 && g.data[b] == cc[0] && g.data[b + 1] == cc[1] &&
			g.data[b + 2] == '-')
			b += 3;
		else if (g.len - b > 2 && g.data[b + 1] == '-' &&
				 ((strcmp(cc, "DE") == 0 && g.data[b] == 'D') ||
				  (strcmp(cc, "FR") == 0 && g.data[b] == 'F')))
			b += 2;
		else
			break;
	}

	for (i = b; i < g.len; i++)
	{
		char		c = g.data[i];

		if (c == ' ' || c == '-')
			continue;
		if (!IsDigit(c) && !IsUpper(c))
		{
			crm_buf_free(&g);
			*detail = detail_chars;
			*hint = hint_chars;
			return CRM_KEY_INVALID;
		}
		if (n < sizeof(code))
			code[n] = c;
		n++;
	}

	for (rule = postcode_rules; rule->country; rule++)
		if (strcmp(rule->country, cc) == 0)
			break;

	if (rule->country == NULL)
	{
		/* Unlisted country: the squeezed form. */
		if (n < 2 || n > 10)
		{
			crm_buf_free(&g);
			*detail = detail_other;
			*hint = hint_other;
			return CRM_KEY_INVALID;
		}
		crm_buf_append(out, g.data + b, g.len - b);
		crm_buf_free(&g);
		return out->failed ? CRM_KEY_NOMEM : CRM_KEY_OK;
	}
	if (n >= sizeof(code))
		goto invalid;
	code[n] = '\0';

	if (strcmp(cc, "GB") == 0)
	{
		if (!PostcodeGB(code, n, out))
			goto invalid;
	}
	else
	{
		for (k = 0; k < 3 && rule->shapes[k].pattern; k++)
			if (MatchShape(code, n, rule->shapes[k].pattern))
				break;
		if (k == 3 || rule->shapes[k].pattern == NULL || !ExtraRules(cc, code, n))
			goto invalid;
		Format(out, code, rule->shapes[k].format);
	}
	crm_buf_free(&g);
	return out->failed ? CRM_KEY_NOMEM : CRM_KEY_OK;

invalid:
	crm_buf_free(&g);
	out->len = 0;
	out->data[0] = '\0';
	*detail = rule->detail;
	*hint = rule->hint;
	return CRM_KEY_INVALID;
}
