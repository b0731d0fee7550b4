# Sourced by .ci/run: make sure PostgreSQL answers on 127.0.0.1:5432 for user root.
# These machines run it with trust auth; on a plain Debian machine we start or install it.
PG_URL_BASE="postgres://root@127.0.0.1:5432"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not running on 127.0.0.1:5432; start it (or run as root to let CI do it)." >&2
    exit 1
  fi
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  hba="/etc/postgresql/${version}/main/pg_hba.conf"
  if ! grep -q "leadcrm-ci" "$hba"; then
    # Local CI only: trust connections from this machine, as on the project's machines.
    sed -i '1i host all all 127.0.0.1/32 trust # leadcrm-ci' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster "$version" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  su postgres -c "psql -qc \"DO \\\$\\\$BEGIN CREATE ROLE root SUPERUSER LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\\\$\\\$\"" || true
fi
