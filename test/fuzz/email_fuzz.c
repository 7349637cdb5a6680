/* fuzz-sources: src/email_parse.c */
/* fuzz-libs: -licuuc -licudata */
/*
 * email_fuzz.c
 *	  libFuzzer harness for the crm.email parser core (src/email_parse.c).
 *
 * Besides "does not crash", every input checks the invariants the SQL type
 * relies on: spans stay inside the typed text, keys fit their one-byte
 * lengths, the typed form parses again to the same key (so dump and restore
 * and binary COPY give equal values), the key itself written as an address
 * parses to the same key when it parses at all (email_canonical relies on
 * it), and the display-form and canonical helpers stay in bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email.h"

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
			abort(); \
		} \
	} while (0)

static CrmEmailParsed a,
			b;

static void
SameKeys(const CrmEmailParsed *x, const CrmEmailParsed *y)
{
	CHECK(x->lkey_len == y->lkey_len && memcmp(x->lkey, y->lkey, x->lkey_len) == 0);
	CHECK(x->dkey_len == y->dkey_len && memcmp(x->dkey, y->dkey, x->dkey_len) == 0);
}

static void
CheckParsed(const uint8_t *data, size_t size)
{
	char		typed[CRM_EMAIL_MAX_INPUT + 1];
	char		key[2 * CRM_EMAIL_MAX_KEY + 2];
	char		local[CRM_EMAIL_MAX_KEY + 1];
	size_t		typed_len,
				llen,
				dlen;
	const char *dom;

	if (crm_email_parse((const char *) data, size, &a) != CRM_EMAIL_OK)
	{
		CHECK(a.error != CRM_EMAIL_OK);
		CHECK(a.part_off + a.part_len <= a.typed_len);
		if (a.has_char)
			CHECK(a.char_off + a.char_len <= a.typed_len);
		return;
	}
	CHECK(a.typed_len > 0 && a.typed_len <= CRM_EMAIL_MAX_INPUT);
	CHECK(a.local_len > 0 && a.local_len < a.typed_len && a.typed[a.local_len] == '@');
	CHECK(a.lkey_len > 0 && a.lkey_len <= CRM_EMAIL_MAX_KEY);
	CHECK(a.dkey_len > 0 && a.dkey_len <= CRM_EMAIL_MAX_DOMAIN);
	CHECK(a.local_len + 1 + a.dkey_len <= CRM_EMAIL_MAX_ADDRESS);
	CHECK(memchr(a.dkey, '@', a.dkey_len) == NULL);

	/* The typed form is a fixed point: output then input gives the same. */
	typed_len = a.typed_len;
	memcpy(typed, a.typed, typed_len);
	CHECK(crm_email_parse(typed, typed_len, &b) == CRM_EMAIL_OK);
	CHECK(b.typed_len == typed_len && memcmp(b.typed, typed, typed_len) == 0);
	SameKeys(&a, &b);

	/* The key as an address, when valid, has the same key. */
	memcpy(key, a.lkey, a.lkey_len);
	key[a.lkey_len] = '@';
	memcpy(key + a.lkey_len + 1, a.dkey, a.dkey_len);
	if (crm_email_parse(key, a.lkey_len + 1 + a.dkey_len, &b) == CRM_EMAIL_OK)
		SameKeys(&a, &b);

	/* The case map, when it applies, rebuilds the typed form exactly. */
	{
		unsigned char map[(CRM_EMAIL_MAX_ADDRESS + 7) / 8];
		size_t		maplen;

		if (crm_email_casemap(&a, map, &maplen))
		{
			CHECK(maplen <= sizeof(map));
			CHECK(maplen == 0 || map[maplen - 1] != 0);
			crm_email_apply_casemap(key, a.lkey_len + 1 + a.dkey_len, map, maplen);
			CHECK(a.lkey_len + 1 + a.dkey_len == typed_len &&
				  memcmp(key, typed, typed_len) == 0);
		}
	}

	(void) crm_email_role_local(a.lkey, a.lkey_len);
	if (crm_email_canonical_parts(a.lkey, a.lkey_len, a.dkey, a.dkey_len,
								  local, &llen, &dom, &dlen))
	{
		CHECK(llen > 0 && llen <= a.lkey_len);
		CHECK(dlen > 0 && dlen <= CRM_EMAIL_MAX_DOMAIN);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		off,
				span;

	CheckParsed(data, size);
	if (crm_email_display_span((const char *) data, size, &off, &span))
	{
		CHECK(off <= size && span <= size - off);
		if (crm_email_parse((const char *) data + off, span, &a) == CRM_EMAIL_OK)
			CHECK((a.typed >= (const char *) data + off &&
				   a.typed + a.typed_len <= (const char *) data + off + span) ||
				  (a.typed >= a.buf && a.typed + a.typed_len <= a.buf + sizeof(a.buf)));
	}
	return 0;
}
