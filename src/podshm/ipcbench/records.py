"""From a batch pair's two JSON reports to one checked record per measurement.

A figure is only as good as the machinery behind it, so every record is cross-checked
before it counts: both sides succeeded, they ran the same cell, every message sent arrived
(and, with ``--verify full``, with the same CRC-32 on both sides), and each peer ran on the
CPU its placement asked for. A record that fails a check carries its problems and is left
out of the statistics.
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]
CELL_KEYS = ("placement", "impl", "transport", "size", "mode")


def _crc_problems(mode: str, server: dict, client: dict) -> list[str]:
    pairs = [("client sent", client, "crc_sent", "server received", server, "crc_recv")]
    if mode == "lat":
        pairs.append(("server echoed", server, "crc_sent", "client received", client, "crc_recv"))
    problems = []
    for what, a, ka, other, b, kb in pairs:
        if a.get(ka) is None or a.get(ka) != b.get(kb):
            problems.append(f"CRC-32 of what the {what} ({a.get(ka)}) != {other} ({b.get(kb)})")
    return problems


def _count_problems(mode: str, server: dict, client: dict) -> list[str]:
    sent, received = client.get("sent"), server.get("received")
    problems = []
    if not isinstance(sent, int) or sent != received:
        problems.append(f"client sent {sent} messages, server received {received}")
    if mode == "lat":
        echoed, back = server.get("sent"), client.get("received")
        if echoed != received or back != sent:
            problems.append(f"server echoed {echoed} of {received}, client got {back} back")
        samples = (client.get("lat_ns") or {}).get("samples")
        if client.get("measured") != samples or not samples:
            problems.append(f"client measured {client.get('measured')} round trips, {samples} kept")
    elif not (isinstance(server.get("measured"), int) and 0 < server["measured"] <= received):
        problems.append(f"server measured {server.get('measured')} of {received} messages")
    return problems


def _cpu_problems(cpus: tuple[int, int], server: dict, client: dict) -> list[str]:
    problems = []
    for role, doc, cpu in (("server", server, cpus[0]), ("client", client, cpus[1])):
        if cpu < 0:
            continue
        if doc.get("cpus_allowed") != [cpu] or doc.get("cpu_end") != cpu:
            problems.append(
                f"{role} was to run on CPU {cpu} only, ran with CPUs {doc.get('cpus_allowed')} "
                f"and ended on {doc.get('cpu_end')}"
            )
    return problems


def pair_problems(cell: dict, cpus: tuple[int, int], server: dict, client: dict) -> list[str]:
    """Everything wrong with one cell's two reports (empty: the figures can be trusted)."""
    problems = []
    for role, doc in (("server", server), ("client", client)):
        if not doc.get("ok"):
            reason = (doc.get("error") or {}).get("reason", "no reason given")
            problems.append(f"{role} failed (exit {doc.get('exit_code')}): {reason}")
        mismatched = [k for k in CELL_KEYS if doc.get(k) != cell.get(k)]
        if mismatched:
            problems.append(f"{role} ran another cell ({', '.join(mismatched)} differ)")
    if problems:
        return problems
    problems += _count_problems(cell["mode"], server, client)
    if server.get("verify") == "full":
        problems += _crc_problems(cell["mode"], server, client)
    problems += _cpu_problems(cpus, server, client)
    return problems


def _lat_us(client: dict) -> dict[str, Any] | None:
    lat = client.get("lat_ns")
    if not lat:
        return None
    return {k: (v if k == "samples" else round(v / 1000, 4)) for k, v in lat.items()}


def _thr(server: dict) -> dict[str, Any] | None:
    thr = server.get("thr")
    if not thr:
        return None
    return {**thr, "messages": server.get("measured"), "window_s": server.get("window_s")}


def make_record(
    env: str, rep: int, cell: dict, cpus: tuple[int, int], server: dict, client: dict
) -> Record:
    """One measurement: what ran where, the figures (us, msg/s, B/s) and its problems."""
    problems = pair_problems(cell, cpus, server, client)
    return {
        "env": env,
        "rep": rep,
        **{k: cell[k] for k in CELL_KEYS},
        "ok": not problems,
        "problems": problems,
        "server_cpu": cpus[0],
        "client_cpu": cpus[1],
        "sent": client.get("sent"),
        "received": server.get("received"),
        "verify": server.get("verify"),
        "lat_us": _lat_us(client) if cell["mode"] == "lat" else None,
        "thr": _thr(server) if cell["mode"] == "thr" else None,
    }


def records_from_batches(
    env: str, rep: int, cpus: tuple[int, int], server: dict, client: dict
) -> list[Record]:
    """Pair the two batches' cells by index; cells one side lacks become failed records."""
    by_index = {c.get("index"): c for c in client.get("cells") or []}
    records = []
    for cell in server.get("cells") or []:
        other = by_index.pop(cell.get("index"), {"ok": False, "error": {"reason": "missing"}})
        records.append(make_record(env, rep, cell, cpus, cell, other))
    for cell in by_index.values():
        missing = {"ok": False, "error": {"reason": "the server batch has no such cell"}}
        records.append(make_record(env, rep, cell, cpus, missing, cell))
    return records


def failed_batch(
    env: str, rep: int, cells: list[dict], cpus: tuple[int, int], reason: str
) -> list[Record]:
    """Records for a batch pair that produced nothing usable."""
    doc = {"ok": False, "error": {"reason": reason}}
    return [make_record(env, rep, cell, cpus, doc, doc) for cell in cells]
