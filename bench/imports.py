"""Import benchmarks (PRODUCT I6, issue 9), run by bench/run.py after the page benchmarks.

    bench import_create  rows/s of a 1,000,000-row, 12-column CSV (3 custom fields) imported in
                         create mode into the bench workspace (1M leads): file parsed → rows
                         committed with consent events and Imported activities. Floor: COPY of
                         the same leads, consent events and activities, all indexes in place.
    bench import_dry_run seconds to check the same file (target ≤ 60 s and < the import).
    bench import_memory  the importing process's peak RSS in MB (target ≤ 500).
    bench import_upsert  rows/s of 100,000 rows (half matching leads, half new) in upsert
                         mode against the 2M. Floor: staging COPY + INSERT … ON CONFLICT.

The import runs as `manage.py import_leads` in a child process, as a worker would run it,
so its peak memory is its own. Everything the benchmark adds is deleted at the end, and the
floors' rows right after they are timed, so runs repeat on the same 1M leads.
"""

import csv
import io
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from contacts.models import Activity, Company, ConsentEvent, CustomField, Lead
from contacts.normalize import search_text_for
from leadcrm.models import User, Workspace

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
UPSERT_ROWS = int(os.environ.get("BENCH_UPSERT_ROWS", "100000"))
DATA = Path(settings.BASE_DIR) / "bench" / "data"
HEADERS = [
    "Email",
    "First Name",
    "Last Name",
    "Company",
    "Job Title",
    "Phone",
    "City",
    "Country",
    "Lead Source",
    "Industry",
    "Budget",
    "Subscription Date",
]
FIRST = ["Ada", "Grace", "Linus", "Chloé", "Jürgen", "Mei", "Omar", "Priya", "Sven", "Zoë"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Durand", "Müller", "Chen", "Haddad", "Nair", "Berg"]
TITLES = ["CTO", "Head of Sales", "Marketing Manager", "Founder", "Engineer", "Buyer"]
PLACES = [("Berlin", "Germany", "+49 30 {:07d}"), ("Austin", "United States", "+1 512 {:07d}")]
PLACES += [("Lyon", "FR", "+33 4 {:08d}"), ("Leeds", "UK", "+44 113 {:07d}")]
COUNTRY_CODES = {"Germany": "DE", "United States": "US", "FR": "FR", "UK": "GB"}
COMPANIES = 20_000


def _csv_write(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADERS)
        out.writerows(rows)
    tmp.rename(path)


def _row(rng: random.Random, email: str, industries: list[str], title: str = "") -> list:
    city, country, phone = rng.choice(PLACES)
    return [
        email,
        rng.choice(FIRST),
        rng.choice(LAST),
        f"Company {rng.randrange(COMPANIES)}",
        title or rng.choice(TITLES),
        phone.format(rng.randrange(10**6, 10**7)),
        city,
        country,
        rng.choice(["Trade show", "Webinar", "Partner list"]),
        rng.choice(industries),
        str(rng.randrange(1000, 500000)),
        f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
    ]


def create_file(industries: list[str]) -> Path:
    path = DATA / f"import-{ROWS}.csv"
    if not path.exists():
        rng = random.Random(9)
        _csv_write(path, (_row(rng, f"imp{i}@bench-import.test", industries) for i in range(ROWS)))
    return path


def upsert_file(industries: list[str]) -> Path:
    """Half the rows update leads the create import made (new job title), half are new."""
    path = DATA / f"upsert-{UPSERT_ROWS}.csv"
    if not path.exists():
        rng = random.Random(11)
        half = UPSERT_ROWS // 2
        existing = (
            _row(rng, f"imp{i * (ROWS // half)}@bench-import.test", industries, "VP Upserts")
            for i in range(half)
        )
        new = (_row(rng, f"ups{i}@bench-import.test", industries) for i in range(half))
        _csv_write(path, (*existing, *new))
    return path


def _rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants (the import and its file reader)."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as status:
            total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                total += sum(_rss_kb(int(child)) for child in children.read().split())
    except (OSError, StopIteration):
        pass  # the process ended between two reads
    return total


def _run_import(path: Path, mode: str, owner: User) -> dict:
    """`import_leads` in a child process, as a worker runs it; its summary and peak memory
    (sampled every 0.1 s from /proc: the child's own, and its file reader's)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "import_leads", str(path), "--workspace", "bench"]
        + ["--mode", mode, "--as", owner.email],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, _rss_kb(process.pid))
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode:
        sys.exit(f"import_leads failed:\n{stdout}\n{stderr}")
    dry = re.search(r"Dry run: ([\d,]+) rows.*\(([\d.]+) s\)", stdout)
    done = re.search(r"in ([\d.]+) s \(([\d,]+) rows/s\)\. Import #(\d+)", stdout)
    if not dry or not done:
        sys.exit(f"Unexpected import_leads output:\n{stdout}")
    return {
        "rows": int(dry[1].replace(",", "")),
        "dry_run_s": float(dry[2]),
        "import_s": float(done[1]),
        "rows_per_s": float(done[2].replace(",", "")),
        "job": int(done[3]),
        "process_s": seconds,
        "peak_mb": peak_kb / 1024,
        "output": stdout,
    }


def _imported_ids(workspace: Workspace, pattern: str) -> str:
    return (
        f"SELECT id FROM {Lead._meta.db_table} WHERE workspace_id = {workspace.pk} "
        f"AND email LIKE '{pattern}'"
    )


def _delete_leads(workspace: Workspace, pattern: str) -> None:
    """Set-based removal of the benchmark's leads and everything hanging on them."""
    ids = _imported_ids(workspace, pattern)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE gone ON COMMIT DROP AS {ids}")
        relations = [
            f
            for f in Lead._meta.get_fields(include_hidden=True)
            if f.auto_created and not f.concrete and f.one_to_many
        ]
        for relation in relations:
            table = relation.related_model._meta.db_table
            column = relation.field.column
            where = f"{column} IN (SELECT id FROM gone)"
            if relation.on_delete.__name__ == "SET_NULL":
                cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {where}")
            else:
                cursor.execute(f"DELETE FROM {table} WHERE {where}")
        cursor.execute(
            f"DELETE FROM {Lead.tags.through._meta.db_table} WHERE lead_id IN (SELECT id FROM gone)"
        )
        cursor.execute(f"DELETE FROM {Lead._meta.db_table} WHERE id IN (SELECT id FROM gone)")
    with connection.cursor() as cursor:
        for model in (Lead, Activity, ConsentEvent):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def _copy_floor(workspace: Workspace, path: Path, owner: User) -> float:
    """Leads, consent events and activities of the file by COPY: the database's share."""
    now = timezone.now()
    lead_fields = Lead._meta.concrete_fields
    defaults = {f.attname: f.get_default() for f in lead_fields}
    companies = {}
    leads, events, activities = io.StringIO(), io.StringIO(), io.StringIO()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Lead._meta.db_table, ROWS],
        )
        ids = [r[0] for r in cursor.fetchall()]
    for name, pk in Company.objects.filter(workspace=workspace).values_list("name", "pk"):
        companies[name] = pk

    def text(value) -> str:
        """COPY's text format (the benchmark's data holds no tab, newline or backslash)."""
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    def line(out: io.StringIO, values) -> None:
        out.write("\t".join(text(v) for v in values))
        out.write("\n")

    with path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for lead_id, row in zip(ids, reader, strict=False):
            email, first, last, company, title, phone, city, country, source = row[:9]
            values = dict(defaults)
            values.update(
                id=lead_id,
                workspace_id=workspace.pk,
                email=email,
                first_name=first,
                last_name=last,
                company_id=companies.get(company),
                job_title=title,
                phone=phone.replace(" ", ""),
                city=city,
                country=COUNTRY_CODES[country],
                source=source,
                attributes={
                    "industry": row[9],
                    "budget": int(row[10]),
                    "subscription_date": row[11],
                },
                consent_type="imported",
                consent_source="Import",
                consent_captured_at=now,
                created_at=now,
                updated_at=now,
                last_activity_at=now,
                search_text=search_text_for(
                    first_name=first, last_name=last, email=email, company_name=company
                ),
            )
            line(leads, [values[f.attname] for f in lead_fields])
            line(
                events,
                [workspace.pk, lead_id, now, owner.pk, "import", "unknown", "unknown"]
                + ["imported", "Import", "", "", "", None, ""],
            )
            line(
                activities,
                [workspace.pk, lead_id, "imported", now, owner.pk, "import"]
                + ["Imported from file", "", "", {"import": 0}, now],
            )
    lead_columns = ", ".join(connection.ops.quote_name(f.column) for f in lead_fields)
    statements = [
        (f"COPY {Lead._meta.db_table} ({lead_columns}) FROM STDIN", leads),
        (
            f"COPY {ConsentEvent._meta.db_table} (workspace_id, lead_id, occurred_at, actor_id, "
            "channel, status_before, status, type, source, proof, gdpr_basis, country, "
            "ip_address, user_agent) FROM STDIN",
            events,
        ),
        (
            f"COPY {Activity._meta.db_table} (workspace_id, lead_id, type, occurred_at, actor_id, "
            "source, subject, body, url, data, created_at) FROM STDIN",
            activities,
        ),
    ]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, buffer in statements:
            with cursor.copy(sql) as copy:
                copy.write(buffer.getvalue())
    return time.perf_counter() - started


def _upsert_floor(workspace: Workspace, path: Path) -> float:
    """Staging COPY + INSERT … ON CONFLICT (workspace, lower(email)) DO UPDATE of the columns
    the import maps (company by name, the three custom fields merged into attributes)."""
    with path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        buffer = io.StringIO()
        for row in reader:
            row[5] = row[5].replace(" ", "")  # phone, as E.164
            row[7] = COUNTRY_CODES[row[7]]
            buffer.write("\t".join(row) + "\n")
    now = timezone.now()
    lead = Lead._meta.db_table
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE staging (email text, first_name text, last_name text, "
            "company text, job_title text, phone text, city text, country text, source text, "
            "industry text, budget numeric, subscription_date text) ON COMMIT DROP"
        )
        with cursor.copy("COPY staging FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            f"""
            INSERT INTO {lead} AS l (workspace_id, email, secondary_emails, first_name, last_name,
                phone, mobile, job_title, department, contact_role, company_id, domain, source,
                linkedin_url, twitter_handle, street, city, region, postal_code, country,
                timezone, preferred_language, status, email_status, consent_status,
                consent_type, consent_source, consent_proof, gdpr_basis, consent_country,
                do_not_contact, score, score_points, tier, quality_score, bant_budget,
                bant_authority, bant_need, bant_timeline, attributes, search_text, version,
                created_at, updated_at, last_activity_at)
            SELECT %(ws)s, s.email, '[]', s.first_name, s.last_name, s.phone, '', s.job_title,
                '', '', c.id, '', s.source, '', '', '', s.city, '', '', s.country, '', '', 'new',
                'active', 'unknown', 'imported', 'Import', '', '', '', false, 0, 0, 'cold', 0,
                '', '', '', '',
                jsonb_build_object('industry', s.industry, 'budget', s.budget,
                                   'subscription_date', s.subscription_date),
                lower(s.first_name || ' ' || s.last_name || ' ' || s.email || ' ' || s.company),
                1, %(now)s, %(now)s, %(now)s
            FROM staging s
            LEFT JOIN contacts_company c
              ON c.workspace_id = %(ws)s AND lower(c.name) = lower(s.company)
            ON CONFLICT (workspace_id, lower(email)) WHERE deleted_at IS NULL DO UPDATE SET
                first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
                phone = EXCLUDED.phone, job_title = EXCLUDED.job_title,
                company_id = EXCLUDED.company_id, source = EXCLUDED.source,
                city = EXCLUDED.city, country = EXCLUDED.country,
                attributes = l.attributes || EXCLUDED.attributes,
                search_text = EXCLUDED.search_text, version = l.version + 1,
                updated_at = EXCLUDED.updated_at, last_activity_at = EXCLUDED.last_activity_at
            """,
            {"ws": workspace.pk, "now": now},
        )
    return time.perf_counter() - started


def import_bench(workspace: Workspace, owner: User) -> None:
    field = CustomField.objects.get(workspace=workspace, key="industry")
    # The file's companies exist before anything is timed, for the floor and the import alike.
    Company.objects.bulk_create(
        [Company(workspace=workspace, name=f"Company {n}") for n in range(COMPANIES)],
        ignore_conflicts=True,
    )
    create_path = create_file(field.choices)
    upsert_path = upsert_file(field.choices)
    _delete_leads(workspace, "%@bench-import.test")  # a run that died halfway
    floor_s = _copy_floor(workspace, create_path, owner)
    _delete_leads(workspace, "%@bench-import.test")
    floor_rate = ROWS / floor_s
    created = _run_import(create_path, "create", owner)
    rate = created["rows_per_s"]
    print(
        f"bench import_create value={rate:.0f} unit=rows/s floor={floor_rate:.0f} "
        f"ratio={rate / floor_rate:.2f}",
        flush=True,
    )
    print(
        f"bench import_dry_run value={created['dry_run_s']:.1f} unit=s "
        f"floor={created['import_s']:.1f} ratio={created['dry_run_s'] / created['import_s']:.2f}",
        flush=True,
    )
    print(f"bench import_memory value={created['peak_mb']:.0f} unit=MB", flush=True)
    upserted = _run_import(upsert_path, "upsert", owner)
    _delete_leads(workspace, "ups%@bench-import.test")
    upsert_floor_s = _upsert_floor(workspace, upsert_path)
    floor_rate = UPSERT_ROWS / upsert_floor_s
    rate = upserted["rows_per_s"]
    print(
        f"bench import_upsert value={rate:.0f} unit=rows/s floor={floor_rate:.0f} "
        f"ratio={rate / floor_rate:.2f}",
        flush=True,
    )
    print(upserted["output"].splitlines()[-1], flush=True)
    _delete_leads(workspace, "%@bench-import.test")
