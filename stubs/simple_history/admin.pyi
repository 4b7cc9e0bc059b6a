from typing import Any, TypeVar

from django.contrib import admin
from django.db.models import Model

_M = TypeVar("_M", bound=Model)

class SimpleHistoryAdmin(admin.ModelAdmin[_M]): ...

def __getattr__(name: str) -> Any: ...
