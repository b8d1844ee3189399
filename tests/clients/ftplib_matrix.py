#!/usr/bin/env python3
"""Python's ftplib in the cases of ftpwire's host matrix (tests/matrix.rs).

usage: ftplib_matrix.py HOST PORT USER PASSWORD MODE OPS_JSON

MODE is how the control connection is made:
  plain     ftplib.FTP
  explicit  ftplib.FTP_TLS: AUTH TLS before the login, then prot_p()
  implicit  FTP_TLS with TLS from the first byte (the 220 comes under TLS),
            then prot_p()
Certificates are not checked. Like ftplib always does, protected data
connections start their TLS handshake only after the 150 reply, and do not
resume the control connection's TLS session.

OPS_JSON is a list of operations, each a list of strings: every operation of
ftplib_session.py ("passive", "stor", "retr", "cmd", "pwd", ...), and:
  ["ccc"]                         FTP_TLS.ccc(): CCC, then the TLS closure
  ["abort_retr", REMOTE, NBYTES]  RETR, read NBYTES of its data, then
                                  FTP.abort() (ABOR sent as TCP urgent
                                  data) with the data connection still
                                  open: {"abort": reply, "then": next reply
                                  or null}
  ["stall_retr", REMOTE, NBYTES]  RETR, read NBYTES, then never read the
                                  data connection again
  ["stall_stor", REMOTE, NBYTES]  STOR, send NBYTES, then send nothing more
                                  (the data connection stays open)
  ["wait", SECONDS]               send nothing; read every reply until the
                                  server closes the control connection
  ["retr_through_sigterm", REMOTE, LOCAL, PID]
                                  open a second, idle session; RETR into
                                  LOCAL, and after the first data arrived
                                  send SIGTERM to PID; read the idle
                                  session's replies to its end, then the
                                  rest of the data, then this session's
                                  replies to its end
The stall operations and "wait" give {"replies": [...], "end": "closed" |
"timeout" | error text}: what the control connection said while the client
sent nothing, each reply read with a bound of SECONDS (stall: 20 s).

Prints "login ok" or "login err <reply>" (then exits 2), then one line per
operation: "ok <JSON value>" or "err <reply text>".
"""

import json
import os
import signal
import socket
import ssl
import sys

import ftplib

from ftplib_session import run as run_common

STALL_BOUND = 20.0


class ImplicitFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS for an implicit-FTPS port: TLS before the greeting."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port = host, port
        if timeout != -999:
            self.timeout = timeout
        sock = socket.create_connection((host, port), self.timeout)
        self.af = sock.family
        self.sock = self.context.wrap_socket(sock, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def client(mode):
    if mode == "plain":
        return ftplib.FTP()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if mode == "explicit":
        return ftplib.FTP_TLS(context=context)
    if mode == "implicit":
        return ImplicitFTP_TLS(context=context)
    raise ValueError("unknown mode " + mode)


def open_session(host, port, user, password, mode):
    ftp = client(mode)
    ftp.connect(host, port, timeout=30)
    ftp.login(user, password)
    if mode != "plain":
        ftp.prot_p()
    return ftp


def one_line(text):
    return " ".join(str(text).split())


def read_reply(ftp, bound):
    """The next reply (None at EOF); raw, so 4xx/5xx do not raise."""
    ftp.sock.settimeout(bound)
    try:
        return ftp.getmultiline()
    except EOFError:
        return None


def replies_until_closed(ftp, bound):
    """Every reply until the server closes the control connection."""
    replies = []
    while True:
        try:
            reply = read_reply(ftp, bound)
        except (socket.timeout, TimeoutError):
            return {"replies": replies, "end": "timeout"}
        except OSError as error:
            return {"replies": replies, "end": one_line(error)}
        if reply is None:
            return {"replies": replies, "end": "closed"}
        replies.append(one_line(reply))


def read_some(conn, nbytes):
    got = 0
    while got < nbytes:
        chunk = conn.recv(min(65536, nbytes - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def run(ftp, op, args, session):
    if op == "ccc":
        return ftp.ccc()
    if op == "abort_retr":
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR " + args[0])
        read_some(conn, int(args[1]))
        ftp.sock.settimeout(10)
        try:
            first = ftp.abort()
        except (ftplib.all_errors + (ValueError,)) as error:
            first = str(error)
        then = None
        if first.startswith("426"):
            then = read_reply(ftp, 20.0)
        conn.close()
        ftp.sock.settimeout(30)
        return {"abort": one_line(first), "then": then and one_line(then)}
    if op == "stall_retr":
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR " + args[0])
        read_some(conn, int(args[1]))
        result = replies_until_closed(ftp, STALL_BOUND)
        conn.close()
        return result
    if op == "stall_stor":
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR " + args[0])
        conn.sendall(b"\x5a" * int(args[1]))
        result = replies_until_closed(ftp, STALL_BOUND)
        conn.close()
        return result
    if op == "wait":
        return replies_until_closed(ftp, float(args[0]))
    if op == "retr_through_sigterm":
        remote, local, pid = args[0], args[1], int(args[2])
        idle = session()
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR " + remote)
        received = 0
        with open(local, "wb") as out:
            chunk = conn.recv(65536)
            out.write(chunk)
            received += len(chunk)
            # The transfer is running (data arrived): now the signal.
            os.kill(pid, signal.SIGTERM)
            idle_result = replies_until_closed(idle, STALL_BOUND)
            while chunk:
                chunk = conn.recv(65536)
                out.write(chunk)
                received += len(chunk)
        conn.close()
        return {
            "idle": idle_result,
            "received": received,
            "busy": replies_until_closed(ftp, STALL_BOUND),
        }
    return run_common(ftp, op, args)


def main():
    host, port, user, password, mode, ops = sys.argv[1:7]
    port = int(port)

    def session():
        return open_session(host, port, user, password, mode)

    try:
        ftp = session()
    except ftplib.error_perm as error:
        print("login err " + one_line(error), flush=True)
        sys.exit(2)
    print("login ok", flush=True)
    for op, *args in json.loads(ops):
        try:
            value = run(ftp, op, args, session)
        except (ftplib.all_errors + (ValueError,)) as error:
            print("err " + (one_line(error) or type(error).__name__), flush=True)
        else:
            print("ok " + json.dumps(value), flush=True)
    try:
        ftp.quit()
    except ftplib.all_errors:
        ftp.close()


if __name__ == "__main__":
    main()
