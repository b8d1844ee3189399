#!/usr/bin/env node
// ftpwire's reference JavaScript host: an FTP/FTPS server whose protocol
// runs in the WebAssembly module. The same flags as `ftpwire serve`:
//
//   node drivers/wasm/js/server.mjs --listen 127.0.0.1:2121 --root DIR --user NAME:PASSWORD
//     [--anonymous] [--passive-ports LO-HI] [--passive-address IP_OR_HOSTNAME]
//     [--local-network CIDR ...] [--tls-cert FILE.pem --tls-key FILE.pem]
//     [--tls-passive-address ADDR] [--implicit-tls-listen HOST:PORT] [--implicit-tls-prot-p] [--require-tls]
//     [--shutdown-grace SECONDS] [--show-dot-files] [--share-dot-files] [--login-timeout SECONDS]
//
// SIGTERM or SIGINT stops it as they stop `ftpwire serve`: no new connections,
// idle sessions read 421, running transfers finish (then 421) within the
// grace period, exit 0; a second signal exits at once (128 + its number).
// With no --user and no --anonymous it serves read-only to anonymous users.
// Prints `listening ftp://HOST:PORT` on stdout when ready; logs on stderr.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parsePortRange } from './data.mjs';
import { FtpServer } from './ftp-server.mjs';

const USAGE = `usage: server.mjs [serve] [--listen HOST:PORT] [--root DIR] [--user NAME:PASSWORD ...] [--anonymous]
  [--passive-ports LO-HI] [--passive-address IP_OR_HOSTNAME] [--local-network CIDR ...]
  [--tls-cert FILE.pem --tls-key FILE.pem] [--tls-passive-address ADDR]
  [--implicit-tls-listen HOST:PORT] [--implicit-tls-prot-p] [--require-tls] [--shutdown-grace SECONDS]
  [--show-dot-files] [--share-dot-files] [--login-timeout SECONDS]`;

/** `HOST:PORT` or `[IPV6]:PORT`. */
export function parseListen(text, flag) {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : -1;
  if (!match || port > 65535) throw new Error(`${flag} "${text}" is not HOST:PORT (e.g. 127.0.0.1:2121)`);
  return { host: match[1] ?? match[2], port };
}

/** The command line as FtpServer options; throws one clear error for anything wrong. */
export function parseOptions(args) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:2121' },
      root: { type: 'string', default: '.' },
      user: { type: 'string', multiple: true, default: [] },
      anonymous: { type: 'boolean', default: false },
      'passive-ports': { type: 'string' },
      'passive-address': { type: 'string' },
      'tls-passive-address': { type: 'string' },
      'local-network': { type: 'string', multiple: true, default: [] },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'implicit-tls-listen': { type: 'string' },
      'implicit-tls-prot-p': { type: 'boolean', default: false },
      'require-tls': { type: 'boolean', default: false },
      'show-dot-files': { type: 'boolean', default: false },
      'share-dot-files': { type: 'boolean', default: false },
      'shutdown-grace': { type: 'string', default: '30' },
      'login-timeout': { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'serve')) {
    throw new Error(`unexpected argument "${positionals.at(-1)}"\n${USAGE}`);
  }
  const users = values.user.map((spec) => {
    const colon = spec.indexOf(':');
    if (colon <= 0) throw new Error(`--user "${spec}" is not NAME:PASSWORD`);
    return { name: spec.slice(0, colon), password: spec.slice(colon + 1) };
  });
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if (Boolean(certFile) !== Boolean(keyFile)) throw new Error('--tls-cert and --tls-key go together: give both');
  const readPem = (flag, file) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${flag} ${file}: ${error.message}`);
    }
  };
  const tls = certFile ? { cert: readPem('--tls-cert', certFile), key: readPem('--tls-key', keyFile) } : null;
  if (!tls && (values['require-tls'] || values['implicit-tls-listen'] || values['implicit-tls-prot-p'])) {
    throw new Error('--require-tls, --implicit-tls-listen and --implicit-tls-prot-p need --tls-cert and --tls-key');
  }
  const loginTimeout = values['login-timeout'];
  if (!/^\d+$/.test(loginTimeout) || Number(loginTimeout) === 0) {
    throw new Error(`--login-timeout "${loginTimeout}" is not a number of seconds above 0`);
  }
  const grace = values['shutdown-grace'];
  if (!/^\d+$/.test(grace)) throw new Error(`--shutdown-grace "${grace}" is not a number of seconds`);
  return {
    help: values.help,
    shutdownGraceMs: Number(grace) * 1000,
    loginTimeoutMs: Number(loginTimeout) * 1000,
    listen: parseListen(values.listen, '--listen'),
    implicitTlsListen: values['implicit-tls-listen']
      ? parseListen(values['implicit-tls-listen'], '--implicit-tls-listen')
      : null,
    root: values.root,
    users,
    anonymous: values.anonymous || users.length === 0,
    passiveRange: values['passive-ports'] ? parsePortRange(values['passive-ports']) : null,
    passiveAddress: values['passive-address'],
    tlsPassiveAddress: values['tls-passive-address'],
    localNetworks: values['local-network'],
    tls,
    requireTls: values['require-tls'],
    implicitTlsProtP: values['implicit-tls-prot-p'],
    showDotFiles: values['show-dot-files'],
    shareDotFiles: values['share-dot-files'],
  };
}

const url = (scheme, { address, port }) =>
  `${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}`;

async function main() {
  let options;
  let server;
  try {
    options = parseOptions(process.argv.slice(2));
    if (options.help) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    try {
      server = await FtpServer.create(options);
    } catch (error) {
      const what = error.code ? `--root ${options.root}` : 'configuration';
      throw new Error(`${what}: ${error.message}`);
    }
    const address = await server.listen(options.listen).catch((error) => {
      throw new Error(`--listen ${options.listen.host}:${options.listen.port}: ${error.message}`);
    });
    process.stdout.write(`listening ${url('ftp', address)}\n`);
    if (options.implicitTlsListen) {
      const secure = await server.listen(options.implicitTlsListen, { implicitTls: true }).catch((error) => {
        throw new Error(`--implicit-tls-listen: ${error.message}`);
      });
      process.stdout.write(`listening ${url('ftps', secure)}\n`);
    }
  } catch (error) {
    process.stderr.write(`ftpwire: ${error.message}\n`);
    process.exit(2);
  }
  const signals = { SIGINT: 2, SIGTERM: 15 };
  let stopping = false;
  for (const [signal, number] of Object.entries(signals)) {
    process.on(signal, () => {
      if (stopping) process.exit(128 + number);
      stopping = true;
      process.stderr.write(`ftpwire: ${signal}: shutting down (running transfers get ${options.shutdownGraceMs / 1000} s)\n`);
      const grace = new Promise((resolve) => setTimeout(resolve, options.shutdownGraceMs).unref());
      Promise.race([server.shutdown(), grace]).then(() => process.exit(0));
    });
  }
}

main();
