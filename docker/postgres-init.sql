-- Databases of the docker-compose stack, created by the postgres image on its first start
-- (files in /docker-entrypoint-initdb.d run once, as POSTGRES_USER, on an empty data folder).
--   airflow       Airflow's metadata database (and the Celery result backend)
--   warehouse     the pipeline's own tables (connection `warehouse`)
--   tthc_source   stands in for the provincial TTHC replica (connection `tthc_source`);
--                 in production that connection points at the real replica instead
--   tthc_national the national services mock's store (served by the `national-mock` service)
-- Written with \gexec so that running it again by hand creates only what is missing:
-- PostgreSQL has no CREATE DATABASE IF NOT EXISTS.
SELECT format('CREATE DATABASE %I', name)
FROM unnest(ARRAY['airflow', 'warehouse', 'tthc_source', 'tthc_national']) AS wanted(name)
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = wanted.name)
\gexec
