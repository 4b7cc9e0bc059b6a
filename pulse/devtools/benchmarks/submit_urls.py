"""URLconf of the ``submit`` benchmark: Pulse's own URLs plus the baseline, a minimal Django view that runs
one INSERT in a transaction. Loaded only by ``pulse.devtools.benchmarks.submit_settings``. (Not a
benchmark: no ``run``.)
"""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

BASELINE_TABLE = "pulse_bench_submit_baseline"
BASELINE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id bigserial PRIMARY KEY, token text, body text)"
)


@csrf_exempt
def baseline_insert(request: HttpRequest) -> HttpResponse:
    """What any Django endpoint that stores a posted JSON body costs: parse it, one INSERT, commit."""
    body = json.loads(request.body)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BASELINE_TABLE} (token, body) VALUES (%s, %s)",
            [str(body.get("token", "")), json.dumps(body.get("answers"))],
        )
    return JsonResponse({"status": "accepted"}, status=201)


urlpatterns = [
    path("bench/baseline/", baseline_insert, name="bench_baseline"),
    path("", include("config.urls")),
]
