/*
 * similarity.h
 *	  String comparison primitives shared by the similarity functions and the
 *	  record matcher (similarity.c, match.c).
 *
 * Every routine works on arrays of code points (pg_wchar), never on bytes,
 * so a multi-byte letter counts as one edit and one Jaro-Winkler character.
 */
#ifndef CRM_SIMILARITY_H
#define CRM_SIMILARITY_H

#include "postgres.h"
#include "mb/pg_wchar.h"

/* A string decoded to code points; cp is palloc'd, len is its length. */
typedef struct CrmCodes
{
	pg_wchar   *cp;
	int			len;
} CrmCodes;

/* Decode len bytes in the server encoding into code points. */
extern CrmCodes crm_codes_from_bytes(const char *s, int len);

/* Jaro-Winkler similarity in [0, 1] (prefix scale 0.1, at most 4, boost above 0.7). */
extern double crm_jaro_winkler_codes(const pg_wchar *a, int la,
									 const pg_wchar *b, int lb);

/* Convenience wrapper over byte strings in the server encoding. */
extern double crm_jaro_winkler_bytes(const char *a, int la, const char *b, int lb);

/* The same when it may reach floor, else 0 (cheaper for unlike strings). */
extern double crm_jaro_winkler_at_least(const char *a, int la, const char *b, int lb,
										double floor);

/*
 * The characters a string holds, as a 64-bit mask, for ruling out
 * Jaro-Winkler matches without looking at the strings: 0 when the string
 * is not short ASCII (then nothing is ruled out).
 */
extern uint64 crm_jaro_winkler_mask(const char *s, int len);

/*
 * True when strings of these masks and byte lengths cannot reach floor, so
 * crm_jaro_winkler_at_least would return 0 for them.
 */
extern bool crm_jaro_winkler_ruled_out(uint64 ma, int la, uint64 mb, int lb, double floor);

/*
 * Optimal string alignment distance (Damerau-Levenshtein without repeated
 * edits of a transposed pair).  max < 0 means unbounded; otherwise the
 * computation stops as soon as the distance must exceed max and returns
 * max + 1.
 */
extern int	crm_osa_distance_codes(const pg_wchar *a, int la,
								   const pg_wchar *b, int lb, int max);
/* ASCII strings whose character counts differ by more than limit. */
extern bool crm_char_counts_differ(const char *a, int la, const char *b, int lb, int limit);
extern int	crm_osa_distance_bytes(const char *a, int la, const char *b, int lb, int max);

/*
 * Token-based name similarity in [0, 1]: case-folded tokens are paired
 * greedily by Jaro-Winkler, order-free, so "Smith, John" ~ "John Smith",
 * and tokens of the longer name left unpaired (a middle name) cost little.
 */
extern double crm_name_similarity_bytes(const char *a, int la, const char *b, int lb);

/*
 * Phonetic key of a name: transliterated to ASCII (ICU "Any-Latin;
 * Latin-ASCII"), then each word coded by crm's metaphone-style rules; the
 * word keys are joined with single spaces.  Returns a palloc'd C string.
 */
extern char *crm_phonetic_key_bytes(const char *s, int len);

/*
 * Fold a string for comparison: transliterated to ASCII when it is not
 * already, lower case, every run of characters other than letters and
 * digits turned into one space, apostrophes dropped, trimmed.  palloc'd.
 */
extern char *crm_fold_bytes(const char *s, int len);

#endif							/* CRM_SIMILARITY_H */
