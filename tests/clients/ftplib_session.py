#!/usr/bin/env python3
"""Drives one FTP session with Python's ftplib for ftpwire's integration tests.

usage: ftplib_session.py HOST PORT USER PASSWORD OPS_JSON [tls|tls-unprotected]

With "tls": ftplib.FTP_TLS (AUTH TLS before the login, certificate not
checked), then prot_p(), so data connections are TLS too; with
"tls-unprotected" the same without prot_p() (no PBSZ, no PROT). Like ftplib
always does, they do not resume the control connection's TLS session.

OPS_JSON is a list of operations, each a list of strings:
  ["passive", "yes"|"no"]        set_pasv
  ["stor", REMOTE, LOCAL]        STOR (binary) from a local file
  ["stor_rest", REMOTE, LOCAL, OFFSET]  REST OFFSET + STOR of LOCAL from OFFSET
  ["retr", REMOTE, LOCAL]        RETR (binary) into a local file
  ["mkd", DIR] ["rmd", DIR] ["delete", FILE] ["cwd", DIR] ["pwd"]
  ["rename", FROM, TO]           RNFR + RNTO
  ["size", FILE]                 SIZE (after TYPE I)
  ["cmd", LINE]                  any command; the value is the reply text
  ["nlst", DIR] ["list", DIR]    names / LIST lines, sorted
  ["mlsd", DIR]                  "name;fact=value;..." strings (facts in
                                 lower case, sorted), sorted by name
  ["prot_c"] ["prot_p"]          FTP_TLS.prot_c() (PROT C alone) / prot_p()

Prints one line per operation: "ok <JSON value>" or "err <reply text>".
A failed connection or login is not an operation: it exits non-zero.
"""

import ftplib
import json
import ssl
import sys


def run(ftp, op, args):
    if op == "passive":
        ftp.set_pasv(args[0] == "yes")
        return None
    if op == "stor":
        with open(args[1], "rb") as f:
            return ftp.storbinary("STOR " + args[0], f, blocksize=65536)
    if op == "stor_rest":
        offset = int(args[2])
        with open(args[1], "rb") as f:
            f.seek(offset)
            return ftp.storbinary("STOR " + args[0], f, blocksize=65536, rest=offset)
    if op == "retr":
        with open(args[1], "wb") as f:
            return ftp.retrbinary("RETR " + args[0], f.write, blocksize=65536)
    if op == "mkd":
        return ftp.mkd(args[0])
    if op == "rmd":
        return ftp.rmd(args[0])
    if op == "delete":
        return ftp.delete(args[0])
    if op == "cwd":
        return ftp.cwd(args[0])
    if op == "pwd":
        return ftp.pwd()
    if op == "rename":
        return ftp.rename(args[0], args[1])
    if op == "size":
        ftp.voidcmd("TYPE I")
        return ftp.size(args[0])
    if op == "prot_c":
        return ftp.prot_c()
    if op == "prot_p":
        return ftp.prot_p()
    if op == "cmd":
        return ftp.sendcmd(args[0])
    if op == "nlst":
        return sorted(ftp.nlst(*args))
    if op == "list":
        lines = []
        ftp.retrlines("LIST " + args[0] if args else "LIST", lines.append)
        return sorted(lines)
    if op == "mlsd":
        return sorted(
            name + "".join(";%s=%s" % (k.lower(), v) for k, v in sorted(facts.items()))
            for name, facts in ftp.mlsd(*args)
        )
    raise ValueError("unknown operation " + op)


def main():
    host, port, user, password, ops = sys.argv[1:6]
    mode = sys.argv[6:]
    tls = mode in (["tls"], ["tls-unprotected"])
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        ftp = ftplib.FTP_TLS(context=context)
    else:
        ftp = ftplib.FTP()
    ftp.connect(host, int(port), timeout=30)
    ftp.login(user, password)
    if mode == ["tls"]:
        ftp.prot_p()
    for op, *args in json.loads(ops):
        try:
            value = run(ftp, op, args)
        except ftplib.all_errors as error:
            print("err " + " ".join(str(error).split()), flush=True)
        else:
            print("ok " + json.dumps(value), flush=True)
    try:
        ftp.quit()
    except ftplib.all_errors:
        ftp.close()


if __name__ == "__main__":
    main()
