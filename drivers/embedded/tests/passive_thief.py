"""A connection to a session's passive port from another address than the
session's client (tests/tap.rs runs this in the test's namespace, which
has both addresses): the host must drop it and serve only the client.

usage: passive_thief.py HOST THIEF_ADDRESS PATH
Prints JSON: what the thief read, what the client read, the replies.
"""

import json
import re
import socket
import sys


def main():
    host, thief_address, path = sys.argv[1:4]
    seen = {}
    ctl = socket.create_connection((host, 21), timeout=10)
    replies = ctl.makefile("rb")

    def command(line):
        ctl.sendall(line.encode() + b"\r\n")
        return replies.readline().decode().rstrip()

    seen["greeting"] = replies.readline().decode().rstrip()
    command("USER ann")
    seen["login"] = command("PASS secret")
    command("TYPE I")
    pasv = command("PASV")
    numbers = [int(n) for n in re.search(r"\((.*)\)", pasv).group(1).split(",")]
    port = numbers[4] * 256 + numbers[5]
    # The thief's TCP handshake is made by the host's listener; the host
    # checks the source when the transfer command asks for the connection.
    thief = socket.socket()
    thief.settimeout(10)
    thief.bind((thief_address, 0))
    thief.connect((host, port))
    ctl.sendall(("RETR " + path + "\r\n").encode())
    try:
        stolen = thief.recv(65536)
        seen["thief"] = "read %d bytes" % len(stolen)
    except ConnectionResetError:
        seen["thief"] = "reset"
    thief.close()
    # The listener is back for the client.
    data = socket.create_connection((host, port), timeout=10)
    received = b""
    while True:
        chunk = data.recv(65536)
        if not chunk:
            break
        received += chunk
    data.close()
    seen["client bytes"] = len(received)
    seen["transfer"] = [replies.readline().decode().rstrip() for _ in range(2)]
    seen["quit"] = command("QUIT")
    print(json.dumps(seen))


main()
