"""Normalising what people type: emails, phones, countries, the search text (PRODUCT 2, L3).

Every path that writes a lead (form, import, API, bulk, generators) uses these, so a value
means the same whichever way it came in.
"""

import unicodedata

import phonenumbers
import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# Free-mail domains: a lead's `domain` defaults to its email's domain unless it is one of these.
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "ymail.com",
        "rocketmail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "freenet.de",
        "mail.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "inbox.ru",
        "qq.com",
        "163.com",
        "126.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "wanadoo.fr",
        "libero.it",
        "virgilio.it",
        "fastmail.com",
        "hey.com",
        "tutanota.com",
    ]
)

# Names people use that ISO 3166 does not (pycountry already knows alpha-2/3 codes, names,
# official and common names).
COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "us": "US",
    "america": "US",
    "united states of america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "deutschland": "DE",
    "россия": "RU",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "vietnam": "VN",
    "iran": "IR",
    "syria": "SY",
    "taiwan": "TW",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "laos": "LA",
    "uae": "AE",
    "españa": "ES",
    "schweiz": "CH",
    "suisse": "CH",
    "österreich": "AT",
    "italia": "IT",
    "brasil": "BR",
    "méxico": "MX",
}


def email_normalize(raw: str) -> str:
    """Trimmed, NFC, lower-cased; raises ValidationError for an address that isn't one."""
    email = unicodedata.normalize("NFC", (raw or "").strip()).lower()
    if not email:
        raise ValidationError("Enter an email address.", code="required")
    validate_email(email)
    return email


def email_domain(email: str) -> str:
    """The company domain an email implies, or "" for free-mail providers."""
    domain = email.rpartition("@")[2].lower()
    return "" if domain in FREE_MAIL_DOMAINS else domain


def country_normalize(raw: str) -> str:
    """ISO 3166-1 alpha-2 for a code, name or common alias ("USA", "United States" → "US")."""
    value = unicodedata.normalize("NFC", (raw or "").strip())
    if not value:
        return ""
    alias = COUNTRY_ALIASES.get(value.casefold())
    if alias:
        return alias
    try:
        return pycountry.countries.lookup(value).alpha_2
    except LookupError:
        raise ValidationError(
            "“%(value)s” is not a country we know; use a name or an ISO code like DE or US.",
            code="invalid_country",
            params={"value": value[:60]},
        ) from None


def country_name(code: str) -> str:
    """A stored ISO code as a person reads it ("DE" → "Germany"); the code if unknown."""
    country = pycountry.countries.get(alpha_2=code) if code else None
    return getattr(country, "common_name", None) or getattr(country, "name", code)


def phone_normalize(raw: str, country: str = "") -> str:
    """E.164 when the number carries a country code or the lead's country is known.

    Without either we cannot know the country code, so the number is kept as typed (trimmed)
    once it looks like a phone number at all.
    """
    value = (raw or "").strip()
    if not value:
        return ""
    if value.startswith("00"):
        value = "+" + value[2:]
    if value.startswith("+") or country:
        try:
            number = phonenumbers.parse(value, country or None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            raise ValidationError(
                "“%(value)s” is not a phone number we can read.",
                code="invalid_phone",
                params={"value": value[:40]},
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = sum(ch.isdigit() for ch in value)
    if digits < 4 or any(not (ch.isdigit() or ch in " ()-./x#*ext") for ch in value):
        raise ValidationError(
            "“%(value)s” is not a phone number we can read.",
            code="invalid_phone",
            params={"value": value[:40]},
        )
    return value[:32]


def search_text_for(*, first_name: str, last_name: str, email: str, company_name: str) -> str:
    """The L3 search column: name, email and company, case-folded (accents kept)."""
    parts = (first_name, last_name, email, company_name)
    text = " ".join(p.strip() for p in parts if p and p.strip())
    return unicodedata.normalize("NFC", text).casefold()


def search_term(raw: str) -> str:
    """A search box term folded the same way as search_text_for()."""
    return unicodedata.normalize("NFC", " ".join((raw or "").split())).casefold()
