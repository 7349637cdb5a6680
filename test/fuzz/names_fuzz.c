/* fuzz-sources: src/name_fold.c src/name_parse.c src/key_parse.c */
/* fuzz-libs: -licui18n -licuuc -licudata -lpsl */
/*
 * names_fuzz.c
 *	  libFuzzer harness for the name, company, address, domain and postcode
 *	  key cores (src/name_fold.c, src/name_parse.c, src/key_parse.c).
 *
 * Every input goes through every function.  Besides "does not crash" (under
 * ASan and UBSan), each result is checked for what the SQL functions and
 * their indexes rely on: keys are valid UTF-8 with no upper-case ASCII and
 * no leading, trailing or doubled spaces; company, address and domain keys
 * and normalized postcodes are fixed points (the key of a key is itself, so
 * a stored key can be compared with a key computed later); name parts come
 * from the input; a domain key is lower-case ASCII with a dot.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

static void
Fail(const char *what, const uint8_t *data, size_t size, const char *got)
{
	fprintf(stderr, "%s: input %zu bytes \"%.*s\" gave \"%s\"\n",
			what, size, (int) size, (const char *) data, got ? got : "(null)");
	abort();
}

static bool
ValidUtf8(const char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = (unsigned char) s[i];
		size_t		k;
		size_t		len;

		if (c < 0x80)
		{
			if (c == 0)
				return false;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4;
		else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++)
			if (((unsigned char) s[i + k] & 0xC0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

/* A key: valid UTF-8, lower case, single spaces between words. */
static void
CheckKey(const char *what, const uint8_t *data, size_t size, CrmBuf *b,
		 bool spaced)
{
	size_t		i;

	if (strlen(b->data) != b->len || !ValidUtf8(b->data, b->len))
		Fail(what, data, size, "invalid UTF-8 or embedded NUL");
	for (i = 0; i < b->len; i++)
	{
		char		c = b->data[i];

		if (c >= 'A' && c <= 'Z')
			Fail(what, data, size, b->data);
		if (spaced && c == ' ' && (i == 0 || i + 1 == b->len || b->data[i + 1] == ' '))
			Fail(what, data, size, b->data);
	}
}

typedef CrmKeyStatus (*KeyFn) (const char *, size_t, CrmBuf *);

/* key(key(x)) == key(x) */
static void
CheckFixedPoint(const char *what, KeyFn f, const uint8_t *data, size_t size,
				CrmBuf *b)
{
	CrmBuf		again;

	crm_buf_init(&again);
	if (f(b->data, b->len, &again) != CRM_KEY_OK)
		Fail(what, data, size, "key of the key failed");
	if (strcmp(again.data, b->data) != 0)
	{
		fprintf(stderr, "%s: key \"%s\" keys to \"%s\"\n", what, b->data, again.data);
		Fail(what, data, size, b->data);
	}
	crm_buf_free(&again);
}

static void
RunKey(const char *what, KeyFn f, bool fixed, const uint8_t *data, size_t size)
{
	CrmBuf		b;
	CrmKeyStatus st;

	crm_buf_init(&b);
	st = f((const char *) data, size, &b);
	if (st == CRM_KEY_OK)
	{
		CheckKey(what, data, size, &b, f != crm_fold);
		if (fixed)
			CheckFixedPoint(what, f, data, size, &b);
	}
	else if (st != CRM_KEY_TOOLONG)
		Fail(what, data, size, "unexpected status");
	crm_buf_free(&b);
}

static void
RunNameParts(const uint8_t *data, size_t size)
{
	CrmNameParts p;
	CrmBuf	   *parts[5];
	int			i;

	if (crm_key_name_parts((const char *) data, size, &p) != CRM_KEY_OK)
		return;
	parts[0] = &p.prefix;
	parts[1] = &p.given;
	parts[2] = &p.middle;
	parts[3] = &p.family;
	parts[4] = &p.suffix;
	for (i = 0; i < 5; i++)
	{
		if (parts[i]->len == 0)
			continue;
		/* Slices of the input: NUL bytes (never in SQL text) may be in them. */
		if (parts[i]->len == 0 || parts[i]->len > size ||
			parts[i]->data[parts[i]->len] != '\0')
			Fail("name_parts", data, size, parts[i]->data);
	}
	/* A name with a family name and no given name needs a prefix. */
	if (p.given.len == 0 && p.family.len > 0 && p.prefix.len == 0 &&
		p.middle.len == 0)
		Fail("name_parts family without given", data, size, p.family.data);
	crm_key_name_parts_free(&p);
}

static void
RunDomain(const uint8_t *data, size_t size)
{
	CrmBuf		b;
	CrmBuf		again;
	bool		found;
	size_t		i;

	crm_buf_init(&b);
	if (crm_key_domain((const char *) data, size, &b, &found) != CRM_KEY_OK)
		Fail("domain_key", data, size, "status");
	if (found)
	{
		if (b.len == 0 || b.len > 253 || strchr(b.data, '.') == NULL)
			Fail("domain_key", data, size, b.data);
		for (i = 0; i < b.len; i++)
			if (!((b.data[i] >= 'a' && b.data[i] <= 'z') ||
				  (b.data[i] >= '0' && b.data[i] <= '9') ||
				  b.data[i] == '-' || b.data[i] == '.'))
				Fail("domain_key", data, size, b.data);
		crm_buf_init(&again);
		if (crm_key_domain(b.data, b.len, &again, &found) != CRM_KEY_OK ||
			!found || strcmp(again.data, b.data) != 0)
			Fail("domain_key fixed point", data, size, b.data);
		crm_buf_free(&again);
	}
	crm_buf_free(&b);
}

static void
RunPostcode(const uint8_t *data, size_t size)
{
	static const char *const countries[] = {
		"US", "CA", "GB", "DE", "FR", "AU", "NL", "IN", "JP", "BR", "SE",
		"PL", "PT", "IE", "HK", "uk", "XX", "", "USA"
	};
	const char *cc;
	CrmBuf		b;
	CrmBuf		again;
	const char *detail;
	const char *hint;
	CrmKeyStatus st;

	if (size == 0)
		return;
	cc = countries[data[0] % (sizeof(countries) / sizeof(countries[0]))];
	data++;
	size--;
	crm_buf_init(&b);
	st = crm_key_postcode((const char *) data, size, cc, strlen(cc), &b,
						  &detail, &hint);
	if (st == CRM_KEY_OK)
	{
		if (b.len == 0 || !ValidUtf8(b.data, b.len))
			Fail("postcode", data, size, b.data);
		crm_buf_init(&again);
		st = crm_key_postcode(b.data, b.len, cc, strlen(cc), &again, &detail, &hint);
		if (st != CRM_KEY_OK || strcmp(again.data, b.data) != 0)
			Fail("postcode fixed point", data, size, b.data);
		crm_buf_free(&again);
	}
	else if (st == CRM_KEY_INVALID)
	{
		if (detail == NULL || hint == NULL)
			Fail("postcode reason", data, size, "no detail");
	}
	else if (st != CRM_KEY_BADARG && st != CRM_KEY_TOOLONG)
		Fail("postcode", data, size, "status");
	crm_buf_free(&b);
}

/* The ASCII and Latin table paths of crm_fold agree with ICU itself. */
static void
RunFoldPaths(const uint8_t *data, size_t size)
{
	CrmBuf		a;
	CrmBuf		b;

	crm_buf_init(&a);
	crm_buf_init(&b);
	if (crm_fold((const char *) data, size, &a) == CRM_KEY_OK &&
		crm_fold_icu((const char *) data, size, &b) == CRM_KEY_OK &&
		(a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
	{
		fprintf(stderr, "fast path \"%s\", ICU \"%s\"\n", a.data, b.data);
		Fail("fold paths", data, size, a.data);
	}
	crm_buf_free(&a);
	crm_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RunFoldPaths(data, size);
	RunKey("fold", crm_fold, false, data, size);
	RunKey("normalize_name", crm_key_normalize_name, false, data, size);
	RunKey("given_name", crm_key_given_name, true, data, size);
	RunKey("company_key", crm_key_company, true, data, size);
	RunKey("address_key", crm_key_address, true, data, size);
	RunNameParts(data, size);
	RunDomain(data, size);
	RunPostcode(data, size);
	return 0;
}
