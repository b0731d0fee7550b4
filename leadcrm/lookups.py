"""`field__anyof=[…]`: membership in a long list as one parameter.

`__in` sends one placeholder per value, and Django and psycopg prepare each of them: with the
thousands of emails, hashes or ids of an import batch that costs more than the query. On
PostgreSQL `= ANY(%s)` takes the whole list as one array; elsewhere it is an ordinary IN.
"""

from django.db.models import Field, ForeignObject, Lookup


class AnyOf(Lookup):
    lookup_name = "anyof"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            return "1 = 0", []
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        placeholders = ", ".join(["%s"] * len(values))
        return f"{lhs} IN ({placeholders})", [*lhs_params, *values]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # foreign keys take their own lookups: lead_id__anyof
