#!/usr/bin/env node
// ftpwire's reference JavaScript host: an FTP/FTPS server whose protocol
// runs in the WebAssembly module. The same flags, config file and defaults
// as `ftpwire serve` (README.md):
//
//   node drivers/wasm/js/server.mjs --listen 127.0.0.1:2121 --root DIR --user NAME:PASSWORD
//     [--anonymous] [--passive-ports LO-HI] [--passive-address IP_OR_HOSTNAME] [--local-network CIDR ...]
//     [--config FILE.toml] [--driver smol|std] [--max-sessions N] [--max-sessions-per-ip N]
//     [--proxy-protocol-from CIDR ...] [--ban-after N] [--ban-window SECONDS] [--ban-time SECONDS]
//     [--control-keepalive SECONDS]
//     [--idle-timeout SECONDS] [--login-timeout SECONDS] [--shutdown-grace SECONDS]
//     [--tls-cert FILE.pem --tls-key FILE.pem] [--tls-passive-address ADDR]
//     [--implicit-tls-listen HOST:PORT] [--implicit-tls-prot-p] [--require-tls]
//     [--require-tls-session-reuse] [--allow-ccc] [--show-dot-files] [--share-dot-files]
//
// Flags override the config file's settings (lists such as --user and
// --local-network add to it). `--driver` is accepted for command lines
// written for ftpwire serve and ignored: Node's event loop is this host's
// only driver.
//
// SIGTERM or SIGINT stops it as they stop `ftpwire serve`: no new connections,
// idle sessions read 421, running transfers finish (then 421) within the
// grace period, exit 0; a second signal exits at once (128 + its number).
// With no user and no --anonymous it serves read-only to anonymous users.
// Prints `listening ftp://HOST:PORT` on stdout when ready; logs on stderr.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parsePortRange } from './data.mjs';
import { FtpServer } from './ftp-server.mjs';
import { serverModule } from './module.mjs';
import { checkUsers, defaultSettings, loadSettings, logFormat, parseListen } from './config.mjs';

export { parseListen };

const USAGE = `usage: server.mjs [serve] [--listen HOST:PORT] [--root DIR] [--user NAME:PASSWORD ...] [--anonymous]
  [--passive-ports LO-HI] [--passive-address IP_OR_HOSTNAME] [--local-network CIDR ...]
  [--config FILE.toml] [--driver smol|std] [--max-sessions N] [--max-sessions-per-ip N]
  [--proxy-protocol-from CIDR ...] [--ban-after N] [--ban-window SECONDS] [--ban-time SECONDS]
  [--control-keepalive SECONDS] [--log-format text|json]
  [--idle-timeout SECONDS] [--login-timeout SECONDS] [--shutdown-grace SECONDS]
  [--tls-cert FILE.pem --tls-key FILE.pem] [--tls-passive-address IP_OR_HOSTNAME]
  [--implicit-tls-listen HOST:PORT] [--implicit-tls-prot-p] [--require-tls]
  [--require-tls-session-reuse] [--allow-ccc] [--show-dot-files] [--share-dot-files]

Flags override the same settings from --config FILE.toml (the TOML file of ftpwire serve).
--driver is accepted and ignored: this host runs every session on Node's event loop.
Defaults: --listen 127.0.0.1:2121, --root ., --max-sessions 1000, --max-sessions-per-ip 50,
--idle-timeout 300, --login-timeout 30, --shutdown-grace 30; anonymous read-only when no user is given.`;

const BOOLEAN_FLAGS = {
  'implicit-tls-prot-p': 'implicitTlsProtP',
  'require-tls': 'requireTls',
  'require-tls-session-reuse': 'requireTlsSessionReuse',
  'allow-ccc': 'allowCcc',
  'show-dot-files': 'showDotFiles',
  'share-dot-files': 'shareDotFiles',
};
const STRING_FLAGS = {
  listen: 'listen',
  root: 'root',
  'metrics-listen': 'metricsListen',
  'log-format': 'logFormat',
  'passive-ports': 'passivePorts',
  'passive-address': 'passiveAddress',
  'tls-passive-address': 'tlsPassiveAddress',
  'tls-cert': 'tlsCert',
  'tls-key': 'tlsKey',
  'implicit-tls-listen': 'implicitTlsListen',
};
/** Numeric flags: [setting, least value]. */
const NUMBER_FLAGS = {
  'max-sessions': ['maxSessions', 0],
  'max-sessions-per-ip': ['maxSessionsPerIp', 0],
  'idle-timeout': ['idleTimeout', 1],
  'login-timeout': ['loginTimeout', 1],
  'shutdown-grace': ['shutdownGrace', 0],
  'ban-after': ['banAfter', 0],
  'ban-window': ['banWindow', 1],
  'ban-time': ['banTime', 1],
  'control-keepalive': ['controlKeepalive', 0],
};

/** A TLS-only setting given without a certificate: ftpwire's message. */
const needsCertificate = (setting) =>
  new Error(`${setting} needs a certificate: give --tls-cert FILE.pem and --tls-key FILE.pem (tls_cert and tls_key in the config file)`);

/** The command line (and its --config file) as FtpServer options; throws one clear error for anything wrong. */
export async function parseOptions(args) {
  const options = {
    anonymous: { type: 'boolean' },
    'local-network': { type: 'string', multiple: true, default: [] },
    'proxy-protocol-from': { type: 'string', multiple: true, default: [] },
    user: { type: 'string', multiple: true, default: [] },
    config: { type: 'string' },
    driver: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  };
  for (const flag of Object.keys(BOOLEAN_FLAGS)) options[flag] = { type: 'boolean' };
  for (const flag of [...Object.keys(STRING_FLAGS), ...Object.keys(NUMBER_FLAGS)]) options[flag] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options });
  } catch (error) {
    throw new Error(`${error.message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'serve')) {
    throw new Error(`unexpected argument "${positionals.at(-1)}"\n${USAGE}`);
  }
  if (values.help) return { help: true };
  if (values.driver !== undefined && !['smol', 'std'].includes(values.driver)) {
    throw new Error(`--driver "${values.driver}" is not smol or std (the Node host accepts either and runs on Node's event loop)`);
  }

  const settings = values.config !== undefined ? await loadSettings(values.config) : defaultSettings();
  for (const [flag, setting] of Object.entries(STRING_FLAGS)) {
    if (values[flag] !== undefined) settings[setting] = values[flag];
  }
  for (const [flag, [setting, least]] of Object.entries(NUMBER_FLAGS)) {
    const text = values[flag];
    if (text === undefined) continue;
    if (!/^\d+$/.test(text) || Number(text) < least || !Number.isSafeInteger(Number(text))) {
      const unit = flag.startsWith('max-') ? 'number' : 'number of seconds';
      throw new Error(`--${flag} "${text}" is not a ${unit}${least > 0 ? ` above ${least - 1}` : ''}`);
    }
    settings[setting] = Number(text);
  }
  for (const [flag, setting] of Object.entries(BOOLEAN_FLAGS)) settings[setting] ||= Boolean(values[flag]);
  if (values.anonymous) settings.anonymous = true;
  settings.localNetworks = [...settings.localNetworks, ...values['local-network']];
  for (const cidr of values['proxy-protocol-from']) {
    try {
      new (serverModule(true).Balancers)([cidr]).free();
    } catch (error) {
      throw new Error(`--proxy-protocol-from: ${error.message}`);
    }
  }
  settings.proxyProtocolFrom = [...settings.proxyProtocolFrom, ...values['proxy-protocol-from']];
  const flagUsers = values.user.map((spec) => {
    const colon = spec.indexOf(':');
    if (colon <= 0) throw new Error(`--user "${spec}" is not NAME:PASSWORD`);
    return { name: spec.slice(0, colon), password: spec.slice(colon + 1), passwordHash: null, readOnly: false };
  });
  const users = checkUsers([...settings.users, ...flagUsers]);
  logFormat(settings.logFormat);
  if (settings.metricsListen !== null) {
    throw new Error(
      '--metrics-listen (metrics_listen): the Node host serves no Prometheus metrics; run ftpwire serve for them, or leave it out',
    );
  }

  // TLS: the same checks, in the same order, as ftpwire serve (ServeConfig::tls).
  if (settings.tlsCert !== null && settings.tlsKey === null) throw needsCertificate('--tls-cert');
  if (settings.tlsCert === null && settings.tlsKey !== null) throw needsCertificate('--tls-key');
  if (settings.tlsCert === null) {
    const tlsOnly = [
      [settings.implicitTlsListen !== null, '--implicit-tls-listen'],
      [settings.implicitTlsProtP, '--implicit-tls-prot-p'],
      [settings.requireTls, '--require-tls'],
      [settings.requireTlsSessionReuse, '--require-tls-session-reuse'],
      [settings.tlsPassiveAddress !== null, '--tls-passive-address'],
      [settings.allowCcc, '--allow-ccc'],
    ].find(([given]) => given);
    if (tlsOnly) throw needsCertificate(tlsOnly[1]);
  } else if (settings.allowCcc && settings.requireTls) {
    throw new Error(
      '--allow-ccc conflicts with --require-tls: a session that must stay protected cannot drop TLS; give only one of them',
    );
  }
  const readPem = (flag, file) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${flag} ${file}: ${error.message}`);
    }
  };
  const tls =
    settings.tlsCert !== null
      ? { cert: readPem('--tls-cert', settings.tlsCert), key: readPem('--tls-key', settings.tlsKey) }
      : null;
  return {
    help: false,
    driver: values.driver ?? null,
    shutdownGraceMs: settings.shutdownGrace * 1000,
    loginTimeoutMs: settings.loginTimeout * 1000,
    idleTimeoutMs: settings.idleTimeout * 1000,
    maxSessions: settings.maxSessions,
    maxSessionsPerIp: settings.maxSessionsPerIp,
    listen: parseListen(settings.listen, '--listen'),
    implicitTlsListen: settings.implicitTlsListen !== null
      ? parseListen(settings.implicitTlsListen, '--implicit-tls-listen')
      : null,
    root: settings.root,
    users,
    anonymous: settings.anonymous ?? users.length === 0,
    passiveRange: settings.passivePorts !== null ? parsePortRange(settings.passivePorts) : null,
    passiveAddress: settings.passiveAddress ?? undefined,
    tlsPassiveAddress: settings.tlsPassiveAddress ?? undefined,
    localNetworks: settings.localNetworks,
    proxyProtocolFrom: settings.proxyProtocolFrom,
    banPolicy: { after: settings.banAfter, windowMs: settings.banWindow * 1000, banTimeMs: settings.banTime * 1000 },
    controlKeepaliveMs: settings.controlKeepalive * 1000,
    log: settings.logFormat === 'json' ? jsonLog : undefined,
    tls,
    requireTls: settings.requireTls,
    requireTlsSessionReuse: settings.requireTlsSessionReuse,
    allowCcc: settings.allowCcc,
    implicitTlsProtP: settings.implicitTlsProtP,
    showDotFiles: settings.showDotFiles,
    shareDotFiles: settings.shareDotFiles,
  };
}

/**
 * `--log-format json`: one object per line, the fields of ftpwire serve's
 * (`time`, `level`, `message`, and `client` for a line about one; this
 * host's lines carry no level of their own: INFO).
 */
function jsonLog(line) {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}:\d+|\[[0-9a-fA-F:.]+\]:\d+):? (.*)$/s.exec(line);
  const object = { time: new Date().toISOString(), level: 'INFO' };
  if (match) object.client = match[1];
  object.message = match ? match[2] : line;
  process.stderr.write(`${JSON.stringify(object)}\n`);
}

const url = (scheme, { address, port }) =>
  `${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}`;

async function main() {
  let options;
  let server;
  try {
    options = await parseOptions(process.argv.slice(2));
    if (options.help) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    if (options.driver) {
      process.stderr.write(`ftpwire: --driver ${options.driver} ignored: the Node host runs every session on Node's event loop\n`);
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
