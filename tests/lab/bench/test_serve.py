"""``recograph bench serve``: the report's arithmetic, and one short real run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from recograph.cli import main
from recograph.core.vocabulary import Weights
from recograph.online.variants import Experiment
from recograph_lab.bench.serve import (
    QUERY,
    BodyCycle,
    Result,
    httpx_level,
    pick_variables,
    report,
    request_bodies,
    weights_variant,
    wrk_script,
)


def test_report_prints_rates_percentiles_and_ratios() -> None:
    results = [
        Result("graphql", 16, 1000, 0, 2.0, 10.0, 20.0, 30.0).with_cpu(1.5),
        Result("plain", 16, 4000, 0, 2.0, 1.0, 2.0, 3.0).with_cpu(1.2),
        Result("paced", 0, 250, 0, 1.0, 4.0, 5.0, 6.5, target_rate=250.0),
    ]
    text = report(results).splitlines()
    assert text[1].split() == [
        *("graphql", "16", "1000", "0", "500", "10.00", "20.00", "30.00", "1.50"),
    ]
    assert text[2].split() == ["plain", "16", "4000", "0", "2000", "1.00", "2.00", "3.00", "0.30"]
    assert text[3] == (
        "graphql paced at 250 req/s (half the best rate): "
        "p50 4.00 ms, p95 5.00 ms, p99 6.50 ms, 0 errors"
    )
    assert text[4] == (
        "concurrency 16: GraphQL/plain throughput ratio 0.25 (server CPU per request: 5.0x)"
    )


@pytest.mark.slow
def test_a_short_real_run(
    artifacts_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    status = main(
        [
            "bench",
            "serve",
            "--artifacts",
            str(artifacts_root),
            "--concurrency",
            "2",
            "--seconds",
            "1",
            "--requests",
            "50",
            "--driver",
            "httpx",
            "--json",
            str(out),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "GraphQL/plain throughput ratio" in printed
    assert re.search(r"server at rest: \d+\.\d ms of CPU a second", printed)
    rows = json.loads(out.read_text())
    assert [(r["endpoint"], r["concurrency"]) for r in rows] == [
        ("graphql", 2),
        ("plain", 2),
        ("paced", 0),  # the default --offered: 0.25, 0.5 and 0.75 of the best rate
        ("paced", 0),
        ("paced", 0),
    ]
    assert all(r["errors"] == 0 for r in rows)
    assert all(0 < r["requests"] <= 50 for r in rows[:2])
    # one worker's memory, and the latency-vs-offered-load plot beside the JSON
    memory = json.loads(out.with_suffix(".memory.json").read_text())
    assert list(memory) == ["demo"]
    assert len(memory["demo"]) == 1
    assert 0 < memory["demo"][0]["uss_mb"] <= memory["demo"][0]["rss_mb"]
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")


def _pick_server(
    customers: list[tuple[int, int]],
    rules: list[tuple[list[int], list[int]]],
    bought: dict[int, list[int]] | None = None,
) -> httpx.Client:
    """A fake server answering `PICK_QUERY` in pages of two customers (``bought``: each
    customer's purchased products, none when absent)."""
    purchased = bought or {}

    def handle(request: httpx.Request) -> httpx.Response:
        after = json.loads(request.content)["variables"]["after"]
        start = 0 if after is None else int(after) + 1
        page = customers[start : start + 2]
        data = {
            "customers": {
                "edges": [
                    {
                        "node": {
                            "id": c,
                            "orderCount": n,
                            "purchasedProducts": [{"id": i} for i in purchased.get(c, [])],
                        }
                    }
                    for c, n in page
                ],
                "pageInfo": {
                    "hasNextPage": start + 2 < len(customers),
                    "endCursor": str(start + len(page) - 1),
                },
            },
            "associationRules": {
                "edges": [
                    {
                        "node": {
                            "antecedentProducts": [{"id": i} for i in a],
                            "consequentProducts": [{"id": i} for i in c],
                        }
                    }
                    for a, c in rules
                ]
            },
            "products": {"edges": [{"node": {"id": 7}}, {"node": {"id": 8}}]},
        }
        return httpx.Response(200, json={"data": data})

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_every_request_is_for_the_next_customer_with_a_cart_of_two() -> None:
    customers = [(1, 2), (2, 0), (3, 1), (4, 5), (5, 1)]  # (id, orderCount)
    rules = [([10], [11]), ([10], [11]), ([12, 13], [14]), ([15], [15])]
    picked = pick_variables("http://bench", client=_pick_server(customers, rules))
    # customers with an order, in id order; carts: distinct pairs of distinct products in turn
    assert picked == [
        {"customerId": 1, "cart": [10, 11]},
        {"customerId": 3, "cart": [12, 13]},
        {"customerId": 4, "cart": [10, 11]},
        {"customerId": 5, "cart": [12, 13]},
    ]
    capped = pick_variables("http://bench", max_customers=2, client=_pick_server(customers, []))
    assert capped == [{"customerId": 1, "cart": [7, 8]}, {"customerId": 3, "cart": [7, 8]}]
    bodies = request_bodies(picked)
    assert [json.loads(b)["variables"] for b in bodies] == picked
    assert all(json.loads(b)["query"] == QUERY for b in bodies)


def test_a_store_without_product_rules_gets_carts_another_customer_bought() -> None:
    customers = [(1, 2), (2, 0), (3, 1), (4, 5), (5, 1)]  # (id, orderCount)
    bought = {1: [20, 21, 22], 3: [30], 4: [40, 41], 5: [50, 51]}
    picked = pick_variables("http://bench", client=_pick_server(customers, [], bought))
    # carts of the customers with two purchases (1, 4, 5), from the second: 4, 5, 1, 4 ...
    assert picked == [
        {"customerId": 1, "cart": [40, 41]},
        {"customerId": 3, "cart": [50, 51]},
        {"customerId": 4, "cart": [20, 21]},
        {"customerId": 5, "cart": [40, 41]},
    ]


def test_bench_weights_are_a_variant_every_visitor_gets() -> None:
    experiment = Experiment.from_env({"RECOGRAPH_VARIANTS": weights_variant("0.4,0.2,0.3,0.1")})
    variant = experiment.assign(customer_id=17, session_id=None)
    assert variant is not None
    assert variant.weights == Weights(cf=0.4, content=0.2, rules=0.3, popularity=0.1)
    assert experiment.bounds == (10_000,)  # every bucket
    for wrong in ("1,2,3", "1,-1,0,0", "0,0,0,0", "a,b,c,d"):
        with pytest.raises(ValueError, match="four numbers >= 0"):
            weights_variant(wrong)


def test_drivers_send_the_bodies_in_turn() -> None:
    cycle = BodyCycle([b"a", b"b", b"c"])
    assert [cycle.next() for _ in range(7)] == [b"a", b"b", b"c", b"a", b"b", b"c", b"a"]
    with pytest.raises(ValueError, match="no request bodies"):
        BodyCycle([])
    script = wrk_script([b'{"x":1}', b'{"x":2}'])
    assert 'local bodies = { [==[{"x":1}]==], [==[{"x":2}]==] }' in script
    assert "return wrk.format(nil, nil, nil, bodies[sent])" in script


def test_the_httpx_driver_cycles_through_the_bodies() -> None:
    import asyncio

    seen: list[bytes] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    transport = httpx.ASGITransport(app=app)
    level = httpx_level("http://bench/graphql", [b"1", b"2", b"3"], 2, 5.0, 7, transport)
    result = asyncio.run(level)
    assert result.requests == 7
    assert sorted(seen) == sorted([b"1", b"2", b"3", b"1", b"2", b"3", b"1"])


def test_the_open_loop_client_reuses_its_connections_and_reads_each_status() -> None:
    import asyncio

    from recograph_lab.bench.serve import KeepAlivePool

    async def scenario() -> tuple[list[bool], list[bytes], int, int]:
        seen: list[bytes] = []
        connections = 0
        finished = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                seen.append(body)
                status = b"200 OK" if body != b"bad" else b"500 Internal Server Error"
                answer = b'{"data":' + body + b"}"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\ncontent-length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
            writer.close()
            await writer.wait_closed()
            finished.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = KeepAlivePool(f"http://127.0.0.1:{port}/graphql", [b"1", b"bad", b"3"])
        answers = [await pool.post_ok(i) for i in range(5)]
        opened = pool.opened
        await pool.aclose()
        await finished.wait()
        server.close()
        await server.wait_closed()
        return answers, seen, opened, connections

    answers, seen, opened, connections = asyncio.run(scenario())
    assert answers == [True, False, True, True, False]
    assert seen == [b"1", b"bad", b"3", b"1", b"bad"]
    assert (opened, connections) == (1, 1)  # one keep-alive connection for all five


def test_the_open_loop_client_retries_a_connection_the_server_closed_while_idle() -> None:
    """A server that closes every connection after one answer (as uvicorn does to a
    keep-alive connection idle for 5 s): each request after the first finds its pooled
    connection closed, sends once more on a new one, and is answered; none counts as an
    error and none reaches the server twice."""
    import asyncio

    from recograph_lab.bench.serve import KeepAlivePool

    async def scenario() -> tuple[list[bool], list[bytes], int]:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            seen.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = KeepAlivePool(f"http://127.0.0.1:{port}/graphql", [b"1", b"2", b"3"])
        answers = []
        for i in range(3):
            answers.append(await pool.post_ok(i))
            await asyncio.sleep(0.05)  # the server's close reaches the pooled connection
        opened = pool.opened
        await pool.aclose()
        server.close()
        await server.wait_closed()
        return answers, seen, opened

    answers, seen, opened = asyncio.run(scenario())
    assert answers == [True, True, True]
    assert seen == [b"1", b"2", b"3"]
    assert opened == 3
