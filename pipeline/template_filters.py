"""The only filters a sequence step's template may use (pipeline.sequences.ENGINE).

Django's full set includes filters that raise on unexpected values (|date on text,
|divisibleby) or allocate whatever size they are asked for (|ljust:"2000000000"); a step is
rendered on every lead page and every send, so it gets these, which take any text and return
text of bounded size.
"""

from django import template
from django.template import defaultfilters

register = template.Library()

MAX_LENGTH = 1000  # truncatechars / truncatewords beyond this cut nothing anyway


def _bounded(value: str, arg, cut) -> str:
    try:
        length = int(arg)
    except (TypeError, ValueError):
        return value
    return cut(value, max(0, min(length, MAX_LENGTH)))


register.filter("default", defaultfilters.default)
register.filter("upper", defaultfilters.upper)
register.filter("lower", defaultfilters.lower)
register.filter("title", defaultfilters.title)
register.filter("capfirst", defaultfilters.capfirst)


@register.filter
def truncatechars(value, arg):
    return _bounded(str(value), arg, defaultfilters.truncatechars)


@register.filter
def truncatewords(value, arg):
    return _bounded(str(value), arg, defaultfilters.truncatewords)
