/*
 * name_fold.c
 *	  Folding text for keys: any script in, lower-case ASCII (mostly) out.
 *
 * crm_fold() is the first step of every name, company and address key.  It
 * applies NFKC with case folding (so "ＡＣＭＥ", "Acme" and "ACME" agree),
 * transliterates non-Latin scripts to Latin with ICU's "Any-Latin", strips
 * accents by NFD decomposition and removal of non-spacing marks, and sends
 * whatever is still not ASCII through ICU's "Latin-ASCII" (ø, ł, æ, þ, curly
 * quotes, dashes).  ASCII punctuation is kept, for the tokenizers in
 * name_parse.c to read; letters that no transliterator covers are kept as
 * UTF-8 so that distinct names still get distinct keys.
 *
 * Speed decides the design.  Opening a transliterator compiles its rules and
 * takes milliseconds, so both are opened once per process and kept; and
 * because most names in real data are plain ASCII, an ASCII input never
 * reaches ICU at all: it is lower-cased byte by byte, which gives exactly
 * what the ICU path would.  Only inputs with a non-Latin letter pay for
 * Any-Latin.  Scratch buffers are kept between calls too (and shrunk after
 * a huge input), so a call normally allocates nothing but its result.
 *
 * No PostgreSQL headers: the fuzz harness links this file directly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>
#include <unicode/utrans.h>

#include "names.h"

/* Scratch buffers kept between calls; more than this is freed after use. */
#define SCRATCH_KEEP	(64 * 1024)
#define NSCRATCH		3

static UChar *scratch[NSCRATCH];
static int32_t scratch_cap[NSCRATCH];

static UTransliterator *any_latin;
static UTransliterator *latin_ascii;
static char icu_error[64];

void
crm_buf_init(CrmBuf *b)
{
	b->data = b->inl;
	b->len = 0;
	b->cap = sizeof(b->inl);
	b->failed = false;
	b->inl[0] = '\0';
}

void
crm_buf_free(CrmBuf *b)
{
	if (b->data != b->inl)
		free(b->data);
	crm_buf_init(b);
}

void
crm_buf_append(CrmBuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 32;
		char	   *d;

		while (cap < b->len + n + 1)
		{
			if (cap > SIZE_MAX / 2)
			{
				b->failed = true;
				return;
			}
			cap *= 2;
		}
		if (b->data == b->inl)
		{
			d = malloc(cap);
			if (d != NULL)
				memcpy(d, b->inl, b->len + 1);
		}
		else
			d = realloc(b->data, cap);
		if (d == NULL)
		{
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
crm_buf_putc(CrmBuf *b, char c)
{
	if (!b->failed && b->len + 2 <= b->cap)
	{
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return;
	}
	crm_buf_append(b, &c, 1);
}

const char *
crm_icu_error(void)
{
	return icu_error[0] ? icu_error : "unknown ICU error";
}

static void
SetIcuError(UErrorCode err)
{
	strncpy(icu_error, u_errorName(err), sizeof(icu_error) - 1);
	icu_error[sizeof(icu_error) - 1] = '\0';
}

/* Scratch buffer number slot, at least need UChars long; NULL on OOM. */
static UChar *
Scratch(int slot, int32_t need)
{
	if (need > scratch_cap[slot])
	{
		UChar	   *p = realloc(scratch[slot], (size_t) need * sizeof(UChar));

		if (p == NULL)
			return NULL;
		scratch[slot] = p;
		scratch_cap[slot] = need;
	}
	return scratch[slot];
}

static void
ScratchTrim(void)
{
	int			i;

	for (i = 0; i < NSCRATCH; i++)
	{
		if (scratch_cap[i] > SCRATCH_KEEP)
		{
			free(scratch[i]);
			scratch[i] = NULL;
			scratch_cap[i] = 0;
		}
	}
}

static UTransliterator *
OpenTransliterator(const char *id)
{
	UChar		uid[64];
	UErrorCode	err = U_ZERO_ERROR;
	UTransliterator *t;

	u_charsToUChars(id, uid, (int32_t) strlen(id) + 1);
	t = utrans_openU(uid, -1, UTRANS_FORWARD, NULL, 0, NULL, &err);
	if (U_FAILURE(err))
	{
		SetIcuError(err);
		return NULL;
	}
	return t;
}

/* Normalize src into scratch slot; the result is *dst, *dlen UChars. */
static CrmKeyStatus
Normalize(const UNormalizer2 *n, const UChar *src, int32_t slen, int slot,
		  UChar **dst, int32_t *dlen)
{
	int32_t		cap = slen + slen / 2 + 16;

	for (;;)
	{
		UErrorCode	err = U_ZERO_ERROR;
		UChar	   *d = Scratch(slot, cap);
		int32_t		l;

		if (d == NULL)
			return CRM_KEY_NOMEM;
		l = unorm2_normalize(n, src, slen, d, cap, &err);
		if (err == U_BUFFER_OVERFLOW_ERROR)
		{
			cap = l + 16;
			continue;
		}
		if (U_FAILURE(err))
		{
			SetIcuError(err);
			return CRM_KEY_ICU;
		}
		*dst = d;
		*dlen = l;
		return CRM_KEY_OK;
	}
}

/* Transliterate src into scratch slot, growing the buffer as needed. */
static CrmKeyStatus
Transliterate(UTransliterator *t, const UChar *src, int32_t slen, int slot,
			  UChar **dst, int32_t *dlen)
{
	int32_t		cap = slen * 2 + 16;

	for (;;)
	{
		UErrorCode	err = U_ZERO_ERROR;
		UChar	   *d = Scratch(slot, cap);
		int32_t		tlen = slen;
		int32_t		limit = slen;

		if (d == NULL)
			return CRM_KEY_NOMEM;
		memcpy(d, src, (size_t) slen * sizeof(UChar));
		utrans_transUChars(t, d, &tlen, cap, 0, &limit, &err);
		if (err == U_BUFFER_OVERFLOW_ERROR || tlen > cap)
		{
			if (cap > INT32_MAX / 4)
				return CRM_KEY_TOOLONG;
			cap = (tlen > cap * 2 ? tlen : cap * 2) + 16;
			continue;
		}
		if (U_FAILURE(err))
		{
			SetIcuError(err);
			return CRM_KEY_ICU;
		}
		*dst = d;
		*dlen = tlen;
		return CRM_KEY_OK;
	}
}

static bool
HasNonAscii(const UChar *s, int32_t n)
{
	int32_t		i;

	for (i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return true;
	return false;
}

/* Does s hold a letter of a script other than Latin (which Any-Latin maps)? */
static bool
HasNonLatinScript(const UChar *s, int32_t n)
{
	int32_t		i = 0;

	while (i < n)
	{
		UChar32		c;
		UErrorCode	err = U_ZERO_ERROR;
		UScriptCode sc;

		U16_NEXT(s, i, n, c);
		if (c < 0x80)
			continue;
		sc = uscript_getScript(c, &err);
		if (U_SUCCESS(err) && sc != USCRIPT_LATIN && sc != USCRIPT_COMMON &&
			sc != USCRIPT_INHERITED && sc != USCRIPT_UNKNOWN)
			return true;
	}
	return false;
}

static CrmKeyStatus
FoldUnicode(const char *s, size_t len, CrmBuf *out)
{
	const UNormalizer2 *nfkc_cf;
	const UNormalizer2 *nfd;
	UErrorCode	err = U_ZERO_ERROR;
	UChar	   *u;
	UChar	   *v;
	int32_t		ulen;
	int32_t		vlen;
	int32_t		i;
	int32_t		j;
	int			cur;
	CrmKeyStatus st;

	nfkc_cf = unorm2_getNFKCCasefoldInstance(&err);
	if (U_SUCCESS(err))
		nfd = unorm2_getNFDInstance(&err);
	if (U_FAILURE(err))
	{
		SetIcuError(err);
		return CRM_KEY_ICU;
	}

	/* UTF-8 to UTF-16 never needs more units than there are bytes. */
	u = Scratch(0, (int32_t) len + 1);
	if (u == NULL)
		return CRM_KEY_NOMEM;
	u_strFromUTF8WithSub(u, (int32_t) len + 1, &ulen, s, (int32_t) len,
						 0xFFFD, NULL, &err);
	if (U_FAILURE(err))
	{
		SetIcuError(err);
		return CRM_KEY_ICU;
	}

	if ((st = Normalize(nfkc_cf, u, ulen, 1, &v, &vlen)) != CRM_KEY_OK)
		return st;
	cur = 1;

	if (HasNonLatinScript(v, vlen))
	{
		if (any_latin == NULL && (any_latin = OpenTransliterator("Any-Latin")) == NULL)
			return CRM_KEY_ICU;
		if ((st = Transliterate(any_latin, v, vlen, 2, &v, &vlen)) != CRM_KEY_OK)
			return st;
		cur = 2;
	}

	if (HasNonAscii(v, vlen))
	{
		/* Decompose, then drop the accents (non-spacing marks). */
		if ((st = Normalize(nfd, v, vlen, cur == 1 ? 0 : 1, &u, &ulen)) != CRM_KEY_OK)
			return st;
		cur = cur == 1 ? 0 : 1;
		for (i = 0, j = 0; i < ulen;)
		{
			UChar32		c;
			int32_t		start = i;

			U16_NEXT(u, i, ulen, c);
			if (u_charType(c) == U_NON_SPACING_MARK)
				continue;
			while (start < i)
				u[j++] = u[start++];
		}
		ulen = j;
		v = u;
		vlen = ulen;

		if (HasNonAscii(v, vlen))
		{
			if (latin_ascii == NULL &&
				(latin_ascii = OpenTransliterator("Latin-ASCII")) == NULL)
				return CRM_KEY_ICU;
			if ((st = Transliterate(latin_ascii, v, vlen, (cur + 1) % NSCRATCH,
									&v, &vlen)) != CRM_KEY_OK)
				return st;
		}
	}

	/* To UTF-8: ASCII lower-cased, leftover letters kept, the rest spaced. */
	for (i = 0; i < vlen;)
	{
		UChar32		c;
		int8_t		t;

		U16_NEXT(v, i, vlen, c);
		if (c < 0x80)
		{
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			else if (c < 0x20 || c == 0x7f)
				c = ' ';
			crm_buf_putc(out, (char) c);
			continue;
		}
		t = u_charType(c);
		/* Marks, format characters and modifier letters (ʿ ʻ) vanish. */
		if (t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK ||
			t == U_COMBINING_SPACING_MARK || t == U_FORMAT_CHAR ||
			t == U_MODIFIER_LETTER)
			continue;
		if (u_isalnum(c) && c != 0xFFFD)
		{
			char		b[U8_MAX_LENGTH];
			int32_t		k = 0;
			/*
			 * An ideograph Han-Latin has no reading for stays, and is a word
			 * of its own, as the syllables it does read are: otherwise the
			 * key of this key would put the spaces in that this one lacks.
			 */
			bool		alone = u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC);

			U8_APPEND_UNSAFE(b, k, c);
			if (alone)
				crm_buf_putc(out, ' ');
			crm_buf_append(out, b, (size_t) k);
			if (alone)
				crm_buf_putc(out, ' ');
		}
		else
			crm_buf_putc(out, ' ');
	}
	return CRM_KEY_OK;
}

/*
 * Latin-1 and Latin Extended-A and -B (U+0080..U+024F) folded one code point
 * at a time, built once with the ICU path itself.  These code points never
 * combine with one another (combining marks start at U+0300), are all Latin
 * or Common script, and fold to lower case, so folding a string of them is
 * folding each one: accented names ("José Müller") take the table and skip
 * ICU like ASCII names do.  The fuzz harness checks that the two paths agree.
 */
#define LATIN_FIRST 0x80
#define LATIN_LAST	0x24F
#define LATIN_MAX	7

static char latin_map[LATIN_LAST - LATIN_FIRST + 1][LATIN_MAX + 1];

/* In latin_map: this code point needs the ICU path (µ folds to Greek μ). */
#define LATIN_SLOW '\xff'
static int	latin_state;		/* 0 not built, 1 built, -1 failed */

static void
BuildLatinMap(void)
{
	int			cp;

	for (cp = LATIN_FIRST; cp <= LATIN_LAST; cp++)
	{
		char		u[2];
		CrmBuf		b;

		UChar		c16 = (UChar) cp;
		UChar		one[4];
		int32_t		ulen;
		UErrorCode	err = U_ZERO_ERROR;

		u[0] = (char) (0xC0 | (cp >> 6));
		u[1] = (char) (0x80 | (cp & 0x3F));

		/*
		 * A code point whose folding is in another script makes the ICU path
		 * transliterate the whole string, neighbours included.
		 */
		ulen = unorm2_normalize(unorm2_getNFKCCasefoldInstance(&err),
								&c16, 1, one, 4, &err);
		if (U_FAILURE(err))
		{
			latin_state = -1;
			return;
		}
		if (HasNonLatinScript(one, ulen))
		{
			latin_map[cp - LATIN_FIRST][0] = LATIN_SLOW;
			continue;
		}
		crm_buf_init(&b);
		if (FoldUnicode(u, 2, &b) != CRM_KEY_OK || b.failed || b.len > LATIN_MAX)
		{
			crm_buf_free(&b);
			latin_state = -1;
			return;
		}
		memcpy(latin_map[cp - LATIN_FIRST], b.data, b.len + 1);
		crm_buf_free(&b);
	}
	latin_state = 1;
}

/* The table path: false (out untouched) when s has other code points. */
static bool
FoldLatin(const char *s, size_t len, CrmBuf *out)
{
	size_t		i;
	size_t		start = out->len;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x80)
		{
			unsigned char c2;
			int			cp;
			const char *m;

			/* Two-byte sequences up to U+024F: lead bytes C2..C9. */
			if (c < 0xC2 || c > 0xC9 || i + 1 >= len)
				break;
			c2 = (unsigned char) s[i + 1];
			if ((c2 & 0xC0) != 0x80)
				break;
			cp = ((c & 0x1F) << 6) | (c2 & 0x3F);
			if (cp > LATIN_LAST)
				break;
			m = latin_map[cp - LATIN_FIRST];
			if (m[0] == LATIN_SLOW)
				break;
			crm_buf_append(out, m, strlen(m));
			i++;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		else if (c < 0x20 || c == 0x7f)
			c = ' ';
		crm_buf_putc(out, (char) c);
	}
	if (i < len)
	{
		out->len = start;
		out->data[start] = '\0';
		return false;
	}
	return true;
}

/*
 * Fold s (len bytes, UTF-8) into out, appending.  Output is NUL-terminated
 * even when empty.
 */
CrmKeyStatus
crm_fold(const char *s, size_t len, CrmBuf *out)
{
	size_t		i;
	CrmKeyStatus st = CRM_KEY_OK;

	if (len > CRM_KEY_MAX_INPUT)
		return CRM_KEY_TOOLONG;
	crm_buf_append(out, "", 0);
	for (i = 0; i < len; i++)
		if ((unsigned char) s[i] >= 0x80)
			break;

	if (i < len)
	{
		if (latin_state == 0)
		{
			BuildLatinMap();
			ScratchTrim();
		}
		if (latin_state != 1 || !FoldLatin(s, len, out))
		{
			st = FoldUnicode(s, len, out);
			ScratchTrim();
		}
	}
	else
	{
		for (i = 0; i < len; i++)
		{
			char		c = s[i];

			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			else if ((unsigned char) c < 0x20 || c == 0x7f)
				c = ' ';
			crm_buf_putc(out, c);
		}
	}
	if (st == CRM_KEY_OK && out->failed)
		st = CRM_KEY_NOMEM;
	return st;
}

/* The ICU path alone, for the fuzz harness to compare with crm_fold. */
CrmKeyStatus
crm_fold_icu(const char *s, size_t len, CrmBuf *out)
{
	CrmKeyStatus st;

	if (len > CRM_KEY_MAX_INPUT)
		return CRM_KEY_TOOLONG;
	crm_buf_append(out, "", 0);
	st = FoldUnicode(s, len, out);
	ScratchTrim();
	if (st == CRM_KEY_OK && out->failed)
		st = CRM_KEY_NOMEM;
	return st;
}
