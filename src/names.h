/*
 * names.h
 *	  Name, company, address, domain and postcode keys: the backend-free core.
 *
 * Everything declared here is plain C over malloc'd buffers, with no
 * PostgreSQL headers, so the libFuzzer harnesses in test/fuzz/ link the same
 * code the server runs.  Functions return a CrmKeyStatus; the SQL glue in
 * names.c and keys.c turns a failure into an ereport.  Text in and out is
 * UTF-8; invalid UTF-8 is read as U+FFFD, never trusted.
 */
#ifndef CRM_NAMES_H
#define CRM_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* Inputs longer than this are refused: no name or address is that long. */
#define CRM_KEY_MAX_INPUT	(1024 * 1024)

typedef enum CrmKeyStatus
{
	CRM_KEY_OK = 0,
	CRM_KEY_NOMEM,				/* malloc failed */
	CRM_KEY_TOOLONG,			/* input longer than CRM_KEY_MAX_INPUT */
	CRM_KEY_ICU,				/* ICU refused (e.g. missing data) */
	CRM_KEY_INVALID,			/* malformed input; see the reason given */
	CRM_KEY_BADARG,				/* an unrecognized option (country code) */
	CRM_KEY_PSL					/* libpsl has no built-in suffix list */
} CrmKeyStatus;

/*
 * A growable, always NUL-terminated byte string: in the struct itself while
 * short (names and keys nearly always are), then on malloc.  Never copy a
 * CrmBuf by value: data may point into it.
 */
#define CRM_BUF_INLINE 120

typedef struct CrmBuf
{
	char	   *data;			/* inl or malloc'd; never NULL after init */
	size_t		len;
	size_t		cap;
	bool		failed;			/* an allocation failed: contents incomplete */
	char		inl[CRM_BUF_INLINE];
} CrmBuf;

extern void crm_buf_init(CrmBuf *b);
extern void crm_buf_free(CrmBuf *b);
extern void crm_buf_append(CrmBuf *b, const char *s, size_t n);
extern void crm_buf_putc(CrmBuf *b, char c);

/* name_fold.c */
extern CrmKeyStatus crm_fold(const char *s, size_t len, CrmBuf *out);
extern CrmKeyStatus crm_fold_icu(const char *s, size_t len, CrmBuf *out);
extern const char *crm_icu_error(void);

/* name_parse.c */

/* The parts of a personal name, as byte ranges of a caller's string. */
typedef struct CrmNameParts
{
	CrmBuf		prefix;
	CrmBuf		given;
	CrmBuf		middle;
	CrmBuf		family;
	CrmBuf		suffix;
} CrmNameParts;

extern CrmKeyStatus crm_key_normalize_name(const char *s, size_t len, CrmBuf *out);
extern CrmKeyStatus crm_key_name_parts(const char *s, size_t len, CrmNameParts *out);
extern void crm_key_name_parts_free(CrmNameParts *p);
extern CrmKeyStatus crm_key_given_name(const char *s, size_t len, CrmBuf *out);
extern CrmKeyStatus crm_key_company(const char *s, size_t len, CrmBuf *out);
extern CrmKeyStatus crm_key_address(const char *s, size_t len, CrmBuf *out);

/* key_parse.c */
extern CrmKeyStatus crm_key_domain(const char *s, size_t len, CrmBuf *out,
								   bool *found);
extern CrmKeyStatus crm_key_postcode(const char *s, size_t len,
										   const char *country, size_t clen,
										   CrmBuf *out, const char **detail,
										   const char **hint);

/* names.c: SQL glue only (needs the backend), shared with keys.c. */
struct varlena;
extern void crm_key_raise(CrmKeyStatus st, const char *what, size_t len);
extern const char *crm_text_to_utf8(struct varlena *t, size_t *len);
extern struct varlena *crm_buf_to_text(CrmBuf *b);

/*
 * names.c, for the dedupe engine (match_cluster.c): a given name's roots,
 * so that crm.given_names_match(a, b) is true exactly when the lists of a
 * and b share an entry.  crm_given_names_begin() once per run first.
 */
extern void crm_given_names_begin(void);
extern int	crm_given_name_roots(const char *s, int len, char ***roots);

#endif							/* CRM_NAMES_H */
