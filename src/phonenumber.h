/*
 * phonenumber.h
 *	  Plain C interface to the libphonenumber shim (src/phonenumber.cpp).
 *
 * libphonenumber is C++; PostgreSQL's error handling is longjmp.  The two
 * must never meet, so every call into the library goes through the
 * functions declared here.  They take and return plain C data, never throw
 * (every exception is caught inside the shim and turned into
 * CRM_PN_NO_MEMORY or CRM_PN_INTERNAL) and never call back into the server.
 * This header includes no PostgreSQL header, so the fuzz harness links the
 * shim without a server.
 *
 * CrmPnNumber is the compact form of a parsed number and is also the on-disk
 * form of type crm.phone (16 bytes, no padding):
 *
 *	national		national significant number as an integer, without the
 *					leading zeros (at most 17 digits, so below 2^57)
 *	extension		extension digits as an integer (at most 9 digits)
 *	country_code	ITU country calling code, 1 to 999
 *	leading_zeros	zeros written before the national number (Italian
 *					numbers and a few others keep them; 0 to 16)
 *	ext_digits		number of extension digits, 0 when there is none, so an
 *					extension "007" is kept as 7 with 3 digits
 *
 * Every field is canonical: two numbers are equal exactly when their 16
 * bytes are equal, which lets the SQL type hash and compare them directly.
 */
#ifndef CRM_PHONENUMBER_H
#define CRM_PHONENUMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C"
{
#endif

/* Limits of the compact form. */
#define CRM_PN_MAX_NSN_DIGITS		17	/* libphonenumber's own maximum */
#define CRM_PN_MAX_EXT_DIGITS		9	/* 10^9 - 1 fits in 32 bits */
#define CRM_PN_MAX_INPUT			250 /* libphonenumber's input limit */
#define CRM_PN_FORMAT_BUFSIZE		96	/* enough for every format below */

typedef struct CrmPnNumber
{
	uint64_t	national;
	uint32_t	extension;
	uint16_t	country_code;
	uint8_t		leading_zeros;
	uint8_t		ext_digits;
} CrmPnNumber;

/* Why a text is not a phone number (or why a call failed). */
typedef enum CrmPnStatus
{
	CRM_PN_OK = 0,
	CRM_PN_EMPTY,				/* nothing but white space */
	CRM_PN_INPUT_TOO_LONG,		/* more than CRM_PN_MAX_INPUT bytes */
	CRM_PN_LEADING_TEXT,		/* letters before the number */
	CRM_PN_NOT_A_NUMBER,		/* no phone number in the text */
	CRM_PN_NO_COUNTRY_CODE,		/* no + or 00 and no default region */
	CRM_PN_INVALID_COUNTRY_CODE,	/* + followed by no known calling code */
	CRM_PN_TOO_SHORT_AFTER_IDD, /* international prefix, then too little */
	CRM_PN_TOO_SHORT,			/* shorter than any number of its region */
	CRM_PN_TOO_LONG,			/* longer than any number of its region */
	CRM_PN_INVALID_LENGTH,		/* between, but no number has this length */
	CRM_PN_LOCAL_ONLY,			/* dialable only inside its area */
	CRM_PN_NOT_VALID,			/* right length, but not a valid number */
	CRM_PN_EXTENSION_TOO_LONG,	/* extension over CRM_PN_MAX_EXT_DIGITS */
	CRM_PN_UNSTABLE,			/* its E.164 form reads as another number */
	CRM_PN_CORRUPT,				/* a CrmPnNumber with impossible fields */
	CRM_PN_NO_MEMORY,			/* std::bad_alloc inside the library */
	CRM_PN_INTERNAL				/* any other exception: cannot happen */
} CrmPnStatus;

/* How strictly a parsed number is checked (GUC crm.phone_validation). */
typedef enum CrmPnValidation
{
	CRM_PN_VALID = 0,			/* IsValidNumber: known number ranges */
	CRM_PN_POSSIBLE				/* IsPossibleNumber: lengths only */
} CrmPnValidation;

typedef enum CrmPnFormat
{
	CRM_PN_FORMAT_E164 = 0,
	CRM_PN_FORMAT_INTERNATIONAL,
	CRM_PN_FORMAT_NATIONAL,
	CRM_PN_FORMAT_RFC3966
} CrmPnFormat;

/* libphonenumber's PhoneNumberType, in its order. */
typedef enum CrmPnType
{
	CRM_PN_TYPE_FIXED_LINE = 0,
	CRM_PN_TYPE_MOBILE,
	CRM_PN_TYPE_FIXED_LINE_OR_MOBILE,
	CRM_PN_TYPE_TOLL_FREE,
	CRM_PN_TYPE_PREMIUM_RATE,
	CRM_PN_TYPE_SHARED_COST,
	CRM_PN_TYPE_VOIP,
	CRM_PN_TYPE_PERSONAL_NUMBER,
	CRM_PN_TYPE_PAGER,
	CRM_PN_TYPE_UAN,
	CRM_PN_TYPE_VOICEMAIL,
	CRM_PN_TYPE_UNKNOWN
} CrmPnType;

/* libphonenumber's MatchType, without INVALID_NUMBER (an error here). */
typedef enum CrmPnMatch
{
	CRM_PN_MATCH_NONE = 0,
	CRM_PN_MATCH_SHORT_NSN,
	CRM_PN_MATCH_NSN,
	CRM_PN_MATCH_EXACT
} CrmPnMatch;

/*
 * Build libphonenumber's metadata now (GetInstance), so processes forked
 * later share it; failures are ignored (the next call retries).
 */
extern void crm_pn_preload(void);

/*
 * Parse text (len bytes, need not be NUL-terminated) as a phone number.
 * region is "" (numbers must then carry a country code) or a region code
 * accepted by crm_pn_region_known().  On CRM_PN_OK *out holds the number;
 * on CRM_PN_NOT_VALID and the length problems, *out still holds what was
 * parsed, so the caller can name its country code.
 */
extern CrmPnStatus crm_pn_parse(const char *text, size_t len,
								const char *region, CrmPnValidation mode,
								CrmPnNumber *out);

/*
 * Check a number that did not come from crm_pn_parse (binary input): its
 * fields must be canonical and it must pass the same validation as parsed
 * input.
 */
extern CrmPnStatus crm_pn_check(const CrmPnNumber *num, CrmPnValidation mode);

/*
 * Is region (two ASCII letters, upper case) a region libphonenumber has
 * metadata for?  Returns 1 or 0; 0 also when the library fails.
 */
extern int	crm_pn_region_known(const char *region);

/*
 * The text form of the type: E.164, then ";ext=" and the extension if there
 * is one, into buf (CRM_PN_FORMAT_BUFSIZE bytes), NUL-terminated.  Cannot
 * fail: it is plain code, the library is not called.
 */
extern void crm_pn_to_text(const CrmPnNumber *num, char *buf);

/*
 * Write num in the given format into buf (CRM_PN_FORMAT_BUFSIZE bytes),
 * NUL-terminated.
 */
extern CrmPnStatus crm_pn_format(const CrmPnNumber *num, CrmPnFormat format,
								 char *buf);

/*
 * The region of num, as libphonenumber sees it, into buf (at least 4
 * bytes): a region code, "001" for non-geographic numbers, or "" when the
 * number fits no region's ranges.
 */
extern CrmPnStatus crm_pn_region(const CrmPnNumber *num, char *buf);

/* The main region of a country calling code into buf (4 bytes), or "". */
extern CrmPnStatus crm_pn_region_for_country_code(int country_code, char *buf);

extern CrmPnStatus crm_pn_type(const CrmPnNumber *num, CrmPnType *type);

/*
 * libphonenumber's IsNumberMatch on two texts, without a default region
 * (numbers written without a country code match on their national
 * numbers).  When a text cannot be parsed, *which is 1 or 2 and the status
 * says why.
 */
extern CrmPnStatus crm_pn_match(const char *a, size_t alen,
								const char *b, size_t blen,
								CrmPnMatch *match, int *which);

/* The same, with the first number already parsed. */
extern CrmPnStatus crm_pn_match_number(const CrmPnNumber *a,
									   const char *b, size_t blen,
									   CrmPnMatch *match);

/* The same on two parsed numbers; cannot fail but for memory. */
extern CrmPnStatus crm_pn_match_numbers(const CrmPnNumber *a,
										const CrmPnNumber *b,
										CrmPnMatch *match);

#ifdef __cplusplus
}
#endif

#endif							/* CRM_PHONENUMBER_H */
