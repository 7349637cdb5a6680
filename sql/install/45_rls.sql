-- crm install script, part 45: privileges and row-level security.
--
-- Two layers, both enforced by PostgreSQL for every client:
--   1. table (and for marketing on deals, column) privileges per group role
--      decide which statements a role may run at all;
--   2. policies decide which rows.  Each policy names the group roles it is
--      for, and keys on current_user through crm.users.  Nothing reads a
--      setting a client could change.
-- RLS is enabled and FORCED on every table, so even a non-superuser table
-- owner obeys it.  TRUNCATE (which ignores RLS) is granted to nobody.
--
-- Index-friendly: every per-user value is computed by a STABLE helper that
-- returns an array, and policies wrap it in a scalar sub-select, e.g.
--   owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
-- which the planner turns into an InitPlan evaluated once per query; the
-- comparison is then an ordinary index condition on the owner index.
-- Only INSERT/UPDATE checks on contact-owned detail tables call a per-row
-- function (crm.contact_writable), one indexed probe per written row.
--
-- The matrix in docs/security.md is the specification of this file.

-- STABLE: depends on current_user and what the caller may see.  Runs with
-- the caller's rights, so the result is exactly the contacts the caller's
-- own policies let through.  PARALLEL UNSAFE like crm.visible_owner_ids():
-- one user's slice is read serially.
CREATE FUNCTION crm.visible_contact_ids() RETURNS bigint[]
	LANGUAGE sql STABLE PARALLEL UNSAFE
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.array_agg(c.id ORDER BY c.id), '{}'::bigint[]) FROM crm.contacts c;
END;
COMMENT ON FUNCTION crm.visible_contact_ids() IS
	'ids of the contacts the logged-in user may see (evaluated under their own row-level security)';

-- STABLE: as above.  Accounts reached through visible contacts and deals.
CREATE FUNCTION crm.related_account_ids() RETURNS bigint[]
	LANGUAGE sql STABLE PARALLEL UNSAFE
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.array_agg(DISTINCT x.account_id ORDER BY x.account_id), '{}'::bigint[])
	  FROM (SELECT c.account_id FROM crm.contacts c WHERE c.account_id IS NOT NULL
			UNION ALL
			SELECT d.account_id FROM crm.deals d WHERE d.account_id IS NOT NULL) x;
END;
COMMENT ON FUNCTION crm.related_account_ids() IS
	'ids of the accounts of the contacts and deals the logged-in user may see';

-- STABLE: as above.
CREATE FUNCTION crm.customer_account_ids() RETURNS bigint[]
	LANGUAGE sql STABLE PARALLEL UNSAFE
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.array_agg(a.id ORDER BY a.id), '{}'::bigint[])
	  FROM crm.accounts a WHERE a.lifecycle = 'customer';
END;
COMMENT ON FUNCTION crm.customer_account_ids() IS
	'ids of the customer accounts the logged-in user may see';

-- STABLE: depends on current_user and the contact's current row.  May the
-- logged-in user change this contact (and so its history, tags, consents,
-- activities)?  One index probe; used in WITH CHECK on detail tables.
-- PARALLEL UNSAFE because it calls crm.visible_owner_ids().
CREATE FUNCTION crm.contact_writable(contact_id bigint) RETURNS boolean
	LANGUAGE sql STABLE STRICT PARALLEL UNSAFE
BEGIN ATOMIC
	SELECT COALESCE((
		SELECT CASE crm.current_crm_role()
				 WHEN 'admin' THEN true
				 WHEN 'manager' THEN c.owner_id = ANY (crm.visible_owner_ids())
									 OR c.id = ANY (crm.shared_contact_ids(true))
				 WHEN 'rep' THEN c.owner_id = ANY (crm.visible_owner_ids())
								 OR c.id = ANY (crm.shared_contact_ids(true))
				 WHEN 'marketing' THEN c.lifecycle_stage IN ('subscriber', 'lead', 'mql')
				 WHEN 'support' THEN true
				 ELSE false END
		  FROM crm.contacts c WHERE c.id = contact_writable.contact_id), false);
END;
COMMENT ON FUNCTION crm.contact_writable(bigint) IS
	'true when the logged-in user may change the given contact and the records that hang off it';

-- STABLE: depends on current_user.  May the logged-in user share this
-- record, i.e. is it owned by someone in their reach (or are they admin)?
CREATE FUNCTION crm.can_share(contact_id bigint, account_id bigint, deal_id bigint) RETURNS boolean
	LANGUAGE sql STABLE PARALLEL UNSAFE
BEGIN ATOMIC
	SELECT crm.current_crm_role() = 'admin'
		OR COALESCE((SELECT c.owner_id = ANY (crm.visible_owner_ids()) FROM crm.contacts c WHERE c.id = can_share.contact_id), false)
		OR COALESCE((SELECT a.owner_id = ANY (crm.visible_owner_ids()) FROM crm.accounts a WHERE a.id = can_share.account_id), false)
		OR COALESCE((SELECT d.owner_id = ANY (crm.visible_owner_ids()) FROM crm.deals d WHERE d.id = can_share.deal_id), false);
END;
COMMENT ON FUNCTION crm.can_share(bigint, bigint, bigint) IS
	'true when the logged-in user owns (or, as manager, reaches by ownership) the record and so may share it';

------------------------------------------------------------------------
-- Privileges.  Start from nothing; PUBLIC gets nothing on any table.
------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA crm FROM PUBLIC;

-- The directory and configuration every CRM role reads.
GRANT SELECT ON crm.users, crm.teams, crm.pipelines, crm.pipeline_stages, crm.tags, crm.campaigns
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive;

-- Readers of everything.
GRANT SELECT ON crm.accounts, crm.contacts, crm.shares, crm.contact_tags, crm.consents,
	crm.contact_emails, crm.contact_phones, crm.contact_addresses, crm.campaign_members,
	crm.deals, crm.tickets, crm.activities, crm.tasks, crm.current_consents
	TO crm_admin, crm_analyst, crm_executive;

-- Admin: every statement except TRUNCATE on every table.
GRANT INSERT, UPDATE, DELETE ON crm.users, crm.teams, crm.pipelines, crm.pipeline_stages, crm.tags,
	crm.campaigns, crm.accounts, crm.contacts, crm.shares, crm.contact_tags, crm.consents,
	crm.contact_emails, crm.contact_phones, crm.contact_addresses, crm.campaign_members,
	crm.deals, crm.tickets, crm.activities, crm.tasks
	TO crm_admin;
GRANT EXECUTE ON FUNCTION crm.add_user(name, text, name, text) TO crm_admin;

-- Sales: managers and reps.
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.accounts, crm.contacts, crm.contact_tags, crm.consents,
	crm.contact_emails, crm.contact_phones, crm.contact_addresses, crm.campaign_members,
	crm.deals, crm.activities, crm.tasks
	TO crm_manager, crm_rep;
GRANT SELECT, INSERT, DELETE ON crm.shares TO crm_manager, crm_rep;
GRANT SELECT ON crm.tickets, crm.current_consents TO crm_manager, crm_rep;

-- Marketing.
GRANT SELECT, INSERT, UPDATE ON crm.contacts TO crm_marketing;
GRANT SELECT ON crm.accounts TO crm_marketing;
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.tags, crm.campaigns, crm.campaign_members, crm.contact_tags,
	crm.consents, crm.contact_emails, crm.contact_phones, crm.contact_addresses, crm.activities, crm.tasks
	TO crm_marketing;
GRANT SELECT ON crm.current_consents TO crm_marketing;
GRANT SELECT (id, pipeline_id, stage_id, account_id, contact_id, campaign_id, amount, currency,
			  status, expected_close, created_at, closed_at)
	ON crm.deals TO crm_marketing;

-- Support.
GRANT SELECT ON crm.accounts, crm.contact_tags, crm.current_consents TO crm_support;
GRANT SELECT, UPDATE ON crm.contacts TO crm_support;
GRANT SELECT, INSERT, UPDATE ON crm.contact_emails, crm.contact_phones, crm.contact_addresses,
	crm.tickets, crm.activities TO crm_support;
GRANT SELECT, INSERT ON crm.consents TO crm_support;
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.tasks TO crm_support;

------------------------------------------------------------------------
-- Policies.
------------------------------------------------------------------------
-- The reach the policies ask about (crm.visible_owner_ids(), the
-- crm.shared_*_ids() arrays) is cached per session (src/users.c) and read
-- from crm.users, crm.teams and crm.shares: a change to any of them empties
-- the caches, of this session at once and of the others at commit.
CREATE TRIGGER reach_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.teams
	FOR EACH STATEMENT EXECUTE FUNCTION crm._users_changed();
CREATE TRIGGER reach_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.shares
	FOR EACH STATEMENT EXECUTE FUNCTION crm._users_changed();

ALTER TABLE crm.teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.teams FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.users FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.accounts FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contacts FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.shares ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.shares FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.tags FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_tags FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.consents FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_emails FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_phones ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_phones FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_addresses ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_addresses FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.pipelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.pipelines FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.pipeline_stages ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.pipeline_stages FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.campaigns FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.campaign_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.campaign_members FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.deals FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.tickets FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.activities FORCE ROW LEVEL SECURITY;
ALTER TABLE crm.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.tasks FORCE ROW LEVEL SECURITY;

-- Directory and configuration: every CRM role reads all of it.  The user
-- directory's read policy must not call the helpers (they read crm.users
-- themselves), so it is plain true: membership of a crm_* role is what
-- grants the read, and the table privilege above is what limits it.
CREATE POLICY read_all ON crm.users FOR SELECT
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive
	USING (true);
CREATE POLICY admin_insert ON crm.users FOR INSERT TO crm_admin
	WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY admin_update ON crm.users FOR UPDATE TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY admin_delete ON crm.users FOR DELETE TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin');

CREATE POLICY read_all ON crm.teams FOR SELECT
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.teams FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');

CREATE POLICY read_all ON crm.pipelines FOR SELECT
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.pipelines FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');

CREATE POLICY read_all ON crm.pipeline_stages FOR SELECT
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.pipeline_stages FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');

CREATE POLICY read_all ON crm.tags FOR SELECT
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_marketing_all ON crm.tags FOR ALL TO crm_admin, crm_marketing
	USING ((SELECT crm.current_crm_role()) IN ('admin', 'marketing'))
	WITH CHECK ((SELECT crm.current_crm_role()) IN ('admin', 'marketing'));

CREATE POLICY read_all ON crm.campaigns FOR SELECT
	TO crm_admin, crm_manager, crm_rep, crm_marketing, crm_support, crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_marketing_all ON crm.campaigns FOR ALL TO crm_admin, crm_marketing
	USING ((SELECT crm.current_crm_role()) IN ('admin', 'marketing'))
	WITH CHECK ((SELECT crm.current_crm_role()) IN ('admin', 'marketing'));

-- Everything-readers and the admin, on the business tables.  The helper
-- must name an active CRM user: a deactivated user keeps its role
-- membership but sees nothing.
CREATE POLICY readers ON crm.accounts FOR SELECT TO crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.accounts FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY readers ON crm.contacts FOR SELECT TO crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.contacts FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY readers ON crm.shares FOR SELECT TO crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.shares FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY readers ON crm.deals FOR SELECT TO crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.deals FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY readers ON crm.tickets FOR SELECT TO crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.tickets FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
CREATE POLICY readers ON crm.tasks FOR SELECT TO crm_analyst, crm_executive
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY admin_all ON crm.tasks FOR ALL TO crm_admin
	USING ((SELECT crm.current_crm_role()) = 'admin') WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');

-- Accounts.
CREATE POLICY sales_select ON crm.accounts FOR SELECT TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
		   OR id = ANY ((SELECT crm.shared_account_ids())::bigint[]));
CREATE POLICY sales_related ON crm.accounts FOR SELECT TO crm_manager, crm_rep, crm_marketing
	USING (id = ANY ((SELECT crm.related_account_ids())::bigint[]));
CREATE POLICY sales_insert ON crm.accounts FOR INSERT TO crm_manager, crm_rep
	WITH CHECK (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY sales_update ON crm.accounts FOR UPDATE TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
		   OR id = ANY ((SELECT crm.shared_account_ids(true))::bigint[]))
	WITH CHECK (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
				OR id = ANY ((SELECT crm.shared_account_ids(true))::bigint[]));
CREATE POLICY sales_delete ON crm.accounts FOR DELETE TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY support_select ON crm.accounts FOR SELECT TO crm_support
	USING (lifecycle = 'customer' AND (SELECT crm.current_user_id()) IS NOT NULL);

-- Contacts.
CREATE POLICY sales_select ON crm.contacts FOR SELECT TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
		   OR id = ANY ((SELECT crm.shared_contact_ids())::bigint[]));
CREATE POLICY sales_insert ON crm.contacts FOR INSERT TO crm_manager, crm_rep
	WITH CHECK (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY sales_update ON crm.contacts FOR UPDATE TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
		   OR id = ANY ((SELECT crm.shared_contact_ids(true))::bigint[]))
	WITH CHECK (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
				OR id = ANY ((SELECT crm.shared_contact_ids(true))::bigint[]));
CREATE POLICY sales_delete ON crm.contacts FOR DELETE TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
-- Marketing works the pre-sales stages.  PostgreSQL also checks an updated
-- row against the SELECT policies, so marketing cannot move a contact out
-- of its own view; the hand-off to sales (mql -> sql) is done by the lead
-- scoring hand-off or by sales and admins.
CREATE POLICY marketing_select ON crm.contacts FOR SELECT TO crm_marketing
	USING (lifecycle_stage IN ('subscriber', 'lead', 'mql') AND (SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY marketing_insert ON crm.contacts FOR INSERT TO crm_marketing
	WITH CHECK (lifecycle_stage IN ('subscriber', 'lead', 'mql') AND (SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY marketing_update ON crm.contacts FOR UPDATE TO crm_marketing
	USING (lifecycle_stage IN ('subscriber', 'lead', 'mql') AND (SELECT crm.current_user_id()) IS NOT NULL)
	WITH CHECK (lifecycle_stage IN ('subscriber', 'lead', 'mql'));
CREATE POLICY support_select ON crm.contacts FOR SELECT TO crm_support
	USING (account_id = ANY ((SELECT crm.customer_account_ids())::bigint[])
		   OR (lifecycle_stage IN ('customer', 'evangelist') AND (SELECT crm.current_user_id()) IS NOT NULL));
CREATE POLICY support_update ON crm.contacts FOR UPDATE TO crm_support
	USING (account_id = ANY ((SELECT crm.customer_account_ids())::bigint[])
		   OR (lifecycle_stage IN ('customer', 'evangelist') AND (SELECT crm.current_user_id()) IS NOT NULL))
	WITH CHECK (account_id = ANY ((SELECT crm.customer_account_ids())::bigint[])
				OR lifecycle_stage IN ('customer', 'evangelist'));

-- Shares: you see what is shared with you and what you (or, for a
-- manager, your reach) shared; you share only what you own.
CREATE POLICY sales_select ON crm.shares FOR SELECT TO crm_manager, crm_rep
	USING (user_id = (SELECT crm.current_user_id())
		   OR granted_by = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY sales_insert ON crm.shares FOR INSERT TO crm_manager, crm_rep
	WITH CHECK (granted_by = (SELECT crm.current_user_id())
				AND crm.can_share(contact_id, account_id, deal_id));
CREATE POLICY sales_delete ON crm.shares FOR DELETE TO crm_manager, crm_rep
	USING (granted_by = ANY ((SELECT crm.visible_owner_ids())::bigint[]));

-- Deals.  Marketing reads stage and amount of every deal for attribution;
-- its column privileges keep owner and reasons out of reach.
CREATE POLICY sales_select ON crm.deals FOR SELECT TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
		   OR id = ANY ((SELECT crm.shared_deal_ids())::bigint[]));
CREATE POLICY sales_insert ON crm.deals FOR INSERT TO crm_manager, crm_rep
	WITH CHECK (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY sales_update ON crm.deals FOR UPDATE TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
		   OR id = ANY ((SELECT crm.shared_deal_ids(true))::bigint[]))
	WITH CHECK (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[])
				OR id = ANY ((SELECT crm.shared_deal_ids(true))::bigint[]));
CREATE POLICY sales_delete ON crm.deals FOR DELETE TO crm_manager, crm_rep
	USING (owner_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY marketing_select ON crm.deals FOR SELECT TO crm_marketing
	USING ((SELECT crm.current_user_id()) IS NOT NULL);

-- Tickets: support works all of them; sales reads those of its contacts.
CREATE POLICY support_select ON crm.tickets FOR SELECT TO crm_support
	USING ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY support_insert ON crm.tickets FOR INSERT TO crm_support
	WITH CHECK ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY support_update ON crm.tickets FOR UPDATE TO crm_support
	USING ((SELECT crm.current_user_id()) IS NOT NULL)
	WITH CHECK ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY sales_select ON crm.tickets FOR SELECT TO crm_manager, crm_rep
	USING (contact_id = ANY ((SELECT crm.visible_contact_ids())::bigint[]));

-- Tasks: your own (a manager's: the reach's); assigning follows
-- crm._guard_owner.
CREATE POLICY own_select ON crm.tasks FOR SELECT TO crm_manager, crm_rep, crm_marketing, crm_support
	USING (assignee_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY own_insert ON crm.tasks FOR INSERT TO crm_manager, crm_rep, crm_marketing, crm_support
	WITH CHECK (assignee_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY own_update ON crm.tasks FOR UPDATE TO crm_manager, crm_rep, crm_marketing, crm_support
	USING (assignee_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]))
	WITH CHECK (assignee_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));
CREATE POLICY own_delete ON crm.tasks FOR DELETE TO crm_manager, crm_rep, crm_marketing, crm_support
	USING (assignee_id = ANY ((SELECT crm.visible_owner_ids())::bigint[]));

-- Detail tables that hang off one contact: visible with the contact,
-- writable when the contact is (crm.contact_writable).  Admin does all,
-- analyst and executive read all.  Generated alike for each table.
DO $detail$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['contact_emails', 'contact_phones', 'contact_addresses', 'contact_tags',
							 'consents', 'campaign_members', 'activities']
	LOOP
		EXECUTE pg_catalog.format($p$
			CREATE POLICY readers ON crm.%1$I FOR SELECT TO crm_analyst, crm_executive
				USING ((SELECT crm.current_user_id()) IS NOT NULL);
			CREATE POLICY admin_all ON crm.%1$I FOR ALL TO crm_admin
				USING ((SELECT crm.current_crm_role()) = 'admin')
				WITH CHECK ((SELECT crm.current_crm_role()) = 'admin');
			CREATE POLICY contact_select ON crm.%1$I FOR SELECT TO crm_manager, crm_rep, crm_marketing %2$s
				USING (contact_id = ANY ((SELECT crm.visible_contact_ids())::bigint[]));
			CREATE POLICY contact_insert ON crm.%1$I FOR INSERT TO crm_manager, crm_rep, crm_marketing %2$s
				WITH CHECK (crm.contact_writable(contact_id));
			CREATE POLICY contact_update ON crm.%1$I FOR UPDATE TO crm_manager, crm_rep, crm_marketing %2$s
				USING (contact_id = ANY ((SELECT crm.visible_contact_ids())::bigint[]))
				WITH CHECK (crm.contact_writable(contact_id));
			CREATE POLICY contact_delete ON crm.%1$I FOR DELETE TO crm_manager, crm_rep, crm_marketing
				USING (crm.contact_writable(contact_id));
			$p$, t, CASE WHEN t = 'activities' THEN '' ELSE ', crm_support' END);
	END LOOP;
END
$detail$;

-- Marketing reads and records consent and campaign response for everyone
-- it markets to, customers included.
CREATE POLICY marketing_all ON crm.consents FOR ALL TO crm_marketing
	USING ((SELECT crm.current_user_id()) IS NOT NULL)
	WITH CHECK ((SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY marketing_all ON crm.campaign_members FOR ALL TO crm_marketing
	USING ((SELECT crm.current_user_id()) IS NOT NULL)
	WITH CHECK ((SELECT crm.current_user_id()) IS NOT NULL);

-- Support activities: those logged against a ticket.
CREATE POLICY support_select ON crm.activities FOR SELECT TO crm_support
	USING (ticket_id IS NOT NULL AND (SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY support_insert ON crm.activities FOR INSERT TO crm_support
	WITH CHECK (ticket_id IS NOT NULL AND (SELECT crm.current_user_id()) IS NOT NULL);
CREATE POLICY support_update ON crm.activities FOR UPDATE TO crm_support
	USING (ticket_id IS NOT NULL AND (SELECT crm.current_user_id()) IS NOT NULL)
	WITH CHECK (ticket_id IS NOT NULL);

-- Lookup lists of other parts (crm.email_domains, part 12; crm.nicknames,
-- part 30) are configuration like any other: everyone may read them (the
-- functions that use them read with the caller's rights), CRM admins add,
-- change and remove their own rows; the shipped rows (builtin) belong to
-- extension upgrades.
DO $config$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['email_domains', 'nicknames']
	LOOP
		EXECUTE pg_catalog.format($p$
			GRANT SELECT ON crm.%1$I TO PUBLIC;
			GRANT INSERT, UPDATE, DELETE ON crm.%1$I TO crm_admin;
			ALTER TABLE crm.%1$I ENABLE ROW LEVEL SECURITY;
			ALTER TABLE crm.%1$I FORCE ROW LEVEL SECURITY;
			CREATE POLICY read_all ON crm.%1$I FOR SELECT TO PUBLIC USING (true);
			CREATE POLICY admin_insert ON crm.%1$I FOR INSERT TO crm_admin
				WITH CHECK (NOT builtin AND (SELECT crm.current_crm_role()) = 'admin');
			CREATE POLICY admin_update ON crm.%1$I FOR UPDATE TO crm_admin
				USING (NOT builtin AND (SELECT crm.current_crm_role()) = 'admin')
				WITH CHECK (NOT builtin AND (SELECT crm.current_crm_role()) = 'admin');
			CREATE POLICY admin_delete ON crm.%1$I FOR DELETE TO crm_admin
				USING (NOT builtin AND (SELECT crm.current_crm_role()) = 'admin');
			$p$, t);
	END LOOP;
END
$config$;
