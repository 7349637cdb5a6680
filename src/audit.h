/*
 * audit.h
 *	  The change audit log: what src/audit.c (trigger, log writer, guard,
 *	  retention) and src/audit_json.c (rows to jsonb) share.
 */
#ifndef CRM_AUDIT_H
#define CRM_AUDIT_H

#include "postgres.h"

#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/* How one column's value becomes a jsonb value, decided once per table. */
typedef enum AuditValueKind
{
	AUDIT_BOOL,					/* boolean */
	AUDIT_INT,					/* int2, int4, int8: a jsonb number */
	AUDIT_NUMERIC,				/* numeric: a number, NaN and infinities a string */
	AUDIT_FLOAT,				/* float4, float8: like numeric, via the text form */
	AUDIT_DATETIME,				/* date, timestamp, timestamptz: ISO 8601 string */
	AUDIT_TEXT,					/* text, varchar: the string itself */
	AUDIT_OUTPUT,				/* any other scalar type: its text form */
	AUDIT_JSONB,				/* jsonb: embedded */
	AUDIT_TO_JSONB				/* json, arrays, composites, types cast to json:
								 * whatever to_jsonb() makes of them */
} AuditValueKind;

typedef struct AuditColumn
{
	AttrNumber	attnum;
	char	   *name;			/* the jsonb key */
	int			namelen;
	AuditValueKind kind;
	Oid			basetype;		/* for AUDIT_DATETIME */
	int16		typlen;
	bool		typbyval;
	bool		skip_update;	/* an update of this column alone is not news */
	FmgrInfo	func;			/* output function, or to_jsonb for AUDIT_TO_JSONB */
} AuditColumn;

/*
 * What the trigger knows about one audited table, built on its first
 * statement and kept until the table's definition changes (a relcache
 * invalidation for it, or any change to types or casts).
 */
typedef struct AuditTable
{
	Oid			relid;
	MemoryContext cxt;			/* holds this struct and everything below */
	int			ncolumns;
	AuditColumn *columns;		/* in jsonb key order (length, then bytes) */
	AttrNumber	id_attnum;		/* column "id", or 0 */
	AttrNumber	contact_attnum; /* column "contact_id", or 0 */
	int			pins;			/* trigger calls using it right now */
	bool		stale;			/* out of date: rebuild at the next call */
	bool		detached;		/* replaced while pinned: the last unpin frees it */
	SPIPlanPtr	plans[3];		/* the SQL writer's statements, by event */
} AuditTable;

/* audit_json.c */
extern AuditTable *crm_audit_build_table(Relation rel);
extern void crm_audit_free_table(AuditTable *table);
extern Jsonb *crm_audit_row(AuditTable *table, TupleTableSlot *slot);
extern bool crm_audit_row_change(AuditTable *table, TupleTableSlot *oldslot, TupleTableSlot *newslot,
								 Jsonb **oldvalues, Jsonb **newvalues);
extern Datum crm_audit_column_int8(AuditTable *table, TupleTableSlot *slot, AttrNumber attnum,
								   bool *isnull);

#endif							/* CRM_AUDIT_H */
