#!/usr/bin/env bash
# First start of the postgres container: Debezium's least-privilege role (REPLICATION + LOGIN).
# `aegis db migrate` then grants it SELECT on exactly the published tables.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v dbz_user="$POSTGRES_DEBEZIUM_USER" -v dbz_password="$POSTGRES_DEBEZIUM_PASSWORD" <<'SQL'
CREATE ROLE :"dbz_user" WITH LOGIN REPLICATION PASSWORD :'dbz_password';
GRANT CONNECT ON DATABASE :"DBNAME" TO :"dbz_user";
SQL
