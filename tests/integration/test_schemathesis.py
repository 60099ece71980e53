"""Schemathesis against the real server: every operation of the OpenAPI, with every kind of token, never a 5xx.

A 5xx tells a shop "try again later", and a shop retries for ever; bad input must be a 4xx (issue 11 §2).
Schemathesis generates requests that fit the schema and requests that do not, for each operation, from
the server's own ``/openapi.json``; each is sent with an admin, a device, a kiosk or no token to a real
server process on loopback (SQLite and PostgreSQL). The push body is declared in the OpenAPI (the JSON
inside the gzip) and is sent gzip'd as the protocol wants, so the wire checks behind it are reached.

Bounded and repeatable: a few examples per operation, derandomized, no example database.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from sync.server.record import CentralRecord
from tests.integration.test_server import set_up_township
from tests.server_harness import HTTP, PG_URL, ServerProcess, pg_schema

pytestmark = pytest.mark.slow

EXAMPLES = 5  # per operation and token; about 45 operations, 4 tokens, 2 databases
PUSH_EXAMPLES = 40  # the push carries the most (every transaction's fields)


class Township:
    def __init__(self, server: ServerProcess, tokens: dict[str, str | None], device_id: str) -> None:
        self.server = server
        self.tokens = tokens
        self.device_id = device_id


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def township(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Township]:
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
        context: Any = pg_schema()
        url = context.__enter__()
    else:
        context = None
        url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'central.sqlite3'}"
    record = CentralRecord.open(url)
    try:
        record.initialise("T01", "红星镇")
        set_up_township(record)
        enrolment = record.enrol({"token": record.new_enrol_token("S01")})
        tokens: dict[str, str | None] = {
            "admin": record.new_admin_token(),
            "device": enrolment["device_token"],
            "kiosk": record.new_kiosk_token("schemathesis"),
            "none": None,
        }
        server = ServerProcess(url).start()
        try:
            yield Township(server, tokens, enrolment["device_id"])
        finally:
            server.stop()
    finally:
        record.close()
        if context is not None:
            context.__exit__(None, None, None)


def _as_the_device(body: Any, device_id: str) -> Any:
    """A generated push made to claim the calling device and its shop, so it gets past ``wrong_shop`` to the
    chain, hash and storage checks behind it."""
    if not isinstance(body, dict):
        return body
    txns = body.get("txns")
    if isinstance(txns, list):
        txns = [t | {"s": "S01"} if isinstance(t, dict) else t for t in txns]
    return body | {"device_id": device_id, "shop_id": "S01", "txns": txns}


def _send(case: Any, base_url: str, token: str | None, device_id: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if case.operation.path == "/v1/push" and case.body is not None and not isinstance(case.body, bytes):
        # The protocol's way: the JSON gzip'd. (A body the schema cannot describe still goes in as it is.)
        body = _as_the_device(case.body, device_id) if device_id else case.body
        try:
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):
            raw = repr(body).encode("utf-8", "surrogatepass")
        headers |= {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        reply = HTTP.post(base_url + "/v1/push", content=gzip.compress(raw), headers=headers)
        return reply.status_code, reply.text[:300]
    response = case.call(base_url=base_url, headers=headers, timeout=30)
    return response.status_code, response.text[:300]


@pytest.mark.parametrize("kind", ["admin", "device", "kiosk", "none"])
def test_no_operation_answers_5xx_whatever_it_is_sent(township: Township, kind: str) -> None:
    base_url = township.server.url
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    token = township.tokens[kind]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/v1/push" and op.body for op in operations), "the push body is in the OpenAPI"
    failures: list[str] = []
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )

        @settings(
            max_examples=PUSH_EXAMPLES if operation.path == "/v1/push" else EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=(Phase.explicit, Phase.generate),  # no shrinking: the failure is reported as sent
        )
        @given(case=strategy)
        def check(case: Any) -> None:
            status, text = _send(case, base_url, token, township.device_id if kind == "device" else None)
            if status >= 500:
                failures.append(f"{kind} {case.operation.method.upper()} {case.operation.path} -> {status}: {text}")
                raise AssertionError(failures[-1])

        try:
            check()
        except AssertionError:
            pass  # recorded; every operation still gets its turn
    assert not failures, "\n".join(failures)
