#!/usr/bin/env bash
# Creates the plugin's database and roles (mlops-database.sql). Run once by the postgres image's
# /docker-entrypoint-initdb.d on an empty data directory; also usable by hand against any server:
#   PGHOST=db.example PGUSER=postgres MLOPS_DB_OWNER_PASSWORD=... MLOPS_DB_READER_PASSWORD=... ./init-mlops-database.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sql="${MLOPS_DATABASE_SQL:-$here/mlops-database.sql}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v database="${MLOPS_DB_NAME:-mlops}" \
  -v owner="${MLOPS_DB_OWNER:-mlops_owner}" -v owner_password="${MLOPS_DB_OWNER_PASSWORD:?set MLOPS_DB_OWNER_PASSWORD}" \
  -v reader="${MLOPS_DB_READER:-mlops_reader}" -v reader_password="${MLOPS_DB_READER_PASSWORD:?set MLOPS_DB_READER_PASSWORD}" \
  -f "$sql"
