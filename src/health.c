/*
 * health.c
 *	  Record-health helpers that run once per contact in crm.contact_health.
 *
 * The view scores every contact the caller may see, so whatever it does
 * per row is multiplied by a million in a real CRM.  The placeholder test
 * ("test", "n/a", "asdf", "xxx" ... as a whole name or title) was a
 * case-insensitive regular expression with a dozen alternatives, the most
 * expensive expression of the view; here it is a scan of the bytes.
 *
 * A value is a placeholder when it is one or more tokens separated by
 * white space, each token one of (case-insensitive):
 *   test, asdf followed by any word characters, n/a, na, none, unknown,
 *   xxx (three or more x), dummy, foo, bar, one or more "?", one or more
 *   "-", one or more ".".
 * Word characters are ASCII letters, digits, "_" and every non-ASCII byte
 * (letters of other scripts).  Empty or blank values are not placeholders
 * (they are incomplete, which the completeness part counts).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(crm_placeholder_text);

static inline bool
IsSpace(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline bool
IsWordChar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c >= 0x80;
}

static inline unsigned char
Lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool
TokenIs(const unsigned char *t, int len, const char *word)
{
	int			i;

	if ((int) strlen(word) != len)
		return false;
	for (i = 0; i < len; i++)
		if (Lower(t[i]) != (unsigned char) word[i])
			return false;
	return true;
}

static bool
AllSame(const unsigned char *t, int len, unsigned char c, int min)
{
	int			i;

	if (len < min)
		return false;
	for (i = 0; i < len; i++)
		if (Lower(t[i]) != c)
			return false;
	return true;
}

static bool
PlaceholderToken(const unsigned char *t, int len)
{
	int			i;

	if (len >= 4 && TokenIs(t, 4, "asdf"))
	{
		for (i = 4; i < len; i++)
			if (!IsWordChar(t[i]))
				return false;
		return true;
	}
	return TokenIs(t, len, "test") || TokenIs(t, len, "n/a") || TokenIs(t, len, "na") ||
		TokenIs(t, len, "none") || TokenIs(t, len, "unknown") || TokenIs(t, len, "dummy") ||
		TokenIs(t, len, "foo") || TokenIs(t, len, "bar") ||
		AllSame(t, len, 'x', 3) || AllSame(t, len, '?', 1) ||
		AllSame(t, len, '-', 1) || AllSame(t, len, '.', 1);
}

/*
 * crm._placeholder_text(value text) -> boolean
 */
Datum
crm_placeholder_text(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	const unsigned char *s = (const unsigned char *) VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);
	int			i = 0;
	int			tokens = 0;

	while (i < len)
	{
		int			start;

		while (i < len && IsSpace(s[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && !IsSpace(s[i]))
			i++;
		if (!PlaceholderToken(s + start, i - start))
			PG_RETURN_BOOL(false);
		tokens++;
	}
	PG_RETURN_BOOL(tokens > 0);
}
