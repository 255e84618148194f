#!/bin/bash
# First start of the stack's PostgreSQL: one database and one login role each for Airflow's
# metadata, MLflow's tracking and registry store, and the scores warehouse, so no service can
# read or change another's tables; MLflow's role also owns `mlflow_auth`, the users and grants
# of its basic-auth app. Passwords come from the environment (.env), never from here.
set -euo pipefail

create_database() {  # role database password
  # psql variables (:"name" quotes an identifier, :'name' a literal) keep a password's characters
  # out of the SQL text.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$1" -v db="$2" -v password="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

add_database() {  # role database: one more database for a role created above
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v role="$1" -v db="$2" <<'SQL'
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create_database airflow airflow "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD is not set}"
create_database mlflow mlflow "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD is not set}"
create_database nightshift warehouse "${WAREHOUSE_DB_PASSWORD:?WAREHOUSE_DB_PASSWORD is not set}"

add_database mlflow mlflow_auth
