"""What every request body of onboarding shares: a field it does not know is refused, and a number
or a date is taken only as itself (``"5000"`` is not an integer, a date and time is not a date).

FastAPI validates a parsed body as Python data, where pydantic's model-wide strict mode would also
refuse a date or an enum written as JSON text; so strictness is stated per type here instead.
"""

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _date_only(value: object) -> object:
    if isinstance(value, datetime) or not isinstance(value, str | date):
        raise PydanticCustomError("date_type", "Input should be a date written YYYY-MM-DD")
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_type", "Input should be a date written YYYY-MM-DD, with no time")
    return value


CalendarDate = Annotated[date, BeforeValidator(_date_only)]


def _bool_only(value: object) -> object:
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be true or false")
    return value


# The member's explicit yes: JSON true, and nothing that merely converts to it (1, "true").
Accepted = Annotated[Literal[True], BeforeValidator(_bool_only)]
