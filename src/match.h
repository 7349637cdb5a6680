/*
 * match.h
 *	  Field kinds and comparison levels of the Fellegi-Sunter record matcher
 *	  (match.c, cluster.c).
 *
 * A record is an array of prepared field values, one per field kind named
 * in the mapping; comparing two records gives each field a level index
 * (0 = strongest agreement, the last = "other", CRM_LEVEL_MISSING when
 * either value is absent).  The SQL side (sql/install/5x) owns mappings,
 * blocking and training; C owns what runs once per candidate pair.
 */
#ifndef CRM_MATCH_H
#define CRM_MATCH_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

#define CRM_LEVEL_MISSING (-1)
#define CRM_MAX_LEVELS 8

typedef enum CrmKind
{
	CRM_KIND_ID = 0,
	CRM_KIND_GIVEN_NAME,
	CRM_KIND_FAMILY_NAME,
	CRM_KIND_FULL_NAME,
	CRM_KIND_EMAIL,
	CRM_KIND_PHONE,
	CRM_KIND_COMPANY,
	CRM_KIND_WEBSITE,
	CRM_KIND_ADDRESS,
	CRM_KIND_CITY,
	CRM_KIND_POSTCODE,
	CRM_KIND_REGION,
	CRM_KIND_COUNTRY,
	CRM_KIND_BIRTH_DATE,
	CRM_KIND_EXTERNAL_ID,
	CRM_KIND_COUNT
} CrmKind;

typedef struct CrmKindInfo
{
	const char *name;			/* as written in a mapping */
	const char *label;			/* plural words for evidence */
	int			nlevels;
	const char *levels[CRM_MAX_LEVELS];
} CrmKindInfo;

extern const CrmKindInfo crm_kinds[CRM_KIND_COUNT];

/* Kind by mapping name, or -1. */
extern int	crm_kind_lookup(const char *name);

/* Parsed kinds and model, cached across the rows of one query. */
typedef struct CrmMatchState
{
	ArrayType  *kinds_raw;		/* copy, to recognise the same argument */
	ArrayType  *weights_raw;
	int			nfields;
	int		   *kinds;
	int			given_idx;		/* field index of given_name, or -1 */
	int			family_idx;
	int		   *offset;			/* into weights, per field */
	float8	   *weights;
	int			nweights;
	bool		looked_up;
	bool		has_nick;
	FmgrInfo	nick_fn;
	MemoryContext cxt;			/* where the state lives */
	struct HTAB *nick_cache;	/* given-name pairs already asked about */
} CrmMatchState;

/* One record's prepared values, pointers into the detoasted array. */
typedef struct CrmRecordValues
{
	int			n;
	const char **s;
	int		   *len;				/* -1 = missing */
} CrmRecordValues;

/*
 * Parsed kinds and model of a call, cached in fn_extra (weights may be NULL
 * when only levels are needed).
 */
extern CrmMatchState *crm_match_state(FunctionCallInfo fcinfo, ArrayType *kinds,
									  ArrayType *weights);

/* Level of field f of two records, or CRM_LEVEL_MISSING. */
extern int	crm_match_compare_field(CrmMatchState *st, int f, const CrmRecordValues *ra,
									const CrmRecordValues *rb);

#endif							/* CRM_MATCH_H */
