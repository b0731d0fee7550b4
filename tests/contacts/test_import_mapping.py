"""Guessing the import mapping from a file's headers (PRODUCT I2): aliases, labels, rapidfuzz."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contacts.export import STANDARD_COLUMNS
from contacts.importing.mapping import _ALIAS_GROUPS, _WEAK, ALIASES, header_key, mapping_guess
from contacts.importing.targets import CUSTOM_PREFIX, TARGETS_BY_KEY, targets_for
from contacts.models import CustomField

TARGETS = targets_for(
    [
        CustomField(key="industry", label="Industry", type="text"),
        CustomField(key="budget", label="Budget", type="number"),
        CustomField(key="website", label="Site", type="text"),
    ]
)
PLAIN = targets_for([])  # a workspace without custom fields


def guess(headers: list[str], targets=TARGETS) -> dict[str, str]:
    """header → guessed target (headers of a case are unique unless the test says otherwise)."""
    return dict(zip(headers, mapping_guess(headers, targets), strict=True))


# header_key -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("E-mail 1 - Value", "e mail 1 value"),
        ("  First_Name ", "first name"),
        ("State/Region", "state region"),
        ("Phone #", "phone"),
        ("Prénom", "prenom"),
        ("Straße", "strasse"),
        ("Correo electrónico", "correo electronico"),
        ("MEMBER_RATING", "member rating"),
        ("Apellido(s)", "apellido s"),
        ("", ""),
        ("--", ""),
    ],
)
def test_header_key(header, key):
    assert header_key(header) == key


def test_alias_table_is_consistent():
    valid = {*TARGETS_BY_KEY, ""}
    for target in ALIASES.values():
        assert target in valid or target.startswith(CUSTOM_PREFIX), target
    for group in _ALIAS_GROUPS.values():
        for header, target in group.items():
            assert ALIASES[header_key(header)] == target, header
    assert ALIASES.keys() >= _WEAK


# The six sources ------------------------------------------------------------------------------


def test_hubspot():
    assert guess(
        [
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Phone Number",
            "Mobile Phone Number",
            "Contact owner",
            "Lead Status",
            "Lifecycle Stage",
            "Create Date",
            "Company Name",
            "Job Title",
            "Street Address",
            "City",
            "State/Region",
            "Postal Code",
            "Country/Region",
            "Original Source",
            "Website URL",
            "Industry",
        ]
    ) == {
        "Record ID": "",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Mobile Phone Number": "mobile",
        "Contact owner": "owner",
        "Lead Status": "status",
        "Lifecycle Stage": "",
        "Create Date": "",
        "Company Name": "company",
        "Job Title": "job_title",
        "Street Address": "street",
        "City": "city",
        "State/Region": "region",
        "Postal Code": "postal_code",
        "Country/Region": "country",
        "Original Source": "source",
        "Website URL": "cf.website",  # the custom field keyed "website" (labelled "Site")
        "Industry": "cf.industry",
    }


def test_hubspot_website_without_the_custom_field():
    assert guess(["Website URL", "Industry"], PLAIN) == {"Website URL": "", "Industry": ""}


def test_salesforce_leads_and_contacts():
    assert guess(
        [
            "Salutation",
            "First Name",
            "Last Name",
            "Title",
            "Company",
            "Email",
            "Phone",
            "Mobile",
            "Lead Source",
            "Lead Status",
            "Lead Owner",
            "Street",
            "City",
            "State/Province",
            "Zip/Postal Code",
            "Country",
            "Email Opt Out",
            "Created Date",
        ]
    ) == {
        "Salutation": "",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Title": "job_title",
        "Company": "company",
        "Email": "email",
        "Phone": "phone",
        "Mobile": "mobile",
        "Lead Source": "source",
        "Lead Status": "status",
        "Lead Owner": "owner",
        "Street": "street",
        "City": "city",
        "State/Province": "region",
        "Zip/Postal Code": "postal_code",
        "Country": "country",
        "Email Opt Out": "",
        "Created Date": "",
    }
    assert guess(
        [
            "Account Name",
            "Mailing Street",
            "Mailing City",
            "Mailing State/Province",
            "Mailing Zip/Postal Code",
            "Mailing Country",
            "Contact Owner",
            "Other Street",
            "Birthdate",
        ]
    ) == {
        "Account Name": "company",
        "Mailing Street": "street",
        "Mailing City": "city",
        "Mailing State/Province": "region",
        "Mailing Zip/Postal Code": "postal_code",
        "Mailing Country": "country",
        "Contact Owner": "owner",
        "Other Street": "",
        "Birthdate": "birthday",
    }


def test_google_contacts_old_format():
    assert guess(
        [
            "Name",
            "Given Name",
            "Additional Name",
            "Family Name",
            "Name Prefix",
            "Birthday",
            "Notes",
            "Group Membership",
            "E-mail 1 - Type",
            "E-mail 1 - Value",
            "E-mail 2 - Type",
            "E-mail 2 - Value",
            "Phone 1 - Type",
            "Phone 1 - Value",
            "Address 1 - Type",
            "Address 1 - Formatted",
            "Address 1 - Street",
            "Address 1 - City",
            "Address 1 - Region",
            "Address 1 - Postal Code",
            "Address 1 - Country",
            "Organization 1 - Name",
            "Organization 1 - Title",
            "Organization 1 - Department",
        ]
    ) == {
        "Name": "full_name",
        "Given Name": "first_name",
        "Additional Name": "",
        "Family Name": "last_name",
        "Name Prefix": "",
        "Birthday": "birthday",
        "Notes": "",
        "Group Membership": "tags",
        "E-mail 1 - Type": "",
        "E-mail 1 - Value": "email",
        "E-mail 2 - Type": "",
        "E-mail 2 - Value": "secondary_emails",
        "Phone 1 - Type": "",
        "Phone 1 - Value": "phone",
        "Address 1 - Type": "",
        "Address 1 - Formatted": "",
        "Address 1 - Street": "street",
        "Address 1 - City": "city",
        "Address 1 - Region": "region",
        "Address 1 - Postal Code": "postal_code",
        "Address 1 - Country": "country",
        "Organization 1 - Name": "company",
        "Organization 1 - Title": "job_title",
        "Organization 1 - Department": "department",
    }


def test_google_contacts_2024_format():
    assert guess(
        [
            "First Name",
            "Middle Name",
            "Last Name",
            "Phonetic First Name",
            "Nickname",
            "File As",
            "Organization Name",
            "Organization Title",
            "Organization Department",
            "Birthday",
            "Notes",
            "Photo",
            "Labels",
            "E-mail 1 - Label",
            "E-mail 1 - Value",
            "E-mail 2 - Label",
            "E-mail 2 - Value",
            "Phone 1 - Label",
            "Phone 1 - Value",
            "Phone 2 - Label",
            "Phone 2 - Value",
            "Website 1 - Value",
        ],
        PLAIN,
    ) == {
        "First Name": "first_name",
        "Middle Name": "",
        "Last Name": "last_name",
        "Phonetic First Name": "",
        "Nickname": "",
        "File As": "",
        "Organization Name": "company",
        "Organization Title": "job_title",
        "Organization Department": "department",
        "Birthday": "birthday",
        "Notes": "",
        "Photo": "",
        "Labels": "tags",
        "E-mail 1 - Label": "",
        "E-mail 1 - Value": "email",
        "E-mail 2 - Label": "",
        "E-mail 2 - Value": "secondary_emails",
        "Phone 1 - Label": "",
        "Phone 1 - Value": "phone",
        "Phone 2 - Label": "",
        "Phone 2 - Value": "mobile",
        "Website 1 - Value": "",
    }


def test_outlook():
    headers = [
        "First Name",
        "Middle Name",
        "Last Name",
        "Title",  # "Mr." in Outlook: "Job Title" wins job_title
        "Suffix",
        "E-mail Address",
        "E-mail 2 Address",
        "E-mail 3 Address",
        "Home Phone",
        "Home Phone 2",
        "Business Phone",
        "Business Phone 2",
        "Mobile Phone",
        "Other Phone",
        "Primary Phone",
        "Business Fax",
        "Job Title",
        "Department",
        "Company",
        "Manager's Name",
        "Business Street",
        "Business City",
        "Business State",
        "Business Postal Code",
        "Business Country/Region",
        "Home Street",
        "Home City",
        "Home State",
        "Home Postal Code",
        "Home Country/Region",
        "Web Page",
        "Birthday",
        "Categories",
        "Notes",
    ]
    assert guess(headers, PLAIN) == {
        **dict.fromkeys(headers, ""),
        "First Name": "first_name",
        "Last Name": "last_name",
        "E-mail Address": "email",
        "E-mail 2 Address": "secondary_emails",
        "Business Phone": "phone",
        "Mobile Phone": "mobile",
        "Job Title": "job_title",
        "Department": "department",
        "Company": "company",
        "Business Street": "street",
        "Business City": "city",
        "Business State": "region",
        "Business Postal Code": "postal_code",
        "Business Country/Region": "country",
        "Birthday": "birthday",
        "Categories": "tags",
    }


def test_outlook_home_address_when_there_is_no_business_one():
    assert guess(["First Name", "Home Phone", "Home Street", "Home City", "Title"]) == {
        "First Name": "first_name",
        "Home Phone": "phone",
        "Home Street": "street",
        "Home City": "city",
        "Title": "job_title",
    }


def test_mailchimp():
    assert guess(
        [
            "Email Address",
            "First Name",
            "Last Name",
            "Address",
            "Phone Number",
            "MEMBER_RATING",
            "OPTIN_TIME",
            "OPTIN_IP",
            "CONFIRM_TIME",
            "CONFIRM_IP",
            "LATITUDE",
            "LONGITUDE",
            "GMTOFF",
            "DSTOFF",
            "TIMEZONE",
            "CC",
            "REGION",
            "LAST_CHANGED",
            "LEID",
            "EUID",
            "NOTES",
            "TAGS",
        ]
    ) == {
        "Email Address": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Address": "street",
        "Phone Number": "phone",
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
    }


def test_linkedin_connections():
    assert guess(
        ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"]
    ) == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "URL": "linkedin_url",
        "Email Address": "email",
        "Company": "company",
        "Position": "job_title",
        "Connected On": "",
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            ["E-Mail-Adresse", "Vorname", "Nachname", "Firma", "Telefon", "PLZ", "Straße"],
            ["email", "first_name", "last_name", "company", "phone", "postal_code", "street"],
        ),
        (
            ["Prénom", "Nom", "Société", "Téléphone", "Adresse e-mail", "Ville", "Pays"],
            ["first_name", "last_name", "company", "phone", "email", "city", "country"],
        ),
        (
            ["Nombre", "Apellido(s)", "Empresa", "Teléfono", "Correo electrónico", "País"],
            ["first_name", "last_name", "company", "phone", "email", "country"],
        ),
        (
            ["Full Name", "e-mail", "Organisation", "tel", "cell", "zip", "county", "assigned to"],
            ["full_name", "email", "company", "phone", "mobile", "postal_code", "region", "owner"],
        ),
        (
            ["firstname", "surname", "mail", "linkedin profile", "twitter", "GDPR consent"],
            [
                "first_name",
                "last_name",
                "email",
                "linkedin_url",
                "twitter_handle",
                "consent_status",
            ],
        ),
        (
            ["contact name", "DOB", "locale", "labels", "sales rep", "account", "Work Phone"],
            ["full_name", "birthday", "preferred_language", "tags", "owner", "company", "phone"],
        ),
    ],
)
def test_generic_and_other_languages(headers, expected):
    assert mapping_guess(headers, TARGETS) == expected


# Our own export -------------------------------------------------------------------------------


def test_our_own_export_round_trips():
    # "all columns": every standard column, then the custom fields by label ("Budget" twice)
    custom = [target for target in TARGETS if target.key.startswith(CUSTOM_PREFIX)]
    headers = [header for header, _getter in STANDARD_COLUMNS.values()]
    headers += [target.label for target in custom]
    expected = [key if key in TARGETS_BY_KEY else "" for key in STANDARD_COLUMNS]
    assert mapping_guess(headers, TARGETS) == expected + [target.key for target in custom]
    # spot checks of the brief
    got = guess(headers)
    assert got["Full name"] == "full_name"
    for skipped in ("Score", "Tier", "Created at", "Updated at", "Quality score"):
        assert got[skipped] == ""
    for skipped in ("Last activity at", "Last contacted at", "Consent captured at"):
        assert got[skipped] == ""


def test_custom_field_labelled_like_a_standard_column():
    # our export of a workspace with a custom "Budget": the later "Budget" is the custom one
    assert mapping_guess(["Email", "Budget", "Budget"], TARGETS) == [
        "email",
        "bant_budget",
        "cf.budget",
    ]
    # a lone "Budget" column is the workspace's own field
    assert mapping_guess(["Budget"], TARGETS) == ["cf.budget"]
    assert mapping_guess(["Budget"], PLAIN) == ["bant_budget"]


def test_custom_fields_by_label_and_by_key():
    assert guess(["INDUSTRY", "site", "website"]) == {
        "INDUSTRY": "cf.industry",
        "site": "cf.website",
        "website": "",  # cf.website is taken by the label match, an exact hit too
    }
    assert guess(["Web site"], PLAIN) == {"Web site": ""}


def test_standard_labels_and_keys():
    assert guess(["Budget (BANT)", "need", "bant_timeline", "Email status", "Do not contact"]) == {
        "Budget (BANT)": "bant_budget",
        "need": "bant_need",
        "bant_timeline": "bant_timeline",
        "Email status": "email_status",
        "Do not contact": "do_not_contact",
    }
    assert guess(["consent_proof", "GDPR basis", "contact role"]) == {
        "consent_proof": "consent_proof",
        "GDPR basis": "gdpr_basis",
        "contact role": "contact_role",
    }


# Typos, unknown columns, one target per column ----------------------------------------------


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Emial", "email"),
        ("Frist name", "first_name"),
        ("Phone #", "phone"),
        ("Last nmae", "last_name"),
        ("Compnay", "company"),
        ("Email adress", "email"),
        ("Postal cdoe", "postal_code"),
        ("Name, First", "first_name"),
        ("Indsutry", "cf.industry"),
        ("Job titel", "job_title"),
        ("Emai", "email"),
    ],
)
def test_typos(header, target):
    assert mapping_guess([header], TARGETS) == [target]


@pytest.mark.parametrize(
    "header",
    [
        "Notes",
        "Website",  # "" in a workspace without a website field
        "Revenue",
        "ID",
        "Created",
        "Stage",  # not a misspelt "State"
        "Favourite colour",
        "Em",  # short headers only match exactly
        "Ph",
        "x",
        "",
        "   ",
        "E-mail 5 - Value",  # as close to E-mail 1 as to E-mail 2
    ],
)
def test_unknown_columns_are_skipped(header):
    assert mapping_guess([header], PLAIN) == [""]


def test_no_target_is_used_twice():
    headers = ["Phone", "Telephone", "Phone Number", "Company", "Organisation", "Emial", "City"]
    assert mapping_guess(headers, TARGETS) == ["phone", "", "", "company", "", "email", "city"]


def test_exact_alias_beats_a_fuzzy_match_even_when_later():
    assert mapping_guess(["Compnay", "Company"], TARGETS) == ["", "company"]


def test_weak_alias_loses_to_a_regular_one_even_when_earlier():
    assert mapping_guess(["Title", "Home Phone", "Business Phone", "Job Title"], PLAIN) == [
        "",
        "",
        "phone",
        "job_title",
    ]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["Email", "Work email"], ["email", "secondary_emails"]),
        (["Email", "Email 2"], ["email", "secondary_emails"]),
        (["Secondary email", "Email"], ["secondary_emails", "email"]),
        (["Other emails", "E-mail 1 - Value"], ["secondary_emails", "email"]),
        (["Email", "Emial", "Mail"], ["email", "", "secondary_emails"]),
        (["Email", "Email 2", "Work email"], ["email", "secondary_emails", ""]),
    ],
)
def test_a_second_email_column_goes_to_secondary_emails(headers, expected):
    assert mapping_guess(headers, TARGETS) == expected


def test_no_headers():
    assert mapping_guess([], TARGETS) == []


# Property ---------------------------------------------------------------------------------------

KNOWN_HEADERS = sorted(
    {header for group in _ALIAS_GROUPS.values() for header in group}
    | {target.label for target in TARGETS}
    | {target.key for target in TARGETS}
)


@given(
    headers=st.lists(st.one_of(st.text(max_size=40), st.sampled_from(KNOWN_HEADERS)), max_size=40),
    with_custom=st.booleans(),
)
def test_guess_is_well_formed(headers, with_custom):
    targets = TARGETS if with_custom else PLAIN
    result = mapping_guess(headers, targets)
    assert len(result) == len(headers)
    assert set(result) <= {target.key for target in targets} | {""}
    chosen = [key for key in result if key]
    assert len(chosen) == len(set(chosen))
