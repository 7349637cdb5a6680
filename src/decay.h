/*
 * decay.h
 *	  Exponential decay arithmetic shared by lead scoring and data health.
 */
#ifndef CRM_DECAY_H
#define CRM_DECAY_H

#include "postgres.h"
#include "datatype/timestamp.h"

/* Seconds in the year used for decay rates: 365.25 days. */
#define CRM_DECAY_YEAR_SECONDS 31557600.0

extern double crm_decay_factor_seconds(double elapsed, double half_life);
extern double crm_interval_seconds(const Interval *span);
extern double crm_decayed_value_at(double value, TimestampTz value_as_of, double half_life,
								   TimestampTz as_of);
extern bool crm_decay_confidence_at(double rate, TimestampTz verified_at, TimestampTz as_of,
									double *result);
extern bool crm_decay_confidence_prepared(double rate, double log_keep, TimestampTz verified_at,
										  TimestampTz as_of, double *result);

#endif							/* CRM_DECAY_H */
