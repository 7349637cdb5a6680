/*
 * crm.h
 *	  Declarations shared by every part of the crm extension.
 *
 * Each subsystem has its own header (email.h, phone.h, ...); this one holds
 * only what the module as a whole needs: the version and library set-up.
 */
#ifndef CRM_H
#define CRM_H

#ifndef CRM_VERSION
#error "CRM_VERSION must be defined by the Makefile (from crm.control)"
#endif

extern void _PG_init(void);

#endif							/* CRM_H */
