-- A read-only group role for analysts. It cannot log in; operators create logins that
-- are members of it (`CREATE ROLE alice LOGIN IN ROLE leadpipe_analyst`).
--
-- Roles belong to the whole cluster, not to one database, so this migration must work
-- when the role already exists (a second database on the same server, or several
-- databases migrated at once, as the tests do).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'leadpipe_analyst') THEN
        CREATE ROLE leadpipe_analyst NOLOGIN;
    END IF;
EXCEPTION
    -- Another session created it between the check and the CREATE.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO leadpipe_analyst;
GRANT SELECT ON leads, lead_daily_counts, lead_contacts TO leadpipe_analyst;
