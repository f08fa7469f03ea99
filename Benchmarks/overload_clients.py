#!/usr/bin/env python3
"""Clients that hold a gateway's connections, for Benchmarks/overload.sh.

  overload_clients.py idle PORT COUNT HOLD_SECONDS      COUNT keep-alive connections, one request each, then idle
  overload_clients.py slowloris PORT COUNT SECONDS      COUNT connections sending a request head a byte per second
  overload_clients.py slowbody PORT COUNT SECONDS       COUNT connections sending a 100,000-byte body a byte per second

Prints one line of JSON: how many connected, were answered (and with what status), were closed by the gateway.
"""
import asyncio, json, resource, sys, time

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

async def read_status(reader, timeout):
    line = await asyncio.wait_for(reader.readline(), timeout)
    if not line:
        return None
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1

async def idle(port, count, hold):
    connections, statuses = [], {}
    started = time.time()
    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /idle HTTP/1.1\r\nHost: a\r\n\r\n")
        await writer.drain()
        status = await read_status(reader, 60)
        # Read the rest of the answer (headers and the small body) so the connection is idle afterwards.
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
        connections.append((reader, writer))
        statuses[status] = statuses.get(status, 0) + 1
    for start in range(0, count, 500):
        await asyncio.gather(*(one() for _ in range(start, min(count, start + 500))), return_exceptions=True)
    opened = len(connections)
    print(json.dumps({"mode": "idle", "open": opened, "statuses": statuses, "seconds_to_open": round(time.time() - started, 1)}), flush=True)
    await asyncio.sleep(hold)
    still = sum(1 for reader, _ in connections if not reader.at_eof())
    for _, writer in connections:
        writer.close()
    print(json.dumps({"mode": "idle", "still_open_after_hold": still}), flush=True)

async def trickle(port, count, seconds, head, body):
    answered, statuses, closed, opened = 0, {}, 0, 0
    async def one():
        nonlocal answered, closed, opened
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        opened += 1
        writer.write(head)
        deadline = time.time() + seconds
        pending = asyncio.ensure_future(read_status(reader, seconds + 5))
        while time.time() < deadline and not pending.done():
            try:
                writer.write(body)
                await writer.drain()
            except (ConnectionError, OSError):
                break
            await asyncio.wait([pending], timeout=1)
        try:
            status = await asyncio.wait_for(pending, timeout=max(0.1, deadline - time.time() + 2))
        except (asyncio.TimeoutError, ConnectionError, OSError, ValueError):
            status = None
        if status is not None:
            answered += 1
            statuses[status] = statuses.get(status, 0) + 1
        try:
            rest = await asyncio.wait_for(reader.read(), timeout=2)
            closed += 1
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        writer.close()
    await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    print(json.dumps({"open": opened, "answered": answered, "statuses": statuses, "closed_by_gateway": closed}), flush=True)

mode, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
if mode == "idle":
    asyncio.run(idle(port, count, seconds))
elif mode == "slowloris":
    asyncio.run(trickle(port, count, seconds, b"GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: ", b"a"))
elif mode == "slowbody":
    asyncio.run(trickle(port, count, seconds, b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n", b"b"))
else:
    sys.exit("mode is idle, slowloris or slowbody")
