-- The plugin's own database and its two roles (psql variables, set by init-mlops-database.sh):
--   :owner  read-write: owns the tables; `airflow db migrate` (init) and the api-server (the only writer).
--   :reader read-only:  the dag-processor, scheduler, triggerer and Celery workers (parsing, task runtime).
-- Tables that later migrations create are readable by :reader too (default privileges of :owner).
\set ON_ERROR_STOP on
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"reader" LOGIN PASSWORD :'reader_password';
-- Belt and braces: every transaction of the reader starts read-only, on top of having no write grant.
ALTER ROLE :"reader" SET default_transaction_read_only = on;
CREATE DATABASE :"database" OWNER :"owner";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"reader";
\connect :"database"
-- PostgreSQL 15+: the public schema belongs to the database owner and PUBLIC may not create in it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
