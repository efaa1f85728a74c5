#!/usr/bin/env bash
# First start of the postgres container (as its superuser): the four least-privilege roles and the
# database handed to the migration owner (docs/deploy.md). `aegis db migrate`, as the owner, then
# creates the schema and the publication and grants each role exactly what it uses.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v owner="$AEGIS_OWNER_USER" -v owner_password="$AEGIS_OWNER_PASSWORD" \
     -v app="$AEGIS_APP_USER" -v app_password="$AEGIS_APP_PASSWORD" \
     -v reader="$AEGIS_READER_USER" -v reader_password="$AEGIS_READER_PASSWORD" \
     -v dbz="$AEGIS_DEBEZIUM_USER" -v dbz_password="$AEGIS_DEBEZIUM_PASSWORD" <<'SQL'
CREATE ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION PASSWORD :'owner_password';
CREATE ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION PASSWORD :'app_password';
CREATE ROLE :"reader" WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION PASSWORD :'reader_password';
CREATE ROLE :"dbz" WITH LOGIN REPLICATION NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'dbz_password';
ALTER DATABASE :"DBNAME" OWNER TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO :"app", :"reader", :"dbz";
SQL
