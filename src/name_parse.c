/*
 * name_parse.c
 *	  Keys for personal names, companies and street addresses.
 *
 * Each key is crm_fold() (name_fold.c) followed by a small tokenizer and a
 * few word lists: honorifics and suffixes for people, legal forms for
 * companies, street-type and unit words for addresses.  The lists are
 * deliberately short and conservative: a key that drops a word which was
 * part of the name merges records that differ, and that is worse for dedupe
 * than a key that keeps a word it could have dropped.
 *
 * Personal names are split by one parser (ParseName) used both for
 * crm.name_parts(), which returns the parts as written, and for
 * crm.normalize_name(), which returns given, middle and family names folded
 * and in natural order, so "Smith, Dr. John Q." and "Dr John Q Smith" give
 * the same key.  The rules, in order:
 *   - text in parentheses, and words in double quotes, are nicknames or
 *     remarks and are skipped ("Robert (Bob) Smith");
 *   - with commas, trailing comma-separated groups made only of suffixes are
 *     suffixes ("John Smith, Jr., PhD"); if two or more groups remain, the
 *     first is the family name ("Smith, John Q.");
 *   - otherwise leading honorifics are the prefix, trailing suffixes the
 *     suffix (always keeping at least one word), the first remaining word is
 *     the given name, the last word plus any particles before it (van, de,
 *     von, da, ...) is the family name, and words between are middle names;
 *     a lone word after an honorific is a family name ("Dr. Jones").
 *
 * No PostgreSQL headers: the fuzz harness links this file directly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define MAX_COMPACT 16

/* Honorifics that may open a name. */
static const char *const name_titles[] = {
	"mr", "mrs", "ms", "miss", "mx", "master", "dr", "doctor", "prof",
	"professor", "sir", "dame", "lord", "lady", "rev", "revd", "reverend",
	"fr", "pastor", "rabbi", "hon", "honorable", "honourable", "capt",
	"captain", "col", "colonel", "gen", "general", "lt", "sgt", "maj",
	"major", "adm", "cmdr", "herr", "frau", "mme", "mlle", "madame",
	"monsieur", "sr", "sra", "srta", "dott", "dottssa", "ing", NULL
};

/* Generational and academic or professional suffixes. */
static const char *const name_suffixes[] = {
	"jr", "sr", "junior", "senior", "ii", "iii", "iv", "2nd", "3rd", "phd",
	"md", "dds", "dmd", "dvm", "esq", "esquire", "cpa", "mba", "jd", "llm",
	"rn", "pe", "ret", "obe", "mbe", "cbe", "kbe", "dbe", "qc", "kc", "frcs",
	"facp", "msc", "bsc", "ma", "ba", NULL
};

/* Lower-case words that belong to the family name that follows them. */
static const char *const name_particles[] = {
	"van", "von", "der", "den", "de", "del", "della", "dela", "la", "le",
	"di", "da", "dos", "das", "do", "du", "st", "ste", "ter", "ten", "bin",
	"ibn", "al", "el", "ben", "vander", "vanden", "zu", "y", NULL
};

/* Legal forms dropped from the end of a company name. */
static const char *const company_legal[] = {
	"inc", "incorporated", "llc", "llp", "lp", "lllp", "pllc", "ltd",
	"limited", "corp", "corporation", "co", "company", "plc", "pc", "gmbh",
	"mbh", "ag", "kg", "kgaa", "ohg", "ug", "gbr", "ev", "eg", "se", "sa",
	"sas", "sasu", "sab", "sapi", "sarl", "eurl", "sca", "spa", "srl", "sl", "slu", "sau",
	"bv", "nv", "vof", "cv", "kk", "gk", "oy", "oyj", "ab", "asa", "as",
	"aps", "pty", "pte", "pvt", "private", "bhd", "sdn", "tbk", "ltda",
	"eireli", "sro", "kft", "zrt", "nyrt", "doo", "dd", "ad", "ooo", "oao",
	"zao", "pao", NULL
};

/* Words allowed between legal forms in a trailing run ("GmbH & Co. KG"). */
static const char *const company_connectors[] = {
	"and", "und", "et", "de", "y", "e", NULL
};

/* Legal forms that open a company name ("PT Telkom", "OOO Gazprom"). */
static const char *const company_leading[] = {
	"pt", "ooo", "oao", "zao", "pao", NULL
};

/* Address words and their key form (street types, units, directions). */
static const char *const address_words[][2] = {
	{"street", "st"}, {"str", "st"}, {"saint", "st"},
	{"avenue", "ave"}, {"av", "ave"}, {"avn", "ave"},
	{"road", "rd"}, {"boulevard", "blvd"}, {"boul", "blvd"},
	{"drive", "dr"}, {"drv", "dr"}, {"lane", "ln"}, {"court", "ct"},
	{"place", "pl"}, {"square", "sq"}, {"terrace", "ter"}, {"terr", "ter"},
	{"parkway", "pkwy"}, {"pky", "pkwy"}, {"highway", "hwy"},
	{"circle", "cir"}, {"crescent", "cres"}, {"trail", "trl"},
	{"alley", "aly"}, {"expressway", "expy"}, {"freeway", "fwy"},
	{"heights", "hts"}, {"junction", "jct"}, {"mount", "mt"},
	{"mountain", "mtn"}, {"point", "pt"}, {"route", "rte"},
	{"center", "ctr"}, {"centre", "ctr"}, {"building", "bldg"},
	{"floor", "fl"}, {"flr", "fl"}, {"department", "dept"},
	{"apartment", "unit"}, {"apt", "unit"}, {"#", "unit"}, {"suite", "unit"},
	{"ste", "unit"}, {"flat", "unit"}, {"room", "unit"}, {"rm", "unit"},
	{"north", "n"}, {"south", "s"}, {"east", "e"}, {"west", "w"},
	{"northeast", "ne"}, {"northwest", "nw"}, {"southeast", "se"},
	{"southwest", "sw"}, {"first", "1st"}, {"second", "2nd"},
	{"third", "3rd"}, {"fourth", "4th"}, {"fifth", "5th"},
	{"pobox", "po box"}, {"box", "box"}, {NULL, NULL}
};

typedef enum NameRole
{
	ROLE_SKIP = 0,
	ROLE_PREFIX,
	ROLE_GIVEN,
	ROLE_MIDDLE,
	ROLE_FAMILY,
	ROLE_SUFFIX
} NameRole;

#define TOK_TITLE		0x01
#define TOK_SUFFIX		0x02
#define TOK_PARTICLE	0x04

typedef struct Token
{
	const char *s;				/* bytes of the token as tokenized */
	size_t		len;
	int			group;			/* comma-separated group number */
	unsigned	flags;
	NameRole	role;
} Token;

typedef struct TokenList
{
	Token	   *t;
	int			n;
	int			cap;
	Token		local[48];
	bool		failed;
} TokenList;

static void
TokensInit(TokenList *l)
{
	l->t = l->local;
	l->n = 0;
	l->cap = (int) (sizeof(l->local) / sizeof(l->local[0]));
	l->failed = false;
}

static void
TokensFree(TokenList *l)
{
	if (l->t != l->local)
		free(l->t);
}

static inline bool IsWordByte(unsigned char c);

/*
 * Add a token, unless it is only punctuation ("-", "."), which says nothing
 * ('#' counts: it is the unit word of addresses).
 */
static bool
TokensAdd(TokenList *l, const char *s, size_t len, int group)
{
	Token	   *t;
	size_t		i;

	if (l->failed)
		return false;
	for (i = 0; i < len; i++)
		if (IsWordByte((unsigned char) s[i]) || s[i] == '#')
			break;
	if (i == len)
		return false;
	if (l->n == l->cap)
	{
		Token	   *nt;

		if (l->cap > INT32_MAX / 2 / (int) sizeof(Token))
		{
			l->failed = true;
			return false;
		}
		nt = malloc(sizeof(Token) * (size_t) l->cap * 2);
		if (nt == NULL)
		{
			l->failed = true;
			return false;
		}
		memcpy(nt, l->t, sizeof(Token) * (size_t) l->n);
		if (l->t != l->local)
			free(l->t);
		l->t = nt;
		l->cap *= 2;
	}
	t = &l->t[l->n++];
	t->s = s;
	t->len = len;
	t->group = group;
	t->flags = 0;
	t->role = ROLE_SKIP;
	return true;
}

static inline bool
IsWordByte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		(c >= 'A' && c <= 'Z') || c >= 0x80;
}

static inline bool
IsAsciiLetter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
InList(const char *const *list, const char *w)
{
	for (; *list; list++)
		if (strcmp(*list, w) == 0)
			return true;
	return false;
}

/*
 * A word list sorted on first use, for a binary search instead of a scan:
 * company_key looks up every word of every name in some 80 legal forms.
 */
typedef struct WordSet
{
	const char *const *list;	/* NULL-terminated source list */
	const char **sorted;		/* sorted copy, or NULL before first use */
	int			n;
} WordSet;

static int
CompareStrPtr(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool
InSet(WordSet *set, const char *w)
{
	if (set->sorted == NULL)
	{
		int			n = 0;
		const char **a;

		while (set->list[n])
			n++;
		a = malloc(sizeof(char *) * (n + 1));
		if (a == NULL)
			return InList(set->list, w);	/* out of memory: scan */
		memcpy(a, set->list, sizeof(char *) * n);
		qsort(a, n, sizeof(char *), CompareStrPtr);
		set->n = n;
		set->sorted = a;
	}
	return bsearch(&w, set->sorted, set->n, sizeof(char *), CompareStrPtr) != NULL;
}

static WordSet legal_set = {company_legal, NULL, 0};
static WordSet connector_set = {company_connectors, NULL, 0};
static WordSet leading_set = {company_leading, NULL, 0};

/*
 * The classification form of a token: lower case with dots, apostrophes and
 * slashes removed ("Ph.D." -> "phd", "A/S" -> "as").  Empty when too long
 * to be in any list.
 */
static void
Compact(const char *s, size_t len, char *out)
{
	size_t		i;
	size_t		j = 0;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '.' || c == '\'' || c == '/')
			continue;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (j + 1 >= MAX_COMPACT)
		{
			j = 0;
			break;
		}
		out[j++] = c;
	}
	out[j] = '\0';
}

static void
AppendWord(CrmBuf *out, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (out->len > 0)
		crm_buf_putc(out, ' ');
	crm_buf_append(out, s, n);
}

/*
 * Append the words of a folded token: runs of letters and digits, with
 * apostrophes dropped inside a word ("o'brien" -> "obrien") and any other
 * punctuation separating words ("mary-jane" -> "mary jane").  Dotted
 * initials are one word ("p.o." -> "po").
 */
static void
AppendParts(CrmBuf *out, const char *s, size_t len)
{
	size_t		i;
	bool		dotted = len >= 3;
	bool		in_word = false;

	/* Single characters each followed by a dot: "p.o.", "u.s.a", "a/s" */
	for (i = 0; dotted && i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((i % 2 == 0 && !(IsWordByte(c) && c < 0x80)) ||
			(i % 2 == 1 && c != '.' &&
			 !(c == '/' && i + 1 < len && IsAsciiLetter(s[i - 1]) &&
			   IsAsciiLetter(s[i + 1]))))
			dotted = false;
	}
	if (dotted)
	{
		if (out->len > 0)
			crm_buf_putc(out, ' ');
		for (i = 0; i < len; i += 2)
			crm_buf_putc(out, s[i]);
		return;
	}

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (IsWordByte(c))
		{
			if (!in_word && out->len > 0)
				crm_buf_putc(out, ' ');
			in_word = true;
			crm_buf_putc(out, (char) c);
		}
		else if (c == '\'' && in_word && i > 0 && (unsigned char) s[i - 1] < 0x80)
		{
			/* Join only ASCII to ASCII ("o'brien"); else a separator. */
			size_t		k = i;

			while (k < len && s[k] == '\'')
				k++;
			if (k >= len || !IsWordByte((unsigned char) s[k]) ||
				(unsigned char) s[k] >= 0x80)
				in_word = false;
			i = k - 1;
		}
		else
			in_word = false;
	}
}

/* Length of the UTF-8 separator (white space or comma) at s, or 0. */
static size_t
SeparatorLen(const unsigned char *s, size_t left, bool *comma)
{
	*comma = false;
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' ||
		s[0] == '\f' || s[0] == '\v')
		return 1;
	if (s[0] == ',')
	{
		*comma = true;
		return 1;
	}
	if (s[0] == 0xC2 && left >= 2 && s[1] == 0xA0)
		return 2;				/* U+00A0 no-break space */
	if (s[0] == 0xE2 && left >= 3 &&
		((s[1] == 0x80 && (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 ||
						   s[2] == 0xAF)) ||
		 (s[1] == 0x81 && s[2] == 0x9F)))
		return 3;				/* U+2000..200A, 2028, 2029, 202F, 205F */
	if (s[0] == 0xE3 && left >= 3 && s[1] == 0x80 &&
		(s[2] == 0x80 || s[2] == 0x81))
		return 3;				/* U+3000 ideographic space, U+3001 comma */
	if (s[0] == 0xEF && left >= 3 && s[1] == 0xBC && s[2] == 0x8C)
	{
		*comma = true;			/* U+FF0C fullwidth comma */
		return 3;
	}
	return 0;
}

/*
 * Split a name into tokens at white space and commas, skipping text in
 * parentheses or double quotes when they are closed.  Groups are numbered
 * from 0, and empty groups (",,") do not count.
 */
static void
TokenizeName(const char *s, size_t len, TokenList *l)
{
	size_t		i = 0;
	size_t		start = 0;
	bool		in = false;
	int			group = 0;
	bool		group_used = false;
	const char *close = NULL;	/* end of the skipped span */
	size_t		close_len = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		size_t		sl;
		bool		comma;
		const char *end = NULL;

		if (close != NULL)
		{
			/* Inside (...) or "...": skip to the closing mark. */
			if (s + i == close)
			{
				i += close_len;
				close = NULL;
			}
			else
				i++;
			continue;
		}
		if (c == '(')
			end = memchr(s + i + 1, ')', len - i - 1), close_len = 1;
		else if (c == '"')
			end = memchr(s + i + 1, '"', len - i - 1), close_len = 1;
		else if (c == 0xE2 && len - i >= 3 && s[i + 1] == '\x80' && s[i + 2] == '\x9C')
		{
			size_t		k;

			for (k = i + 3; k + 3 <= len; k++)
				if (memcmp(s + k, "\xE2\x80\x9D", 3) == 0)
				{
					end = s + k;
					break;
				}
			close_len = 3;
		}
		sl = end ? 0 : SeparatorLen((const unsigned char *) s + i, len - i, &comma);
		if (end != NULL || sl > 0 || c == ')')
		{
			if (in)
			{
				if (TokensAdd(l, s + start, i - start, group))
					group_used = true;
				in = false;
			}
			if (end != NULL)
			{
				close = end;
				i++;
				if (c == 0xE2)
					i += 2;
				continue;
			}
			if (sl > 0 && comma && group_used)
			{
				group++;
				group_used = false;
			}
			i += sl > 0 ? sl : 1;
			continue;
		}
		if (!in)
		{
			in = true;
			start = i;
		}
		i++;
	}
	if (in)
		TokensAdd(l, s + start, len - start, group);
}

/*
 * The three name word lists as one sorted table of (word, flags), built on
 * first use, so each token costs one binary search rather than a scan of
 * every list: normalize_name classifies every word of every name.
 */
typedef struct NameWord
{
	const char *word;
	unsigned	flags;
} NameWord;

static NameWord *name_words;
static int	name_nwords;

static int
CompareNameWord(const void *a, const void *b)
{
	return strcmp(((const NameWord *) a)->word, ((const NameWord *) b)->word);
}

static bool
BuildNameWords(void)
{
	const char *const *lists[3] = {name_titles, name_suffixes, name_particles};
	const unsigned flags[3] = {TOK_TITLE, TOK_SUFFIX, TOK_PARTICLE};
	NameWord   *w;
	int			n = 0;
	int			i;
	int			k;
	int			j;

	for (i = 0; i < 3; i++)
		for (k = 0; lists[i][k]; k++)
			n++;
	w = malloc(sizeof(NameWord) * n);
	if (w == NULL)
		return false;
	n = 0;
	for (i = 0; i < 3; i++)
		for (k = 0; lists[i][k]; k++)
		{
			w[n].word = lists[i][k];
			w[n].flags = flags[i];
			n++;
		}
	qsort(w, n, sizeof(NameWord), CompareNameWord);
	/* Merge duplicates (a word in two lists gets both flags). */
	for (i = 0, j = 0; i < n; i++)
	{
		if (j > 0 && strcmp(w[j - 1].word, w[i].word) == 0)
			w[j - 1].flags |= w[i].flags;
		else
			w[j++] = w[i];
	}
	name_nwords = j;
	name_words = w;
	return true;
}

/* Flags of a token from its compact form; fold is the folded token. */
static unsigned
ClassifyName(const char *fold, size_t len)
{
	char		c[MAX_COMPACT];
	NameWord	key;
	NameWord   *hit;

	if (len >= 2 * MAX_COMPACT)
		return 0;
	Compact(fold, len, c);
	if (c[0] == '\0')
		return 0;
	if (name_words == NULL && !BuildNameWords())
	{
		/* Out of memory: fall back to the lists themselves. */
		return (InList(name_titles, c) ? TOK_TITLE : 0) |
			(InList(name_suffixes, c) ? TOK_SUFFIX : 0) |
			(InList(name_particles, c) ? TOK_PARTICLE : 0);
	}
	key.word = c;
	hit = bsearch(&key, name_words, name_nwords, sizeof(NameWord), CompareNameWord);
	return hit ? hit->flags : 0;
}

/* Roles for tokens [b, e) read as "First Middle Last". */
static void
ParseNatural(Token *t, int b, int e, bool after_comma_family)
{
	bool		prefix = false;
	int			f;
	int			i;

	while (e - b > (after_comma_family ? 0 : 1) && (t[b].flags & TOK_TITLE))
	{
		t[b++].role = ROLE_PREFIX;
		prefix = true;
	}
	while (e - b > 1 && (t[e - 1].flags & TOK_SUFFIX))
		t[--e].role = ROLE_SUFFIX;
	if (e <= b)
		return;
	if (after_comma_family)
	{
		/* "Smith, John Q.": all that is left is given and middle */
		t[b].role = ROLE_GIVEN;
		for (i = b + 1; i < e; i++)
			t[i].role = ROLE_MIDDLE;
		return;
	}
	if (e - b == 1)
	{
		t[b].role = prefix ? ROLE_FAMILY : ROLE_GIVEN;
		return;
	}
	t[b].role = ROLE_GIVEN;
	f = e - 1;
	while (f - 1 > b && (t[f - 1].flags & TOK_PARTICLE))
		f--;
	for (i = b + 1; i < f; i++)
		t[i].role = ROLE_MIDDLE;
	for (i = f; i < e; i++)
		t[i].role = ROLE_FAMILY;
}

static bool
GroupAll(Token *t, int n, int g, unsigned flag)
{
	int			i;
	bool		any = false;

	for (i = 0; i < n; i++)
	{
		if (t[i].group != g)
			continue;
		if (!(t[i].flags & flag))
			return false;
		any = true;
	}
	return any;
}

static void
ParseName(Token *t, int n)
{
	int			last;
	int			i;
	int			g0_end;

	if (n == 0)
		return;
	last = t[n - 1].group;
	while (last >= 1 && GroupAll(t, n, last, TOK_SUFFIX))
	{
		for (i = 0; i < n; i++)
			if (t[i].group == last)
				t[i].role = ROLE_SUFFIX;
		last--;
	}
	for (g0_end = 0; g0_end < n && t[g0_end].group == 0; g0_end++)
		;
	if (last == 0)
	{
		ParseNatural(t, 0, g0_end, false);
		return;
	}

	/* "Last, First Middle": group 0 is the family name. */
	{
		int			b = 0;
		int			e = g0_end;
		int			rb = g0_end;
		int			re = rb;

		while (e - b > 1 && (t[b].flags & TOK_TITLE))
			t[b++].role = ROLE_PREFIX;
		while (e - b > 1 && (t[e - 1].flags & TOK_SUFFIX))
			t[--e].role = ROLE_SUFFIX;
		for (i = b; i < e; i++)
			t[i].role = ROLE_FAMILY;
		while (re < n && t[re].group <= last)
			re++;
		ParseNatural(t, rb, re, true);
	}
}

static CrmKeyStatus
KeyStatus(CrmKeyStatus st, CrmBuf *out)
{
	if (st == CRM_KEY_OK && out->failed)
		return CRM_KEY_NOMEM;
	return st;
}

/*
 * crm.normalize_name: folded given, middle and family names in natural
 * order, words separated by one space, honorifics and suffixes dropped.
 */
CrmKeyStatus
crm_key_normalize_name(const char *s, size_t len, CrmBuf *out)
{
	CrmBuf		f;
	TokenList	l;
	CrmKeyStatus st;
	int			i;
	int			r;
	static const NameRole order[] = {ROLE_GIVEN, ROLE_MIDDLE, ROLE_FAMILY};

	crm_buf_init(&f);
	crm_buf_append(out, "", 0);
	st = crm_fold(s, len, &f);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&f);
		return st;
	}
	TokensInit(&l);
	TokenizeName(f.data, f.len, &l);
	if (l.failed)
		st = CRM_KEY_NOMEM;
	else
	{
		for (i = 0; i < l.n; i++)
			l.t[i].flags = ClassifyName(l.t[i].s, l.t[i].len);
		ParseName(l.t, l.n);
		for (r = 0; r < 3; r++)
			for (i = 0; i < l.n; i++)
				if (l.t[i].role == order[r])
					AppendParts(out, l.t[i].s, l.t[i].len);
	}
	TokensFree(&l);
	crm_buf_free(&f);
	return KeyStatus(st, out);
}

void
crm_key_name_parts_free(CrmNameParts *p)
{
	crm_buf_free(&p->prefix);
	crm_buf_free(&p->given);
	crm_buf_free(&p->middle);
	crm_buf_free(&p->family);
	crm_buf_free(&p->suffix);
}

/*
 * crm.name_parts: the parts as written (white space collapsed, commas
 * dropped).  A part that is absent is left empty (len == 0).
 */
CrmKeyStatus
crm_key_name_parts(const char *s, size_t len, CrmNameParts *p)
{
	TokenList	l;
	CrmBuf		f;
	CrmKeyStatus st = CRM_KEY_OK;
	int			i;

	crm_buf_init(&p->prefix);
	crm_buf_init(&p->given);
	crm_buf_init(&p->middle);
	crm_buf_init(&p->family);
	crm_buf_init(&p->suffix);
	if (len > CRM_KEY_MAX_INPUT)
		return CRM_KEY_TOOLONG;

	TokensInit(&l);
	TokenizeName(s, len, &l);
	if (l.failed)
	{
		TokensFree(&l);
		return CRM_KEY_NOMEM;
	}
	crm_buf_init(&f);
	for (i = 0; i < l.n && st == CRM_KEY_OK; i++)
	{
		f.len = 0;
		/* Only short words can be honorifics: skip folding long ones. */
		if (l.t[i].len > 4 * MAX_COMPACT)
			continue;
		st = crm_fold(l.t[i].s, l.t[i].len, &f);
		if (st == CRM_KEY_OK)
			l.t[i].flags = ClassifyName(f.data, f.len);
	}
	crm_buf_free(&f);
	if (st == CRM_KEY_OK)
	{
		ParseName(l.t, l.n);
		for (i = 0; i < l.n; i++)
		{
			CrmBuf	   *b;

			switch (l.t[i].role)
			{
				case ROLE_PREFIX:
					b = &p->prefix;
					break;
				case ROLE_GIVEN:
					b = &p->given;
					break;
				case ROLE_MIDDLE:
					b = &p->middle;
					break;
				case ROLE_FAMILY:
					b = &p->family;
					break;
				case ROLE_SUFFIX:
					b = &p->suffix;
					break;
				default:
					continue;
			}
			if (b->len > 0)
				crm_buf_putc(b, ' ');
			crm_buf_append(b, l.t[i].s, l.t[i].len);
			if (b->failed)
				st = CRM_KEY_NOMEM;
		}
	}
	TokensFree(&l);
	if (st != CRM_KEY_OK)
		crm_key_name_parts_free(p);
	return st;
}

/*
 * The lookup form of a given name for the nickname table: folded words
 * separated by one space ("Mary-Jane" -> "mary jane", "O'Neil" -> "oneil").
 */
CrmKeyStatus
crm_key_given_name(const char *s, size_t len, CrmBuf *out)
{
	CrmBuf		f;
	CrmKeyStatus st;

	crm_buf_init(&f);
	crm_buf_append(out, "", 0);
	st = crm_fold(s, len, &f);
	if (st == CRM_KEY_OK)
		AppendParts(out, f.data, f.len);
	crm_buf_free(&f);
	return KeyStatus(st, out);
}

/* Split folded text at white space and the given punctuation. */
static void
TokenizeSimple(const char *s, size_t len, const char *seps, TokenList *l)
{
	size_t		i = 0;

	while (i < len)
	{
		size_t		start;

		while (i < len && (s[i] == ' ' || strchr(seps, s[i]) != NULL))
			i++;
		start = i;
		while (i < len && s[i] != ' ' && strchr(seps, s[i]) == NULL)
			i++;
		if (i > start)
			TokensAdd(l, s + start, i - start, 0);
	}
}

/*
 * crm.company_key: folded, "&" read as "and", a leading "The" and trailing
 * legal forms dropped (with "and"/"&" between them: "GmbH & Co. KG").
 */
CrmKeyStatus
crm_key_company(const char *s, size_t len, CrmBuf *out)
{
	CrmBuf		f;
	CrmBuf		g;
	TokenList	l;
	CrmKeyStatus st;
	size_t		i;
	int			b = 0;
	int			e;
	int			k;

	crm_buf_init(&f);
	crm_buf_init(&g);
	crm_buf_append(out, "", 0);
	st = crm_fold(s, len, &f);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&f);
		return st;
	}
	for (i = 0; i < f.len; i++)
	{
		if (f.data[i] == '&')
			crm_buf_append(&g, " and ", 5);
		else
			crm_buf_putc(&g, f.data[i]);
	}
	crm_buf_append(&g, "", 0);
	crm_buf_free(&f);
	if (g.failed)
	{
		crm_buf_free(&g);
		return CRM_KEY_NOMEM;
	}

	/*
	 * Words first ("a-inc." is the words "a" and "inc"), so that the words
	 * classified are the words output, and a key is its own key.
	 */
	TokensInit(&l);
	TokenizeSimple(g.data, g.len, ",;()[]{}\"!?*:|", &l);
	crm_buf_init(&f);
	for (k = 0; k < l.n; k++)
		AppendParts(&f, l.t[k].s, l.t[k].len);
	crm_buf_append(&f, "", 0);
	TokensFree(&l);
	crm_buf_free(&g);
	if (f.failed)
	{
		crm_buf_free(&f);
		return CRM_KEY_NOMEM;
	}
	TokensInit(&l);
	TokenizeSimple(f.data, f.len, "", &l);
	if (l.failed)
	{
		TokensFree(&l);
		crm_buf_free(&f);
		return CRM_KEY_NOMEM;
	}
	e = l.n;
	for (k = 0; k < l.n; k++)
	{
		char		c[MAX_COMPACT];

		Compact(l.t[k].s, l.t[k].len, c);
		if (c[0] == '\0')
			continue;
		if (InSet(&legal_set, c))
			l.t[k].flags |= TOK_SUFFIX;
		else if (InSet(&connector_set, c))
			l.t[k].flags |= TOK_PARTICLE;
		if (InSet(&leading_set, c) || strcmp(c, "the") == 0)
			l.t[k].flags |= TOK_TITLE;
	}
	/* Leading "the" or legal forms, keeping at least one word. */
	while (e - b > 1 && (l.t[b].flags & TOK_TITLE))
		b++;
	/* A trailing run of legal forms and connectors that ends in a form. */
	if (e - b > 1 && (l.t[e - 1].flags & TOK_SUFFIX))
	{
		int			r = e - 1;

		while (r - 1 > b && (l.t[r - 1].flags & (TOK_SUFFIX | TOK_PARTICLE)))
			r--;
		e = r;
	}
	for (k = b; k < e; k++)
		AppendWord(out, l.t[k].s, l.t[k].len);
	TokensFree(&l);
	crm_buf_free(&f);
	return KeyStatus(CRM_KEY_OK, out);
}

/* address_words sorted on first use; the key form of w, or NULL. */
static const char *const (*address_sorted)[2];
static int	address_n;

static int
ComparePair(const void *a, const void *b)
{
	return strcmp((*(const char *const (*)[2]) a)[0], (*(const char *const (*)[2]) b)[0]);
}

static const char *
AddressWord(const char *w)
{
	const char *key[2] = {w, NULL};
	const char *const (*hit)[2];
	int			k;

	if (address_sorted == NULL)
	{
		const char *(*a)[2];
		int			n = 0;

		while (address_words[n][0])
			n++;
		a = malloc(sizeof(*a) * n);
		if (a == NULL)
		{
			/* Out of memory: scan. */
			for (k = 0; address_words[k][0]; k++)
				if (strcmp(address_words[k][0], w) == 0)
					return address_words[k][1];
			return NULL;
		}
		memcpy(a, address_words, sizeof(*a) * n);
		qsort(a, n, sizeof(*a), ComparePair);
		address_n = n;
		address_sorted = (const char *const (*)[2]) a;
	}
	hit = bsearch(key, address_sorted, address_n, sizeof(*address_sorted), ComparePair);
	return hit ? (*hit)[1] : NULL;
}

/*
 * crm.address_key: folded words with street types, unit designators and
 * directions in one spelling; "-strasse" endings become "str" and then
 * "st"; a run of unit words ("Apt #4") is one "unit".
 */
CrmKeyStatus
crm_key_address(const char *s, size_t len, CrmBuf *out)
{
	CrmBuf		f;
	CrmBuf		w;
	TokenList	l;
	CrmKeyStatus st;
	int			t;
	bool		last_unit = false;

	crm_buf_init(&f);
	crm_buf_init(&w);
	crm_buf_append(out, "", 0);
	st = crm_fold(s, len, &f);
	if (st != CRM_KEY_OK)
	{
		crm_buf_free(&f);
		return st;
	}

	/* Raw tokens, their words, then each word in its key spelling. */
	TokensInit(&l);
	TokenizeSimple(f.data, f.len, ",;()[]{}\"", &l);
	for (t = 0; t < l.n && !l.failed && !w.failed; t++)
	{
		size_t		i;
		size_t		start;

		w.len = 0;
		/* AppendParts drops punctuation: keep a leading '#' ("#4"). */
		if (l.t[t].s[0] == '#')
			crm_buf_append(&w, "#", 1);
		AppendParts(&w, l.t[t].s, l.t[t].len);
		for (i = 0; i < w.len; i = start + 1)
		{
			const char *word;
			size_t		wl;
			char		stem[80];

			start = i;
			while (start < w.len && w.data[start] != ' ')
				start++;
			word = w.data + i;
			wl = start - i;
			if (wl == 0)
				continue;
			/* German compounds: "hauptstrasse" -> "hauptstr" */
			if (wl > 7 && wl < sizeof(stem) &&
				memcmp(word + wl - 7, "strasse", 7) == 0)
			{
				memcpy(stem, word, wl - 4);
				stem[wl - 4] = '\0';
				word = stem;
				wl -= 4;
			}
			if (wl < sizeof(stem))
			{
				const char *key;

				if (word != stem)
				{
					memcpy(stem, word, wl);
					stem[wl] = '\0';
				}
				key = AddressWord(stem);
				if (key != NULL)
				{
					word = key;
					wl = strlen(word);
				}
			}
			if (wl == 4 && memcmp(word, "unit", 4) == 0)
			{
				if (last_unit)
					continue;
				last_unit = true;
			}
			else
				last_unit = false;
			AppendWord(out, word, wl);
		}
	}
	if (l.failed)
		w.failed = true;
	TokensFree(&l);
	st = w.failed ? CRM_KEY_NOMEM : CRM_KEY_OK;
	crm_buf_free(&w);
	crm_buf_free(&f);
	return KeyStatus(st, out);
}
