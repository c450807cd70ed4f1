"""`brokerage`: tail, lag, dead letters and redrive, rebuilds, KPIs, and importing claimants.

It talks to the operations API (`BROKERAGE_URL`, default http://127.0.0.1:8105) with the token
in `BROKERAGE_TOKEN`, and to Kafka to publish JCP events (`KAFKA_BOOTSTRAP_SERVERS` and, against
a secured cluster, the other `KAFKA_*` settings of `runtime/kafka_connection.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from brokerage_cli.claimants import Refused, rows
from runtime.kafka_connection import KafkaConnection, kafka_from_env
from schemas.envelope import CloudEvent
from schemas.topics import JCP_CLAIMANT_EVENTS

app = typer.Typer(help=__doc__, no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: list them, redrive them.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
console = Console()
errors = Console(stderr=True)


def _api() -> httpx.Client:
    token = os.environ.get("BROKERAGE_TOKEN", "")
    if not token:
        errors.print("[red]set BROKERAGE_TOKEN to an operations token[/red]")
        raise typer.Exit(2)
    return httpx.Client(
        base_url=os.environ.get("BROKERAGE_URL", "http://127.0.0.1:8105"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        errors.print(f"[red]{response.status_code}[/red] {response.text[:500]}")
        raise typer.Exit(1)
    return response.json() if "json" in response.headers.get("content-type", "") else response.text


def _table(title: str, items: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for item in items:
        table.add_row(*(str(item.get(c, "")) for c in columns))
    console.print(table)


@app.command()
def lag(only_lagging: Annotated[bool, typer.Option("--lagging")] = False) -> None:
    """Consumer lag of every group, per partition."""
    with _api() as api:
        found = _ok(api.get("/streams/lag"))
    found = [r for r in found if r["lag"] or not only_lagging]
    _table("consumer lag", found, ["group", "topic", "partition", "committed", "end", "lag"])


@app.command()
def tail(
    topic: str | None = None,
    type: Annotated[str | None, typer.Option("--type")] = None,
    subject: str | None = None,
) -> None:
    """Records as they arrive (Ctrl-C stops)."""
    params = {k: v for k, v in {"topic": topic, "type": type, "subject": subject}.items() if v}
    with _api() as api, api.stream("GET", "/streams/tail", params=params, timeout=None) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                record = json.loads(line[6:])
                event = record["event"]
                console.print(
                    f"[cyan]{event.get('time', '')}[/cyan] {record['topic']} "
                    f"[bold]{event['type']}[/bold] {event.get('subject', '')}"
                )


@dlq_app.command("list")
def dlq_list(dlq_topic: str | None = None) -> None:
    """Dead letters: where from, why, and whether redriven."""
    with _api() as api:
        found = _ok(api.get("/dlq", params={"dlq_topic": dlq_topic} if dlq_topic else {}))
    columns = [
        "dlq_topic",
        "partition",
        "offset",
        "original_topic",
        "key",
        "reason",
        "error",
        "group",
        "at",
        "redriven",
    ]
    _table("dead letters", found, columns)


@dlq_app.command("redrive")
def dlq_redrive(
    dlq_topic: str,
    offsets: Annotated[list[str] | None, typer.Option("--offset", help="PARTITION:OFFSET")] = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
    max_per_second: float | None = None,
    wait: bool = True,
) -> None:
    """Send dead letters back to their original topic, and follow the task."""
    body: dict[str, Any] = {"dlq_topic": dlq_topic}
    if all_:
        body["all"] = True
    else:
        body["offsets"] = [
            {"partition": int(p), "offset": int(o)}
            for p, o in (x.split(":") for x in offsets or ())
        ]
    if max_per_second:
        body["max_per_second"] = max_per_second
    with _api() as api:
        task = _ok(api.post("/dlq/redrive", json=body))
        console.print(f"task {task['task_id']}: {task.get('total')} records")
        while wait:
            state = _ok(api.get(f"/dlq/redrive/{task['task_id']}"))
            if state["status"] != "running":
                console.print(f"{state['status']}: moved {state['moved']} of {state['total']}")
                if state["status"] == "failed":
                    raise typer.Exit(1)
                break
            time.sleep(0.5)


@app.command()
def kpis(
    measure: Annotated[str, typer.Option()] = "placements_started",
    by: Annotated[str, typer.Option()] = "month",
    from_: Annotated[str | None, typer.Option("--from")] = None,
    to: str | None = None,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """A measure by one dimension (`--csv`: the CSV the quarterly return takes)."""
    params = {
        "measure": measure,
        "by": by,
        **({"from": from_} if from_ else {}),
        **({"to": to} if to else {}),
    }
    with _api() as api:
        if as_csv:
            sys.stdout.write(_ok(api.get("/kpis.csv", params=params)))
            return
        found = _ok(api.get("/kpis", params=params))
    _table(f"{measure} by {by}", found, ["key", "value"])


@app.command()
def rebuild(projection: str = "all") -> None:
    """Rebuild the operations read models from offset 0 into fresh collections, and compare
    their answers with the live ones (needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI)."""
    from services.operations.rebuild import main as rebuild_main

    raise typer.Exit(asyncio.run(rebuild_main(projection)))


@app.command("import-claimants")
def import_claimants(
    file: Path,
    bootstrap: Annotated[str | None, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS")] = None,
) -> None:
    """Publish `jcp.claimant.registered` for every valid row of a CSV, as a JCP feed does
    (columns as the event's fields; `priority_groups` separated by `;`)."""
    refused = asyncio.run(_import(file, kafka_from_env(bootstrap)))
    if refused:
        _table(
            f"{len(refused)} rows refused",
            [{"line": r.line, "error": r.error} for r in refused[:50]],
            ["line", "error"],
        )
        why = Counter(r.error.split(":")[0] for r in refused)
        console.print("refused by field: " + ", ".join(f"{k} {n}" for k, n in why.most_common()))


async def _import(file: Path, kafka: KafkaConnection) -> list[Refused]:
    from aiokafka import AIOKafkaProducer

    with file.open(newline="") as f:
        total = sum(1 for _ in f) - 1
    producer = AIOKafkaProducer(
        **kafka.options(),
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        client_id="brokerage-cli",
    )
    await producer.start()
    refused: list[Refused] = []
    sent = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress, file.open(newline="") as f:
            task = progress.add_task("publishing claimants", total=max(total, 0))
            pending = []
            for _, row in rows(f):
                if isinstance(row, Refused):
                    refused.append(row)
                else:
                    event = CloudEvent.create(
                        type="jcp.claimant.registered",
                        source="/jcp/brokerage-cli",
                        subject=row["claimant_ref"],
                        data=row,
                    )
                    pending.append(
                        await producer.send(
                            JCP_CLAIMANT_EVENTS.name,
                            event.to_bytes(),
                            key=event.subject.encode(),
                            headers=[("content-type", b"application/cloudevents+json")],
                        )
                    )
                    sent += 1
                if len(pending) >= 500:
                    await asyncio.gather(*pending)
                    pending = []
                progress.advance(task)
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    console.print(f"published {sent}, refused {len(refused)}")
    return refused


if __name__ == "__main__":
    app()
