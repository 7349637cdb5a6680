-- crm install script, part 67: who may read and change the scoring and
-- data-health tables.  The same rules as the data model (part 45): RLS
-- enabled and forced on every table, policies keyed on current_user
-- through crm.current_crm_role().
--
--   configuration (rules, settings, rates, territories, the trained model):
--       everyone reads (the scoring functions read with the caller's
--       rights), CRM admins change
--   per-contact derived data (engagement state, invalidating events,
--       lifecycle history, hand-offs): readable where the contact is
--       visible to the reader; written only by the scoring triggers, which
--       run as the extension owner, and by crm.rescore_all() (admins)
--   audit runs: CRM admins and analysts

DO $access$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['decay_rates', 'scoring_settings', 'lifecycle_stages', 'score_groups', 'fit_rules',
							 'engagement_rules', 'competitor_domains', 'assignment_rules', 'rep_capacity',
							 'assignment_cursor', 'health_settings', 'lead_model_runs', 'lead_model']
	LOOP
		EXECUTE pg_catalog.format($p$
			GRANT SELECT ON crm.%1$I TO PUBLIC;
			GRANT INSERT, UPDATE, DELETE ON crm.%1$I TO crm_admin;
			ALTER TABLE crm.%1$I ENABLE ROW LEVEL SECURITY;
			ALTER TABLE crm.%1$I FORCE ROW LEVEL SECURITY;
			CREATE POLICY read_all ON crm.%1$I FOR SELECT TO PUBLIC USING (true);
			CREATE POLICY admin_write ON crm.%1$I FOR ALL TO crm_admin
				USING ((SELECT crm.current_crm_role()) = 'admin')
				WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
			$p$, t);
	END LOOP;
	FOREACH t IN ARRAY ARRAY['contact_engagement', 'invalidating_events', 'lifecycle_history', 'mql_handoffs']
	LOOP
		-- the subquery reads crm.contacts under the reader's own policies.
		-- Written as EXISTS, the planner may run it either way: once per
		-- query as a hash of the visible contact ids when many rows are
		-- read, or one primary-key probe per row when few are (one
		-- contact's rows).  Written as IN it could only hash, which for a
		-- single contact meant reading every contact the reader may see
		-- (about 2 s for an admin at a million contacts).
		EXECUTE pg_catalog.format($p$
			GRANT SELECT ON crm.%1$I TO PUBLIC;
			ALTER TABLE crm.%1$I ENABLE ROW LEVEL SECURITY;
			ALTER TABLE crm.%1$I FORCE ROW LEVEL SECURITY;
			CREATE POLICY visible_contacts ON crm.%1$I FOR SELECT TO PUBLIC
				USING (EXISTS (SELECT FROM crm.contacts c WHERE c.id = %1$I.contact_id));
			$p$, t);
	END LOOP;
END
$access$;

-- crm.rescore_all() rebuilds the derived engagement tables as an admin.
GRANT INSERT, UPDATE, DELETE ON crm.contact_engagement, crm.invalidating_events TO crm_admin;
CREATE POLICY admin_write ON crm.contact_engagement FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY admin_write ON crm.invalidating_events FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');

GRANT SELECT, INSERT, UPDATE ON crm.audit_runs TO crm_admin, crm_analyst;
GRANT DELETE ON crm.audit_runs TO crm_admin;
ALTER TABLE crm.audit_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.audit_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY auditors ON crm.audit_runs FOR ALL TO crm_admin, crm_analyst
	USING ((SELECT crm.current_crm_role()) IN ('admin', 'analyst'))
	WITH CHECK ((SELECT crm.current_crm_role()) IN ('admin', 'analyst'));

GRANT SELECT ON crm.lead_scores, crm.engagement_now, crm.engagement_state, crm.contact_health, crm.lead_features TO PUBLIC;

REVOKE ALL ON FUNCTION crm.train_lead_model(int, float8, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.train_lead_model(int, float8, int) TO crm_admin;
REVOKE ALL ON FUNCTION crm.run_data_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.run_data_audit() TO crm_admin, crm_analyst;
REVOKE ALL ON FUNCTION crm.schedule_audit(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.schedule_audit(text) TO crm_admin;
REVOKE ALL ON FUNCTION crm.prune_audit_runs(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.prune_audit_runs(interval) TO crm_admin;
REVOKE ALL ON FUNCTION crm._assign_owner(crm.contacts) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm._round_robin(bigint, bigint[]) FROM PUBLIC;
