/*
 * phone.c
 *	  SQL side of type crm.phone: input and output, binary I/O, comparison
 *	  and hashing, the phone functions and the two GUCs they read.
 *
 * All libphonenumber work happens behind the C interface of
 * src/phonenumber.cpp, which reports problems as status codes; this file
 * turns those into PostgreSQL errors (ereport never runs with a C++ frame
 * on the stack, because the shim has returned before we report).
 *
 * What a text means depends on two settings, so everything that reads text
 * is STABLE, like timestamptz input under TimeZone and DateStyle:
 *	crm.default_region	the region of numbers written without a country
 *						code; empty (the default) means every number must
 *						carry one, so nothing is silently read as a US number
 *	crm.phone_validation  "valid" (the default) accepts numbers in ranges
 *						libphonenumber knows as allocated; "possible" only
 *						checks lengths, for ranges newer than the library
 * Everything that reads a stored phone is IMMUTABLE: the value holds the
 * whole number (country code included), so output, comparison and hashing
 * never look at a setting.  Formatting, region and type depend on
 * libphonenumber's metadata, which changes only when the library is
 * upgraded, as ICU collations do; they are IMMUTABLE on the same terms.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "phone.h"

StaticAssertDecl(sizeof(CrmPhone) == CRM_PHONE_SIZE,
				 "crm.phone must be 16 bytes without padding");

int			crm_phone_validation = CRM_PN_VALID;
char	   *crm_default_region = NULL;

static const struct config_enum_entry phone_validation_options[] = {
	{"valid", CRM_PN_VALID, false},
	{"possible", CRM_PN_POSSIBLE, false},
	{NULL, 0, false}
};

static const char *const format_names[] = {
	[CRM_PN_FORMAT_E164] = "e164",
	[CRM_PN_FORMAT_INTERNATIONAL] = "international",
	[CRM_PN_FORMAT_NATIONAL] = "national",
	[CRM_PN_FORMAT_RFC3966] = "rfc3966"
};

static const char *const type_names[] = {
	[CRM_PN_TYPE_FIXED_LINE] = "fixed_line",
	[CRM_PN_TYPE_MOBILE] = "mobile",
	[CRM_PN_TYPE_FIXED_LINE_OR_MOBILE] = "fixed_line_or_mobile",
	[CRM_PN_TYPE_TOLL_FREE] = "toll_free",
	[CRM_PN_TYPE_PREMIUM_RATE] = "premium_rate",
	[CRM_PN_TYPE_SHARED_COST] = "shared_cost",
	[CRM_PN_TYPE_VOIP] = "voip",
	[CRM_PN_TYPE_PERSONAL_NUMBER] = "personal_number",
	[CRM_PN_TYPE_PAGER] = "pager",
	[CRM_PN_TYPE_UAN] = "uan",
	[CRM_PN_TYPE_VOICEMAIL] = "voicemail",
	[CRM_PN_TYPE_UNKNOWN] = "unknown"
};

static const char *const match_names[] = {
	[CRM_PN_MATCH_NONE] = "none",
	[CRM_PN_MATCH_SHORT_NSN] = "short_nsn",
	[CRM_PN_MATCH_NSN] = "nsn",
	[CRM_PN_MATCH_EXACT] = "exact"
};

/*
 * Upper-case a region code in place and tell whether it is one
 * libphonenumber knows; "" is accepted and means "no default region".
 */
static bool
NormalizeRegion(char *region)
{
	char	   *p;

	for (p = region; *p; p++)
		*p = pg_ascii_toupper((unsigned char) *p);
	if (region[0] == '\0')
		return true;
	if (strlen(region) != 2 ||
		!(region[0] >= 'A' && region[0] <= 'Z') ||
		!(region[1] >= 'A' && region[1] <= 'Z'))
		return false;
	return crm_pn_region_known(region) != 0;
}

static bool
CheckDefaultRegion(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || NormalizeRegion(*newval))
		return true;
	GUC_check_errdetail("\"%s\" is not a region code that libphonenumber knows.",
						*newval);
	GUC_check_errhint("Use an ISO 3166-1 alpha-2 code such as US, GB or DE, or an empty string to require a country code in every number.");
	return false;
}

void
crm_phone_init(void)
{
	DefineCustomStringVariable("crm.default_region",
							   "Region of phone numbers written without a country code.",
							   "An ISO 3166-1 alpha-2 code such as US or GB. Empty means every phone number must start with + or 00 and its country code.",
							   &crm_default_region,
							   "",
							   PGC_USERSET,
							   0,
							   CheckDefaultRegion, NULL, NULL);
	DefineCustomEnumVariable("crm.phone_validation",
							 "How strictly phone input is checked.",
							 "valid accepts numbers in ranges libphonenumber knows as allocated; possible only checks the length, for number ranges newer than the library.",
							 &crm_phone_validation,
							 CRM_PN_VALID,
							 phone_validation_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * Loading libphonenumber's metadata takes a noticeable time (over 100
	 * ms) on the first phone a session parses.  Preloaded into the
	 * postmaster, do it once there: every backend inherits it.
	 */
	if (process_shared_preload_libraries_in_progress)
		crm_pn_preload();
}

/* The region argument of a function, checked and upper-cased. */
static char *
RegionArg(text *arg)
{
	char	   *region = text_to_cstring(arg);
	char	   *shown = pstrdup(region);

	if (!NormalizeRegion(region))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized region code: \"%s\"", shown),
				 errhint("Use an ISO 3166-1 alpha-2 code such as US, GB or DE, or an empty string to require a country code in every number.")));
	pfree(shown);
	return region;
}

static const char *
DefaultRegion(void)
{
	return crm_default_region ? crm_default_region : "";
}

/* "country code +44 (GB)", for messages about a parsed number. */
static char *
CountryText(const CrmPhone *num)
{
	char		region[4];

	if (num->country_code == 0)
		return NULL;
	if (crm_pn_region_for_country_code(num->country_code, region) != CRM_PN_OK ||
		region[0] == '\0')
		return psprintf("country code +%d", (int) num->country_code);
	if (strcmp(region, "001") == 0)
		return psprintf("country code +%d (non-geographic)",
						(int) num->country_code);
	return psprintf("country code +%d (%s)", (int) num->country_code, region);
}

/* Out of memory or an unexpected exception inside the shim. */
static void
ReportShimFailure(CrmPnStatus st)
{
	if (st == CRM_PN_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libphonenumber could not allocate memory.")));
	elog(ERROR, "unexpected failure in libphonenumber (status %d)", (int) st);
}

/*
 * The sentence that says why a text is not an acceptable phone number:
 * errdetail of the input error and the result of crm.phone_problem().
 */
static char *
ProblemDetail(CrmPnStatus st, const CrmPhone *num)
{
	char	   *cc = CountryText(num);

	if (cc == NULL)
		cc = pstrdup("its country code");

	switch (st)
	{
		case CRM_PN_EMPTY:
			return pstrdup("The value is empty.");
		case CRM_PN_INPUT_TOO_LONG:
			return psprintf("The text is longer than %d bytes.", CRM_PN_MAX_INPUT);
		case CRM_PN_LEADING_TEXT:
			return pstrdup("The text has letters before the number.");
		case CRM_PN_NOT_A_NUMBER:
			return pstrdup("The text is not a phone number.");
		case CRM_PN_NO_COUNTRY_CODE:
			return pstrdup("The number has no country code and no default region is set.");
		case CRM_PN_INVALID_COUNTRY_CODE:
			return pstrdup("The number does not start with a known country code.");
		case CRM_PN_TOO_SHORT_AFTER_IDD:
			return pstrdup("The number is too short after its international prefix.");
		case CRM_PN_TOO_SHORT:
			return num->country_code ? psprintf("The number is too short for %s.", cc)
				: pstrdup("The number is too short.");
		case CRM_PN_TOO_LONG:
			return num->country_code ? psprintf("The number is too long for %s.", cc)
				: pstrdup("The number is too long.");
		case CRM_PN_INVALID_LENGTH:
			return psprintf("No number for %s has this length.", cc);
		case CRM_PN_LOCAL_ONLY:
			return psprintf("The number is a local number for %s, without its area code.", cc);
		case CRM_PN_NOT_VALID:
			return psprintf("The number is not a valid number for %s.", cc);
		case CRM_PN_EXTENSION_TOO_LONG:
			return psprintf("The extension has more than %d digits.", CRM_PN_MAX_EXT_DIGITS);
		case CRM_PN_UNSTABLE:
			return pstrdup("The number reads as another number when written in E.164 form.");
		case CRM_PN_CORRUPT:
			return pstrdup("The binary value has fields out of range.");
		case CRM_PN_OK:
		case CRM_PN_NO_MEMORY:
		case CRM_PN_INTERNAL:
			break;
	}
	ReportShimFailure(st);
	return NULL;				/* keep compiler quiet */
}

static const char *
ProblemHint(CrmPnStatus st)
{
	switch (st)
	{
		case CRM_PN_EMPTY:
			return "Use NULL for an unknown phone number.";
		case CRM_PN_INPUT_TOO_LONG:
			return "Enter only the phone number.";
		case CRM_PN_LEADING_TEXT:
			return "Remove the words before the number; only a \"tel:\" prefix is accepted there.";
		case CRM_PN_NOT_A_NUMBER:
			return "Write the number with digits, for example +1 415 555 2671.";
		case CRM_PN_NO_COUNTRY_CODE:
			return "Write the number with + and its country code, or set crm.default_region to the region numbers are written for, such as US.";
		case CRM_PN_INVALID_COUNTRY_CODE:
			return "Check the digits after + or 00: they must begin with a country calling code, such as 1 or 44.";
		case CRM_PN_TOO_SHORT_AFTER_IDD:
		case CRM_PN_TOO_SHORT:
		case CRM_PN_TOO_LONG:
		case CRM_PN_INVALID_LENGTH:
			return "Check for missing or extra digits; write an extension after \"ext.\".";
		case CRM_PN_LOCAL_ONLY:
			return "Add the area code.";
		case CRM_PN_NOT_VALID:
			return "Check the digits and the country code. If the number is in a range newer than libphonenumber, set crm.phone_validation to possible.";
		case CRM_PN_EXTENSION_TOO_LONG:
			return "Store longer extensions in a separate column.";
		case CRM_PN_UNSTABLE:
			return "Check the digits after the country code; a national prefix such as 0 does not belong there.";
		default:
			return NULL;
	}
}

/*
 * Parse a text with the given region and the current validation level.
 * The text is converted to UTF-8 first when the database uses another
 * encoding (libphonenumber reads UTF-8).
 */
static CrmPnStatus
ParsePhone(const char *s, int len, const char *region, CrmPhone *out)
{
	const char *utf8 = s;
	CrmPnStatus st;

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = pg_server_to_any(s, len, PG_UTF8);
		if (utf8 != s)
			len = strlen(utf8);
	}
	st = crm_pn_parse(utf8, (size_t) len, region,
					  (CrmPnValidation) crm_phone_validation, out);
	if (st == CRM_PN_NO_MEMORY || st == CRM_PN_INTERNAL)
		ReportShimFailure(st);
	return st;
}

/* Parse, or raise the input error for type phone. */
static CrmPhone *
PhoneFromText(const char *s, int len, const char *region)
{
	CrmPhone   *result = palloc0(sizeof(CrmPhone));
	CrmPnStatus st = ParsePhone(s, len, region, result);

	if (st != CRM_PN_OK)
	{
		char	   *shown = pnstrdup(s, len);
		char	   *detail = ProblemDetail(st, result);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", "phone", shown),
				 errdetail_internal("%s", detail),
				 errhint("%s", ProblemHint(st))));
	}
	return result;
}

PG_FUNCTION_INFO_V1(crm_phone_in);
Datum
crm_phone_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	PG_RETURN_PHONE_P(PhoneFromText(s, strlen(s), DefaultRegion()));
}

PG_FUNCTION_INFO_V1(crm_phone_out);
Datum
crm_phone_out(PG_FUNCTION_ARGS)
{
	CrmPhone   *p = PG_GETARG_PHONE_P(0);
	char	   *buf = palloc(CRM_PN_FORMAT_BUFSIZE);

	crm_pn_to_text(p, buf);
	PG_RETURN_CSTRING(buf);
}

/*
 * Binary form, in network byte order: country code (int2), leading zeros
 * (int1), extension digits (int1), national number (int8), extension
 * (int4).  recv applies every check input does, except the ones about
 * how the number was written.
 */
PG_FUNCTION_INFO_V1(crm_phone_recv);
Datum
crm_phone_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	CrmPhone   *result = palloc0(sizeof(CrmPhone));
	CrmPnStatus st;

	result->country_code = (uint16) pq_getmsgint(buf, 2);
	result->leading_zeros = (uint8) pq_getmsgint(buf, 1);
	result->ext_digits = (uint8) pq_getmsgint(buf, 1);
	result->national = (uint64) pq_getmsgint64(buf);
	result->extension = (uint32) pq_getmsgint(buf, 4);

	st = crm_pn_check(result, (CrmPnValidation) crm_phone_validation);
	if (st == CRM_PN_NO_MEMORY || st == CRM_PN_INTERNAL)
		ReportShimFailure(st);
	if (st != CRM_PN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external value for type %s", "phone"),
				 errdetail_internal("%s", ProblemDetail(st, result)),
				 errhint("%s", st == CRM_PN_CORRUPT
						 ? "The data was not written by crm.phone's send function."
						 : ProblemHint(st))));
	PG_RETURN_PHONE_P(result);
}

PG_FUNCTION_INFO_V1(crm_phone_send);
Datum
crm_phone_send(PG_FUNCTION_ARGS)
{
	CrmPhone   *p = PG_GETARG_PHONE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, p->country_code);
	pq_sendint8(&buf, p->leading_zeros);
	pq_sendint8(&buf, p->ext_digits);
	pq_sendint64(&buf, p->national);
	pq_sendint32(&buf, p->extension);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* crm.phone(text) and the text to phone cast: the default region. */
PG_FUNCTION_INFO_V1(crm_phone_from_text);
Datum
crm_phone_from_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_PHONE_P(PhoneFromText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
									DefaultRegion()));
}

/* crm.phone(text, region) */
PG_FUNCTION_INFO_V1(crm_phone_from_text_region);
Datum
crm_phone_from_text_region(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char	   *region = RegionArg(PG_GETARG_TEXT_PP(1));

	PG_RETURN_PHONE_P(PhoneFromText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
									region));
}

/*
 * crm.try_phone(text, region DEFAULT NULL) and crm.phone_problem(text,
 * region DEFAULT NULL): not STRICT, because a NULL region means the
 * default region.  A NULL text gives NULL.
 */
static const char *
OptionalRegion(FunctionCallInfo fcinfo)
{
	if (PG_NARGS() < 2 || PG_ARGISNULL(1))
		return DefaultRegion();
	return RegionArg(PG_GETARG_TEXT_PP(1));
}

PG_FUNCTION_INFO_V1(crm_try_phone);
Datum
crm_try_phone(PG_FUNCTION_ARGS)
{
	text	   *t;
	const char *region;
	CrmPhone   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = PG_GETARG_TEXT_PP(0);
	region = OptionalRegion(fcinfo);
	result = palloc0(sizeof(CrmPhone));
	if (ParsePhone(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), region, result) != CRM_PN_OK)
	{
		pfree(result);
		PG_RETURN_NULL();
	}
	PG_RETURN_PHONE_P(result);
}

PG_FUNCTION_INFO_V1(crm_phone_problem);
Datum
crm_phone_problem(PG_FUNCTION_ARGS)
{
	text	   *t;
	const char *region;
	CrmPhone	num;
	CrmPnStatus st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = PG_GETARG_TEXT_PP(0);
	region = OptionalRegion(fcinfo);
	st = ParsePhone(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), region, &num);
	if (st == CRM_PN_OK)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(ProblemDetail(st, &num)));
}

/*
 * Comparison.  The order is country code, then national number (as a
 * number, then by leading zeros), then extension (none first, then by
 * value, then by digit count): a total order consistent with equality,
 * which is equality of all 16 bytes.  Not the order of the text forms.
 */
static inline int
PhoneCmp(const CrmPhone *a, const CrmPhone *b)
{
	if (a->country_code != b->country_code)
		return a->country_code < b->country_code ? -1 : 1;
	if (a->national != b->national)
		return a->national < b->national ? -1 : 1;
	if (a->leading_zeros != b->leading_zeros)
		return a->leading_zeros < b->leading_zeros ? -1 : 1;
	if ((a->ext_digits == 0) != (b->ext_digits == 0))
		return a->ext_digits == 0 ? -1 : 1;
	if (a->extension != b->extension)
		return a->extension < b->extension ? -1 : 1;
	if (a->ext_digits != b->ext_digits)
		return a->ext_digits < b->ext_digits ? -1 : 1;
	return 0;
}

#define PHONE_CMP_FUNC(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(PhoneCmp(PG_GETARG_PHONE_P(0), PG_GETARG_PHONE_P(1)) op 0); \
}

PHONE_CMP_FUNC(crm_phone_eq, ==)
PHONE_CMP_FUNC(crm_phone_ne, !=)
PHONE_CMP_FUNC(crm_phone_lt, <)
PHONE_CMP_FUNC(crm_phone_le, <=)
PHONE_CMP_FUNC(crm_phone_gt, >)
PHONE_CMP_FUNC(crm_phone_ge, >=)

PG_FUNCTION_INFO_V1(crm_phone_cmp);
Datum
crm_phone_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PhoneCmp(PG_GETARG_PHONE_P(0), PG_GETARG_PHONE_P(1)));
}

/* Equal values have equal bytes (see phonenumber.h), so hash the bytes. */
PG_FUNCTION_INFO_V1(crm_phone_hash);
Datum
crm_phone_hash(PG_FUNCTION_ARGS)
{
	return hash_any((const unsigned char *) PG_GETARG_PHONE_P(0),
					sizeof(CrmPhone));
}

PG_FUNCTION_INFO_V1(crm_phone_hash_extended);
Datum
crm_phone_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_any_extended((const unsigned char *) PG_GETARG_PHONE_P(0),
							 sizeof(CrmPhone), PG_GETARG_INT64(1));
}

/* crm.phone_format(phone, style) */
PG_FUNCTION_INFO_V1(crm_phone_format);
Datum
crm_phone_format(PG_FUNCTION_ARGS)
{
	CrmPhone   *p = PG_GETARG_PHONE_P(0);
	char	   *style = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char		buf[CRM_PN_FORMAT_BUFSIZE];
	int			format;
	CrmPnStatus st;

	for (format = 0; format < lengthof(format_names); format++)
		if (pg_strcasecmp(style, format_names[format]) == 0)
			break;
	if (format == lengthof(format_names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized phone format style: \"%s\"", style),
				 errhint("Use e164, international, national or rfc3966.")));
	st = crm_pn_format(p, (CrmPnFormat) format, buf);
	if (st != CRM_PN_OK)
		ReportShimFailure(st);
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}

/* crm.phone_region(phone): NULL when the number fits no region's ranges. */
PG_FUNCTION_INFO_V1(crm_phone_region);
Datum
crm_phone_region(PG_FUNCTION_ARGS)
{
	char		buf[4];
	CrmPnStatus st = crm_pn_region(PG_GETARG_PHONE_P(0), buf);

	if (st != CRM_PN_OK)
		ReportShimFailure(st);
	if (buf[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}

PG_FUNCTION_INFO_V1(crm_phone_country_code);
Datum
crm_phone_country_code(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) PG_GETARG_PHONE_P(0)->country_code);
}

/* crm.phone_extension(phone): the extension digits, or NULL. */
PG_FUNCTION_INFO_V1(crm_phone_extension);
Datum
crm_phone_extension(PG_FUNCTION_ARGS)
{
	CrmPhone   *p = PG_GETARG_PHONE_P(0);

	if (p->ext_digits == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%0*u", (int) p->ext_digits,
											  (unsigned int) p->extension)));
}

PG_FUNCTION_INFO_V1(crm_phone_type);
Datum
crm_phone_type(PG_FUNCTION_ARGS)
{
	CrmPnType	type;
	CrmPnStatus st = crm_pn_type(PG_GETARG_PHONE_P(0), &type);

	if (st != CRM_PN_OK)
		ReportShimFailure(st);
	if ((int) type < 0 || (int) type >= lengthof(type_names))
		type = CRM_PN_TYPE_UNKNOWN;
	PG_RETURN_TEXT_P(cstring_to_text(type_names[type]));
}

/* The error for a text crm.phone_match() cannot read. */
static void
ReportMatchProblem(CrmPnStatus st, text *arg)
{
	CrmPhone	none;

	if (st == CRM_PN_NO_MEMORY || st == CRM_PN_INTERNAL)
		ReportShimFailure(st);
	memset(&none, 0, sizeof(none));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "phone",
					text_to_cstring(arg)),
			 errdetail_internal("%s", ProblemDetail(st, &none)),
			 errhint("%s", ProblemHint(st))));
}

/* Text as UTF-8, for the shim; *len is updated. */
static const char *
Utf8Arg(text *t, size_t *len)
{
	const char *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		const char *u = pg_server_to_any(s, n, PG_UTF8);

		if (u != s)
		{
			*len = strlen(u);
			return u;
		}
	}
	*len = (size_t) n;
	return s;
}

/* crm.phone_match(text, text) */
PG_FUNCTION_INFO_V1(crm_phone_match);
Datum
crm_phone_match(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	const char *sa;
	const char *sb;
	size_t		alen;
	size_t		blen;
	CrmPnMatch	match;
	int			which;
	CrmPnStatus st;

	sa = Utf8Arg(a, &alen);
	sb = Utf8Arg(b, &blen);
	st = crm_pn_match(sa, alen, sb, blen, &match, &which);
	if (st != CRM_PN_OK)
		ReportMatchProblem(st, which == 2 ? b : a);
	PG_RETURN_TEXT_P(cstring_to_text(match_names[match]));
}

/* crm.phone_match(phone, text) */
PG_FUNCTION_INFO_V1(crm_phone_match_text);
Datum
crm_phone_match_text(PG_FUNCTION_ARGS)
{
	CrmPhone   *a = PG_GETARG_PHONE_P(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	const char *sb;
	size_t		blen;
	CrmPnMatch	match;
	CrmPnStatus st;

	sb = Utf8Arg(b, &blen);
	st = crm_pn_match_number(a, sb, blen, &match);
	if (st != CRM_PN_OK)
		ReportMatchProblem(st, b);
	PG_RETURN_TEXT_P(cstring_to_text(match_names[match]));
}

/* crm.phone_match(phone, phone) */
PG_FUNCTION_INFO_V1(crm_phone_match_phone);
Datum
crm_phone_match_phone(PG_FUNCTION_ARGS)
{
	CrmPnMatch	match;
	CrmPnStatus st;

	st = crm_pn_match_numbers(PG_GETARG_PHONE_P(0), PG_GETARG_PHONE_P(1), &match);
	if (st != CRM_PN_OK)
		ReportShimFailure(st);
	PG_RETURN_TEXT_P(cstring_to_text(match_names[match]));
}
