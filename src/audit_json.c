/*
 * audit_json.c
 *	  Rows of an audited table as the jsonb the change audit log stores:
 *	  a whole row without its NULL columns (INSERT, DELETE), or the changed
 *	  columns of an updated row, old and new.
 *
 * The values are exactly what to_jsonb(row) makes of them, because that is
 * what the log has always held and what readers compare against: numbers
 * stay numbers (NaN and infinities become strings), dates and timestamps
 * become ISO 8601 strings, booleans stay booleans, jsonb is embedded,
 * everything else is its text form.  Only the way there differs: to_jsonb
 * looks up each column's type category and output function for every row,
 * which at CRM row widths (forty-odd columns) costs more than writing the
 * log row itself.  Here that is decided once per table and kept in an
 * AuditTable until the table's definition, a type or a cast changes; the
 * rare kinds of column (json, arrays, composites, types with a cast to
 * json) still go through to_jsonb itself, one column at a time, so they
 * cannot drift from it.
 *
 * Inserted and deleted rows drop their NULL columns, and only those: a
 * null inside a json value or a composite is part of what the user stored,
 * so it is kept (jsonb_strip_nulls would drop it, and the log would then
 * say {} where the row held {"a": null}).  An update logs a column when its jsonb value changed, with
 * jsonb's equality (1.0 and 1.00 are the same number), not counting the
 * columns that change with every write and say nothing by themselves.
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "audit.h"

/*
 * Columns that change on every update and say nothing by themselves: the
 * log row already records who and when.  The lead-scoring snapshot columns
 * of crm.contacts are derived from rules and activities (which are logged)
 * and change with every scored activity, so they are skipped too.
 */
static const char *const AuditSkipColumns[] = {
	"updated_at", "updated_by", "fit_score", "engagement_score", "engagement_as_of",
	"lead_score", "lead_grade"
};

/* jsonb's own key order: shorter keys first, then bytewise. */
static int
ColumnKeyCmp(const void *a, const void *b)
{
	const AuditColumn *ca = (const AuditColumn *) a;
	const AuditColumn *cb = (const AuditColumn *) b;

	if (ca->namelen != cb->namelen)
		return ca->namelen < cb->namelen ? -1 : 1;
	return memcmp(ca->name, cb->name, ca->namelen);
}

/* Decide, as to_jsonb's type categories do, how the column is converted. */
static void
ClassifyColumn(AuditColumn *col, Form_pg_attribute att, MemoryContext cxt)
{
	Oid			base = getBaseType(att->atttypid);
	Oid			outfunc = InvalidOid;
	bool		isvarlena;
	Oid			castfunc;

	col->basetype = base;
	switch (base)
	{
		case BOOLOID:
			col->kind = AUDIT_BOOL;
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			col->kind = AUDIT_INT;
			break;
		case NUMERICOID:
			col->kind = AUDIT_NUMERIC;
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			col->kind = AUDIT_FLOAT;
			break;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			col->kind = AUDIT_DATETIME;
			break;
		case JSONBOID:
			col->kind = AUDIT_JSONB;
			break;
		case TEXTOID:
		case VARCHAROID:
			col->kind = AUDIT_TEXT;
			break;
		default:
			col->kind = AUDIT_OUTPUT;
			if (base == JSONOID || OidIsValid(get_element_type(base)) || type_is_rowtype(base))
				col->kind = AUDIT_TO_JSONB;
			else if (base >= FirstNormalObjectId &&
					 find_coercion_pathway(JSONOID, base, COERCION_EXPLICIT, &castfunc) == COERCION_PATH_FUNC &&
					 OidIsValid(castfunc))
				col->kind = AUDIT_TO_JSONB;
			break;
	}

	if (col->kind == AUDIT_TO_JSONB)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		/*
		 * to_jsonb(anyelement) learns its argument's type from the call
		 * expression: give it one, as the planner would.
		 */
		fmgr_info_cxt(F_TO_JSONB, &col->func, cxt);
		col->func.fn_expr = (Node *)
			makeFuncExpr(F_TO_JSONB, JSONBOID,
						 list_make1(makeNullConst(att->atttypid, att->atttypmod, att->attcollation)),
						 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		MemoryContextSwitchTo(old);
	}
	else if (col->kind == AUDIT_NUMERIC || col->kind == AUDIT_FLOAT || col->kind == AUDIT_OUTPUT)
	{
		getTypeOutputInfo(base, &outfunc, &isvarlena);
		fmgr_info_cxt(outfunc, &col->func, cxt);
	}
}

/*
 * What the trigger needs to know about an audited table: its columns in
 * jsonb key order, each with its conversion, and where "id" and
 * "contact_id" are.  Lives in its own memory context under
 * TopMemoryContext.
 */
AuditTable *
crm_audit_build_table(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext cxt;
	MemoryContext old;
	AuditTable *table;
	int			i;

	/* built under the caller's context, so an error frees it; kept at the end */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "crm audit table", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	table = palloc0(sizeof(AuditTable));
	table->relid = RelationGetRelid(rel);
	table->cxt = cxt;
	table->columns = palloc0(sizeof(AuditColumn) * Max(desc->natts, 1));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AuditColumn *col;
		int			s;

		if (att->attisdropped)
			continue;
		col = &table->columns[table->ncolumns++];
		col->attnum = att->attnum;
		col->name = pstrdup(NameStr(att->attname));
		col->namelen = strlen(col->name);
		col->typlen = att->attlen;
		col->typbyval = att->attbyval;
		for (s = 0; s < lengthof(AuditSkipColumns); s++)
			if (strcmp(col->name, AuditSkipColumns[s]) == 0)
				col->skip_update = true;
		ClassifyColumn(col, att, cxt);
	}
	qsort(table->columns, table->ncolumns, sizeof(AuditColumn), ColumnKeyCmp);
	for (i = 0; i < table->ncolumns; i++)
	{
		if (strcmp(table->columns[i].name, "id") == 0)
			table->id_attnum = table->columns[i].attnum;
		else if (strcmp(table->columns[i].name, "contact_id") == 0)
			table->contact_attnum = table->columns[i].attnum;
	}
	MemoryContextSwitchTo(old);
	MemoryContextSetParent(cxt, TopMemoryContext);
	return table;
}

void
crm_audit_free_table(AuditTable *table)
{
	int			i;

	for (i = 0; i < lengthof(table->plans); i++)
		if (table->plans[i] != NULL)
			SPI_freeplan(table->plans[i]);
	MemoryContextDelete(table->cxt);
}

static void
SetString(JsonbValue *v, char *str, int len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long to represent as jsonb string"),
				 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
						   JENTRY_OFFLENMASK)));
	v->type = jbvString;
	v->val.string.val = str;
	v->val.string.len = len;
}

/* A jsonb value: a scalar as itself, an object or array as a container. */
static void
SetJsonb(JsonbValue *v, Jsonb *jb)
{
	if (JB_ROOT_IS_SCALAR(jb))
	{
		if (!JsonbExtractScalar(&jb->root, v))
			elog(ERROR, "invalid jsonb scalar");
		return;
	}
	v->type = jbvBinary;
	v->val.binary.data = &jb->root;
	v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
}

/* The jsonb value of one non-NULL column value. */
static void
ColumnValue(AuditColumn *col, Datum value, JsonbValue *v)
{
	char	   *str;

	switch (col->kind)
	{
		case AUDIT_BOOL:
			v->type = jbvBool;
			v->val.boolean = DatumGetBool(value);
			break;
		case AUDIT_INT:
			v->type = jbvNumeric;
			if (col->basetype == INT2OID)
				v->val.numeric = int64_to_numeric(DatumGetInt16(value));
			else if (col->basetype == INT4OID)
				v->val.numeric = int64_to_numeric(DatumGetInt32(value));
			else
				v->val.numeric = int64_to_numeric(DatumGetInt64(value));
			break;
		case AUDIT_NUMERIC:
			{
				Numeric		num = DatumGetNumeric(value);

				if (numeric_is_nan(num) || numeric_is_inf(num))
				{
					str = OutputFunctionCall(&col->func, value);
					SetString(v, str, strlen(str));
				}
				else
				{
					v->type = jbvNumeric;
					v->val.numeric = num;
				}
			}
			break;
		case AUDIT_FLOAT:
			/* to_jsonb's rule: a number unless the text form is not one */
			str = OutputFunctionCall(&col->func, value);
			if (strchr(str, 'N') != NULL || strchr(str, 'n') != NULL)
				SetString(v, str, strlen(str));
			else
			{
				v->type = jbvNumeric;
				v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(str),
																	 ObjectIdGetDatum(InvalidOid),
																	 Int32GetDatum(-1)));
			}
			break;
		case AUDIT_DATETIME:
			str = JsonEncodeDateTime(NULL, value, col->basetype, NULL);
			SetString(v, str, strlen(str));
			break;
		case AUDIT_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				SetString(v, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
			break;
		case AUDIT_OUTPUT:
			str = OutputFunctionCall(&col->func, value);
			SetString(v, str, strlen(str));
			break;
		case AUDIT_JSONB:
			SetJsonb(v, DatumGetJsonbP(value));
			break;
		case AUDIT_TO_JSONB:
			SetJsonb(v, DatumGetJsonbP(FunctionCall1(&col->func, value)));
			break;
	}
}

static void
PushKey(JsonbParseState **state, AuditColumn *col)
{
	JsonbValue	key;

	key.type = jbvString;
	key.val.string.val = col->name;
	key.val.string.len = col->namelen;
	(void) pushJsonbValue(state, WJB_KEY, &key);
}

/*
 * The whole row without its NULL columns (a jsonb column holding a JSON
 * null counts as NULL, as it does for the SQL writer, which cannot tell the
 * two apart in to_jsonb's result).  Allocates in the current context.
 */
Jsonb *
crm_audit_row(AuditTable *table, TupleTableSlot *slot)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	int			i;

	slot_getallattrs(slot);
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < table->ncolumns; i++)
	{
		AuditColumn *col = &table->columns[i];
		JsonbValue	v;

		if (slot->tts_isnull[col->attnum - 1])
			continue;
		ColumnValue(col, slot->tts_values[col->attnum - 1], &v);
		if (v.type == jbvNull)
			continue;
		PushKey(&state, col);
		(void) pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* jsonb equality of two values as ColumnValue makes them (or jbvNull). */
static bool
ValuesEqual(JsonbValue *a, JsonbValue *b)
{
	if (a->type == jbvBinary || b->type == jbvBinary)
	{
		Jsonb	   *ja = JsonbValueToJsonb(a);
		Jsonb	   *jb = JsonbValueToJsonb(b);

		return compareJsonbContainers(&ja->root, &jb->root) == 0;
	}
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) a->type);
	}
	return false;					/* keep compiler quiet */
}

/*
 * The columns an update changed: *oldvalues and *newvalues get one key per
 * changed column (NULL as json null).  Returns false, and sets nothing,
 * when no column that counts changed.  Allocates in the current context.
 */
bool
crm_audit_row_change(AuditTable *table, TupleTableSlot *oldslot, TupleTableSlot *newslot,
					 Jsonb **oldvalues, Jsonb **newvalues)
{
	JsonbParseState *ostate = NULL;
	JsonbParseState *nstate = NULL;
	JsonbValue *ores;
	JsonbValue *nres;
	int			changed = 0;
	int			i;

	slot_getallattrs(oldslot);
	slot_getallattrs(newslot);
	for (i = 0; i < table->ncolumns; i++)
	{
		AuditColumn *col = &table->columns[i];
		int			a = col->attnum - 1;
		bool		onull = oldslot->tts_isnull[a];
		bool		nnull = newslot->tts_isnull[a];
		JsonbValue	o;
		JsonbValue	n;

		if (col->skip_update || (onull && nnull))
			continue;
		/* the same bytes always make the same jsonb value */
		if (!onull && !nnull &&
			datumIsEqual(oldslot->tts_values[a], newslot->tts_values[a], col->typbyval, col->typlen))
			continue;
		if (onull)
			o.type = jbvNull;
		else
			ColumnValue(col, oldslot->tts_values[a], &o);
		if (nnull)
			n.type = jbvNull;
		else
			ColumnValue(col, newslot->tts_values[a], &n);
		if (ValuesEqual(&o, &n))
			continue;
		if (changed++ == 0)
		{
			(void) pushJsonbValue(&ostate, WJB_BEGIN_OBJECT, NULL);
			(void) pushJsonbValue(&nstate, WJB_BEGIN_OBJECT, NULL);
		}
		PushKey(&ostate, col);
		(void) pushJsonbValue(&ostate, WJB_VALUE, &o);
		PushKey(&nstate, col);
		(void) pushJsonbValue(&nstate, WJB_VALUE, &n);
	}
	if (changed == 0)
		return false;
	ores = pushJsonbValue(&ostate, WJB_END_OBJECT, NULL);
	nres = pushJsonbValue(&nstate, WJB_END_OBJECT, NULL);
	*oldvalues = JsonbValueToJsonb(ores);
	*newvalues = JsonbValueToJsonb(nres);
	return true;
}

/*
 * A column's value as bigint, as (to_jsonb(row) ->> name)::bigint would
 * give it: integers directly, anything else through its jsonb text.
 */
Datum
crm_audit_column_int8(AuditTable *table, TupleTableSlot *slot, AttrNumber attnum, bool *isnull)
{
	AuditColumn *col = NULL;
	Datum		value;
	JsonbValue	v;
	char	   *str;
	int			i;

	for (i = 0; i < table->ncolumns; i++)
		if (table->columns[i].attnum == attnum)
			col = &table->columns[i];
	if (col == NULL)
		elog(ERROR, "audited column %d not found", attnum);
	value = slot_getattr(slot, attnum, isnull);
	if (*isnull)
		return (Datum) 0;
	switch (col->basetype)
	{
		case INT8OID:
			return value;
		case INT4OID:
			return Int64GetDatum((int64) DatumGetInt32(value));
		case INT2OID:
			return Int64GetDatum((int64) DatumGetInt16(value));
		default:
			break;
	}
	ColumnValue(col, value, &v);
	switch (v.type)
	{
		case jbvNull:
			*isnull = true;
			return (Datum) 0;
		case jbvString:
			str = pnstrdup(v.val.string.val, v.val.string.len);
			break;
		case jbvNumeric:
			str = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
			break;
		case jbvBool:
			str = v.val.boolean ? "true" : "false";
			break;
		default:
			str = JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
			break;
	}
	return DirectFunctionCall1(int8in, CStringGetDatum(str));
}
