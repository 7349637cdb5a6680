/* fuzz-sources: src/phonenumber.cpp */
/* fuzz-libs: -lphonenumber -lprotobuf -licuuc -licudata -lstdc++ */
/*
 * phone_fuzz.c
 *	  libFuzzer harness for the libphonenumber shim (src/phonenumber.cpp),
 *	  outside the server.
 *
 * Input layout: byte 0 picks the default region (from a fixed list, "" among
 * them), byte 1 the validation level and which extra checks run, the rest is
 * the text typed by a user.  Beyond "does not crash" (ASan/UBSan), every
 * call must keep the promises src/phone.c relies on:
 *	- a status is a known CrmPnStatus and never CRM_PN_INTERNAL (an
 *	  exception escaped libphonenumber);
 *	- an accepted number is canonical and passes crm_pn_check, i.e. binary
 *	  input accepts everything text input produces;
 *	- its text form parses back, with no default region, to the same 16
 *	  bytes (so dump and restore keep every value and every UNIQUE index);
 *	- every format fits the buffer and every type and region is in range;
 *	- crm_pn_match blames the argument it cannot read, and a number
 *	  matches itself exactly and its own text form at least on the
 *	  national number;
 *	- any 16 bytes given to crm_pn_check are either refused or behave as
 *	  above.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phonenumber.h"

static const char *const regions[] = {
	"", "US", "GB", "DE", "FR", "IT", "JP", "AU", "IN", "BR", "CA", "RU",
	"CN", "MX", "NL", "AR", "ZA", "KR", "SE", "CH"
};

#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

static void
Fail(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "phone_fuzz: %s; input %zu bytes: \"", what, size);
	fwrite(data, 1, size, stderr);
	fprintf(stderr, "\"\n");
	abort();
}

static void
CheckStatus(CrmPnStatus st, const uint8_t *data, size_t size)
{
	if ((int) st < (int) CRM_PN_OK || (int) st > (int) CRM_PN_INTERNAL)
		Fail("status out of range", data, size);
	if (st == CRM_PN_INTERNAL)
		Fail("libphonenumber threw", data, size);
}

/* Everything a stored value must support. */
static void
CheckNumber(const CrmPnNumber *num, CrmPnValidation mode,
			const uint8_t *data, size_t size)
{
	char		buf[CRM_PN_FORMAT_BUFSIZE];
	char		region[4];
	CrmPnNumber again;
	CrmPnType	type;
	CrmPnMatch	match;
	CrmPnStatus st;
	int			f;

	st = crm_pn_check(num, mode);
	CheckStatus(st, data, size);
	if (st != CRM_PN_OK)
		Fail("accepted number fails crm_pn_check", data, size);

	crm_pn_to_text(num, buf);
	if (strlen(buf) >= CRM_PN_FORMAT_BUFSIZE || buf[0] != '+')
		Fail("bad text form", data, size);
	st = crm_pn_parse(buf, strlen(buf), "", mode, &again);
	CheckStatus(st, data, size);
	if (st != CRM_PN_OK)
		Fail("text form does not parse back", data, size);
	if (memcmp(&again, num, sizeof(again)) != 0)
		Fail("text form parses back to another number", data, size);

	for (f = CRM_PN_FORMAT_E164; f <= CRM_PN_FORMAT_RFC3966; f++)
	{
		memset(buf, 'x', sizeof(buf));
		st = crm_pn_format(num, (CrmPnFormat) f, buf);
		CheckStatus(st, data, size);
		if (st == CRM_PN_OK && memchr(buf, '\0', sizeof(buf)) == NULL)
			Fail("format not terminated", data, size);
	}
	st = crm_pn_region(num, region);
	CheckStatus(st, data, size);
	if (st == CRM_PN_OK && strlen(region) > 3)
		Fail("region too long", data, size);
	st = crm_pn_type(num, &type);
	CheckStatus(st, data, size);
	if (st == CRM_PN_OK && ((int) type < 0 || type > CRM_PN_TYPE_UNKNOWN))
		Fail("type out of range", data, size);
	st = crm_pn_match_numbers(num, num, &match);
	CheckStatus(st, data, size);
	if (st == CRM_PN_OK && match != CRM_PN_MATCH_EXACT)
		Fail("number does not match itself exactly", data, size);
	/*
	 * libphonenumber reads the text form with its own parser, which in a few
	 * countries strips a national prefix we read digit for digit ("+52 1..."
	 * in Mexico); the national numbers still match.
	 */
	crm_pn_to_text(num, buf);
	st = crm_pn_match_number(num, buf, strlen(buf), &match);
	CheckStatus(st, data, size);
	if (st != CRM_PN_OK || match == CRM_PN_MATCH_NONE)
		Fail("number does not match its text", data, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *region;
	CrmPnValidation mode;
	const char *text;
	size_t		len;
	CrmPnNumber num;
	CrmPnStatus st;

	if (size < 2)
		return 0;
	region = regions[data[0] % NREGIONS];
	mode = (data[1] & 1) ? CRM_PN_POSSIBLE : CRM_PN_VALID;
	text = (const char *) data + 2;
	len = size - 2;

	st = crm_pn_parse(text, len, region, mode, &num);
	CheckStatus(st, data, size);
	if (st == CRM_PN_OK)
		CheckNumber(&num, mode, data, size);

	if (data[1] & 2)
	{
		/* Match the text against itself and against a fixed number. */
		CrmPnMatch	match;
		int			which;
		static const char fixed[] = "+1 415 555 2671";

		st = crm_pn_match(text, len, fixed, sizeof(fixed) - 1, &match, &which);
		CheckStatus(st, data, size);
		if (st != CRM_PN_OK && which != 1)
			Fail("match blames the wrong argument", data, size);
		st = crm_pn_match(fixed, sizeof(fixed) - 1, text, len, &match, &which);
		CheckStatus(st, data, size);
		if (st != CRM_PN_OK && which != 2)
			Fail("match blames the wrong argument", data, size);
	}

	if (data[1] & 4 && len >= sizeof(CrmPnNumber))
	{
		/* Raw bytes as a stored value (binary input). */
		CrmPnNumber raw;

		memcpy(&raw, text, sizeof(raw));
		st = crm_pn_check(&raw, mode);
		CheckStatus(st, data, size);
		if (st == CRM_PN_OK)
			CheckNumber(&raw, mode, data, size);
	}
	return 0;
}
