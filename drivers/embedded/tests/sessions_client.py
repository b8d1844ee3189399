"""The smoltcp host's fixed session places (tests/tap.rs runs it in the
test's namespace with a host of two sessions): two control connections get
their greeting, a third is refused while both are taken, and once one
session QUITs a new client gets its place. Prints what it saw as JSON.

usage: sessions_client.py HOST
"""

import json
import socket
import sys
import time


def greet(host):
    conn = socket.create_connection((host, 21), timeout=10)
    return conn, conn.recv(1024).decode()


def main():
    host = sys.argv[1]
    seen = {}
    first, seen["first"] = greet(host)
    second, seen["second"] = greet(host)
    try:
        third, greeting = greet(host)
        seen["third"] = "accepted: " + greeting
    except ConnectionRefusedError:
        seen["third"] = "refused"
    first.sendall(b"QUIT\r\n")
    seen["quit"] = first.recv(1024).decode()
    while first.recv(1024):
        pass
    first.close()
    # The place is free once the host has seen the close: poll for it (a
    # connection before then is refused, as the third was).
    seen["attempts"] = 0
    for _ in range(250):
        seen["attempts"] += 1
        try:
            fourth, seen["fourth"] = greet(host)
            break
        except ConnectionRefusedError:
            time.sleep(0.02)
    second.sendall(b"NOOP\r\n")
    seen["second noop"] = second.recv(1024).decode()
    print(json.dumps(seen))


main()
