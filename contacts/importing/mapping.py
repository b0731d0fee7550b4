"""Guessing which target each column of an uploaded file maps to (PRODUCT I2); the user confirms.

mapping_guess() ranks, per column:
    1. exact hits after header_key(): the workspace's custom field labels/keys, our own export's
       headers and the alias table of common exports (HubSpot, Salesforce, Google Contacts,
       Outlook, Mailchimp, LinkedIn, generic, German/French/Spanish)
    2. exact standard target labels/keys ("Budget (BANT)", "bant_budget" …)
    3. a conservative rapidfuzz match against all of the above ("Emial", "Frist name")
and then hands out targets best score first, each target at most once. An alias to "" names a
known column we do not import ("Create Date"); it also stops a fuzzy near-miss from taking a
target ("Stage" is not a misspelt "State").
"""

import re
import unicodedata
from collections import Counter

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from contacts.export import STANDARD_COLUMNS
from contacts.importing.targets import CUSTOM_PREFIX, SKIP, TARGETS_BY_KEY, Target

_NON_WORD = re.compile(r"[\W_]+")


def header_key(header: str) -> str:
    """casefolded, accents removed, punctuation/underscores/hyphens → single spaces, trimmed."""
    decomposed = unicodedata.normalize("NFKD", header)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # casefold may produce new combining marks ("İ" → "i̇"): strip them once more
    folded = unicodedata.normalize("NFKD", bare.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", folded).strip()


# Real export headers, by source. Target "" = a known column we don't import. A "cf.<key>"
# target only applies to a workspace that has that custom field (else it is "" too).
# A header already listed in an earlier group may be repeated; it must keep the same target.
_ALIAS_GROUPS: dict[str, dict[str, str]] = {
    # HubSpot: contacts export ("Export all properties" and the default view)
    "HubSpot": {
        "Record ID": "",
        "Contact ID": "",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Mobile Phone Number": "mobile",
        "Company Name": "company",
        "Associated Company": "company",
        "Job Title": "job_title",
        "Contact owner": "owner",
        "HubSpot Owner": "owner",
        "Lead Status": "status",
        "Lifecycle Stage": "",
        "Marketing contact status": "",
        "Street Address": "street",
        "City": "city",
        "State/Region": "region",
        "Postal Code": "postal_code",
        "Country/Region": "country",
        "Time Zone": "timezone",
        "Preferred language": "preferred_language",
        "Original Source": "source",
        "Original Source Drill-Down 1": "",
        "Original Source Drill-Down 2": "",
        "Email Domain": "domain",
        "Company Domain Name": "domain",
        "Twitter Username": "twitter_handle",
        "LinkedIn Bio": "",
        "Website URL": "cf.website",
        "Industry": "cf.industry",
        "Annual Revenue": "",
        "Number of Employees": "",
        "Create Date": "",
        "Last Modified Date": "",
        "Last Activity Date": "",
        "Last Contacted": "",
        "Associated Company IDs": "",
        "Associated Deal IDs": "",
        "Unsubscribed from all email": "",
        "Legal basis for processing contact's data": "gdpr_basis",
    },
    # Salesforce: Leads and Contacts reports / Data Export
    "Salesforce": {
        "Lead ID": "",
        "Account ID": "",
        "Salutation": "",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Title": "job_title",  # weak: Outlook's "Title" is "Mr."/"Ms." (see _WEAK)
        "Company": "company",
        "Account Name": "company",
        "Email": "email",
        "Phone": "phone",
        "Mobile": "mobile",
        "Fax": "",
        "Department": "department",
        "Lead Source": "source",
        "Lead Status": "status",
        "Lead Owner": "owner",
        "Contact Owner": "owner",
        "Account Owner": "owner",  # weak
        "Street": "street",
        "City": "city",
        "State/Province": "region",
        "Zip/Postal Code": "postal_code",
        "Country": "country",
        "Mailing Street": "street",
        "Mailing City": "city",
        "Mailing State/Province": "region",
        "Mailing Zip/Postal Code": "postal_code",
        "Mailing Country": "country",
        "Other Street": "",
        "Other City": "",
        "Other State/Province": "",
        "Other Zip/Postal Code": "",
        "Other Country": "",
        "Birthdate": "birthday",
        "Email Opt Out": "",
        "Has Opted Out of Email": "",
        "Do Not Call": "",
        "Rating": "",
        "Website": "cf.website",
        "Description": "",
        "Created Date": "",
        "Last Modified Date": "",
        "Last Activity": "",
    },
    # Google Contacts: the old "Google CSV" and the 2024+ export
    "Google Contacts": {
        "Name": "full_name",
        "Given Name": "first_name",
        "Additional Name": "",
        "Family Name": "last_name",
        "First Name": "first_name",
        "Middle Name": "",
        "Last Name": "last_name",
        "Phonetic First Name": "",
        "Phonetic Middle Name": "",
        "Phonetic Last Name": "",
        "Yomi Name": "",
        "Given Name Yomi": "",
        "Additional Name Yomi": "",
        "Family Name Yomi": "",
        "Name Prefix": "",
        "Name Suffix": "",
        "Initials": "",
        "Nickname": "",
        "Short Name": "",
        "Maiden Name": "",
        "File As": "",
        "Birthday": "birthday",
        "Gender": "",
        "Location": "",
        "Occupation": "job_title",  # weak
        "Notes": "",
        "Language": "preferred_language",
        "Photo": "",
        "Group Membership": "tags",
        "Labels": "tags",
        "E-mail 1 - Type": "",
        "E-mail 1 - Label": "",
        "E-mail 1 - Value": "email",
        "E-mail 2 - Type": "",
        "E-mail 2 - Label": "",
        "E-mail 2 - Value": "secondary_emails",
        "E-mail 3 - Type": "",
        "E-mail 3 - Label": "",
        "E-mail 3 - Value": "secondary_emails",
        "Phone 1 - Type": "",
        "Phone 1 - Label": "",
        "Phone 1 - Value": "phone",
        "Phone 2 - Type": "",
        "Phone 2 - Label": "",
        "Phone 2 - Value": "mobile",  # weak
        "Address 1 - Type": "",
        "Address 1 - Label": "",
        "Address 1 - Formatted": "",
        "Address 1 - Street": "street",
        "Address 1 - City": "city",
        "Address 1 - PO Box": "",
        "Address 1 - Region": "region",
        "Address 1 - Postal Code": "postal_code",
        "Address 1 - Country": "country",
        "Address 1 - Extended Address": "",
        "Organization 1 - Type": "",
        "Organization 1 - Name": "company",
        "Organization 1 - Yomi Name": "",
        "Organization 1 - Title": "job_title",
        "Organization 1 - Department": "department",
        "Organization 1 - Symbol": "",
        "Organization 1 - Location": "",
        "Organization 1 - Job Description": "",
        "Organization Name": "company",
        "Organization Title": "job_title",
        "Organization Department": "department",
        "Website 1 - Type": "",
        "Website 1 - Label": "",
        "Website 1 - Value": "cf.website",
    },
    # Outlook (outlook.com and desktop "Export to a file" CSV)
    "Outlook": {
        "First Name": "first_name",
        "Middle Name": "",
        "Last Name": "last_name",
        "Title": "job_title",  # weak: here "Mr."; "Job Title" wins when both are present
        "Suffix": "",
        "Nickname": "",
        "Given Yomi": "",
        "Surname Yomi": "",
        "E-mail Address": "email",
        "E-mail 2 Address": "secondary_emails",
        "E-mail 3 Address": "secondary_emails",
        "E-mail Display Name": "",
        "Home Phone": "phone",  # weak
        "Home Phone 2": "",
        "Business Phone": "phone",
        "Business Phone 2": "",
        "Mobile Phone": "mobile",
        "Car Phone": "",
        "Other Phone": "",
        "Primary Phone": "phone",  # weak
        "Pager": "",
        "Business Fax": "",
        "Home Fax": "",
        "Other Fax": "",
        "Company Main Phone": "",
        "Callback": "",
        "Radio Phone": "",
        "Telex": "",
        "TTY/TDD Phone": "",
        "IMAddress": "",
        "Job Title": "job_title",
        "Department": "department",
        "Company": "company",
        "Office Location": "",
        "Manager's Name": "",
        "Assistant's Name": "",
        "Assistant's Phone": "",
        "Company Yomi": "",
        "Business Street": "street",
        "Business Street 2": "",
        "Business Street 3": "",
        "Business City": "city",
        "Business State": "region",
        "Business Postal Code": "postal_code",
        "Business Country/Region": "country",
        "Home Street": "street",  # weak, like every "Home …" address part
        "Home Street 2": "",
        "Home Street 3": "",
        "Home City": "city",
        "Home State": "region",
        "Home Postal Code": "postal_code",
        "Home Country/Region": "country",
        "Other Street": "",
        "Other City": "",
        "Other State": "",
        "Other Postal Code": "",
        "Other Country/Region": "",
        "Personal Web Page": "",
        "Web Page": "cf.website",
        "Spouse": "",
        "Schools": "",
        "Hobby": "",
        "Birthday": "birthday",
        "Anniversary": "",
        "Categories": "tags",
        "Notes": "",
    },
    # Mailchimp: audience export
    "Mailchimp": {
        "Email Address": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Address": "street",
        "Phone Number": "phone",
        "Birthday": "birthday",
        "Company": "company",
        "MEMBER_RATING": "",
        "OPTIN_TIME": "",
        "OPTIN_IP": "",
        "CONFIRM_TIME": "",
        "CONFIRM_IP": "",
        "LATITUDE": "",
        "LONGITUDE": "",
        "GMTOFF": "",
        "DSTOFF": "",
        "TIMEZONE": "timezone",
        "CC": "country",
        "REGION": "region",
        "LAST_CHANGED": "",
        "LEID": "",
        "EUID": "",
        "NOTES": "",
        "TAGS": "tags",
        "UNSUB_TIME": "",
        "UNSUB_CAMPAIGN_TITLE": "",
        "UNSUB_REASON": "",
        "CLEAN_TIME": "",
        "CLEAN_CAMPAIGN_TITLE": "",
    },
    # LinkedIn: "Connections.csv" of the data export
    "LinkedIn": {
        "First Name": "first_name",
        "Last Name": "last_name",
        "URL": "linkedin_url",
        "Email Address": "email",
        "Company": "company",
        "Position": "job_title",
        "Connected On": "",
    },
    # Prospecting tools (Apollo, Sales Navigator scrapers): a few columns that recur
    "Prospecting tools": {
        "Person Linkedin Url": "linkedin_url",
        "Company Linkedin Url": "",
        "Facebook Url": "",
        "Twitter Url": "twitter_handle",
        "Work Direct Phone": "phone",
        "Corporate Phone": "phone",  # weak
        "Company Phone": "phone",  # weak
        "Seniority": "",
        "Departments": "department",
        "Company Address": "",
        "Company City": "",
        "Company State": "",
        "Company Country": "",
        "# Employees": "",
        "Keywords": "",
        "Lists": "",
    },
    # Generic names people give columns
    "Generic": {
        "E-mail": "email",
        "Mail": "email",
        "Email Addr": "email",
        "EmailAddress": "email",
        "Primary Email": "email",
        "Work Email": "email",
        "Business Email": "email",
        "Contact Email": "email",
        "Email 1": "email",
        "Email 2": "secondary_emails",
        "Email 3": "secondary_emails",
        "Emails": "secondary_emails",
        "Secondary Email": "secondary_emails",
        "Other Email": "secondary_emails",
        "Other Emails": "secondary_emails",
        "Alternate Email": "secondary_emails",
        "Additional Email": "secondary_emails",
        "Personal Email": "secondary_emails",
        "Full Name": "full_name",
        "FullName": "full_name",
        "Contact Name": "full_name",
        "Contact": "full_name",  # weak
        "Person": "full_name",
        "First": "first_name",
        "FirstName": "first_name",
        "Forename": "first_name",
        "Given": "first_name",
        "GivenName": "first_name",
        "FName": "first_name",
        "Last": "last_name",
        "LastName": "last_name",
        "Surname": "last_name",
        "LName": "last_name",
        "Organisation": "company",
        "Organization": "company",
        "Org": "company",
        "Account": "company",
        "Employer": "company",
        "Business": "company",
        "Company Domain": "domain",
        "Domain Name": "domain",
        "Website Domain": "domain",
        "Tel": "phone",
        "Telephone": "phone",
        "Telephone Number": "phone",
        "Phone No": "phone",
        "Work Phone": "phone",
        "Office Phone": "phone",
        "Direct Phone": "phone",
        "Direct Dial": "phone",
        "Landline": "phone",
        "Cell": "mobile",
        "Cell Phone": "mobile",
        "Cellphone": "mobile",
        "Mobile Number": "mobile",
        "Mobile No": "mobile",
        "Job": "job_title",
        "Role": "",
        "Dept": "department",
        "Owner": "owner",
        "Owner Email": "owner",
        "Owner Name": "owner",
        "Assigned To": "owner",
        "Assignee": "owner",
        "Sales Rep": "owner",
        "Salesperson": "owner",
        "Account Manager": "owner",
        "Record Owner": "owner",
        "Tag": "tags",
        "Label": "tags",
        "Category": "tags",
        "Groups": "tags",
        "Segment": "tags",
        "Utm Source": "source",
        "Lead Origin": "source",
        "LinkedIn": "linkedin_url",
        "LinkedIn Profile": "linkedin_url",
        "LinkedIn Profile URL": "linkedin_url",
        "Twitter": "twitter_handle",
        "Twitter Handle": "twitter_handle",
        "X Handle": "twitter_handle",
        "Street Address 1": "street",
        "Street Address 2": "",
        "Address 1": "street",
        "Address 2": "",
        "Address Line 1": "street",
        "Address Line 2": "",
        "Town": "city",
        "State": "region",
        "Province": "region",
        "County": "region",
        "State Province": "region",
        "State Code": "region",
        "Mailing Address": "street",
        "Zip": "postal_code",
        "Zip Code": "postal_code",
        "ZipCode": "postal_code",
        "Postcode": "postal_code",
        "Post Code": "postal_code",
        "Country Code": "country",
        "Country Name": "country",
        "TZ": "timezone",
        "Locale": "preferred_language",
        "DOB": "birthday",
        "Date of Birth": "birthday",
        "Birth Date": "birthday",
        "DNC": "do_not_contact",
        "Opt In": "consent_status",
        "Opted In": "consent_status",
        "Consent": "consent_status",
        "Marketing Consent": "consent_status",
        "GDPR Consent": "consent_status",
        "Email Consent": "consent_status",
        "Legal Basis": "gdpr_basis",
        "Lawful Basis": "gdpr_basis",
        "Sector": "cf.industry",
        "Web Site": "cf.website",
        "Company Website": "cf.website",
        # known columns that must not be guessed as something close
        "ID": "",
        "Created": "",
        "Created On": "",
        "Date Created": "",
        "Date Added": "",
        "Modified": "",
        "Last Modified": "",
        "Updated": "",
        "Note": "",
        "Comments": "",
        "Revenue": "",
        "Employees": "",
        "Company Size": "",
        "Stage": "",
        "Deal Stage": "",
        "Lead Score": "",
        "Prefix": "",
    },
    # German, French, Spanish basics (Outlook / Excel exports in those languages)
    "German": {
        "E-Mail": "email",
        "E-Mail-Adresse": "email",
        "Vorname": "first_name",
        "Nachname": "last_name",
        "Firma": "company",
        "Unternehmen": "company",
        "Telefon": "phone",
        "Telefonnummer": "phone",
        "Telefon geschäftlich": "phone",
        "Mobiltelefon": "mobile",
        "Handy": "mobile",
        "Mobil": "mobile",
        "Position": "job_title",
        "Berufsbezeichnung": "job_title",
        "Abteilung": "department",
        "Straße": "street",
        "Straße geschäftlich": "street",
        "PLZ": "postal_code",
        "Postleitzahl": "postal_code",
        "Ort": "city",
        "Stadt": "city",
        "Bundesland": "region",
        "Land": "country",
        "Geburtstag": "birthday",
        "Geburtsdatum": "birthday",
        "Sprache": "preferred_language",
        "Quelle": "source",
        "Kategorien": "tags",
        "Anrede": "",
        "Notizen": "",
    },
    "French": {
        "Adresse e-mail": "email",
        "Courriel": "email",
        "Prénom": "first_name",
        "Nom": "last_name",
        "Nom de famille": "last_name",
        "Nom complet": "full_name",
        "Société": "company",
        "Entreprise": "company",
        "Téléphone": "phone",
        "Téléphone mobile": "mobile",
        "Portable": "mobile",
        "Fonction": "job_title",
        "Titre": "job_title",
        "Adresse": "street",
        "Rue": "street",
        "Ville": "city",
        "Code postal": "postal_code",
        "Pays": "country",
        "Région": "region",
        "Date de naissance": "birthday",
        "Langue": "preferred_language",
        "Catégories": "tags",
        "Civilité": "",
    },
    "Spanish": {
        "Correo electrónico": "email",
        "Correo": "email",
        "Nombre": "first_name",
        "Apellido": "last_name",
        "Apellidos": "last_name",
        "Apellido(s)": "last_name",
        "Nombre completo": "full_name",
        "Empresa": "company",
        "Teléfono": "phone",
        "Móvil": "mobile",
        "Celular": "mobile",
        "Cargo": "job_title",
        "Puesto": "job_title",
        "Departamento": "department",
        "Dirección": "street",
        "Calle": "street",
        "Ciudad": "city",
        "Provincia": "region",
        "Código postal": "postal_code",
        "País": "country",
        "Fecha de nacimiento": "birthday",
        "Idioma": "preferred_language",
        "Etiquetas": "tags",
        "Origen": "source",
    },
    # Our own export: every header maps back to its key, or "" when it is not importable
    # (Score, Tier, Created at …). Custom field labels are matched per workspace.
    "LeadCRM": {
        header: key if key in TARGETS_BY_KEY else SKIP
        for key, (header, _getter) in STANDARD_COLUMNS.items()
    },
}

# Aliases that lose to a regular alias of the same target ("Title" is "Mr." in Outlook, where
# "Job Title" is the real one; "Home Phone" comes before "Business Phone").
_WEAK = frozenset(
    {
        "title",
        "occupation",
        "contact",
        "account owner",
        "phone 2 value",
        "home phone",
        "primary phone",
        "corporate phone",
        "company phone",
        "home street",
        "home city",
        "home state",
        "home postal code",
        "home country region",
        "associated company",
    }
)


def _build_aliases(groups: dict[str, dict[str, str]]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for source, headers in groups.items():
        for header, target in headers.items():
            key = header_key(header)
            if aliases.setdefault(key, target) != target:
                raise ValueError(
                    f"{source} alias {header!r} → {target!r} conflicts with {aliases[key]!r}"
                )
    return aliases


ALIASES: dict[str, str] = _build_aliases(_ALIAS_GROUPS)

# Scores: custom field labels, aliases, weak aliases, standard labels, then fuzzy (< 98).
_EXACT, _WEAK_ALIAS, _LABEL, _FUZZY_MAX = 100.0, 99.0, 98.0, 97.0
FUZZY_CUTOFF = 88
_MIN_FUZZY_LEN = 4  # headers (and choices) of 3 characters or fewer only match exactly
_MIN_EDIT_LEN = 5  # one typo (transposition included) is forgiven from 5 characters on
_EMAIL, _SECONDARY = "email", "secondary_emails"

Candidate = tuple[float, str]  # (score, target key); key "" = skip the column


def _custom_index(targets: list[Target]) -> dict[str, list[str]]:
    """header_key of a custom field's label or key → its target keys, in field order."""
    index: dict[str, list[str]] = {}
    for target in targets:
        if target.key.startswith(CUSTOM_PREFIX):
            for name in (target.label, target.key.removeprefix(CUSTOM_PREFIX)):
                keys = index.setdefault(header_key(name), [])
                if target.key not in keys:
                    keys.append(target.key)
    return index


def _label_index(targets: list[Target]) -> dict[str, str]:
    """header_key of a standard target's label or key → the target key."""
    index: dict[str, str] = {}
    for target in targets:
        if not target.key.startswith(CUSTOM_PREFIX):
            for name in (target.label, target.key):
                index.setdefault(header_key(name), target.key)
    return index


def _fuzzy(key: str, choices: dict[str, str]) -> Candidate | None:
    """The one target the header is a near miss of, or None (nothing close, or a tie)."""
    if len(key) < _MIN_FUZZY_LEN:
        return None
    hits = process.extract(
        key, choices.keys(), scorer=fuzz.token_sort_ratio, score_cutoff=FUZZY_CUTOFF, limit=None
    )
    if not hits and len(key) >= _MIN_EDIT_LEN:
        # "emial": one transposition is 80% by ratio, but clearly the same word
        hits = [
            (choice, float(FUZZY_CUTOFF), index)
            for choice, _distance, index in process.extract(
                key, choices.keys(), scorer=OSA.distance, score_cutoff=1, limit=None
            )
        ]
    if not hits:
        return None
    best = max(score for _choice, score, _index in hits)
    found = {choices[choice] for choice, score, _index in hits if score == best}
    if len(found) != 1:
        return None  # "Email 3" is as close to "Email 1" as to "Email 2": don't guess
    return min(best, _FUZZY_MAX), found.pop()


def _with_secondary(candidates: list[Candidate]) -> list[Candidate]:
    """An email column that loses "email" to a better one falls back to secondary_emails."""
    out: list[Candidate] = []
    for score, target in candidates:
        out.append((score, target))
        if target == _EMAIL:
            out.append((score, _SECONDARY))
    return out


def mapping_guess(headers: list[str], targets: list[Target]) -> list[str]:
    """One target key per header ("" = skip).

    Each target is used at most once (first/best column wins).
    """
    available = {target.key for target in targets}
    custom, labels = _custom_index(targets), _label_index(targets)
    choices: dict[str, str] = {}  # every name a header may be a near miss of → target key
    for index in ({k: v[0] for k, v in custom.items()}, ALIASES, labels):
        for name, target in index.items():
            if len(name) >= _MIN_FUZZY_LEN:
                choices.setdefault(name, target)

    keys = [header_key(header) for header in headers]
    seen, repeats = Counter(), Counter(keys)
    # (score, rank, column, target): rank orders a column's own choices at equal score
    offers: list[tuple[float, int, int, str]] = []
    for column, key in enumerate(keys):
        if not key:
            continue
        own: list[Candidate] = []
        if key in ALIASES:
            own.append((_WEAK_ALIAS if key in _WEAK else _EXACT, ALIASES[key]))
        elif key in labels:
            own.append((_LABEL, labels[key]))
        mine = [(_EXACT, target) for target in custom.get(key, [])]
        # A custom field labelled like a standard column ("Budget"): a lone column is the
        # custom field; when the header repeats (our own export has both), the last
        # occurrences are the custom ones, as our export puts custom fields last.
        position = seen[key]
        seen[key] += 1
        candidates = own + mine if position < repeats[key] - len(mine) else mine + own
        if not candidates and (hit := _fuzzy(key, choices)):
            candidates = [hit]
        for rank, (score, target) in enumerate(_with_secondary(candidates)):
            offers.append((score, rank, column, target if target in available else SKIP))

    result: list[str | None] = [None] * len(headers)
    taken: set[str] = set()
    for _score, _rank, column, target in sorted(offers, key=lambda o: (-o[0], o[1], o[2])):
        if result[column] is not None or target in taken:
            continue
        result[column] = target
        if target:
            taken.add(target)
    return [target or SKIP for target in result]
