"""Realistic, reproducible demo data for a tenant: reference collections and clockings.

Pure functions, no database. Everything is derived from ``random.Random`` instances
seeded with strings, never the global generator, and every person and every
person-day has its own sub-seed (``f"{seed}:{person_id}:{day}"``), so generating more
days or more people never reshuffles what was already generated.

The model, in brief:

* Reference data: five shifts (Day 08:00-16:30, Early, Late, Night 22:00-06:00 whose
  end is 1800 minutes, Part-time morning), seven terminals (one, ``T-APP-01``, is the
  geolocated mobile app), a two-level activity structure (projects and cost centres
  with tasks under them, named in English, Dutch and French, with GUID ids; its
  previous version, 2018-2019, is listed too but no longer bookable), six absence
  reasons and five counters. People get names
  from Flemish, Walloon, German, English and other common Belgian name pools, unique
  7-digit badge numbers and ``E00001``-style employee numbers; a few are recent or
  future hires, a few have left. Person 1 is always an active Day-shift employee in
  service since 2020-01-06 (the tutorial clocks person 1 on 2026-01-15).
* Definitions in the vendor's shapes: Dutch and French translations, friendly names
  and codes, absence groups (absence or working elsewhere) and counter groups and
  units; two absence definitions cannot be clocking reasons (annual leave, and a
  disabled educational leave) and one counter is disabled.
* People's personal information, invented and from a sub-seed of its own
  (``f"{seed}:person:{id}:contact"``, so that it changes nothing else): initials,
  sex from the first name, a birth date 18 to 50 years before the hire, an
  ``@example.com`` e-mail, ``555`` telephone numbers, a made-up street in a real
  Belgian (or border) town, nationality from the name, the pay group and terminal
  group of the shift (office or operations). No value belongs to a real person.
* Each person has a fixed profile: a usual terminal, a home location for the mobile
  app, whether they skip break clockings, and (for about 15%) a project to book
  activities on.
* Each person-day in service: weekends off (about 5% of Late/Night people work a
  given Saturday), about 4% of workdays absent. A worked day has an in-clocking at
  shift start and an out-clocking at shift end (with jitter), a break out/in pair
  around the middle for shifts with a break, for project workers an Activity after
  the in, sometimes a switch after the break and an ActivityEnd before the out.
  About 5% of days have a Reason clocking: either a leave with a return later
  (``is_open`` False) or a leave for the rest of the day (``is_open`` True).
* Anomalies: about 2% of days lack the out-clocking; about 4% forgot it and the
  system generated one at shift end (``is_generated``, no terminal); about 2% of
  project days lack the Activity start; about 3% of clockings were edited
  (``original_time_of_day`` holds the registered time).

* Organisation: a small org tree (the company, Operations with Warehouse, Production
  and Maintenance under it, Head office with Finance, HR and IT) and four circles
  (first aiders, works council, fire wardens, a flexible-hours pilot). Each person is
  in one org group, a few in a parent group itself (supervisors, managers), so that
  ``org-group`` and ``org-tree`` differ (person 2 supervises Operations, person 3
  Head office); circle membership is drawn per person. Person 1 is in IT and in the
  flexible-hours pilot.

Counting InOut and Reason clockings together (a Reason clocking is a coded leave),
a complete day has an even number of them and a day missing its out an odd number.
A worked day averages about 3.7 clockings; an in-service calendar day, weekends
included, about 2.6.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict, TypeVar

from chronodelta.domain._guids import derived_guid
from chronodelta.domain._organisation import Circle, Organisation, OrgGroup
from chronodelta.domain._records import (
    MAX_TIME_OF_DAY,
    MIN_TIME_OF_DAY,
    AbsenceDefinition,
    ActivityDefinition,
    ActivityLevel,
    AllowedDuration,
    ClockingDraft,
    ClockingKind,
    CounterDefinition,
    CounterUnit,
    Person,
    ReferenceData,
    Sex,
    ShiftDefinition,
    Terminal,
)

__all__ = [
    "MOBILE_TERMINAL_CODE",
    "generate_clockings",
    "generate_organisation",
    "generate_reference_data",
]

# --- Reference data catalogues ------------------------------------------------------

# (code, name, start, end, break) in minutes since midnight; Night ends the next day.
# ``_SHIFT_TEXTS`` adds (Dutch name, French name, friendly name) per code.
_SHIFTS: tuple[tuple[str, str, int, int, int], ...] = (
    ("DAY", "Day", 480, 990, 30),
    ("EARLY", "Early", 360, 840, 30),
    ("LATE", "Late", 840, 1320, 30),
    ("NIGHT", "Night", 1320, 1800, 30),
    ("PTAM", "Part-time morning", 510, 750, 0),
)
_SHIFT_WEIGHTS: Mapping[str, int] = {"DAY": 55, "EARLY": 12, "LATE": 12, "NIGHT": 10, "PTAM": 11}
_SHIFT_TEXTS: Mapping[str, tuple[str, str, str]] = {
    "DAY": ("Dag", "Jour", "Day 08:00-16:30"),
    "EARLY": ("Vroege", "Matin", "Early 06:00-14:00"),
    "LATE": ("Late", "Après-midi", "Late 14:00-22:00"),
    "NIGHT": ("Nacht", "Nuit", "Night 22:00-06:00"),
    "PTAM": ("Deeltijds voormiddag", "Mi-temps matin", "Part-time 08:30-12:30"),
}
# Shifts worked outside office hours: their people are "Workers" in the operations
# terminal group; the others "Employees" in the offices group.
_OPERATIONS_SHIFTS = frozenset({"EARLY", "LATE", "NIGHT"})
_PAY_GROUPS = ("Employees", "Workers")

MOBILE_TERMINAL_CODE = "T-APP-01"
_TERMINALS: tuple[tuple[str, str], ...] = (
    ("Main entrance", "T-ENT-01"),
    ("Warehouse gate", "T-WHS-01"),
    ("Reception kiosk", "T-REC-01"),
    ("Mobile app", MOBILE_TERMINAL_CODE),
    ("Production hall", "T-PRD-01"),
    ("Office 2nd floor", "T-OFF-02"),
    ("Loading dock", "T-DCK-01"),
)
# (Dutch, French) names per terminal code.
_TERMINAL_TEXTS: Mapping[str, tuple[str, str]] = {
    "T-ENT-01": ("Hoofdingang", "Entrée principale"),
    "T-WHS-01": ("Magazijnpoort", "Porte de l'entrepôt"),
    "T-REC-01": ("Onthaalzuil", "Borne d'accueil"),
    MOBILE_TERMINAL_CODE: ("Mobiele app", "Application mobile"),
    "T-PRD-01": ("Productiehal", "Hall de production"),
    "T-OFF-02": ("Kantoor 2de verdieping", "Bureau 2e étage"),
    "T-DCK-01": ("Laadkade", "Quai de chargement"),
}
# Usual-terminal weights for office hours and for operational (early/late/night) shifts.
_OFFICE_TERMINALS: Mapping[str, int] = {
    "T-ENT-01": 8,
    "T-OFF-02": 4,
    "T-REC-01": 2,
    MOBILE_TERMINAL_CODE: 4,
    "T-PRD-01": 2,
}
_OPERATIONS_TERMINALS: Mapping[str, int] = {
    "T-WHS-01": 6,
    "T-PRD-01": 6,
    "T-DCK-01": 4,
    "T-ENT-01": 2,
    MOBILE_TERMINAL_CODE: 1,
}

# (code, name, ERP reference, ((task code, task name), ...)): the current activity
# structure version, in use since 2020 (before person 1's first day).
_Projects = tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...]
_PROJECTS: _Projects = (
    (
        "P100",
        "Customer portal",
        "ERP-4711",
        (("DEV", "Development"), ("TST", "Testing"), ("MTG", "Meetings")),
    ),
    (
        "P200",
        "Warehouse automation",
        "ERP-4712",
        (("ENG", "Engineering"), ("INS", "Installation"), ("DOC", "Documentation")),
    ),
    (
        "P300",
        "ERP migration",
        "ERP-4815",
        (("ANA", "Analysis"), ("DEV", "Development"), ("TRN", "User training")),
    ),
    ("CC410", "Maintenance", "ERP-5100", (("PRV", "Preventive maintenance"), ("REP", "Repairs"))),
    ("CC520", "Quality control", "ERP-5200", (("INC", "Incoming inspection"), ("AUD", "Audits"))),
)
_STRUCTURE_SINCE = dt.date(2020, 1, 1)
# The structure version before it (2018-2019): no longer bookable, still listed, and
# reusing a code (external references are unique within a version and level only).
_PREVIOUS_PROJECTS: _Projects = (
    ("P050", "Intranet", "ERP-4600", (("DEV", "Development"),)),
    ("CC410", "Maintenance", "ERP-5100", (("REP", "Repairs"),)),
)
_PREVIOUS_STRUCTURE = (dt.date(2018, 1, 1), dt.date(2019, 12, 31))
# Names in Dutch and French (the vendor's name.translations, by language code).
_TRANSLATIONS: Mapping[str, tuple[str, str]] = {
    "Customer portal": ("Klantenportaal", "Portail client"),
    "Warehouse automation": ("Magazijnautomatisering", "Automatisation de l'entrepôt"),
    "ERP migration": ("ERP-migratie", "Migration ERP"),
    "Maintenance": ("Onderhoud", "Maintenance"),
    "Quality control": ("Kwaliteitscontrole", "Contrôle qualité"),
    "Intranet": ("Intranet", "Intranet"),
    "Development": ("Ontwikkeling", "Développement"),
    "Testing": ("Testen", "Tests"),
    "Meetings": ("Vergaderingen", "Réunions"),
    "Engineering": ("Engineering", "Ingénierie"),
    "Installation": ("Installatie", "Installation"),
    "Documentation": ("Documentatie", "Documentation"),
    "Analysis": ("Analyse", "Analyse"),
    "User training": ("Gebruikersopleiding", "Formation des utilisateurs"),
    "Preventive maintenance": ("Preventief onderhoud", "Maintenance préventive"),
    "Repairs": ("Herstellingen", "Réparations"),
    "Incoming inspection": ("Ingangscontrole", "Contrôle à la réception"),
    "Audits": ("Audits", "Audits"),
}
# The GUIDs of the demo's activity definitions and structure versions: version-5
# UUIDs of the seed and the code, so that the same seed gives the same ids.
_DEMO_NAMESPACE = uuid.UUID("0d6f7a52-3c1b-4f0e-8b7a-5e2d9c4a1f60")

# (code, name, weight among Reason clockings, share of leaves that end the day); the
# last two are no clocking reasons (weight 0), see ``_ABSENCE_DETAILS``.
_ABSENCES: tuple[tuple[str, str, int, float], ...] = (
    ("DOC", "Doctor visit", 35, 0.3),
    ("TRN", "Training", 15, 0.4),
    ("UNI", "Union meeting", 8, 0.2),
    ("SICK", "Sickness", 15, 1.0),
    ("MIS", "Official business / Mission", 17, 0.4),
    ("PERS", "Personal leave", 10, 0.5),
    ("VAC", "Annual leave", 0, 1.0),
    ("EDU", "Educational leave", 0, 1.0),
)
_FULL, _HALF, _INTERVAL, _DURATION = (
    AllowedDuration.FULL_DAY,
    AllowedDuration.HALF_DAY,
    AllowedDuration.INTERVAL,
    AllowedDuration.DURATION,
)
# code -> (Dutch, French, friendly name, friendly code, allowed durations, absence
# group (1 absence, 2 working elsewhere), reason for clocking, enabled)
_ABSENCE_DETAILS: Mapping[
    str, tuple[str, str, str, str, tuple[AllowedDuration, ...], int, bool, bool]
] = {
    "DOC": (
        "Doktersbezoek",
        "Visite médicale",
        "Doctor",
        "DR",
        (_INTERVAL, _DURATION),
        1,
        True,
        True,
    ),
    "TRN": ("Opleiding", "Formation", "Training", "TR", (_FULL, _HALF, _INTERVAL), 2, True, True),
    "UNI": ("Vakbondsvergadering", "Réunion syndicale", "Union", "UN", (_INTERVAL,), 1, True, True),
    "SICK": ("Ziekte", "Maladie", "Sick", "ZK", (_FULL, _HALF, _INTERVAL), 1, True, True),
    "MIS": ("Dienstopdracht", "Mission", "Mission", "MI", (_FULL, _HALF, _INTERVAL), 2, True, True),
    "PERS": (
        "Persoonlijk verlof",
        "Congé personnel",
        "Personal",
        "PV",
        (_HALF, _INTERVAL),
        1,
        True,
        True,
    ),
    "VAC": (
        "Jaarlijkse vakantie",
        "Vacances annuelles",
        "Holiday",
        "VA",
        (_FULL, _HALF),
        1,
        False,
        True,
    ),
    "EDU": (
        "Educatief verlof",
        "Congé-éducation",
        "Study leave",
        "EV",
        (_FULL, _DURATION),
        1,
        False,
        False,
    ),
}

_COUNTERS: tuple[tuple[str, str], ...] = (
    ("OVT", "Overtime"),
    ("FLEX", "Flexi balance"),
    ("MEAL", "Meal vouchers"),
    ("NPR", "Night premium"),
    ("SATP", "Saturday premium"),
    ("CALL", "On-call allowance"),
)
# code -> (Dutch, French, friendly name, friendly code, counter group, unit, enabled);
# groups: 1 time balances, 2 allowances, 3 premiums.
_COUNTER_DETAILS: Mapping[str, tuple[str, str, str, str, int, CounterUnit, bool]] = {
    "OVT": ("Overuren", "Heures supplémentaires", "Overtime", "OU", 1, CounterUnit.DURATION, True),
    "FLEX": (
        "Glijtijdsaldo",
        "Solde d'horaire flexible",
        "Flexi",
        "GL",
        1,
        CounterUnit.DURATION,
        True,
    ),
    "MEAL": ("Maaltijdcheques", "Chèques-repas", "Meal", "MC", 2, CounterUnit.INSTANCE, True),
    "NPR": ("Nachtpremie", "Prime de nuit", "Night", "NP", 3, CounterUnit.DURATION, True),
    "SATP": ("Zaterdagpremie", "Prime du samedi", "Saturday", "ZP", 3, CounterUnit.INTERVAL, True),
    "CALL": (
        "Wachtdienstvergoeding",
        "Indemnité de garde",
        "On call",
        "WD",
        2,
        CounterUnit.INSTANCE,
        False,
    ),
}

# Which counters time booked on an absence or a project feeds (docs/calculation.md):
# training and missions are tracked on the flexi balance and meal vouchers, and
# maintenance work on the overtime counter.
_COUNTER_LINKS: dict[str, tuple[str, ...]] = {
    "TRN": ("FLEX",),
    "MIS": ("MEAL",),
    "CC410": ("OVT",),
}

# Name pools: (weight, first names, last names), each list comma-separated so that
# multi-word surnames ("Van den Broeck", "El Amrani") stay whole.
_NAME_POOLS: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (weight, tuple(first.split(", ")), tuple(last.split(", ")))
    for weight, first, last in (
        (  # Flemish / Dutch
            35,
            (
                "Jan, Pieter, Lotte, Emma, Lucas, Noah, Sofie, Wouter, Bram, Elke, Joris, "
                "Lien, Ruben, Femke, Stijn, Hanne, Jeroen, Marieke, Koen, Inge, Annelies, "
                "Daan, Nele, Jelle"
            ),
            (
                "Peeters, Janssens, Maes, Jacobs, Mertens, Willems, Claes, Goossens, Wouters, "
                "De Smet, Van den Broeck, Vermeulen, De Vries, Van Dijk, Hermans, Verhoeven, "
                "Dewulf, Van Damme, Declercq, Smets"
            ),
        ),
        (  # Walloon / French
            30,
            (
                "Louis, Camille, Chloé, Hugo, Léa, Mathis, Manon, Julien, Élodie, Nicolas, "
                "Aurélie, Théo, Inès, Maxime, Céline, Antoine, Margaux, François"
            ),
            (
                "Dubois, Lambert, Dupont, Martin, Simon, Laurent, Lefèvre, Leclercq, Renard, "
                "Fontaine, Moreau, Girard, Denis, Rousseau, Mercier, Collard"
            ),
        ),
        (  # German (Eastern cantons, cross-border)
            8,
            (
                "Lukas, Anna, Jonas, Lea, Felix, Hannah, Maximilian, Katharina, Tobias, Julia, "
                "Stefan, Sabine, Jürgen, Greta"
            ),
            (
                "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Hoffmann, "
                "Schulz, Krüger, Zimmermann"
            ),
        ),
        (  # English
            7,
            (
                "Oliver, Amelia, Harry, Olivia, George, Isla, Jack, Emily, James, Charlotte, "
                "Sophie, William"
            ),
            ("Smith, Jones, Taylor, Brown, Williams, Wilson, Evans, Thompson, Walker, Wright"),
        ),
        (  # other common Belgian origins: Moroccan, Turkish, Polish, Italian, Congolese
            20,
            (
                "Mohamed, Fatima, Yasmine, Karim, Ayşe, Mehmet, Nour, Samir, Aïcha, Agnieszka, "
                "Piotr, Giulia, Marco, Emre, Salma, Grace, Patrick"
            ),
            (
                "El Amrani, Benali, Yılmaz, Öztürk, Kaya, Haddad, Kowalski, Nowak, Rossi, "
                "Esposito, Lombardi, Mbuyi, Kabongo, Bouzid, Aydın"
            ),
        ),
    )
)

# (id, name, parent id, weight among people): parents before children. Most people
# sit in a leaf group; the weights of Operations, Head office and the company itself
# are its supervisors and managers.
_ORG_GROUPS: tuple[tuple[int, str, int | None, int], ...] = (
    (1, "Acme Belgium", None, 2),
    (2, "Operations", 1, 5),
    (3, "Head office", 1, 4),
    (4, "Warehouse", 2, 25),
    (5, "Production", 2, 25),
    (6, "Maintenance", 2, 8),
    (7, "Finance", 3, 10),
    (8, "HR", 3, 6),
    (9, "IT", 3, 15),
)
# Person 1 is in IT; persons 2 and 3 supervise Operations and Head office, so that even
# a small tenant's org-group(2) and org-tree(2) select different people.
_FIXED_ORG_GROUPS: Mapping[int, int] = {1: 9, 2: 2, 3: 3}

# (id, name, share of people in it)
_CIRCLES: tuple[tuple[int, str, float], ...] = (
    (1, "First aiders", 0.12),
    (2, "Works council", 0.08),
    (3, "Fire wardens", 0.08),
    (4, "Flexible hours pilot", 0.25),
)
_PERSON_ONE_CIRCLES = frozenset({4})

_T = TypeVar("_T")

_PERSON_ONE_IN_SERVICE = dt.date(2020, 1, 6)
_BADGE_HALF = 3000  # badges are a keyed permutation of 3000 x 3000 = 9,000,000 numbers


# --- Reference data -----------------------------------------------------------------


def generate_reference_data(*, people: int, seed: int, today: dt.date) -> ReferenceData:
    """Build a tenant's reference collections and ``people`` persons (ids from 1).

    Each person is derived from their own sub-seed, so person ``n`` is the same
    whatever ``people`` is. Dates are relative to ``today``.
    """
    if people < 0:
        raise ValueError(f"people must be >= 0, got {people}")
    shifts = _shift_definitions()
    shift_ids = {shift.shift_code: shift.id for shift in shifts}
    badge_keys = _badge_keys(seed)
    return ReferenceData(
        people=tuple(
            _make_person(pid, seed=seed, today=today, shift_ids=shift_ids, badge_keys=badge_keys)
            for pid in range(1, people + 1)
        ),
        terminals=tuple(
            Terminal(
                id=i,
                name=name,
                external_code=code,
                name_translations=_dutch_and_french(*_TERMINAL_TEXTS[code]),
            )
            for i, (name, code) in enumerate(_TERMINALS, start=1)
        ),
        activity_definitions=_activity_definitions(seed),
        absence_definitions=tuple(
            _absence_definition(i, code, name) for i, (code, name, _, _) in enumerate(_ABSENCES, 1)
        ),
        counter_definitions=tuple(
            _counter_definition(i, code, name) for i, (code, name) in enumerate(_COUNTERS, 1)
        ),
        shift_definitions=shifts,
    )


def _dutch_and_french(dutch: str, french: str) -> dict[str, str]:
    return {"fr": french, "nl": dutch}


def _shift_definitions() -> tuple[ShiftDefinition, ...]:
    return tuple(
        ShiftDefinition(
            id=i,
            name=name,
            shift_code=code,
            start_minutes=start,
            end_minutes=end,
            break_minutes=brk,
            name_translations=_dutch_and_french(*_SHIFT_TEXTS[code][:2]),
            friendly_name=_SHIFT_TEXTS[code][2],
        )
        for i, (code, name, start, end, brk) in enumerate(_SHIFTS, start=1)
    )


def _absence_definition(absence_id: int, code: str, name: str) -> AbsenceDefinition:
    dutch, french, friendly, short, durations, group, reason, enabled = _ABSENCE_DETAILS[code]
    return AbsenceDefinition(
        id=absence_id,
        name=name,
        absence_code=code,
        counter_definition_ids=_counter_ids(code),
        name_translations=_dutch_and_french(dutch, french),
        friendly_name=friendly,
        friendly_code=short,
        allowed_durations=durations,
        is_enabled=enabled,
        is_reason_for_clocking=reason,
        absence_group_id=group,
    )


def _counter_definition(counter_id: int, code: str, name: str) -> CounterDefinition:
    dutch, french, friendly, short, group, unit, enabled = _COUNTER_DETAILS[code]
    return CounterDefinition(
        id=counter_id,
        name=name,
        counter_code=code,
        name_translations=_dutch_and_french(dutch, french),
        friendly_name=friendly,
        friendly_code=short,
        is_enabled=enabled,
        counter_group_id=group,
        unit=unit,
    )


def _counter_ids(code: str) -> tuple[int, ...]:
    """The counters an absence or project code feeds (ids follow ``_COUNTERS``)."""
    counter_ids = {counter: i for i, (counter, _) in enumerate(_COUNTERS, start=1)}
    return tuple(counter_ids[c] for c in _COUNTER_LINKS.get(code, ()))


def _activity_definitions(seed: int) -> tuple[ActivityDefinition, ...]:
    """Two structure versions: the current one (bookable since 2020) and the previous
    one (2018-2019). In each, projects (level 1) each followed by their tasks (level 2)."""
    return _structure(seed, "current", _PROJECTS, (_STRUCTURE_SINCE, None)) + _structure(
        seed, "previous", _PREVIOUS_PROJECTS, _PREVIOUS_STRUCTURE
    )


def _structure(
    seed: int, label: str, projects: _Projects, active: tuple[dt.date, dt.date | None]
) -> tuple[ActivityDefinition, ...]:
    def guid(name: str) -> str:
        return derived_guid(_DEMO_NAMESPACE, f"{seed}:{label}:{name}")

    version = guid("structure-version")
    result: list[ActivityDefinition] = []
    for code, name, erp, tasks in projects:
        project = ActivityDefinition(
            id=guid(f"activity-definition:{code}"),
            name=name,
            level=1,
            parent_id=None,
            data_entry_code=code,
            external_reference=erp,
            structure_version=version,
            short_code=code,
            info="Cost centre" if code.startswith("CC") else f"Customer project, ERP order {erp}",
            active_from=active[0],
            active_until=active[1],
            name_translations=_translated(name),
            counter_definition_ids=_counter_ids(code),
        )
        result.append(project)
        for number, (task_code, task_name) in enumerate(tasks, start=1):
            result.append(
                ActivityDefinition(
                    id=guid(f"activity-definition:{code}-{task_code}"),
                    name=f"{name} - {task_name}",
                    level=2,
                    parent_id=project.id,
                    data_entry_code=f"{code}-{task_code}",
                    external_reference=f"{erp}-{number * 10:02d}",
                    structure_version=version,
                    short_code=task_code,
                    active_from=active[0],
                    active_until=active[1],
                    name_translations=_translated(name, task_name),
                )
            )
    return tuple(result)


def _translated(*parts: str) -> dict[str, str]:
    """``{"nl": ..., "fr": ...}`` for a name made of these parts (joined by " - ")."""
    return {
        language: " - ".join(_TRANSLATIONS[part][index] for part in parts)
        for index, language in enumerate(("nl", "fr"))
    }


def _make_person(
    person_id: int,
    *,
    seed: int,
    today: dt.date,
    shift_ids: Mapping[str, int],
    badge_keys: Sequence[int],
) -> Person:
    rng = random.Random(f"{seed}:person:{person_id}")
    first_name, last_name = _pick_name(rng)
    if person_id == 1:
        in_service: dt.date = min(_PERSON_ONE_IN_SERVICE, today - dt.timedelta(days=365))
        out_of_service: dt.date | None = None
        shift_code = "DAY"
    else:
        in_service, out_of_service = _service_period(rng, today)
        shift_code = _weighted(rng, list(_SHIFT_WEIGHTS), list(_SHIFT_WEIGHTS.values()))
    contact = _contact(person_id, seed, first_name, last_name, in_service)
    operations = shift_code in _OPERATIONS_SHIFTS
    return Person(
        id=person_id,
        badge_number=_badge_number(person_id, badge_keys),
        employee_number=f"E{person_id:05d}",
        first_name=first_name,
        last_name=last_name,
        in_service_date=in_service,
        out_of_service_date=out_of_service,
        shift_definition_id=shift_ids[shift_code],
        pay_group=_PAY_GROUPS[operations],
        terminal_group_id=2 if operations else 1,
        **contact,
    )


# --- People's personal information (invented: nothing here is a real person's) -------

_FEMALE_FIRST_NAME_LIST = (
    "Lotte, Emma, Sofie, Elke, Lien, Femke, Hanne, Marieke, Inge, Annelies, Nele, "
    "Camille, Chloé, Léa, Manon, Élodie, Aurélie, Inès, Céline, Margaux, Anna, Lea, "
    "Hannah, Katharina, Julia, Sabine, Greta, Amelia, Olivia, Isla, Emily, Charlotte, "
    "Sophie, Fatima, Yasmine, Ayşe, Nour, Aïcha, Agnieszka, Giulia, Salma, Grace"
)
_FEMALE_FIRST_NAMES = frozenset(_FEMALE_FIRST_NAME_LIST.split(", "))
# Made-up street names, by the language of the town they are put in.
_STREETS: Mapping[str, tuple[str, ...]] = {
    "nl": (
        "Klaprooswegel",
        "Ooievaarsnestdreef",
        "Kiezelpad",
        "Hopbelstraat",
        "Zilverspardreef",
        "Wolkenbergstraat",
        "Kantklossersweg",
        "Duizendschoonlaan",
        "Vlierbesstraat",
    ),
    "fr": (
        "Rue des Trois Lanternes",
        "Chemin du Vieux Cadran",
        "Avenue des Cerfs-Volants",
        "Rue du Moulin Bleu",
        "Clos des Alouettes Grises",
        "Rue de la Plume d'Or",
    ),
    "de": ("Laternenweg", "Am Kieselhang", "Eulenwinkel", "Sonnenuhrgasse"),
}
# (weight, country, postal code, town, street language): real towns, invented streets.
_TOWNS: tuple[tuple[int, str, str, str, str], ...] = (
    (14, "BE", "1000", "Brussel", "fr"),
    (6, "BE", "1050", "Ixelles", "fr"),
    (8, "BE", "3000", "Leuven", "nl"),
    (7, "BE", "2800", "Mechelen", "nl"),
    (7, "BE", "9000", "Gent", "nl"),
    (7, "BE", "2000", "Antwerpen", "nl"),
    (6, "BE", "1300", "Wavre", "fr"),
    (5, "BE", "5000", "Namur", "fr"),
    (5, "BE", "4000", "Liège", "fr"),
    (5, "BE", "3500", "Hasselt", "nl"),
    (4, "BE", "9300", "Aalst", "nl"),
    (4, "BE", "7000", "Mons", "fr"),
    (2, "BE", "4700", "Eupen", "de"),
    (1, "NL", "6211", "Maastricht", "nl"),
    (1, "DE", "52062", "Aachen", "de"),
    (1, "FR", "59000", "Lille", "fr"),
)
# Nationality by surname, for the names of other origins (most of them are Belgian).
_SURNAME_NATIONALITIES: Mapping[str, str] = {
    **dict.fromkeys(("El Amrani", "Benali", "Haddad", "Bouzid"), "MA"),
    **dict.fromkeys(("Yılmaz", "Öztürk", "Kaya", "Aydın"), "TR"),
    **dict.fromkeys(("Kowalski", "Nowak"), "PL"),
    **dict.fromkeys(("Rossi", "Esposito", "Lombardi"), "IT"),
    **dict.fromkeys(("Mbuyi", "Kabongo"), "CD"),
    **dict.fromkeys(("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer"), "DE"),
    **dict.fromkeys(("Wagner", "Becker", "Hoffmann", "Schulz", "Krüger", "Zimmermann"), "DE"),
    **dict.fromkeys(("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson"), "GB"),
    **dict.fromkeys(("Evans", "Thompson", "Walker", "Wright"), "GB"),
}


class _Contact(TypedDict):
    initials: str
    telephone: str | None
    mobile: str | None
    email: str | None
    address: str
    postal_code: str
    town: str
    country_iso_code: str
    nationality_iso_code: str
    sex: Sex
    birth_date: dt.date


def _contact(
    person_id: int, seed: int, first_name: str, last_name: str, in_service: dt.date
) -> _Contact:
    """The personal information fields of a person, from a sub-seed of their own."""
    rng = random.Random(f"{seed}:person:{person_id}:contact")
    _, country, postal_code, town, language = _weighted(
        rng, list(_TOWNS), [town[0] for town in _TOWNS]
    )
    number = f"{rng.randint(1, 180)}" + (
        f" bus {rng.randint(1, 12)}" if rng.random() < 0.15 else ""
    )
    nationality = _SURNAME_NATIONALITIES.get(last_name)
    if nationality is None or rng.random() < 0.4:  # most second generation are Belgian
        nationality = country if country != "BE" and rng.random() < 0.7 else "BE"
    local = ".".join(_ascii_word(name) for name in (first_name, last_name))
    return {
        "initials": f"{first_name[0]}.{last_name[0]}.",
        "telephone": f"+32 2 555 {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"
        if rng.random() < 0.4
        else None,
        "mobile": f"+32 470 55 5{rng.randint(0, 9)} {rng.randint(0, 99):02d}"
        if rng.random() < 0.75
        else None,
        "email": f"{local}.{person_id}@example.com" if rng.random() < 0.92 else None,
        "address": f"{rng.choice(_STREETS[language])} {number}",
        "postal_code": postal_code,
        "town": town,
        "country_iso_code": country,
        "nationality_iso_code": nationality,
        "sex": _sex(rng, first_name),
        "birth_date": in_service - dt.timedelta(days=rng.randint(18 * 365 + 5, 50 * 365)),
    }


def _sex(rng: random.Random, first_name: str) -> Sex:
    roll = rng.random()
    if roll < 0.015:
        return Sex.UNKNOWN  # not registered
    if roll < 0.02:
        return Sex.OTHER
    return Sex.FEMALE if first_name in _FEMALE_FIRST_NAMES else Sex.MALE


def _ascii_word(name: str) -> str:
    """ "Van den Broeck" -> "vandenbroeck", "Öztürk" -> "ozturk", "Yılmaz" -> "yilmaz"."""
    flat = unicodedata.normalize("NFKD", name.replace("ı", "i"))
    return "".join(c for c in flat if c.isascii() and c.isalnum()).lower()


def _badge_keys(seed: int) -> tuple[int, ...]:
    rng = random.Random(f"{seed}:badges")
    return tuple(rng.getrandbits(32) for _ in range(4))


def _badge_number(person_id: int, keys: Sequence[int]) -> str:
    """A 7-digit badge that looks random yet is unique: a small Feistel permutation.

    Each round maps (left, right) to (right, left + f(right)), a bijection whatever f
    is, so distinct ids below 9,000,000 always get distinct badges.
    """
    left, right = divmod(person_id % (_BADGE_HALF * _BADGE_HALF), _BADGE_HALF)
    for key in keys:
        mixed = ((right ^ key) * 0x9E3779B1 >> 13) % _BADGE_HALF
        left, right = right, (left + mixed) % _BADGE_HALF
    return str(1_000_000 + left * _BADGE_HALF + right)


def _pick_name(rng: random.Random) -> tuple[str, str]:
    """First and last name, usually from one pool, sometimes a mixed couple's name."""
    weights = [pool[0] for pool in _NAME_POOLS]
    first_pool = _weighted(rng, list(_NAME_POOLS), weights)
    last_pool = first_pool if rng.random() < 0.85 else _weighted(rng, list(_NAME_POOLS), weights)
    return rng.choice(first_pool[1]), rng.choice(last_pool[2])


def _service_period(rng: random.Random, today: dt.date) -> tuple[dt.date, dt.date | None]:
    """Mostly long-serving staff; some recent hires, a few future hires and leavers."""
    roll = rng.random()
    if roll < 0.02:
        return today + dt.timedelta(days=rng.randint(1, 45)), None
    if roll < 0.08:
        return today - dt.timedelta(days=rng.randint(0, 90)), None
    in_service = today - dt.timedelta(days=rng.randint(120, 12 * 365))
    if rng.random() < 0.07:
        earliest = max(in_service + dt.timedelta(days=30), today - dt.timedelta(days=400))
        span = (today - dt.timedelta(days=1) - earliest).days
        return in_service, earliest + dt.timedelta(days=rng.randint(0, max(span, 0)))
    return in_service, None


# --- Organisation -------------------------------------------------------------------


def generate_organisation(people: Sequence[Person], *, seed: int) -> Organisation:
    """The org tree and circles, and where each of ``people`` belongs in them.

    Each person's groups come from their own sub-seed, so person ``n`` is placed the
    same whatever the other people are.
    """
    groups = tuple(OrgGroup(gid, name, parent) for gid, name, parent, _ in _ORG_GROUPS)
    ids = sorted(person.id for person in people)
    placed = {pid: _org_group_of(pid, seed) for pid in ids}
    in_circles = {pid: _circles_of(pid, seed) for pid in ids}
    return Organisation(
        org_groups=groups,
        org_group_members=tuple(placed.items()),
        circles=tuple(
            Circle(cid, name, tuple(pid for pid in ids if cid in in_circles[pid]))
            for cid, name, _ in _CIRCLES
        ),
    )


def _org_group_of(person_id: int, seed: int) -> int:
    if person_id in _FIXED_ORG_GROUPS:
        return _FIXED_ORG_GROUPS[person_id]
    rng = random.Random(f"{seed}:org-group:{person_id}")
    return _weighted(rng, [g[0] for g in _ORG_GROUPS], [g[3] for g in _ORG_GROUPS])


def _circles_of(person_id: int, seed: int) -> frozenset[int]:
    if person_id == 1:
        return _PERSON_ONE_CIRCLES
    rng = random.Random(f"{seed}:circles:{person_id}")
    return frozenset(cid for cid, _, share in _CIRCLES if rng.random() < share)


# --- Clockings: per-tenant catalogue and per-person profiles ------------------------


@dataclass(frozen=True, slots=True)
class _Shift:
    start: int
    end: int
    break_minutes: int

    @property
    def is_operational(self) -> bool:
        """Early, Late and Night shifts: outside office hours."""
        return self.start < 420 or self.start >= 780

    @property
    def works_saturdays(self) -> bool:
        return self.start >= 780


_FALLBACK_SHIFT = _Shift(start=480, end=990, break_minutes=30)


@dataclass(frozen=True, slots=True)
class _Catalog:
    """What the generator needs from the reference data, indexed once."""

    shifts: Mapping[int, _Shift]
    terminal_ids: tuple[int, ...]
    terminal_codes: Mapping[int, str]
    mobile_terminal_id: int | None
    reason_ids: tuple[int, ...]
    reason_weights: tuple[int, ...]
    reason_open_share: Mapping[int, float]
    projects: Mapping[str, tuple[str, ...]]  # level-1 GUID -> its level-2 GUIDs

    @classmethod
    def of(cls, reference: ReferenceData) -> _Catalog:
        absences = {code: (weight, share) for code, _, weight, share in _ABSENCES}
        defaults = (1, 0.3)
        # Only what can be booked today: definitions without an end of activity.
        bookable = [a for a in reference.activity_definitions if a.active_until is None]
        tasks: dict[str, list[str]] = {a.id: [] for a in bookable if a.level == 1}
        for activity in bookable:
            if activity.level == 2 and activity.parent_id in tasks:
                tasks[activity.parent_id].append(activity.id)
        # Only enabled reason codes are clocked (annual leave is booked as an absence).
        reasons = [
            a for a in reference.absence_definitions if a.is_reason_for_clocking and a.is_enabled
        ]
        return cls(
            shifts={
                s.id: _Shift(s.start_minutes, s.end_minutes, s.break_minutes)
                for s in reference.shift_definitions
            },
            terminal_ids=tuple(t.id for t in reference.terminals),
            terminal_codes={t.id: t.external_code for t in reference.terminals},
            mobile_terminal_id=next(
                (t.id for t in reference.terminals if t.external_code == MOBILE_TERMINAL_CODE),
                None,
            ),
            reason_ids=tuple(a.id for a in reasons),
            reason_weights=tuple(absences.get(a.absence_code, defaults)[0] for a in reasons),
            reason_open_share={a.id: absences.get(a.absence_code, defaults)[1] for a in reasons},
            projects={pid: tuple(ids) for pid, ids in tasks.items() if ids},
        )


@dataclass(frozen=True, slots=True)
class _Profile:
    """A person's fixed habits, drawn once from their own sub-seed."""

    person: Person
    shift: _Shift
    terminal_id: int | None
    home: tuple[float, float]  # longitude, latitude
    skips_breaks: bool
    project_id: str | None

    def in_service(self, day: dt.date) -> bool:
        out = self.person.out_of_service_date
        return self.person.in_service_date <= day and (out is None or day <= out)


def _make_profile(person: Person, catalog: _Catalog, seed: int) -> _Profile:
    rng = random.Random(f"{seed}:{person.id}:profile")
    shift = catalog.shifts.get(person.shift_definition_id or 0, _FALLBACK_SHIFT)
    preferences = _OPERATIONS_TERMINALS if shift.is_operational else _OFFICE_TERMINALS
    terminal_id = None
    if catalog.terminal_ids:
        weights = [preferences.get(catalog.terminal_codes[t], 1) for t in catalog.terminal_ids]
        terminal_id = _weighted(rng, list(catalog.terminal_ids), weights)
    home = (4.35 + rng.uniform(-0.9, 0.9), 50.85 + rng.uniform(-0.35, 0.35))
    skips_breaks = rng.random() < 0.15
    project_id = None
    if catalog.projects and rng.random() < 0.15:
        project_id = rng.choice(list(catalog.projects))
    return _Profile(person, shift, terminal_id, home, skips_breaks, project_id)


# --- Clockings: the generator -------------------------------------------------------


def generate_clockings(
    reference: ReferenceData,
    *,
    days: int,
    until: dt.date,
    seed: int,
) -> Iterator[ClockingDraft]:
    """Lazily yield the clockings of the ``days`` days ending at ``until`` (inclusive).

    Day by day in date order, then person by person in id order; a person-day's
    clockings in time order. Memory does not grow with the number yielded.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    return _clockings(reference, days=days, until=until, seed=seed)


def _clockings(
    reference: ReferenceData,
    *,
    days: int,
    until: dt.date,
    seed: int,
) -> Iterator[ClockingDraft]:
    catalog = _Catalog.of(reference)
    profiles = [
        _make_profile(person, catalog, seed)
        for person in sorted(reference.people, key=lambda p: p.id)
    ]
    first = until - dt.timedelta(days=days - 1)
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        for profile in profiles:
            if profile.in_service(day):
                yield from _person_day(profile, day, catalog, seed)


@dataclass(slots=True)
class _Event:
    """A clocking being assembled: its registered time and kind-specific fields."""

    time: int
    kind: ClockingKind
    reason_id: int | None = None
    is_open: bool | None = None
    levels: tuple[ActivityLevel, ...] = ()
    generated: bool = False
    is_break: bool = False
    terminal_id: int | None = None
    longitude: float | None = None
    latitude: float | None = None
    original: int | None = None


def _person_day(
    profile: _Profile,
    day: dt.date,
    catalog: _Catalog,
    seed: int,
) -> list[ClockingDraft]:
    rng = random.Random(f"{seed}:{profile.person.id}:{day.isoformat()}")
    if not _works(profile, day, rng):
        return []
    shift = profile.shift
    start = shift.start + round(rng.triangular(-12, 15, -3))
    end = shift.end + round(rng.triangular(-8, 25, 3))
    events = [_Event(start, ClockingKind.IN_OUT)]
    events += _break_events(profile, rng, start, end)
    events, leave_end = _reason_events(rng, events, start, end, catalog)
    day_end = end if leave_end is None else leave_end
    events += _activity_events(profile, rng, events, start, day_end, catalog)
    if leave_end is None:
        events += _out_event(rng, end, shift)
    return _finish(profile, day, events, rng, catalog)


def _works(profile: _Profile, day: dt.date, rng: random.Random) -> bool:
    """Weekends off (some Late/Night people work a Saturday); ~4% of workdays absent."""
    weekday = day.weekday()
    if weekday == 6:
        return False
    if weekday == 5 and not (profile.shift.works_saturdays and rng.random() < 0.05):
        return False
    return rng.random() >= 0.04


def _break_events(profile: _Profile, rng: random.Random, start: int, end: int) -> list[_Event]:
    """A break out/in pair around the middle of the shift, unless skipped."""
    length = profile.shift.break_minutes
    if length <= 0 or profile.skips_breaks or rng.random() < 0.05:
        return []
    out = (start + end) // 2 + rng.randint(-45, 30)
    back = out + length + rng.randint(-3, 10)
    return [
        _Event(out, ClockingKind.IN_OUT, is_break=True),
        _Event(back, ClockingKind.IN_OUT, is_break=True),
    ]


def _reason_events(
    rng: random.Random,
    events: list[_Event],
    start: int,
    end: int,
    catalog: _Catalog,
) -> tuple[list[_Event], int | None]:
    """~5% of days: a coded leave, either with a return or for the rest of the day.

    Returns the day's events so far (breaks overlapping the leave dropped) and, for a
    leave for the rest of the day, the time it ends the day.
    """
    if not catalog.reason_ids or rng.random() >= 0.05 or end - start < 240:
        return events, None
    reason_id = _weighted(rng, list(catalog.reason_ids), list(catalog.reason_weights))
    leave = rng.randint(start + 60, end - 150)
    is_open = rng.random() < catalog.reason_open_share[reason_id]
    back = None if is_open else min(leave + rng.randint(45, 150), end - 30)
    until = end if back is None else back
    if any(e.is_break and leave - 10 <= e.time for e in events) and any(
        e.is_break and e.time <= until + 10 for e in events
    ):
        events = [e for e in events if not e.is_break]
    reason = _Event(leave, ClockingKind.REASON, reason_id=reason_id, is_open=is_open)
    if back is None:
        return [*events, reason], leave
    return [*events, reason, _Event(back, ClockingKind.IN_OUT)], None


def _activity_events(
    profile: _Profile,
    rng: random.Random,
    events: Sequence[_Event],
    start: int,
    day_end: int,
    catalog: _Catalog,
) -> list[_Event]:
    """Project workers: Activity after the in, maybe a switch, ActivityEnd before the out."""
    if profile.project_id is None:
        return []
    first = _Event(
        start + rng.randint(1, 4),
        ClockingKind.ACTIVITY,
        levels=_task_levels(rng, profile.project_id, catalog),
    )
    result = [first]
    resume = next((e.time for e in events[::-1] if e.is_break), None)
    if resume is not None and rng.random() < 0.35:
        switch = resume + rng.randint(1, 3)
        if first.time + 30 < switch < day_end - 30:
            same = rng.random() < 0.6
            project = profile.project_id if same else rng.choice(list(catalog.projects))
            result.append(
                _Event(switch, ClockingKind.ACTIVITY, levels=_task_levels(rng, project, catalog))
            )
    if rng.random() < 0.02:  # the start was forgotten: only the ActivityEnd remains
        result = []
    return [*result, _Event(max(day_end - rng.randint(1, 4), start + 5), ClockingKind.ACTIVITY_END)]


def _task_levels(
    rng: random.Random,
    project_id: str,
    catalog: _Catalog,
) -> tuple[ActivityLevel, ...]:
    task_id = rng.choice(catalog.projects[project_id])
    return (ActivityLevel(1, project_id), ActivityLevel(2, task_id))


def _out_event(rng: random.Random, end: int, shift: _Shift) -> list[_Event]:
    """The out-clocking; ~2% forgotten and missing, ~4% forgotten and system-generated."""
    roll = rng.random()
    if roll < 0.02:
        return []
    if roll < 0.06:
        return [_Event(shift.end, ClockingKind.IN_OUT, generated=True)]
    return [_Event(end, ClockingKind.IN_OUT)]


def _finish(
    profile: _Profile,
    day: dt.date,
    events: list[_Event],
    rng: random.Random,
    catalog: _Catalog,
) -> list[ClockingDraft]:
    """Place and maybe edit each registered clocking, then freeze them in time order."""
    events.sort(key=lambda event: event.time)
    for event in events:
        event.time = _clamp(event.time)
        if not event.generated:
            _place(event, profile, rng, catalog)
            _maybe_edit(event, rng)
    events.sort(key=lambda event: event.time)
    return [
        ClockingDraft(
            person_id=profile.person.id,
            date=day,
            time_of_day=event.time,
            kind=event.kind,
            terminal_id=event.terminal_id,
            longitude=event.longitude,
            latitude=event.latitude,
            reason_id=event.reason_id,
            is_open=event.is_open,
            activity_levels=event.levels,
            original_time_of_day=event.original,
            is_generated=event.generated,
        )
        for event in events
    ]


def _place(event: _Event, profile: _Profile, rng: random.Random, catalog: _Catalog) -> None:
    """Usually the person's own terminal; the mobile app adds a geolocation."""
    terminal_id = profile.terminal_id
    if terminal_id is None:
        return
    if rng.random() < 0.1 and len(catalog.terminal_ids) > 1:
        terminal_id = rng.choice([t for t in catalog.terminal_ids if t != terminal_id])
    event.terminal_id = terminal_id
    if terminal_id == catalog.mobile_terminal_id:
        event.longitude = round(profile.home[0] + rng.gauss(0, 0.002), 6)
        event.latitude = round(profile.home[1] + rng.gauss(0, 0.002), 6)


def _maybe_edit(event: _Event, rng: random.Random) -> None:
    """~3% of clockings corrected afterwards: rounded to the quarter or nudged."""
    if rng.random() >= 0.03:
        return
    registered = event.time
    corrected = 15 * round(registered / 15)
    if corrected == registered or rng.random() < 0.4:
        corrected = registered + rng.choice((-1, 1)) * rng.randint(2, 10)
    event.original = registered
    event.time = _clamp(corrected)


# --- Small helpers ------------------------------------------------------------------


def _clamp(minutes: int) -> int:
    return max(MIN_TIME_OF_DAY, min(MAX_TIME_OF_DAY, minutes))


def _weighted(rng: random.Random, items: Sequence[_T], weights: Sequence[int]) -> _T:
    return rng.choices(items, weights=weights, k=1)[0]
