/*
 * scoring_guard.c
 *	  The flag that tells the contacts' per-row scoring trigger to stand
 *	  aside while crm.rescore_all() or the activity trigger writes scores
 *	  it has computed set-based.
 *
 * The flag used to be a custom setting (crm.rescoring), which any session
 * can set: a user allowed to update a contact could then write its lead
 * score and grade by hand and step around the lifecycle check and the MQL
 * hand-off.  So it is backend memory instead, readable by everyone (the
 * trigger's WHEN clause runs as the user who writes the contact) and set
 * only from C or by crm._set_scoring_aside(), which only crm_admin may
 * execute.  It never outlives what set it: the end of the transaction and
 * the abort of the subtransaction it was set in clear it, so an error
 * between setting and clearing cannot leave the trigger off.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"

#include "scoring.h"

/* Transaction nest level the flag was set at; 0 when it is not set. */
static int	aside_level = 0;
static bool callbacks_registered = false;

static void
ClearAtXactEnd(XactEvent event, void *arg)
{
	aside_level = 0;
}

static void
ClearAtSubXactAbort(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	/* The callback runs while the aborting level is still current. */
	if (event == SUBXACT_EVENT_ABORT_SUB && aside_level >= GetCurrentTransactionNestLevel())
		aside_level = 0;
}

/* Set the flag; returns what crm_scoring_aside_end() restores. */
int
crm_scoring_aside_begin(void)
{
	int			previous = aside_level;

	if (!callbacks_registered)
	{
		RegisterXactCallback(ClearAtXactEnd, NULL);
		RegisterSubXactCallback(ClearAtSubXactAbort, NULL);
		callbacks_registered = true;
	}
	if (aside_level == 0)
		aside_level = GetCurrentTransactionNestLevel();
	return previous;
}

void
crm_scoring_aside_end(int previous)
{
	aside_level = previous;
}

PG_FUNCTION_INFO_V1(crm_scoring_stands_aside);

Datum
crm_scoring_stands_aside(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(aside_level != 0);
}

PG_FUNCTION_INFO_V1(crm_set_scoring_aside);

Datum
crm_set_scoring_aside(PG_FUNCTION_ARGS)
{
	if (PG_GETARG_BOOL(0))
		(void) crm_scoring_aside_begin();
	else
		crm_scoring_aside_end(0);
	PG_RETURN_VOID();
}
