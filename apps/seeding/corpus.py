"""Word banks and sentence makers for plausible UN-secretariat documents and tickets.

Deterministic for a given random.Random, so a seed run is reproducible.
"""

from __future__ import annotations

import random

FIRST = [
    "Amina", "Kofi", "Maria", "Jean", "Li", "Olga", "Ahmed", "Sofia", "Carlos", "Fatima",
    "Hiroshi", "Ingrid", "Juan", "Leila", "Mateo", "Nadia", "Omar", "Priya", "Rafael", "Sara",
    "Tomas", "Wanjiru", "Yusuf", "Zeynep", "Elena", "Kwame", "Aiko", "Pierre", "Layla", "Ivan",
]  # fmt: skip
LAST = [
    "Diallo", "Mensah", "Rossi", "Dupont", "Wei", "Petrova", "Hassan", "Garcia", "Silva",
    "Haddad", "Tanaka", "Larsen", "Lopez", "Karimi", "Fernandez", "Nasser", "Sharma", "Moreau",
    "Kamau", "Yilmaz", "Novak", "Okafor", "Ibrahim", "Schmidt", "Costa", "Nguyen", "Ali",
]  # fmt: skip
COUNTRIES = [
    "Afghanistan", "Chile", "Colombia", "Ethiopia", "Haiti", "Iraq", "Kenya", "Lebanon", "Libya",
    "Mali", "Myanmar", "Somalia", "South Sudan", "Sudan", "Syria", "Ukraine", "Yemen", "Sahel",
]  # fmt: skip
TOPICS = [
    "protection of civilians", "humanitarian access", "climate adaptation", "food security",
    "the rule of law", "electoral assistance", "mine action", "refugee returns",
    "children and armed conflict", "sustainable development goals", "gender equality",
    "public health emergencies", "disarmament", "migration", "water and sanitation",
    "digital cooperation", "procurement reform", "liquidity of the regular budget",
]  # fmt: skip
AUTHORS = ["OCHA", "DPPA", "OHCHR", "UNEP", "DESA", "OLA", "DMSPC", "DOS", "UNICEF", "UNHCR",
           "ECA", "ESCAP", "ESCWA", "ECLAC", "UNOG", "UNOV", "UNON", "OICT"]  # fmt: skip
BODIES = ["General Assembly", "Security Council", "Human Rights Council",
          "Economic and Social Council", "Fifth Committee", "Peacebuilding Commission"]  # fmt: skip
TITLE_FORMS = [
    "Report of the Secretary-General on {topic} in {country}",
    "Note verbale concerning {topic}",
    "Summary record of the {body} meeting on {topic}",
    "{country}: situation report No. {n} on {topic}",
    "Letter to the President of the {body} on {topic}",
    "Audit of {topic} programmes in {country}",
    "Concept note: {topic}",
    "Draft resolution on {topic}",
]  # fmt: skip
SENTENCES = {
    "en": [
        "The mission continued to monitor {topic} in {country}.",
        "Member States were briefed on progress regarding {topic}.",
        "Partners reported that funding for {topic} remains below requirements.",
        "The {body} requested an update on {topic} within ninety days.",
        "Field teams deployed to {country} assessed needs and documented findings.",
        "Recommendations were issued to strengthen coordination on {topic}.",
        "The Secretariat proposes to reallocate resources to {topic}.",
    ],
    "fr": [
        "La mission a continué de suivre la situation au {country}.",
        "Les États Membres ont été informés des progrès réalisés.",
        "Les partenaires signalent un financement insuffisant des programmes.",
        "Les équipes déployées ont évalué les besoins des populations civiles.",
    ],
    "es": [
        "La misión siguió vigilando la situación en {country}.",
        "Los Estados Miembros fueron informados de los avances logrados.",
        "Los asociados informaron que la financiación sigue siendo insuficiente.",
    ],
    "ar": ["واصلت البعثة رصد الحالة في {country}.", "أُبلغت الدول الأعضاء بالتقدم المحرز."],
    "ru": [
        "Миссия продолжала следить за положением в {country}.",
        "Государства-члены были проинформированы о достигнутом прогрессе.",  # noqa: RUF001
    ],
    "zh": ["特派团继续监测{country}的局势。", "会员国听取了关于进展情况的简报。"],
}
PROBLEMS = [
    ("Cannot connect to VPN from {site}", "network"),
    ("Printer on floor {n} jams on every job", "workstation"),
    ("ECM upload fails with error 503", "application"),
    ("Email not syncing on mobile device", "application"),
    ("Laptop does not boot after update", "workstation"),
    ("Shared drive mapped as read-only", "storage"),
    ("Umoja login loop after password change", "application"),
    ("Slow response from CRM search", "application"),
    ("Video conference room {n} has no audio", "workstation"),
    ("Database replication lag alert on {site}", "database"),
    ("Wi-Fi drops in conference building", "network"),
    ("Account locked after travel", "service"),
]  # fmt: skip
REQUESTS = [
    "New laptop for incoming consultant", "Access to the {site} finance share",
    "Install statistical software", "Create distribution list for the {site} office",
    "Temporary badge for visiting delegation", "Increase mailbox quota",
    "Set up video conference for the {body}", "New mobile phone and SIM card",
]  # fmt: skip


def person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST), rng.choice(LAST)


def fill(form: str, rng: random.Random, **known: object) -> str:
    values: dict[str, object] = {
        "topic": rng.choice(TOPICS), "country": rng.choice(COUNTRIES),
        "body": rng.choice(BODIES), "n": rng.randint(2, 40), "site": "the office",
    }  # fmt: skip
    values.update(known)
    return form.format(**values)


def paragraph(rng: random.Random, language: str, sentences: int, **known: object) -> str:
    bank = SENTENCES.get(language, SENTENCES["en"])
    return " ".join(fill(rng.choice(bank), rng, **known) for _ in range(sentences))


def document_text(rng: random.Random, language: str, title: str) -> str:
    topic, country = rng.choice(TOPICS), rng.choice(COUNTRIES)
    paragraphs = [paragraph(rng, language, rng.randint(3, 7), topic=topic, country=country)
                  for _ in range(rng.randint(2, 8))]  # fmt: skip
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"
