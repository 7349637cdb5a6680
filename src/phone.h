/*
 * phone.h
 *	  Type crm.phone: a telephone number parsed and validated with
 *	  libphonenumber, stored in 16 bytes.
 *
 * The stored form is CrmPnNumber from phonenumber.h (the C interface of the
 * libphonenumber shim), used as is: a fixed-length, pass-by-reference datum
 * of 16 bytes with no padding and canonical fields, so equality and hashing
 * work on the bytes.  Fixed-length values are never toasted, so the getters
 * need no detoasting and comparison functions have nothing to free.
 */
#ifndef CRM_PHONE_H
#define CRM_PHONE_H

#include "fmgr.h"

#include "phonenumber.h"

typedef CrmPnNumber CrmPhone;

#define CRM_PHONE_SIZE			16

#define DatumGetPhoneP(X)		((CrmPhone *) DatumGetPointer(X))
#define PhonePGetDatum(X)		PointerGetDatum(X)
#define PG_GETARG_PHONE_P(n)	DatumGetPhoneP(PG_GETARG_DATUM(n))
#define PG_RETURN_PHONE_P(x)	return PhonePGetDatum(x)

/* Values of GUC crm.phone_validation: CrmPnValidation. */
extern int	crm_phone_validation;
/* GUC crm.default_region: "" or an upper-case region code. */
extern char *crm_default_region;

/* Register the GUCs; called once from _PG_init. */
extern void crm_phone_init(void);

#endif							/* CRM_PHONE_H */
