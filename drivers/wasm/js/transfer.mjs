// One data transfer (RETR, STOR, APPE, STOU, LIST, NLST, MLSD) as the core's
// `transfer` event describes it: open the file first (a missing file is 550
// before any data connection), then get the data connection, say
// `transferStarted` (the core sends 150), move the bytes, and report how it
// ended. TYPE A conversion and listing lines come from the module.
import { AsciiDecoder, AsciiEncoder } from './module.mjs';
import { connectActive, secureData } from './data.mjs';

const CHUNK = 256 * 1024;
/** A data connection silent this long is dropped (426): the core does not time out a started transfer. */
const DATA_IDLE_MS = 5 * 60 * 1000;

/** Entries formatted per call into the module: one call per line would cost more than the lines. */
const LISTING_BATCH = 256;

/**
 * A directory's entries, read once and sorted in place by name, bytewise:
 * the order the core asks of every host (`listing::sort_by_name`), so LIST,
 * NLST and MLSD read the same as on the Rust drivers. A directory that
 * cannot be read fails here, before the data connection.
 */
async function sortedEntries(batches) {
  const entries = [];
  for await (const batch of batches) {
    for (const entry of batch) entries.push(entry);
  }
  return entries.sort((a, b) => Buffer.compare(a.name, b.name));
}

/** The name to report for a failure: a transfer or file error the module knows. */
export function failureCode(error, dataPhase) {
  if (error?.code === 'ABORT_ERR' || error?.name === 'AbortError') return 'aborted';
  if (error?.code === 'noDataConnection' || error?.code === 'tlsFailed') return error.code;
  if (dataPhase) return 'connectionLost';
  if (typeof error?.code === 'string' && /^E[A-Z0-9]+$/.test(error.code)) return error.code;
  return 'local';
}

/** Writes `chunk`, waiting for the socket to drain; rejects if it breaks or the transfer is aborted. */
function write(socket, chunk, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
    let settled = false;
    const done = (error) => {
      if (settled) return;
      settled = true;
      socket.removeListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onClose = () => done(Object.assign(new Error('data connection closed'), { code: 'ECONNRESET' }));
    const onAbort = () => done(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
    socket.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (socket.write(chunk, (error) => error && done(error))) done();
    else socket.once('drain', () => done());
  });
}

/**
 * Ends the data connection (TLS close_notify, then FIN) once every byte is
 * handed to the kernel, then waits for the peer to close its side, so the
 * socket is never reset while the peer may still be reading.
 */
function finish(socket) {
  const cut = () => Object.assign(new Error('data connection closed before the end'), { code: 'ECONNRESET' });
  return new Promise((resolve, reject) => {
    let flushed = false;
    const onClose = () => {
      clearTimeout(timer);
      if (flushed || socket.writableFinished) resolve();
      else reject(cut());
    };
    let timer;
    socket.once('close', onClose);
    socket.end(() => {
      flushed = true;
      // A peer that never closes its side gets 5 s, then the socket is destroyed.
      timer = setTimeout(() => socket.destroy(), 5000);
    });
  });
}

/** Reads the whole upload; `sink` gets each chunk. */
async function receive(socket, signal, sink) {
  const onAbort = () => socket.destroy(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of socket) await sink(chunk);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs the transfer `event` for the control connection `control`, which
 * provides: session, storage (LocalFs), passive (PassiveListener or null),
 * localAddress, secureContext, answer(call) and log(line). Never rejects.
 */
export async function runTransfer(control, event, signal) {
  const { session, storage } = control;
  const started = performance.now();
  let file = null;
  let listing = null;
  let socket = null;
  let dataPhase = false;
  let bytes = 0;
  const upload = ['store', 'append', 'storeUnique'].includes(event.kind);
  try {
    // The file first: its errors are answered before any data connection.
    switch (event.kind) {
      case 'retrieve':
        file = await storage.openRead(event.path);
        {
          // The size as opened: the core answers 426, not 226, if fewer bytes arrive.
          const { size } = await file.stat();
          control.answer(() => session.retrieveOpened(event.id, size));
        }
        break;
      case 'store':
        file = await storage.openWrite(event.path, event.offset > 0 ? 'at' : 'truncate', event.offset);
        break;
      case 'append':
        file = await storage.openWrite(event.path, 'append');
        break;
      case 'storeUnique': {
        const unique = await storage.createUnique(event.path);
        file = unique.writer;
        event.uniqueName = unique.name;
        break;
      }
      default: {
        const facts = await storage.stat(event.path);
        listing =
          facts.kind === 'directory'
            ? await sortedEntries(storage.list(event.path))
            : [{ name: event.path.subarray(event.path.lastIndexOf(0x2f) + 1), facts }];
      }
    }

    socket = await dataConnection(control, event, signal);
    // The 150 goes out before the TLS handshake: clients such as ftplib
    // read it before they start TLS on the data connection.
    control.answer(() =>
      event.kind === 'storeUnique'
        ? session.storeUniqueStarted(event.id, event.uniqueName)
        : session.transferStarted(event.id),
    );
    if (event.protected) {
      const raw = socket;
      socket = null;
      try {
        socket = await secureData(raw, control.secureContext, signal);
      } catch (error) {
        raw.destroy();
        throw error;
      }
    } else if (socket.earlyTls) {
      // Secured under PROT P, then PROT C: not a clear-text connection.
      throw Object.assign(new Error('data connection secured before PROT C'), { code: 'noDataConnection' });
    }
    socket.setTimeout(DATA_IDLE_MS, () =>
      socket.destroy(Object.assign(new Error('data connection idle'), { code: 'ETIMEDOUT' })),
    );
    dataPhase = true;

    if (listing) {
      const now = Math.floor(Date.now() / 1000);
      for (let start = 0; start < listing.length; start += LISTING_BATCH) {
        const lines = session.formatListing(event.id, listing.slice(start, start + LISTING_BATCH), now);
        bytes += lines.length;
        await write(socket, lines, signal);
      }
    } else if (event.kind === 'retrieve') {
      const encoder = event.ascii ? new AsciiEncoder() : null;
      let position = event.offset;
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        dataPhase = false; // a read error is the file's fault
        const { bytesRead } = await file.read(buffer, 0, CHUNK, position);
        dataPhase = true;
        if (bytesRead === 0) break;
        position += bytesRead;
        bytes += bytesRead;
        const chunk = buffer.subarray(0, bytesRead);
        // Copied: the buffer is reused while the socket may still hold the chunk.
        await write(socket, encoder ? encoder.encode(chunk) : Buffer.from(chunk), signal);
      }
    } else {
      const decoder = event.ascii ? new AsciiDecoder() : null;
      await receive(socket, signal, async (chunk) => {
        bytes += chunk.length;
        dataPhase = false;
        await file.write(decoder ? decoder.decode(chunk) : chunk);
        dataPhase = true;
      });
      dataPhase = false;
      if (decoder) await file.write(decoder.finish());
    }
    if (file) {
      dataPhase = false;
      await file.close(); // a failed close (e.g. a full disk) is not a complete file
      file = null;
    }
    dataPhase = true;
    // An upload ended with the peer's FIN (the iterator then closed the socket);
    // a download ends with ours, once every byte is out.
    if (!upload) await finish(socket);
    let failure;
    control.answer(() => {
      failure = session.transferFinished(event.id, bytes);
    });
    const ms = Math.round(performance.now() - started);
    const tls = event.protected ? ' (TLS)' : '';
    const what = `${event.kind} ${Buffer.from(event.path).toString()}`;
    // The core's verdict: a RETR of a file truncated meanwhile failed.
    if (failure) control.log(`${what} failed: ${failure} (${bytes} bytes in ${ms} ms)${tls}`);
    else control.log(`${what}: ${bytes} bytes in ${ms} ms${tls}`);
  } catch (error) {
    const code = signal.aborted ? 'aborted' : failureCode(error, dataPhase);
    control.log(`${event.kind} ${Buffer.from(event.path).toString()} failed: ${code} (${error?.message ?? error})`);
    control.answer(() => session.transferFailed(event.id, code));
  } finally {
    await file?.close().catch(() => {});
    socket?.destroy(); // a no-op after a clean finish
  }
}

/** The transfer's data connection, before any TLS: accepted (passive) or dialled (active). */
async function dataConnection(control, event, signal) {
  if (event.data.mode === 'passive') {
    if (!control.passive) throw Object.assign(new Error('no passive listener'), { code: 'noDataConnection' });
    return control.passive.accept(signal);
  }
  return connectActive(event.data.address, event.data.port, control.localAddress, signal);
}
