"""Python's ftplib against the smoltcp host (tests/tap.rs runs it inside the
test's network namespace): one session that lists, downloads, uploads and
changes files, in passive or active mode. It checks nothing itself; it
prints what it saw as one JSON object for the Rust test to judge.

usage: ftplib_client.py HOST passive|active DIR DOWNLOAD,... UPLOAD,...
Downloads /pub/NAME into DIR/NAME; uploads DIR/NAME to /up/NAME.
"""

import ftplib
import json
import os
import sys


def main():
    host, mode, workdir, downloads, uploads = sys.argv[1:6]
    downloads = [name for name in downloads.split(",") if name]
    uploads = [name for name in uploads.split(",") if name]
    seen = {}
    ftp = ftplib.FTP()
    ftp.connect(host, 21, timeout=30)
    seen["welcome"] = ftp.getwelcome()
    seen["login"] = ftp.login("ann", "secret")
    ftp.set_pasv(mode == "passive")
    try:
        seen["auth"] = ftp.sendcmd("AUTH TLS")
    except ftplib.error_perm as refused:
        seen["auth"] = str(refused)
    seen["pwd"] = ftp.pwd()
    ftp.cwd("/pub")
    seen["nlst"] = ftp.nlst()
    ftp.voidcmd("TYPE I")
    seen["sizes"] = {name: ftp.size(name) for name in downloads}
    for name in downloads:
        with open(os.path.join(workdir, name), "wb") as out:
            ftp.retrbinary("RETR " + name, out.write)
    ftp.cwd("/up")
    for name in uploads:
        with open(os.path.join(workdir, name), "rb") as source:
            ftp.storbinary("STOR " + name, source)
    # ABOR during a download (the transfer cannot end before this client
    # closes its side): 426 for the transfer, then 226; the session goes on.
    conn = ftp.transfercmd("RETR /pub/" + downloads[-1])
    seen["before abort"] = len(conn.recv(4096))
    seen["abort"] = [ftp.abort()]
    if seen["abort"][0].startswith("426"):
        seen["abort"].append(ftp.getresp())
    conn.close()
    seen["after abort"] = ftp.voidcmd("NOOP")
    # REST then RETR: the file from an offset; APPE; STOU (the host names it).
    tail = []
    ftp.retrbinary("RETR /pub/" + downloads[-1], tail.append, rest=1000)
    seen["rest tail"] = len(b"".join(tail))
    with open(os.path.join(workdir, "text.txt"), "rb") as source:
        ftp.storbinary("APPE appended.bin", source)
    with open(os.path.join(workdir, "text.txt"), "rb") as source:
        ftp.storbinary("APPE appended.bin", source)
    with open(os.path.join(workdir, "text.txt"), "rb") as source:
        seen["stou"] = ftp.storbinary("STOU", source)
    # TYPE A: CRLF on the wire, LF in the RAM filesystem.
    with open(os.path.join(workdir, "text.txt"), "rb") as source:
        ftp.storlines("STOR text.txt", source)
    lines = []
    ftp.retrlines("RETR text.txt", lines.append)
    seen["text"] = lines
    seen["mkd"] = ftp.mkd("/up/sub")
    seen["rename"] = ftp.rename("/up/text.txt", "/up/sub/moved.txt")
    seen["mlsd"] = {name: facts for name, facts in ftp.mlsd("/up/sub")}
    seen["delete"] = ftp.delete("/up/sub/moved.txt")
    seen["rmd"] = ftp.rmd("/up/sub")
    try:
        ftp.size("/up/sub/moved.txt")
        seen["gone"] = "still there"
    except ftplib.error_perm as missing:
        seen["gone"] = str(missing)
    seen["quit"] = ftp.quit()
    print(json.dumps(seen))


main()
