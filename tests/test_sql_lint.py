"""The SQL linter's configuration (.sqlfluff, run on sql/ by `make lint`) catches what its rules are for.

`make lint` shows sql/ passes; these show the rules are live: a query in the house style
passes, and each mistake a kept rule is for is reported by that rule.
"""

from __future__ import annotations

import pytest
import sqlfluff

from flows.settings import PROJECT_DIR

CONFIG = str(PROJECT_DIR / ".sqlfluff")

HOUSE_STYLE = """\
with

weeks as (
    select * from core.published_weeks
),

forgotten as (
    select * from staging.stg_corrections where kind = 'forget'
),

final as (
    select
        weeks.city,
        weeks.week_start,
        units.unit_name,
        units.dispatched::integer as dispatched,
    from weeks
    inner join core.bulletin_units as units on units.bulletin_id = weeks.bulletin_id
    where weeks.file_sha256 not in (select forgotten.file_sha256 from forgotten)
    qualify row_number() over (
        partition by weeks.city, units.unit_name
        order by weeks.week_start desc
    ) = 1
)

select * from final
"""


def codes(sql: str) -> set[str]:
    return {violation["code"] for violation in sqlfluff.lint(sql, config_path=CONFIG)}


def test_a_query_in_the_house_style_passes() -> None:
    assert codes(HOUSE_STYLE) == set()


@pytest.mark.parametrize(
    ("mistake", "sql", "code"),
    [
        ("an upper-case keyword", "SELECT city from core.published_weeks\n", "CP01"),
        (
            "an unqualified column in a join",
            "select city, units.unit_name\nfrom core.published_weeks as weeks\n"
            "inner join core.bulletin_units as units on units.bulletin_id = weeks.bulletin_id\n",
            "RF02",
        ),
        (
            "a column that may come from the outer query",
            "select city\nfrom core.published_weeks\n"
            "where file_sha256 in (select file_sha256 from core.bulletin_units)\n",
            "RF02",
        ),
        ("a table aliased without `as`", "select weeks.city from core.published_weeks weeks\n", "AL01"),
        ("a column aliased without `as`", "select city town from core.published_weeks\n", "AL02"),
        ("an expression with no alias", "select city, week_start + 7 from core.published_weeks\n", "AL03"),
        (
            "an order with some directions given and some not",
            "select city from core.published_weeks order by city, week_start desc\n",
            "AM03",
        ),
        (
            "a bare join",
            "select weeks.city from core.published_weeks as weeks\njoin core.bulletins as b on true\n",
            "AM05",
        ),
        ("a cast() among `::` casts", "select cast(overdue as integer) as overdue from core.bulletins\n", "CV11"),
        (
            "the earlier table first in a join condition",
            "select weeks.city, units.unit_name\nfrom core.published_weeks as weeks\n"
            "inner join core.bulletin_units as units on weeks.bulletin_id = units.bulletin_id\n",
            "ST09",
        ),
    ],
)
def test_a_mistake_is_reported_by_its_rule(mistake: str, sql: str, code: str) -> None:
    assert code in codes(sql), mistake
