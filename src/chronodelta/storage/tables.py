"""The tables. Every business row carries ``tenant_id`` and is keyed by it.

Design rules (see docs/architecture.md):

* Ids are per tenant, so every tenant has a person 1 (the vendor's tutorial relies on
  it) and no id reveals how busy another tenant is. Keys are ``(tenant_id, id)`` and
  foreign keys include the tenant, so a reference can never point across tenants.
* Every row of an API collection has ``change_version``: the per-tenant, strictly
  increasing number that the API shows as 20 hex digits (contract, "Delta"). It is
  allocated under the tenant's counter row lock, see ``_transactions.py``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Timestamp = sa.DateTime(timezone=True)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

# Named per-tenant counters: "change_version" and one id counter per collection.
tenant_counters = sa.Table(
    "tenant_counters",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# Issue 13, item 1: a tenant's sandbox clock. No row: the wall clock. Otherwise the
# tenant's time is the wall clock moved by ``offset_microseconds``, or ``frozen_at``
# when set; ``anchored`` when an operator set it to a time (docs/sandbox.md, "Time").
tenant_clocks = sa.Table(
    "tenant_clocks",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("offset_microseconds", sa.BigInteger, nullable=False),
    sa.Column("frozen_at", Timestamp, nullable=True),
    sa.Column("anchored", sa.Boolean, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("description", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", Timestamp, nullable=False),
    # Revoked: the secret and every access token of the client are refused.
    sa.Column("revoked_at", Timestamp, nullable=True),
    # After a rotation the previous secret is still accepted until then.
    sa.Column("previous_secret_hash", sa.String(255), nullable=True),
    sa.Column("previous_secret_until", Timestamp, nullable=True),
)

# Installation-wide secrets shared by every worker process: the JWT signing keys and
# the HMAC key of paging tokens. Created at first start, never sent to clients.
signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("private_key_pem", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

# Issue 13: the people who operate the sandbox (the /admin API and the console).
# Their passwords are kept as argon2id hashes only, as API client secrets are.
operators = sa.Table(
    "operators",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

# Fixed-window counters for the token endpoint's rate limit, kept in the database
# so that the limit holds across worker processes.
token_request_windows = sa.Table(
    "token_request_windows",
    metadata,
    sa.Column("client_key", sa.String(200), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("request_count", sa.Integer, nullable=False),
)


def _tenant_table(name: str, *items: sa.schema.SchemaItem) -> sa.Table:
    """A collection table keyed by (tenant_id, id), with its change version."""
    return sa.Table(
        name,
        metadata,
        sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("change_version", sa.BigInteger, nullable=False),
        *items,
        sa.Index(f"ix_{name}_tenant_change_version", "tenant_id", "change_version"),
    )


# ---- reference collections (contract, "Fidelity" -> "Reference collections") --------
# A translatable text is its default (``name``, ``friendly_name``, ...) plus a
# ``*_translations`` column: a JSON object of language code to text, "{}" when none,
# always read and written whole with its record. The ``*_code`` columns are the wire's
# ``code`` (and the predefined references @shift-code, @absence-code, @counter-code).


def _translations(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=False, server_default="{}")


def _enabled() -> sa.Column[bool]:
    return sa.Column("is_enabled", sa.Boolean, nullable=False, server_default=sa.true())


shift_definitions = _tenant_table(
    "shift_definitions",
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("shift_code", sa.String(40), nullable=False),
    # The planned window the calculation needs (not published by the vendor).
    sa.Column("start_minutes", sa.Integer, nullable=False),
    sa.Column("end_minutes", sa.Integer, nullable=False),
    sa.Column("break_minutes", sa.Integer, nullable=False),
    _translations("name_translations"),
    sa.Column("friendly_name", sa.String(100), nullable=True),
    _translations("friendly_name_translations"),
    _enabled(),
)

people = _tenant_table(
    "people",
    sa.Column("badge_number", sa.String(40), nullable=False),
    sa.Column("employee_number", sa.String(40), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("in_service_date", sa.Date, nullable=False),
    sa.Column("out_of_service_date", sa.Date, nullable=True),
    sa.Column("shift_definition_id", sa.BigInteger, nullable=True),
    # Personal information (the vendor's people page); optional unless noted.
    sa.Column("initials", sa.String(20), nullable=True),
    sa.Column("telephone", sa.String(40), nullable=True),
    sa.Column("mobile", sa.String(40), nullable=True),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("address", sa.String(200), nullable=True),
    sa.Column("postal_code", sa.String(20), nullable=True),
    sa.Column("town", sa.String(100), nullable=True),
    sa.Column("country_iso_code", sa.String(3), nullable=True),
    sa.Column("nationality_iso_code", sa.String(3), nullable=True),
    sa.Column("sex", sa.String(8), nullable=False, server_default="Unknown"),
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("pay_group", sa.String(40), nullable=True),
    sa.Column("terminal_group_id", sa.BigInteger, nullable=True),
    sa.ForeignKeyConstraint(
        ["tenant_id", "shift_definition_id"],
        ["shift_definitions.tenant_id", "shift_definitions.id"],
    ),
    # "badgeNumber: Needs to be unique" (the vendor's people page); also the index
    # that GET /people/{badge}?externalReferences=(people,@badge-number) looks up. A
    # unique index, not a constraint: SQLite adds one in place, while a constraint
    # would rebuild the table, which the clockings' foreign keys forbid.
    sa.Index("ix_people_tenant_badge_number", "tenant_id", "badge_number", unique=True),
)

terminals = _tenant_table(
    "terminals",
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("external_code", sa.String(40), nullable=False),
    _translations("name_translations"),
    _enabled(),
)

# Activity definitions are identified by GUIDs (seed 003: ``activityDefinition.id`` is
# a string; the vendor's pages: "Unique identifier (GUID)"). ``id`` stays an integer
# surrogate that the API never shows, so that what every collection shares (id
# counters, custom external references, departures) keeps one key type; ``guid`` is
# the id the API shows and accepts, and ``parent_guid`` the parent's. Activity levels
# stored with clockings and activity durations hold GUIDs too (migration 0004).
activity_definitions = _tenant_table(
    "activity_definitions",
    sa.Column("guid", sa.String(36), nullable=False),
    sa.Column("structure_version", sa.String(36), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    # {language code: name} as JSON text, null when there are none.
    sa.Column("name_translations", sa.Text, nullable=True),
    sa.Column("parent_guid", sa.String(36), nullable=True),
    sa.Column("short_code", sa.String(40), nullable=True),
    # Contract, "Fidelity": dataEntryCode and externalReference have at most 16
    # characters; an external reference is unique within structure version and level.
    sa.Column("data_entry_code", sa.String(16), nullable=True),
    sa.Column("external_reference", sa.String(16), nullable=True),
    sa.Column("info", sa.Text, nullable=True),
    sa.Column("active_from", sa.Date, nullable=True),
    sa.Column("active_until", sa.Date, nullable=True),
    # Counters that time booked on this activity feeds, as a JSON list of counter
    # definition ids (docs/calculation.md); read whole by the calculation.
    sa.Column("counter_definition_ids", sa.Text, nullable=True),
    sa.UniqueConstraint("tenant_id", "guid"),
    # Also the index of the structure-version lists (tenant, version, level).
    sa.UniqueConstraint(
        "tenant_id",
        "structure_version",
        "level",
        "external_reference",
        name="uq_activity_definitions_reference_in_level",
    ),
)

absence_definitions = _tenant_table(
    "absence_definitions",
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("absence_code", sa.String(40), nullable=False),
    sa.Column("counter_definition_ids", sa.Text, nullable=True),  # as on activities
    _translations("name_translations"),
    sa.Column("friendly_name", sa.String(100), nullable=True),
    _translations("friendly_name_translations"),
    sa.Column("friendly_code", sa.String(40), nullable=True),
    _translations("friendly_code_translations"),
    # A JSON list of Unknown, FullDay, HalfDay, Interval, Duration.
    sa.Column("allowed_durations", sa.Text, nullable=False, server_default="[]"),
    _enabled(),
    sa.Column("is_reason_for_clocking", sa.Boolean, nullable=False, server_default=sa.true()),
    # Absence groups are not served (yet): a plain id, no foreign key.
    sa.Column("absence_group_id", sa.BigInteger, nullable=True),
)

counter_definitions = _tenant_table(
    "counter_definitions",
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("counter_code", sa.String(40), nullable=False),
    _translations("name_translations"),
    sa.Column("friendly_name", sa.String(100), nullable=True),
    _translations("friendly_name_translations"),
    sa.Column("friendly_code", sa.String(40), nullable=True),
    _translations("friendly_code_translations"),
    _enabled(),
    # Counter groups are not served (yet): a plain id, no foreign key.
    sa.Column("counter_group_id", sa.BigInteger, nullable=True),
    sa.Column("unit", sa.String(10), nullable=False, server_default="Unknown"),
)

clockings = _tenant_table(
    "clockings",
    sa.Column("person_id", sa.BigInteger, nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("time_of_day", sa.Integer, nullable=False),
    sa.Column("original_time_of_day", sa.Integer, nullable=True),
    sa.Column("calculated_time_of_day", sa.Integer, nullable=False),
    sa.Column("is_generated", sa.Boolean, nullable=False),
    sa.Column("terminal_id", sa.BigInteger, nullable=True),
    sa.Column("longitude", sa.Float, nullable=True),
    sa.Column("latitude", sa.Float, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason_id", sa.BigInteger, nullable=True),
    sa.Column("is_open", sa.Boolean, nullable=True),
    # [[level, activityDefinitionId], ...] as JSON text: always read and written
    # whole with its clocking, so a child table would only add a join to every page.
    sa.Column("activity_levels", sa.Text, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "person_id"], ["people.tenant_id", "people.id"]),
    sa.ForeignKeyConstraint(["tenant_id", "terminal_id"], ["terminals.tenant_id", "terminals.id"]),
    sa.ForeignKeyConstraint(
        ["tenant_id", "reason_id"],
        ["absence_definitions.tenant_id", "absence_definitions.id"],
    ),
    # Lists page in (date, id) order: this index serves the filter and the order.
    sa.Index("ix_clockings_tenant_date_id", "tenant_id", "date", "id"),
    # The calculation reads one person-day's clockings on every write.
    sa.Index("ix_clockings_tenant_person_date", "tenant_id", "person_id", "date"),
)

# ---- calculated totals (docs/calculation.md) -----------------------------------------
# Derived from clockings in the same transaction as the write that changes them, so
# they carry change versions and deltas like any other collection. A total that no
# longer follows from the clockings is deleted (with a departure row, so that open
# deltas report it as Delete).

paid_presences = _tenant_table(
    "paid_presences",
    sa.Column("person_id", sa.BigInteger, nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("duration_minutes", sa.Integer, nullable=False),
    sa.Column("shift_definition_id", sa.BigInteger, nullable=True),
    sa.ForeignKeyConstraint(["tenant_id", "person_id"], ["people.tenant_id", "people.id"]),
    sa.UniqueConstraint("tenant_id", "person_id", "date"),
    sa.Index("ix_paid_presences_tenant_date_id", "tenant_id", "date", "id"),
)

activity_durations = _tenant_table(
    "activity_durations",
    sa.Column("person_id", sa.BigInteger, nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    # What the duration totals within its person-day ("activity:<guid>/<guid>", up to
    # ten levels, or "absence:4"):
    # a recalculation updates the row with the same key instead of replacing it.
    sa.Column("duration_key", sa.String(400), nullable=False),
    sa.Column("duration_minutes", sa.Integer, nullable=False),
    sa.Column("activity_levels", sa.Text, nullable=True),  # as on clockings
    sa.Column("absence_definition_id", sa.BigInteger, nullable=True),
    sa.Column("counter_definition_ids", sa.Text, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("is_authorized", sa.Boolean, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "person_id"], ["people.tenant_id", "people.id"]),
    sa.UniqueConstraint("tenant_id", "person_id", "date", "duration_key"),
    sa.Index("ix_activity_durations_tenant_date_id", "tenant_id", "date", "id"),
)

# One row per person-day with an active presence clocking (as paid presences). The
# day's own figures (normal time, time present, calculated presence, flextime) and the
# running sums over its ISO week and pay period; the calculation reads the figures of
# the neighbouring days back from here when one day changes.
calculated_totals = _tenant_table(
    "calculated_totals",
    sa.Column("person_id", sa.BigInteger, nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("normal_time_minutes", sa.Integer, nullable=False),
    sa.Column("time_present_minutes", sa.Integer, nullable=False),
    sa.Column("calculated_presence_minutes", sa.Integer, nullable=False),
    sa.Column("weekly_hours_1_minutes", sa.Integer, nullable=False),
    sa.Column("weekly_hours_2_minutes", sa.Integer, nullable=False),
    sa.Column("weekly_hours_3_minutes", sa.Integer, nullable=False),
    sa.Column("pay_period_hours_minutes", sa.Integer, nullable=False),
    sa.Column("flextime_minutes", sa.Integer, nullable=False),
    sa.Column("flextime_balance_minutes", sa.Integer, nullable=False),
    sa.Column("shift_definition_id", sa.BigInteger, nullable=True),
    sa.ForeignKeyConstraint(["tenant_id", "person_id"], ["people.tenant_id", "people.id"]),
    sa.UniqueConstraint("tenant_id", "person_id", "date"),
    sa.Index("ix_calculated_totals_tenant_date_id", "tenant_id", "date", "id"),
)

# Custom external references (no "@"): key-value pairs an integrator attaches to
# reference records. A value names one record per collection and name, so that write
# bodies can point at a record by it.
external_references = sa.Table(
    "external_references",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("collection", sa.String(40), primary_key=True),
    sa.Column("record_id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("tenant_id", "collection", "name", "value"),
)

# ---- org groups and circles (contract, "Fidelity", "Filters") ------------------------
# What ``person in org-group(...)``, ``org-tree(...)`` and ``circle(...)`` filters select.
# Not API collections (the vendor serves none of them here), so no change versions.
# Tables of their own rather than columns of ``people``: a person sits in at most one
# org group (the tree is the organisation chart) and in any number of circles.

org_groups = sa.Table(
    "org_groups",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("parent_id", sa.BigInteger, nullable=True),  # None: a root of the tree
    sa.ForeignKeyConstraint(["tenant_id", "parent_id"], ["org_groups.tenant_id", "org_groups.id"]),
    # org-tree walks down from a group to its children.
    sa.Index("ix_org_groups_tenant_parent", "tenant_id", "parent_id"),
)

org_group_members = sa.Table(
    "org_group_members",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("person_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("org_group_id", sa.BigInteger, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "person_id"], ["people.tenant_id", "people.id"]),
    sa.ForeignKeyConstraint(
        ["tenant_id", "org_group_id"], ["org_groups.tenant_id", "org_groups.id"]
    ),
    sa.Index("ix_org_group_members_tenant_group", "tenant_id", "org_group_id"),
)

circles = sa.Table(
    "circles",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
)

circle_members = sa.Table(
    "circle_members",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("circle_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("person_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.ForeignKeyConstraint(["tenant_id", "circle_id"], ["circles.tenant_id", "circles.id"]),
    sa.ForeignKeyConstraint(["tenant_id", "person_id"], ["people.tenant_id", "people.id"]),
)

# ---- delta tracking (contract, "Delta"; docs/delta.md) ------------------------------

# A record's filter attributes before a change that altered them, or before it was
# removed for good: what a delta reader needs to tell "left the filter" (report a
# Delete) from "never in scope" (report nothing). ``change_version`` is the version
# of the change itself; the attributes were valid until then.
departures = sa.Table(
    "departures",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("collection", sa.String(40), primary_key=True),
    sa.Column("record_id", sa.BigInteger, primary_key=True),
    sa.Column("change_version", sa.BigInteger, primary_key=True),
    sa.Column("old_date", sa.Date, nullable=True),
    sa.Column("old_kind", sa.String(16), nullable=True),
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Index(
        "ix_departures_tenant_collection_version", "tenant_id", "collection", "change_version"
    ),
)

# When each write transaction committed, by its last version: maps the contract's
# overlap window ("changes made shortly before the delta started") to a version.
change_marks = sa.Table(
    "change_marks",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("change_version", sa.BigInteger, primary_key=True),
    sa.Column("committed_at", Timestamp, nullable=False),
)

# One row per delta an API client started. At most one is active per client and
# collection; older ones stay as "superseded" until retention, so that their links
# can answer 410 with the reason.
deltas = sa.Table(
    "deltas",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("collection", sa.String(40), nullable=False),
    sa.Column("filter_text", sa.Text, nullable=False),
    sa.Column("filter_canonical", sa.Text, nullable=False),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("snapshot_version", sa.BigInteger, nullable=False),
    sa.Column("first_cursor", sa.BigInteger, nullable=False),
    # The date the delta's filter rules were checked against (the server's "today").
    sa.Column("started_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_used_at", Timestamp, nullable=False),
    sa.Index("ix_deltas_owner", "tenant_id", "client_id", "collection", "status"),
)

# ---- webhooks (contract, "Webhooks"; docs/webhooks.md) --------------------------------

# Autoincrementing 64-bit keys (SQLite's rowid alias must be INTEGER).
_BigSerial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# A subscription: one collection of one tenant, pushed to one URL. A deleted webhook
# keeps its row (soft delete: its delivery log stays readable). The last four columns
# are the delivery state of its oldest pending event (server/webhooks/_state.py).
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # a GUID, as the vendor's
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("collection", sa.String(40), nullable=False),
    sa.Column("destination_url", sa.String(2048), nullable=False),
    # The registration's externalReferences in canonical form ("" for none).
    sa.Column("external_references", sa.Text, nullable=False),
    sa.Column("signing_key", sa.String(100), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("disabled_reason", sa.String(300), nullable=True),
    sa.Column("valid_until", Timestamp, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("deleted_at", Timestamp, nullable=True),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Index("ix_webhooks_tenant_id_status", "tenant_id", "status"),
)

# The durable outbox: one row per event and webhook, written in the transaction of the
# change itself (so a crash after commit loses none), deleted once delivered.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", _BigSerial, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id"), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),  # the webhook-id header
    sa.Column("change_version", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_webhook_outbox_webhook_id_id", "webhook_id", "id"),
)

# Every delivery attempt, kept after the webhook is deleted (GET .../deliveries).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", _BigSerial, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id"), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("change_version", sa.BigInteger, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", Timestamp, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
)

# ---- the sandbox (issue 13; docs/sandbox.md) -----------------------------------------

# Injected failures of a tenant's API calls ("Faults"). A rule matches by client,
# method and path glob (NULL: any) and does one thing: answer ``status_code``, add
# ``latency_ms`` or cut the response (``action``). ``remaining`` is what is left of
# ``--count`` (NULL: unlimited, then ``probability`` may thin it out).
fault_rules = sa.Table(
    "fault_rules",
    metadata,
    sa.Column("id", _BigSerial, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=True),
    sa.Column("method", sa.String(10), nullable=True),
    sa.Column("path_glob", sa.String(500), nullable=True),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("retry_after", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=True),
    sa.Column("remaining", sa.Integer, nullable=True),
    sa.Column("probability", sa.Float, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    # Read on every API call of the tenant.
    sa.Index("ix_fault_rules_tenant_id_id", "tenant_id", "id"),
)

# One row per API call of a tenant ("Request log"), written in batches by each worker.
# Never a secret or a token: the token endpoint's form is logged without its secret,
# token query values are replaced by a digest, headers are not kept.
request_log = sa.Table(
    "request_log",
    metadata,
    sa.Column("id", _BigSerial, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("logged_at", Timestamp, nullable=False),
    sa.Column("client_id", sa.String(64), nullable=True),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("response_bytes", sa.BigInteger, nullable=False),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("error_reasons", sa.Text, nullable=True),  # a JSON list
    sa.Column("fault_rule_id", sa.BigInteger, nullable=True),  # no key: rules get cleared
    sa.Column("fault", sa.String(100), nullable=True),
    sa.Column("request_body", sa.Text, nullable=True),
    sa.Column("request_body_truncated", sa.Boolean, nullable=False),
    # The log is read newest first per tenant, and trimmed by count per tenant.
    sa.Index("ix_request_log_tenant_id_id", "tenant_id", "id"),
)

# ---- tenant snapshots (issue 13, item 4; docs/sandbox.md, "Reset and snapshots") --------

# A named copy of one tenant's state: its collections, custom references, org tree and
# circles, and its id counters (``counters``, a JSON object). ``seed`` holds the seed
# parameters of the ``seeded`` snapshot that seeding takes (JSON, null for others).
tenant_snapshots = sa.Table(
    "tenant_snapshots",
    metadata,
    sa.Column("id", _BigSerial, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("counters", sa.Text, nullable=False),
    sa.Column("seed", sa.Text, nullable=True),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)

# The rows of a snapshot, per table in parts of a few thousand rows: a JSON object
# {"columns": [...], "rows": [[...], ...]} (server/snapshots/_state.py).
tenant_snapshot_parts = sa.Table(
    "tenant_snapshot_parts",
    metadata,
    sa.Column("snapshot_id", sa.ForeignKey("tenant_snapshots.id"), primary_key=True),
    sa.Column("table_name", sa.String(40), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("payload", sa.Text, nullable=False),
)

REFERENCE_TABLES: dict[str, sa.Table] = {
    "people": people,
    "terminals": terminals,
    "activity-definitions": activity_definitions,
    "absence-definitions": absence_definitions,
    "counter-definitions": counter_definitions,
    "shift-definitions": shift_definitions,
}

TOTAL_TABLES: dict[str, sa.Table] = {
    "paid-presences": paid_presences,
    "activity-durations": activity_durations,
    "calculated-totals": calculated_totals,
}

COLLECTION_TABLES: dict[str, sa.Table] = {
    **REFERENCE_TABLES,
    "clockings": clockings,
    **TOTAL_TABLES,
}
