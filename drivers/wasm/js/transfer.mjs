// One data transfer (RETR, STOR, APPE, STOU, LIST, NLST, MLSD), step by step
// as the core asks: `transfer` (open the storage its plan names), then
// `connectData`, `secureData` (PROT P: the 150 is already out), `moveData`
// and `closeData`. Each step is carried out and answered; the order, the
// deadlines and every reply are the core's. TYPE A conversion and listing
// lines come from the module.
import { AsciiDecoder, AsciiEncoder } from './module.mjs';
import { Arrivals, connectActive, secureData } from './data.mjs';

const CHUNK = 256 * 1024;
const now = () => performance.now();

/** The steps the core asks of one transfer, in order, awaited one at a time. */
export class Steps extends Arrivals {}

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
  if (['noDataConnection', 'tlsFailed', 'tlsSessionNotReused'].includes(error?.code)) return error.code;
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
 * localAddress, secureContext, answer(call) and log(line). `steps` brings
 * the core's later events for it; `progress` counts the bytes moved (the
 * host reports them before the core's deadlines). Never rejects.
 */
export async function runTransfer(control, event, steps, progress, signal) {
  const { session, storage } = control;
  let file = null;
  let listing = null;
  let socket = null;
  const upload = event.plan === 'write' || event.plan === 'createUnique';
  const fail = (code) => control.answer(() => session.answer(event.id, 'transferFailed', code, now()));
  // Each step's failure is answered as that step's: the core picks the reply.
  let phase = 'storage';
  try {
    // The file first: its errors are answered before any data connection.
    switch (event.plan) {
      case 'read': {
        file = await storage.openRead(event.path);
        // The size as opened: the core answers 426, not 226, if fewer bytes arrive.
        const { size } = await file.stat();
        control.answer(() => session.answer(event.id, 'storageOpened', { size }, now()));
        break;
      }
      case 'write':
        file = await storage.openWrite(event.path, event.mode, event.offset);
        control.answer(() => session.answer(event.id, 'storageOpened', undefined, now()));
        break;
      case 'createUnique': {
        const unique = await storage.createUnique(event.path);
        file = unique.writer;
        control.answer(() => session.answer(event.id, 'storageOpened', { uniqueName: unique.name }, now()));
        break;
      }
      default: {
        const facts = await storage.stat(event.path);
        listing =
          facts.kind === 'directory'
            ? await sortedEntries(storage.list(event.path))
            : [{ name: event.path.subarray(event.path.lastIndexOf(0x2f) + 1), facts }];
        control.answer(() => session.answer(event.id, 'storageOpened', undefined, now()));
      }
    }

    phase = 'connect';
    const connect = await steps.next(signal);
    socket = await dataConnection(control, connect, signal);
    if (!connect.protected && socket.earlyTls) {
      // Secured under PROT P, then PROT C: not a clear-text connection.
      throw Object.assign(new Error('data connection secured before PROT C'), { code: 'noDataConnection' });
    }
    control.answer(() => session.answer(event.id, 'dataConnected', undefined, now()));

    let step = await steps.next(signal);
    if (step.type === 'secureData') {
      phase = 'secure';
      const raw = socket;
      socket = null;
      try {
        socket = await secureData(raw, control.secureContext, signal);
      } catch (error) {
        raw.destroy();
        throw error;
      }
      // Only a client holding this control connection's TLS session can
      // resume it: the context (and its ticket keys) is this connection's own.
      const resumed = socket.isSessionReused();
      control.answer(() => session.answer(event.id, 'dataSecured', resumed, now()));
      step = await steps.next(signal);
    }

    phase = 'move';
    let bytes = 0;
    if (listing) {
      const now = Math.floor(Date.now() / 1000);
      for (let start = 0; start < listing.length; start += LISTING_BATCH) {
        const lines = session.formatListing(event.id, listing.slice(start, start + LISTING_BATCH), now);
        bytes += lines.length;
        progress.bytes = bytes;
        await write(socket, lines, signal);
      }
    } else if (event.plan === 'read') {
      const encoder = event.ascii ? new AsciiEncoder() : null;
      let position = event.offset;
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        phase = 'file'; // a read error is the file's fault
        const { bytesRead } = await file.read(buffer, 0, CHUNK, position);
        phase = 'move';
        if (bytesRead === 0) break;
        position += bytesRead;
        bytes += bytesRead;
        progress.bytes = bytes;
        const chunk = buffer.subarray(0, bytesRead);
        // Copied: the buffer is reused while the socket may still hold the chunk.
        await write(socket, encoder ? encoder.encode(chunk) : Buffer.from(chunk), signal);
      }
    } else {
      const decoder = event.ascii ? new AsciiDecoder() : null;
      await receive(socket, signal, async (chunk) => {
        bytes += chunk.length;
        progress.bytes = bytes;
        phase = 'file';
        await file.write(decoder ? decoder.decode(chunk) : chunk);
        phase = 'move';
      });
      phase = 'file';
      if (decoder) await file.write(decoder.finish());
    }
    if (file) {
      phase = 'file';
      await file.close(); // a failed close (e.g. a full disk) is not a complete file
      file = null;
    }
    control.answer(() => session.answer(event.id, 'dataMoved', bytes, now()));

    phase = 'close';
    await steps.next(signal);
    // An upload ended with the peer's FIN (the iterator then closed the socket);
    // a download ends with ours, once every byte is out.
    if (!upload) await finish(socket);
    control.answer(() => session.answer(event.id, 'dataClosed', undefined, now()));
  } catch (error) {
    // Given up by the core (ABOR, a deadline): it answered already.
    if (signal.aborted) return;
    const code = failureCode(error, phase === 'move' || phase === 'close');
    control.log(`data connection: ${code} (${error?.message ?? error})`);
    fail(code);
  } finally {
    await file?.close().catch(() => {});
    socket?.destroy(); // a no-op after a clean finish
  }
}

/** The transfer's data connection (a `connectData` step), before any TLS: accepted (passive) or dialled (active). */
async function dataConnection(control, step, signal) {
  if (step.data.mode === 'passive') {
    if (!control.passive) throw Object.assign(new Error('no passive listener'), { code: 'noDataConnection' });
    return control.passive.accept(signal);
  }
  return connectActive(step.data.address, step.data.port, control.localAddress, signal);
}
