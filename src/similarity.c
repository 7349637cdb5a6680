/*
 * similarity.c
 *	  String similarity for fuzzy matching: Jaro-Winkler, optimal string
 *	  alignment (restricted Damerau-Levenshtein) with an early exit, a
 *	  token-based name similarity and a phonetic key for names in any script.
 *
 * fuzzystrmatch and pg_trgm work on bytes or on single-byte assumptions in
 * places and have no Jaro-Winkler; record matching needs all of these on
 * code points, so "Müller" and "Muller" are one substitution apart, not two.
 * Each routine decodes its text once into a pg_wchar array (the server
 * encoding's code points) and runs on that.  The edit distance keeps three
 * rows and, when given a maximum, only the diagonal band that can still end
 * within it, so a bounded call costs O(max * length), not O(length^2).
 *
 * The phonetic key transliterates to ASCII with ICU first (one cached
 * transliterator per backend, skipped for ASCII input), then codes each
 * word with metaphone-style rules written for this module.  The matcher in
 * match.c uses the same primitives through similarity.h.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>

#include "similarity.h"

/* Longest input a comparison accepts, in code points. */
#define CRM_SIM_MAX_CODES	100000
/* Names with more words than this are compared on their first words only. */
#define CRM_NAME_MAX_TOKENS 16
/* Strings of at most this many bytes are decoded on the stack. */
#define CRM_SHORT_CODES 64

PG_FUNCTION_INFO_V1(crm_jaro_winkler);
PG_FUNCTION_INFO_V1(crm_damerau_levenshtein);
PG_FUNCTION_INFO_V1(crm_damerau_levenshtein_max);
PG_FUNCTION_INFO_V1(crm_name_similarity);
PG_FUNCTION_INFO_V1(crm_phonetic_key);

CrmCodes
crm_codes_from_bytes(const char *s, int len)
{
	CrmCodes	c;

	if (len > CRM_SIM_MAX_CODES * MAX_MULTIBYTE_CHAR_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long for comparison"),
				 errdetail("The string has %d bytes; at most %d characters are compared.",
						   len, CRM_SIM_MAX_CODES)));
	c.cp = (pg_wchar *) palloc((len + 1) * sizeof(pg_wchar));
	c.len = pg_mb2wchar_with_len(s, c.cp, len);
	if (c.len > CRM_SIM_MAX_CODES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long for comparison"),
				 errdetail("The string has %d characters; at most %d are compared.",
						   c.len, CRM_SIM_MAX_CODES)));
	return c;
}

double
crm_jaro_winkler_codes(const pg_wchar *a, int la, const pg_wchar *b, int lb)
{
	bool		sa[64];
	bool		sb[64];
	bool	   *fa = sa;
	bool	   *fb = sb;
	int			window;
	int			m = 0;
	int			t = 0;
	int			k;
	int			prefix;
	double		jaro;

	if (la == 0 && lb == 0)
		return 1.0;
	if (la == 0 || lb == 0)
		return 0.0;

	if (la > 64)
		fa = palloc(la * sizeof(bool));
	if (lb > 64)
		fb = palloc(lb * sizeof(bool));
	memset(fa, 0, la * sizeof(bool));
	memset(fb, 0, lb * sizeof(bool));

	window = Max(la, lb) / 2 - 1;
	if (window < 0)
		window = 0;

	for (int i = 0; i < la; i++)
	{
		int			lo = Max(0, i - window);
		int			hi = Min(lb - 1, i + window);

		for (int j = lo; j <= hi; j++)
		{
			if (!fb[j] && a[i] == b[j])
			{
				fa[i] = fb[j] = true;
				m++;
				break;
			}
		}
	}

	if (m == 0)
		jaro = 0.0;
	else
	{
		k = 0;
		for (int i = 0; i < la; i++)
		{
			if (!fa[i])
				continue;
			while (!fb[k])
				k++;
			if (a[i] != b[k])
				t++;
			k++;
		}
		jaro = ((double) m / la + (double) m / lb + (double) (m - t / 2) / m) / 3.0;
	}

	if (fa != sa)
		pfree(fa);
	if (fb != sb)
		pfree(fb);

	if (jaro <= 0.7)
		return jaro;
	prefix = 0;
	while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix])
		prefix++;
	return jaro + prefix * 0.1 * (1.0 - jaro);
}

/*
 * Decode into buf (CRM_SHORT_CODES + 1 entries) when the text is short
 * enough, else into palloc'd memory: names are short, and the comparison
 * loops are cheap enough that an allocation per call would show.
 */
static CrmCodes
ShortCodes(const char *s, int len, pg_wchar *buf)
{
	CrmCodes	c;

	if (len <= CRM_SHORT_CODES)
	{
		c.cp = buf;
		c.len = pg_mb2wchar_with_len(s, buf, len);
		return c;
	}
	return crm_codes_from_bytes(s, len);
}

static inline bool
ShortAscii(const char *s, int len)
{
	if (len > 64)
		return false;
	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] >= 0x80)
			return false;
	return true;
}

/*
 * Jaro-Winkler of two ASCII strings of at most 64 bytes, the matcher's
 * usual case (prepared values are folded to ASCII).  The same greedy
 * matching as crm_jaro_winkler_codes, but each character of a finds its
 * partner in b with one mask operation: pos[c] has a bit for each place c
 * occurs in b, so the first unmatched occurrence within the window is the
 * lowest bit of pos[c] & window & ~matched.  O(la + lb), not O(la * window).
 */
static double
JaroWinklerAscii(const char *a, int la, const char *b, int lb)
{
	uint64		pos[128];
	uint64		fa = 0;
	uint64		fb = 0;
	int			window;
	int			m = 0;
	int			t = 0;
	int			prefix;
	double		jaro;

	if (la == 0 && lb == 0)
		return 1.0;
	if (la == 0 || lb == 0)
		return 0.0;
	for (int j = 0; j < lb; j++)
		pos[(unsigned char) b[j]] = 0;
	for (int i = 0; i < la; i++)
		pos[(unsigned char) a[i]] = 0;
	for (int j = 0; j < lb; j++)
		pos[(unsigned char) b[j]] |= UINT64CONST(1) << j;

	window = Max(la, lb) / 2 - 1;
	if (window < 0)
		window = 0;
	for (int i = 0; i < la; i++)
	{
		int			lo = Max(0, i - window);
		int			hi = Min(lb - 1, i + window);
		uint64		span;
		uint64		cand;

		if (lo > hi)
			continue;
		span = (hi - lo + 1 >= 64) ? ~UINT64CONST(0) : ((UINT64CONST(1) << (hi - lo + 1)) - 1) << lo;
		cand = pos[(unsigned char) a[i]] & span & ~fb;
		if (cand != 0)
		{
			fb |= cand & (~cand + 1);
			fa |= UINT64CONST(1) << i;
			m++;
		}
	}
	if (m == 0)
		return 0.0;
	{
		uint64		ra = fa;
		uint64		rb = fb;

		while (ra != 0)
		{
			int			i = pg_rightmost_one_pos64(ra);
			int			k = pg_rightmost_one_pos64(rb);

			if (a[i] != b[k])
				t++;
			ra &= ra - 1;
			rb &= rb - 1;
		}
	}
	jaro = ((double) m / la + (double) m / lb + (double) (m - t / 2) / m) / 3.0;
	if (jaro <= 0.7)
		return jaro;
	prefix = 0;
	while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix])
		prefix++;
	return jaro + prefix * 0.1 * (1.0 - jaro);
}

/*
 * Jaro-Winkler of a and b when it may reach floor, else 0.  Jaro matches
 * at most as many characters as the two strings have in common (counted
 * without the window), and the Winkler bonus lifts Jaro j to at most
 * 0.6 j + 0.4, so for ASCII strings that bound, computed in one pass, rules
 * out most unlike pairs before the matching loop runs.
 */
double
crm_jaro_winkler_at_least(const char *a, int la, const char *b, int lb, double floor)
{
	if (la > 0 && lb > 0 && ShortAscii(a, la) && ShortAscii(b, lb))
	{
		int			count[128];
		int			common = 0;
		double		bound;

		for (int i = 0; i < la; i++)
			count[(unsigned char) a[i]] = 0;
		for (int j = 0; j < lb; j++)
			count[(unsigned char) b[j]] = 0;
		for (int i = 0; i < la; i++)
			count[(unsigned char) a[i]]++;
		for (int j = 0; j < lb; j++)
			if (count[(unsigned char) b[j]] > 0)
			{
				count[(unsigned char) b[j]]--;
				common++;
			}
		bound = ((double) common / la + (double) common / lb + 1.0) / 3.0;
		if (0.6 * bound + 0.4 < floor - 1e-12)
			return 0.0;
		return JaroWinklerAscii(a, la, b, lb);
	}
	return crm_jaro_winkler_bytes(a, la, b, lb);
}

/*
 * Bit of an ASCII character in a mask: letters and digits their own, the
 * space its own, other characters share the rest (sharing only weakens the
 * bound below).  Bit 63 marks a mask as made.
 */
static inline int
MaskBit(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '0' && c <= '9')
		return 26 + (c - '0');
	if (c == ' ')
		return 36;
	return 37 + c % 26;
}

uint64
crm_jaro_winkler_mask(const char *s, int len)
{
	uint64		m = UINT64CONST(1) << 63;

	if (len <= 0 || !ShortAscii(s, len))
		return 0;
	for (int i = 0; i < len; i++)
		m |= UINT64CONST(1) << MaskBit((unsigned char) s[i]);
	return m;
}

/*
 * crm_jaro_winkler_at_least's bound with the common characters counted from
 * the masks: every character of a whose bit b lacks is a character of a
 * that b cannot match, and the other way round, so the common characters
 * are at most la less those on either side.  That is never fewer than the
 * exact count, so whatever this rules out, the exact bound rules out too.
 */
bool
crm_jaro_winkler_ruled_out(uint64 ma, int la, uint64 mb, int lb, double floor)
{
	int			common;
	double		bound;

	if (ma == 0 || mb == 0)
		return false;
	common = Min(la - pg_popcount64(ma & ~mb), lb - pg_popcount64(mb & ~ma));
	bound = ((double) common / la + (double) common / lb + 1.0) / 3.0;
	return 0.6 * bound + 0.4 < floor - 1e-12;
}

double
crm_jaro_winkler_bytes(const char *a, int la, const char *b, int lb)
{
	pg_wchar	sa[CRM_SHORT_CODES + 1];
	pg_wchar	sb[CRM_SHORT_CODES + 1];
	CrmCodes	ca;
	CrmCodes	cb;
	double		r;

	if (ShortAscii(a, la) && ShortAscii(b, lb))
		return JaroWinklerAscii(a, la, b, lb);
	ca = ShortCodes(a, la, sa);
	cb = ShortCodes(b, lb, sb);
	r = crm_jaro_winkler_codes(ca.cp, ca.len, cb.cp, cb.len);

	if (ca.cp != sa)
		pfree(ca.cp);
	if (cb.cp != sb)
		pfree(cb.cp);
	return r;
}

int
crm_osa_distance_codes(const pg_wchar *a, int la, const pg_wchar *b, int lb, int max)
{
	int			stackrows[3 * (CRM_SHORT_CODES + 1)];
	int		   *rows;
	int		   *prev2;
	int		   *prev;
	int		   *cur;
	int			big;
	int			band;
	int			result;

	if (max >= 0 && abs(la - lb) > max)
		return max + 1;
	if (la == 0)
		return lb;
	if (lb == 0)
		return la;

	band = (max >= 0) ? max : Max(la, lb);
	big = band + 2;				/* stands for "beyond the band" */

	rows = (lb <= CRM_SHORT_CODES) ? stackrows : (int *) palloc(3 * (lb + 1) * sizeof(int));
	prev2 = rows;
	prev = rows + (lb + 1);
	cur = rows + 2 * (lb + 1);

	for (int j = 0; j <= lb; j++)
		prev[j] = (j <= band) ? j : big;

	for (int i = 1; i <= la; i++)
	{
		int			jlo = Max(1, i - band);
		int			jhi = Min(lb, i + band);
		int			rowmin;
		int		   *tmp;

		CHECK_FOR_INTERRUPTS();

		cur[jlo - 1] = (jlo == 1) ? ((i <= band) ? i : big) : big;
		rowmin = cur[jlo - 1];
		for (int j = jlo; j <= jhi; j++)
		{
			int			cost = (a[i - 1] == b[j - 1]) ? 0 : 1;
			int			v = prev[j - 1] + cost;

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
				prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			if (v > big)
				v = big;
			cur[j] = v;
			if (v < rowmin)
				rowmin = v;
		}
		if (jhi < lb)
			cur[jhi + 1] = big;

		if (max >= 0 && rowmin > max)
		{
			if (rows != stackrows)
				pfree(rows);
			return max + 1;
		}
		tmp = prev2;
		prev2 = prev;
		prev = cur;
		cur = tmp;
	}

	result = prev[lb];
	if (rows != stackrows)
		pfree(rows);
	if (max >= 0 && result > max)
		return max + 1;
	return result;
}

/*
 * Distance of two ASCII strings when it is at most one, else 2.  Past their
 * common prefix and suffix, what is left of each must be nothing, one
 * character on either or both sides (an insertion, deletion or
 * substitution), or the same two characters swapped (a transposition).
 */
static int
OsaAtMostOneAscii(const char *a, int la, const char *b, int lb)
{
	int			p = 0;
	int			s = 0;
	int			ra,
				rb;

	while (p < la && p < lb && a[p] == b[p])
		p++;
	while (s < la - p && s < lb - p && a[la - 1 - s] == b[lb - 1 - s])
		s++;
	ra = la - p - s;
	rb = lb - p - s;
	if (ra == 0 && rb == 0)
		return 0;
	if (ra <= 1 && rb <= 1)
		return 1;
	if (ra == 2 && rb == 2 && a[p] == b[p + 1] && a[p + 1] == b[p])
		return 1;
	return 2;
}

/*
 * True when ASCII strings a and b differ by more than limit in their
 * character counts (the sum over characters of the count differences).
 * A substitution changes that sum by at most two, an insertion or deletion
 * by one, a transposition not at all, so strings whose counts differ by
 * more than 2 * max are more than max edits apart.  False when either
 * string has a non-ASCII byte (no bound is claimed for those).
 */
bool
crm_char_counts_differ(const char *a, int la, const char *b, int lb, int limit)
{
	int			count[128];
	int			diff = 0;

	for (int i = 0; i < la; i++)
		if ((unsigned char) a[i] >= 128)
			return false;
	for (int i = 0; i < lb; i++)
		if ((unsigned char) b[i] >= 128)
			return false;
	for (int i = 0; i < la; i++)
		count[(unsigned char) a[i]] = 0;
	for (int i = 0; i < lb; i++)
		count[(unsigned char) b[i]] = 0;
	for (int i = 0; i < la; i++)
		count[(unsigned char) a[i]]++;
	for (int i = 0; i < lb; i++)
		count[(unsigned char) b[i]]--;
	for (int i = 0; i < la; i++)
	{
		diff += abs(count[(unsigned char) a[i]]);
		count[(unsigned char) a[i]] = 0;
	}
	for (int i = 0; i < lb; i++)
	{
		diff += abs(count[(unsigned char) b[i]]);
		count[(unsigned char) b[i]] = 0;
	}
	return diff > limit;
}

int
crm_osa_distance_bytes(const char *a, int la, const char *b, int lb, int max)
{
	pg_wchar	sa[CRM_SHORT_CODES + 1];
	pg_wchar	sb[CRM_SHORT_CODES + 1];
	CrmCodes	ca;
	CrmCodes	cb;
	int			r;

	/* Bounded, on short ASCII strings (the matcher's phones, dates, codes). */
	if (max >= 0 && ShortAscii(a, la) && ShortAscii(b, lb))
	{
		if (abs(la - lb) > max)
			return max + 1;
		if (max == 1)
			return OsaAtMostOneAscii(a, la, b, lb);
		if (crm_char_counts_differ(a, la, b, lb, 2 * max))
			return max + 1;
	}
	ca = ShortCodes(a, la, sa);
	cb = ShortCodes(b, lb, sb);
	r = crm_osa_distance_codes(ca.cp, ca.len, cb.cp, cb.len, max);

	if (ca.cp != sa)
		pfree(ca.cp);
	if (cb.cp != sb)
		pfree(cb.cp);
	return r;
}

/*
 * ICU transliteration to ASCII.  The transliterator takes milliseconds to
 * build, so one is opened per backend on first use and kept.
 */
static UTransliterator *AsciiTrans = NULL;

static UTransliterator *
GetAsciiTransliterator(void)
{
	if (AsciiTrans == NULL)
	{
		static const char rules[] = "Any-Latin; Latin-ASCII";
		UChar		id[64];
		UErrorCode	status = U_ZERO_ERROR;

		u_uastrcpy(id, rules);
		AsciiTrans = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &status);
		if (U_FAILURE(status) || AsciiTrans == NULL)
		{
			AsciiTrans = NULL;
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not open ICU transliterator \"%s\": %s",
							rules, u_errorName(status))));
		}
	}
	return AsciiTrans;
}

static bool
IsAscii(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] >= 0x80)
			return false;
	return true;
}

/*
 * Transliterate s (server encoding) to ASCII-ish UTF-8.  Returns a palloc'd,
 * NUL-terminated string and its length in *outlen.
 */
static char *
ToAscii(const char *s, int len, int *outlen)
{
	char	   *utf8;
	UChar	   *buf;
	int32		ulen;
	int32		cap;
	int32		limit;
	int32		need;
	UErrorCode	status = U_ZERO_ERROR;
	char	   *out;

	if (IsAscii(s, len))
	{
		out = pnstrdup(s, len);
		*outlen = len;
		return out;
	}

	utf8 = (char *) pg_do_encoding_conversion((unsigned char *) s, len,
											  GetDatabaseEncoding(), PG_UTF8);
	if (utf8 == s)
		utf8 = pnstrdup(s, len);
	/* Transliteration may lengthen the text (e.g. one CJK letter to "zhong"). */
	cap = len * 4 + 16;
	buf = (UChar *) palloc(cap * sizeof(UChar));
	u_strFromUTF8(buf, cap, &ulen, utf8, (int32) strlen(utf8), &status);
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("could not convert string to UTF-16: %s", u_errorName(status))));
	for (;;)
	{
		int32		textlen = ulen;

		limit = ulen;
		status = U_ZERO_ERROR;
		utrans_transUChars(GetAsciiTransliterator(), buf, &textlen, cap, 0, &limit, &status);
		if (status == U_BUFFER_OVERFLOW_ERROR && cap < (int32) (MaxAllocSize / sizeof(UChar) / 4))
		{
			/* Start again from the original text in a larger buffer. */
			cap *= 4;
			buf = (UChar *) repalloc(buf, cap * sizeof(UChar));
			status = U_ZERO_ERROR;
			u_strFromUTF8(buf, cap, &ulen, utf8, (int32) strlen(utf8), &status);
			continue;
		}
		if (U_FAILURE(status))
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not transliterate string: %s", u_errorName(status))));
		ulen = textlen;
		break;
	}
	status = U_ZERO_ERROR;
	u_strToUTF8(NULL, 0, &need, buf, ulen, &status);
	out = palloc(need + 1);
	status = U_ZERO_ERROR;
	u_strToUTF8(out, need + 1, &need, buf, ulen, &status);
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not convert transliterated string: %s", u_errorName(status))));
	out[need] = '\0';
	pfree(buf);
	pfree(utf8);
	*outlen = need;
	return out;
}

char *
crm_fold_bytes(const char *s, int len)
{
	int			alen;
	char	   *ascii = ToAscii(s, len, &alen);
	char	   *out = palloc(alen + 1);
	int			o = 0;
	bool		space = false;

	for (int i = 0; i < alen; i++)
	{
		unsigned char c = (unsigned char) ascii[i];

		if (c == '\'' || c == '`')
			continue;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80)
		{
			if (space && o > 0)
				out[o++] = ' ';
			space = false;
			out[o++] = (char) c;
		}
		else if (c >= 'A' && c <= 'Z')
		{
			if (space && o > 0)
				out[o++] = ' ';
			space = false;
			out[o++] = (char) (c + ('a' - 'A'));
		}
		else
			space = true;
	}
	out[o] = '\0';
	pfree(ascii);
	return out;
}

/* Split a folded string (single spaces) into code-point tokens. */
static int
Tokenize(const char *folded, CrmCodes *tokens, int maxtokens)
{
	int			n = 0;
	const char *p = folded;

	while (*p && n < maxtokens)
	{
		const char *e = strchr(p, ' ');
		int			l = e ? (int) (e - p) : (int) strlen(p);

		tokens[n++] = crm_codes_from_bytes(p, l);
		if (!e)
			break;
		p = e + 1;
	}
	return n;
}

/* Similarity of two name tokens: Jaro-Winkler, and an initial ~ a word. */
static double
TokenSimilarity(const CrmCodes *x, const CrmCodes *y)
{
	if ((x->len == 1 || y->len == 1) && x->len != y->len)
		return (x->cp[0] == y->cp[0]) ? 0.9 : 0.0;
	return crm_jaro_winkler_codes(x->cp, x->len, y->cp, y->len);
}

double
crm_name_similarity_bytes(const char *a, int la, const char *b, int lb)
{
	char	   *fa = crm_fold_bytes(a, la);
	char	   *fb = crm_fold_bytes(b, lb);
	CrmCodes	ta[CRM_NAME_MAX_TOKENS];
	CrmCodes	tb[CRM_NAME_MAX_TOKENS];
	double		sim[CRM_NAME_MAX_TOKENS][CRM_NAME_MAX_TOKENS];
	bool		useda[CRM_NAME_MAX_TOKENS] = {0};
	bool		usedb[CRM_NAME_MAX_TOKENS] = {0};
	int			na = Tokenize(fa, ta, CRM_NAME_MAX_TOKENS);
	int			nb = Tokenize(fb, tb, CRM_NAME_MAX_TOKENS);
	int			nshort = Min(na, nb);
	int			nlong = Max(na, nb);
	double		total = 0.0;

	if (na == 0 && nb == 0)
		return 1.0;
	if (na == 0 || nb == 0)
		return 0.0;

	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			sim[i][j] = TokenSimilarity(&ta[i], &tb[j]);

	/* Greedy pairing: the best remaining pair first. */
	for (int k = 0; k < nshort; k++)
	{
		int			bi = -1,
					bj = -1;
		double		best = -1.0;

		for (int i = 0; i < na; i++)
		{
			if (useda[i])
				continue;
			for (int j = 0; j < nb; j++)
				if (!usedb[j] && sim[i][j] > best)
				{
					best = sim[i][j];
					bi = i;
					bj = j;
				}
		}
		useda[bi] = usedb[bj] = true;
		total += best;
	}

	/*
	 * A missing word (middle name) costs a tenth of a word; order of words
	 * costs nothing.
	 */
	return total / (nshort + 0.1 * (nlong - nshort));
}

/*
 * Metaphone-style phonetic code of one upper-case ASCII word w[0..n).
 * Writes at most maxout characters to out and returns how many.
 */
static bool
IsVowel(char c)
{
	return c == 'A' || c == 'E' || c == 'I' || c == 'O' || c == 'U';
}

static int
PhoneticWord(const char *w, int n, char *out, int maxout)
{
	int			o = 0;
	int			i = 0;

#define AT(k) (((k) >= 0 && (k) < n) ? w[(k)] : '\0')
#define EMIT(ch) do { if (o < maxout && (o == 0 || out[o - 1] != (ch))) out[o++] = (ch); } while (0)

	if (n == 0)
		return 0;

	/* Silent first letters and initial X. */
	if ((w[0] == 'K' || w[0] == 'G' || w[0] == 'P') && AT(1) == 'N')
		i = 1;
	else if (w[0] == 'A' && AT(1) == 'E')
		i = 1;
	else if (w[0] == 'W' && AT(1) == 'R')
		i = 1;
	else if (w[0] == 'W' && AT(1) == 'H')
	{
		EMIT('W');
		i = 2;
	}
	else if (w[0] == 'X')
	{
		EMIT('S');
		i = 1;
	}

	for (; i < n && o < maxout; i++)
	{
		char		c = w[i];
		char		nx = AT(i + 1);

		/* Doubled letters count once, except C (as in "accent"). */
		if (c == AT(i - 1) && c != 'C')
			continue;

		switch (c)
		{
			case 'A':
			case 'E':
			case 'I':
			case 'O':
			case 'U':
				if (i == 0)
					EMIT('A');
				break;
			case 'B':
				if (!(i == n - 1 && AT(i - 1) == 'M'))
					EMIT('B');
				break;
			case 'C':
				if (nx == 'I' && AT(i + 2) == 'A')
					EMIT('X');
				else if (nx == 'H')
				{
					EMIT(AT(i - 1) == 'S' ? 'K' : 'X');
					i++;
				}
				else if (nx == 'I' || nx == 'E' || nx == 'Y')
				{
					if (AT(i - 1) != 'S')
						EMIT('S');
				}
				else
					EMIT('K');
				break;
			case 'D':
				if (nx == 'G' && (AT(i + 2) == 'E' || AT(i + 2) == 'I' || AT(i + 2) == 'Y'))
				{
					EMIT('J');
					i++;
				}
				else
					EMIT('T');
				break;
			case 'G':
				if (nx == 'H' && i + 2 < n && !IsVowel(AT(i + 2)))
					break;		/* "night" */
				if (nx == 'H' && i + 2 >= n)
				{
					i++;		/* final "gh" is silent ("hugh") */
					break;
				}
				if (nx == 'N' && (i + 2 == n || (AT(i + 2) == 'E' && AT(i + 3) == 'D' && i + 4 == n)))
					break;		/* "sign", "signed" */
				if (nx == 'I' || nx == 'E' || nx == 'Y')
					EMIT('J');
				else
					EMIT('K');
				break;
			case 'H':
				if (IsVowel(nx) && !strchr("CSPTG", AT(i - 1) ? AT(i - 1) : ' '))
					EMIT('H');
				break;
			case 'K':
				if (AT(i - 1) != 'C')
					EMIT('K');
				break;
			case 'P':
				if (nx == 'H')
				{
					EMIT('F');
					i++;
				}
				else
					EMIT('P');
				break;
			case 'Q':
				EMIT('K');
				break;
			case 'S':
				if (nx == 'H')
				{
					EMIT('X');
					i++;
				}
				else if (nx == 'I' && (AT(i + 2) == 'O' || AT(i + 2) == 'A'))
					EMIT('X');
				else if (nx == 'C' && AT(i + 2) == 'H')
				{
					EMIT('S');
					EMIT('K');
					i += 2;
				}
				else
					EMIT('S');
				break;
			case 'T':
				if (nx == 'I' && (AT(i + 2) == 'O' || AT(i + 2) == 'A'))
					EMIT('X');
				else if (nx == 'H')
				{
					EMIT('0');
					i++;
				}
				else if (!(nx == 'C' && AT(i + 2) == 'H'))
					EMIT('T');
				break;
			case 'V':
				EMIT('F');
				break;
			case 'W':
			case 'Y':
				if (IsVowel(nx))
					EMIT(c);
				break;
			case 'X':
				EMIT('K');
				EMIT('S');
				break;
			case 'Z':
				EMIT('S');
				break;
			default:
				if (c >= 'A' && c <= 'Z')
					EMIT(c);
				break;
		}
	}
#undef AT
#undef EMIT
	return o;
}

#define CRM_PHONETIC_WORD_MAX 8

char *
crm_phonetic_key_bytes(const char *s, int len)
{
	char	   *folded = crm_fold_bytes(s, len);
	int			flen = strlen(folded);
	/* Each word of at least one letter yields at most a separator and 8. */
	char	   *out = palloc((flen + 1) * (CRM_PHONETIC_WORD_MAX + 1) + 1);
	char	   *word = palloc(flen + 1);
	int			o = 0;
	const char *p = folded;

	while (*p)
	{
		int			wl = 0;
		int			kl;

		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
		{
			if (*p >= 'a' && *p <= 'z')
				word[wl++] = (char) (*p - ('a' - 'A'));
			p++;
		}
		if (wl == 0)
			continue;
		if (o > 0)
			out[o++] = ' ';
		kl = PhoneticWord(word, wl, out + o, CRM_PHONETIC_WORD_MAX);
		if (kl == 0 && o > 0)
			o--;				/* drop the separator of an empty key */
		o += kl;
	}
	out[o] = '\0';
	pfree(word);
	pfree(folded);
	return out;
}

/* SQL-callable wrappers */

/*
 * crm.jaro_winkler(text, text) -> float8
 */
Datum
crm_jaro_winkler(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	double		r;

	r = crm_jaro_winkler_bytes(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
							   VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_FLOAT8(r);
}

/*
 * crm.damerau_levenshtein(text, text) -> int
 */
Datum
crm_damerau_levenshtein(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	int			r;

	r = crm_osa_distance_bytes(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
							   VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), -1);
	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(r);
}

/*
 * crm.damerau_levenshtein(text, text, max int) -> int: max + 1 when the
 * distance is greater than max.
 */
Datum
crm_damerau_levenshtein_max(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	int32		max = PG_GETARG_INT32(2);
	int			r;

	if (max < 0 || max >= CRM_SIM_MAX_CODES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("maximum distance must be between 0 and %d", CRM_SIM_MAX_CODES - 1),
				 errdetail("The maximum given was %d.", max)));
	r = crm_osa_distance_bytes(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
							   VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), max);
	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(r);
}

/*
 * crm.name_similarity(text, text) -> float8
 */
Datum
crm_name_similarity(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	double		r;

	r = crm_name_similarity_bytes(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
								  VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_FLOAT8(r);
}

/*
 * crm.phonetic_key(text) -> text
 */
Datum
crm_phonetic_key(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	char	   *k = crm_phonetic_key_bytes(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a));

	PG_RETURN_TEXT_P(cstring_to_text(k));
}
