#!/usr/bin/env python3
"""Open N idle CONNECT tunnels through an HTTP proxy and hold them.

Used by deploy/bench/run.sh to measure a proxy's resident memory per idle
session. Standard library only (asyncio).

For each of N connections to the proxy it sends

    CONNECT <target> HTTP/1.1\r\nHost: <target>\r\n\r\n

reads the response head, and counts the tunnel as established if the status is
200. It then sends nothing more: the tunnels stay idle. Once every attempt has
finished it writes a JSON status file (atomically) and holds the connections
until SIGTERM/SIGINT or until --hold seconds have passed, whichever is first.
Everything is bounded: each attempt has a timeout, and so has the hold.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time


def parse_hostport(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {s!r}")
    return host, int(port)


async def open_tunnel(proxy, target, timeout, sem, held, errors):
    async with sem:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(proxy[0], proxy[1]), timeout
            )
            authority = f"{target[0]}:{target[1]}"
            writer.write(
                f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) >= 2 and parts[1] == "200":
                held.append((reader, writer))
                return
            key = f"status {parts[1] if len(parts) >= 2 else status_line!r}"
        except asyncio.TimeoutError:
            key = "timeout"
        except asyncio.IncompleteReadError:
            key = "closed before response"
        except OSError as e:
            key = f"{type(e).__name__}: {e.strerror or e}"
        errors[key] = errors.get(key, 0) + 1
        if writer is not None:
            writer.transport.abort()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proxy", type=parse_hostport, required=True)
    ap.add_argument("--target", type=parse_hostport, required=True)
    ap.add_argument("-n", "--count", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=200,
                    help="tunnel set-ups in flight at once")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds allowed for each connect and CONNECT response")
    ap.add_argument("--hold", type=float, default=600.0,
                    help="maximum seconds to hold the tunnels")
    ap.add_argument("--status", required=True, help="JSON status file to write")
    args = ap.parse_args()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    held, errors = [], {}
    sem = asyncio.Semaphore(args.concurrency)
    t0 = time.monotonic()
    await asyncio.gather(*(
        open_tunnel(args.proxy, args.target, args.timeout, sem, held, errors)
        for _ in range(args.count)
    ))
    status = {
        "requested": args.count,
        "ok": len(held),
        "failed": args.count - len(held),
        "errors": errors,
        "setup_seconds": round(time.monotonic() - t0, 3),
    }
    tmp = args.status + ".tmp"
    with open(tmp, "w") as f:
        json.dump(status, f)
    os.replace(tmp, args.status)
    print(json.dumps(status), file=sys.stderr)

    try:
        await asyncio.wait_for(stop.wait(), args.hold)
    except asyncio.TimeoutError:
        pass
    for _, writer in held:
        writer.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
