/*
 * scoring.h
 *	  Lead scoring: the rules cached per backend (scoring.c) and the
 *	  per-contact engagement state and its arithmetic (engagement.c).
 */
#ifndef CRM_SCORING_H
#define CRM_SCORING_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"

/* One engagement rule, as the trigger and the readers need it. */
typedef struct ScoringRule
{
	int64		id;
	bool		active;
	char	   *kind;			/* activity kind */
	int			kind_len;
	double		points;
	bool		has_max;
	double		max_points;		/* cap on the absolute value per contact */
	bool		has_half_life;
	double		half_life;		/* seconds, as crm.decayed_value counts them */
	bool		has_window;
	Interval	window;			/* subtracted from a time as SQL does */
	/*
	 * Window rules: how many of the most recent events inside the window
	 * can still matter (the smallest n whose n points, summed one by one,
	 * reach the cap); -1 when every one does (no cap, or a cap out of reach).
	 */
	int			keep_events;
	int			group;			/* index into ScoringCache.groups; -1 when inactive */
} ScoringRule;

typedef struct ScoringGroup
{
	bool		has_min;
	double		min_points;
	bool		has_max;
	double		max_points;
} ScoringGroup;

typedef struct ScoringCache
{
	bool		valid;
	int			nrules;
	ScoringRule *rules;			/* every rule, active or not, by group then id */
	int		   *by_id;			/* rule indexes in id order */
	int			ngroups;
	ScoringGroup *groups;		/* groups of the active rules */
	bool		any_window;		/* an active window rule exists */
	/* crm.scoring_settings */
	double		ceiling;
	double		mql_threshold;
	double		grade_a_fit;
	double		grade_b_fit;
	double		grade_1_engagement;
	double		grade_2_engagement;
	bool		handoff_enabled;
	/* crm.lifecycle_stages */
	int			nstages;
	char	  **stage_names;
	int		   *stage_positions;
	bool		has_mql_position;
	int			mql_position;
	/* relations and indexes read directly */
	Oid			contacts;
	Oid			contacts_pkey;
	Oid			engagement;
	Oid			engagement_pkey;
	bool		engagement_direct;	/* a heap with only its primary key: written directly */
	Oid			activities;
	Oid			activities_time;	/* (contact_id, occurred_at) */
	/* scratch space for the readers, sized by the rules */
	double	   *rule_sums;
	int		   *rule_counts;
	bool	   *rule_seen;
	double	   *group_sums;
	TimestampTz *cutoffs;
	TimestampTz cutoffs_at;		/* the time cutoffs were computed for */
	bool		cutoffs_valid;
} ScoringCache;

extern ScoringCache crm_scoring;
extern uint64 crm_scoring_generation;

extern void crm_scoring_ensure_cache(void);
extern void crm_scoring_reload_latest(void);
extern int	crm_scoring_rule_index(int64 id);
extern double crm_scoring_clamp(double v, bool has_min, double min, bool has_max, double max);

/*
 * The engagement state of one contact (a row of crm.contact_engagement):
 * the decayed sum of each decaying or permanent rule's points as of as_of,
 * and for each time-window rule the event times that can still count.
 * Values are kept sorted by rule id, times by (rule id, time).
 */
typedef struct EngagementState
{
	TimestampTz as_of;
	int			nvalues;
	int64	   *rule_ids;
	double	   *values;
	int			ntimes;
	int64	   *window_rule_ids;
	TimestampTz *window_times;
} EngagementState;

/*
 * A state being built from a contact's events (crm_engagement_build_event):
 * the sum of each decaying or permanent rule's points, in the order the
 * events came, and every event time of each window rule.
 */
typedef struct EngagementBuildValue
{
	int			rule;			/* index into crm_scoring.rules */
	double		sum;
} EngagementBuildValue;

typedef struct EngagementBuildTime
{
	int64		rule_id;
	TimestampTz time;
} EngagementBuildTime;

typedef struct EngagementBuild
{
	int			nvalues;
	int			maxvalues;
	int			ntimes;
	int			maxtimes;
	EngagementBuildValue *values;	/* a contact has events of a few rules: a short list */
	EngagementBuildTime *times;
} EngagementBuild;

extern double crm_engagement_at(const EngagementState *st, TimestampTz at);
extern void crm_engagement_normalize(EngagementState *st);
extern TimestampTz crm_scoring_cutoff(const ScoringRule *r, TimestampTz at);
extern void crm_engagement_add(EngagementState *a, const EngagementState *b);
extern void crm_engagement_from_datums(EngagementState *st, Datum as_of, Datum rule_ids, Datum values,
									   Datum window_rule_ids, Datum window_times);
/* scoring_guard.c: the contacts' scoring trigger stands aside while set */
extern int	crm_scoring_aside_begin(void);
extern void crm_scoring_aside_end(int previous);
extern Datum crm_array8(Datum *d, int n, Oid elemtype);
/* Columns of crm.contact_engagement: contact_id, the state (5), fit_score. */
#define ENGAGEMENT_NATTS 7
extern HeapTuple crm_engagement_tuple(TupleDesc desc, int64 contact_id, const EngagementState *st);
extern void crm_engagement_build_event(EngagementBuild *b, MemoryContext cxt, int ri, TimestampTz t,
									   TimestampTz as_of);
extern HeapTuple crm_engagement_build_tuple(TupleDesc desc, int64 contact_id, TimestampTz as_of,
											const EngagementBuild *b);
extern HeapTuple crm_engagement_tuple_fit(TupleDesc desc, int64 contact_id, const EngagementState *st,
										  Datum fit, bool fit_null);

#endif							/* CRM_SCORING_H */
