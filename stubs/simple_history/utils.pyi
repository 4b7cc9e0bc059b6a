import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

from django.db.models import Model

_M = TypeVar("_M", bound=Model)

def bulk_create_with_history(
    objs: Iterable[_M],
    model: type[_M],
    batch_size: int | None = None,
    ignore_conflicts: bool = False,
    default_user: Any = None,
    default_change_reason: str | None = None,
    default_date: dt.datetime | None = None,
    custom_historical_attrs: dict[str, Any] | None = None,
) -> list[_M]: ...
def __getattr__(name: str) -> Any: ...
