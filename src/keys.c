/*
 * keys.c
 *	  SQL functions for organization and place keys: crm.company_key,
 *	  crm.domain_key, crm.address_key, crm.normalize_postcode and
 *	  crm.try_normalize_postcode.
 *
 * Thin glue over the backend-free cores in name_parse.c and key_parse.c
 * (which the fuzz harness links directly): convert the argument to UTF-8,
 * call the core, turn its status into a result or an ereport.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "names.h"

typedef CrmKeyStatus (*KeyFunc) (const char *s, size_t len, CrmBuf *out);

/* The value for an error message, cut short when long. */
static char *
Shown(text *t)
{
	char	   *s = text_to_cstring(t);
	int			len = strlen(s);

	if (len > 64)
	{
		int			cut = pg_mbcliplen(s, len, 60);

		s[cut] = '\0';
		return psprintf("%s...", s);
	}
	return s;
}

static Datum
RunKey(FunctionCallInfo fcinfo, KeyFunc f, const char *what)
{
	size_t		len;
	const char *s = crm_text_to_utf8(PG_GETARG_TEXT_PP(0), &len);
	CrmBuf		out;
	CrmKeyStatus st;

	crm_buf_init(&out);
	st = f(s, len, &out);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&out);
		crm_key_raise(st, what, len);
	}
	PG_RETURN_TEXT_P(crm_buf_to_text(&out));
}

PG_FUNCTION_INFO_V1(crm_company_key);

Datum
crm_company_key(PG_FUNCTION_ARGS)
{
	return RunKey(fcinfo, crm_key_company, "company");
}

PG_FUNCTION_INFO_V1(crm_address_key);

Datum
crm_address_key(PG_FUNCTION_ARGS)
{
	return RunKey(fcinfo, crm_key_address, "address");
}

PG_FUNCTION_INFO_V1(crm_domain_key);

/* crm.domain_key: the registrable domain, or NULL when there is none. */
Datum
crm_domain_key(PG_FUNCTION_ARGS)
{
	size_t		len;
	const char *s = crm_text_to_utf8(PG_GETARG_TEXT_PP(0), &len);
	CrmBuf		out;
	CrmKeyStatus st;
	bool		found;

	crm_buf_init(&out);
	st = crm_key_domain(s, len, &out, &found);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&out);
		crm_key_raise(st, "domain", len);
	}
	if (!found)
	{
		crm_buf_free(&out);
		PG_RETURN_NULL();
	}
	PG_RETURN_TEXT_P(crm_buf_to_text(&out));
}

/*
 * Shared by crm.normalize_postcode (raise) and crm.try_normalize_postcode
 * (NULL for a malformed code; a bad country code still raises, since that
 * is a mistake in the query rather than in the data).
 */
static Datum
Postcode(FunctionCallInfo fcinfo, bool raise)
{
	text	   *code = PG_GETARG_TEXT_PP(0);
	text	   *country = PG_GETARG_TEXT_PP(1);
	size_t		len;
	const char *s = crm_text_to_utf8(code, &len);
	const char *c = VARDATA_ANY(country);
	size_t		clen = VARSIZE_ANY_EXHDR(country);
	CrmBuf		out;
	CrmKeyStatus st;
	const char *detail;
	const char *hint;

	crm_buf_init(&out);
	st = crm_key_postcode(s, len, c, clen, &out, &detail, &hint);
	if (st == CRM_KEY_OK)
		PG_RETURN_TEXT_P(crm_buf_to_text(&out));
	crm_buf_free(&out);
	if (st == CRM_KEY_BADARG)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized country code: \"%s\"", Shown(country)),
				 errhint("Use an ISO 3166-1 alpha-2 code such as US, GB or DE.")));
	if (st != CRM_KEY_INVALID)
		crm_key_raise(st, "postal code", len);
	if (!raise)
		PG_RETURN_NULL();
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for postal code: \"%s\"", Shown(code)),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
	PG_RETURN_NULL();			/* keep the compiler quiet */
}

PG_FUNCTION_INFO_V1(crm_normalize_postcode);

Datum
crm_normalize_postcode(PG_FUNCTION_ARGS)
{
	return Postcode(fcinfo, true);
}

PG_FUNCTION_INFO_V1(crm_try_normalize_postcode);

Datum
crm_try_normalize_postcode(PG_FUNCTION_ARGS)
{
	return Postcode(fcinfo, false);
}
