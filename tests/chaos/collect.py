#!/usr/bin/env python3
"""tests/chaos/collect.py ADDR PORT FILE: the clients' result sink.

Every client container sends one UDP datagram per request it made (its id,
start and end time, ok or FAIL and curl's error). This writes each one, as a
line, to FILE, prefixed with the time it arrived. A client's own log dies with
its container when a host loses power; what it sent here does not.
"""
import socket
import sys
import time

addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
sock.bind((addr, port))
with open(path, "a", buffering=1) as out:
    while True:
        data, _ = sock.recvfrom(4096)
        line = data.decode("utf-8", errors="replace").strip()
        if line:
            out.write(f"{time.time():.3f} {line}\n")
