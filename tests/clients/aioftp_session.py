"""aioftp (pinned in .ci/run) over implicit FTPS: it sends no PBSZ/PROT and
starts TLS on each data connection as soon as it connects, before the
transfer command. Downloads REMOTE to LOCAL_DOWN, uploads LOCAL_UP as
up.bin, lists the directory; prints one line per step.

usage: aioftp_session.py HOST PORT USER PASSWORD CAFILE REMOTE LOCAL_DOWN LOCAL_UP
"""

import asyncio
import ssl
import sys

import aioftp


async def session(host, port, user, password, cafile, remote, local_down, local_up):
    context = ssl.create_default_context(cafile=cafile)
    # The test certificate names localhost; the server is dialled by IP.
    context.check_hostname = False
    client = aioftp.Client(ssl=context, socket_timeout=10)
    await client.connect(host, int(port))
    await client.login(user, password)
    await client.download(remote, local_down, write_into=True)
    print("downloaded")
    await client.upload(local_up, "up.bin", write_into=True)
    print("uploaded")
    names = sorted(str(path) for path, _ in await client.list())
    print("listed " + " ".join(names))
    await client.quit()


asyncio.run(asyncio.wait_for(session(*sys.argv[1:9]), timeout=60))
