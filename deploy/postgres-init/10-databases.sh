#!/bin/sh
# Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
# Creates one role per consumer, each owning only its own databases:
#   temporal -> temporal, temporal_visibility   (schemas applied by temporalio/auto-setup)
#   referral -> referral                        (schema applied by the worker's migrations)
# The passwords come from the environment of the postgres service (deploy/.env), never from this file.
set -eu
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD}"
: "${REFERRAL_DB_PASSWORD:?set REFERRAL_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v temporal_pw="$TEMPORAL_DB_PASSWORD" -v referral_pw="$REFERRAL_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_pw';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE ROLE referral LOGIN PASSWORD :'referral_pw';
CREATE DATABASE referral OWNER referral;
REVOKE ALL ON DATABASE temporal, temporal_visibility FROM PUBLIC;
REVOKE ALL ON DATABASE referral FROM PUBLIC;
SQL
