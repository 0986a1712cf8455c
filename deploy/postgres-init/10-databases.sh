#!/bin/sh
# Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
# Creates one role per consumer, each owning only its own databases:
#   temporal -> temporal, temporal_visibility   (schemas applied by temporalio/auto-setup)
#   referral -> referral                        (owner: migrations, roster; DATABASE_ADMIN_URL)
#   referral_app                                (runtime role of the worker and the API; DATABASE_URL;
#                                                its grants come from deploy/migrate.py)
# The passwords come from the environment of the postgres service (deploy/.env), never from this file.
set -eu
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD}"
: "${REFERRAL_DB_PASSWORD:?set REFERRAL_DB_PASSWORD}"
: "${REFERRAL_APP_DB_PASSWORD:?set REFERRAL_APP_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v temporal_pw="$TEMPORAL_DB_PASSWORD" -v referral_pw="$REFERRAL_DB_PASSWORD" \
     -v referral_app_pw="$REFERRAL_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_pw';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE ROLE referral LOGIN PASSWORD :'referral_pw';
CREATE DATABASE referral OWNER referral;
REVOKE ALL ON DATABASE temporal, temporal_visibility FROM PUBLIC;
REVOKE ALL ON DATABASE referral FROM PUBLIC;
CREATE ROLE referral_app LOGIN PASSWORD :'referral_app_pw';
GRANT CONNECT ON DATABASE referral TO referral_app;
\connect referral
ALTER SCHEMA public OWNER TO referral;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO referral_app;
SQL
