// The settings of `ftpwire serve` for the Node host: the TOML file of
// `--config` (the same keys, types and checks as drivers/cli/config.rs)
// and the defaults. Flags are applied on top of it by server.mjs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ServerConfig, serverModule } from './module.mjs';
import { parsePortRange } from './data.mjs';

/** The same defaults as `ftpwire serve` (drivers/cli/config.rs: ServeConfig::default). */
export function defaultSettings() {
  return {
    listen: '127.0.0.1:2121',
    root: '.',
    users: [],
    anonymous: null, // null: only when no user is configured
    passivePorts: null,
    passiveAddress: null,
    localNetworks: [],
    proxyProtocolFrom: [],
    banAfter: 10,
    banWindow: 600,
    banTime: 900,
    controlKeepalive: 60,
    metricsListen: null,
    logFormat: 'text',
    maxSessions: 1000,
    maxSessionsPerIp: 50,
    idleTimeout: 300,
    loginTimeout: 30,
    shutdownGrace: 30,
    tlsCert: null,
    tlsKey: null,
    tlsPassiveAddress: null,
    implicitTlsListen: null,
    implicitTlsProtP: false,
    requireTls: false,
    requireTlsSessionReuse: false,
    allowCcc: false,
    showDotFiles: false,
    shareDotFiles: false,
  };
}

/** `text` or `json`, as ftpwire serve's --log-format. */
export function logFormat(value) {
  if (value !== 'text' && value !== 'json') throw new Error(`unknown variant \`${value}\`, expected \`text\` or \`json\``);
}

/** `HOST:PORT` or `[IPV6]:PORT`; throws a clear error naming `flag`. */
export function parseListen(text, flag) {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : -1;
  if (!match || port > 65535) throw new Error(`${flag} "${text}" is not HOST:PORT (e.g. 127.0.0.1:2121)`);
  return { host: match[1] ?? match[2], port };
}

/** A passive address (`set(setting, value)`) or network (`addLocalNetwork`)
 *  as the module reads it; throws the module's error. */
function checkWithModule(setting, value) {
  const probe = new ServerConfig();
  try {
    if (setting === 'localNetwork') probe.addLocalNetwork(value);
    else probe.set(setting, value);
  } finally {
    probe.free();
  }
}

const string = (what = 'a string') => ({ what, ok: (v) => typeof v === 'string' });
const checkedString = (check) => ({ ...string(), check });
const boolean = { what: 'a boolean', ok: (v) => typeof v === 'boolean' };
const count = { what: 'a non-negative integer', ok: (v) => Number.isSafeInteger(v) && v >= 0 };
const seconds = { ...count, what: 'a whole number of seconds' };
const positiveSeconds = {
  ...seconds,
  check: (v) => {
    if (v === 0) throw new Error('must be at least 1 second');
  },
};

/** Every top-level key of the file, in ServeConfig's order: [TOML key, setting, type]. */
const KEYS = [
  ['listen', 'listen', checkedString((v) => parseListen(v, 'listen'))],
  ['root', 'root', string()],
  ['users', 'users', null],
  ['anonymous', 'anonymous', boolean],
  ['passive_ports', 'passivePorts', checkedString(parsePortRange)],
  ['passive_address', 'passiveAddress', checkedString((v) => checkWithModule('passiveAddress', v))],
  ['local_networks', 'localNetworks', null],
  ['proxy_protocol_from', 'proxyProtocolFrom', null],
  ['ban_after', 'banAfter', count],
  ['ban_window', 'banWindow', positiveSeconds],
  ['ban_time', 'banTime', positiveSeconds],
  ['control_keepalive', 'controlKeepalive', seconds],
  ['metrics_listen', 'metricsListen', string()],
  ['log_format', 'logFormat', checkedString(logFormat)],
  ['max_sessions', 'maxSessions', count],
  ['max_sessions_per_ip', 'maxSessionsPerIp', count],
  ['idle_timeout', 'idleTimeout', positiveSeconds],
  ['login_timeout', 'loginTimeout', positiveSeconds],
  ['shutdown_grace', 'shutdownGrace', seconds],
  ['tls_cert', 'tlsCert', string()],
  ['tls_key', 'tlsKey', string()],
  ['tls_passive_address', 'tlsPassiveAddress', checkedString((v) => checkWithModule('tlsPassiveAddress', v))],
  ['implicit_tls_listen', 'implicitTlsListen', checkedString((v) => parseListen(v, 'implicit_tls_listen'))],
  ['implicit_tls_prot_p', 'implicitTlsProtP', boolean],
  ['require_tls', 'requireTls', boolean],
  ['require_tls_session_reuse', 'requireTlsSessionReuse', boolean],
  ['allow_ccc', 'allowCcc', boolean],
  ['show_dot_files', 'showDotFiles', boolean],
  ['share_dot_files', 'shareDotFiles', boolean],
];

const USER_KEYS = [
  ['name', 'name', string()],
  ['password', 'password', string()],
  ['password_hash', 'passwordHash', string()],
  ['read_only', 'readOnly', boolean],
];

const isTable = (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const typeName = (v) => {
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  if (isTable(v)) return 'a table';
  return `${typeof v === 'bigint' ? 'integer' : typeof v} ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`;
};

/**
 * The line where `key` is set (or, `key` null, where the table starts): in
 * the top-level table, or (`entry` >= 0) in the entry-th `[[users]]` table.
 * TOML parsers give no positions for values, so this reads the text the way
 * a person would; 1 when it cannot tell.
 */
function lineOf(text, key, entry = -1) {
  const lines = text.split('\n');
  let table = ''; // '' = top level
  let users = -1;
  const name = key === null ? null : key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const assigns = name === null ? null : new RegExp(`^\\s*(?:${name}|"${name}"|'${name}')\\s*=`);
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[(\[)?\s*([^\]]*?)\s*\]/.exec(lines[i]);
    if (header) {
      table = header[2];
      if (header[1] && table === 'users') users += 1;
      if (entry >= 0 && table === 'users' && users === entry && key === null) return i + 1;
      // An unknown table ([tls]) is set by its header.
      if (entry < 0 && key !== null && (table === key || table.startsWith(`${key}.`))) return i + 1;
      continue;
    }
    const here = entry < 0 ? table === '' : table === 'users' && users === entry;
    if (here && assigns?.test(lines[i])) return i + 1;
  }
  if (entry >= 0) return lineOf(text, 'users');
  return 1;
}

class SettingError extends Error {
  constructor(line, message) {
    super(message);
    this.line = line;
  }
}

/** Copies `table`'s keys into `into` by `keys`, checking each; unknown keys are refused. */
function take(table, keys, into, line) {
  for (const [key, value] of Object.entries(table)) {
    const known = keys.find(([name]) => name === key);
    if (!known) {
      const names = keys.map(([name]) => `\`${name}\``).join(', ');
      throw new SettingError(line(key), `unknown field \`${key}\`, expected one of ${names}`);
    }
    const [, setting, type] = known;
    if (!type) continue; // handled by the caller
    if (!type.ok(value)) {
      throw new SettingError(line(key), `invalid type: ${typeName(value)}, expected ${type.what} for \`${key}\``);
    }
    try {
      type.check?.(value);
    } catch (error) {
      throw new SettingError(line(key), `${error.message}`);
    }
    into[setting] = value;
  }
}

/**
 * Settings from TOML `text` (defaults for what it leaves out); `origin` names
 * it in errors, which read `ORIGIN, line N: what is wrong` on one line.
 */
export async function settingsFromToml(text, origin = 'config') {
  let parse;
  try {
    ({ parse } = await import('smol-toml'));
  } catch {
    throw new Error(
      '--config needs the npm package smol-toml: run `npm ci` in drivers/wasm (or install ftpwire-wasm with npm)',
    );
  }
  const settings = defaultSettings();
  try {
    let table;
    try {
      table = parse(text);
    } catch (error) {
      throw new SettingError(error.line ?? 1, error.message.split('\n')[0].replace(/^Invalid TOML document: /, ''));
    }
    take(table, KEYS, settings, (key) => lineOf(text, key));
    if ('local_networks' in table) {
      const networks = table.local_networks;
      const line = lineOf(text, 'local_networks');
      if (!Array.isArray(networks) || !networks.every((v) => typeof v === 'string')) {
        throw new SettingError(line, `invalid type: ${typeName(networks)}, expected an array of strings for \`local_networks\``);
      }
      for (const cidr of networks) {
        try {
          checkWithModule('localNetwork', cidr);
        } catch (error) {
          throw new SettingError(line, `${JSON.stringify(cidr)}: ${error.message}`);
        }
      }
      settings.localNetworks = networks;
    }
    if ('proxy_protocol_from' in table) {
      const balancers = table.proxy_protocol_from;
      const line = lineOf(text, 'proxy_protocol_from');
      if (!Array.isArray(balancers) || !balancers.every((v) => typeof v === 'string')) {
        throw new SettingError(line, `invalid type: ${typeName(balancers)}, expected an array of strings for \`proxy_protocol_from\``);
      }
      try {
        new (serverModule(true).Balancers)(balancers).free();
      } catch (error) {
        throw new SettingError(line, error.message);
      }
      settings.proxyProtocolFrom = balancers;
    }
    if ('users' in table) {
      const users = table.users;
      if (!Array.isArray(users) || !users.every(isTable)) {
        throw new SettingError(lineOf(text, 'users'), `invalid type: ${typeName(users)}, expected an array of tables for \`users\` ([[users]])`);
      }
      settings.users = users.map((entry, index) => {
        const user = { password: null, passwordHash: null, readOnly: false };
        take(entry, USER_KEYS, user, (key) => lineOf(text, key, index));
        if (user.name === undefined) throw new SettingError(lineOf(text, null, index), 'missing field `name`');
        return user;
      });
    }
  } catch (error) {
    if (error instanceof SettingError) throw new Error(`${origin}, line ${error.line}: ${error.message}`);
    throw error;
  }
  return settings;
}

/**
 * Reads a `--config` file; relative paths in it (`root`, `tls_cert`,
 * `tls_key`) are taken relative to the file's directory, as ftpwire does.
 */
export async function loadSettings(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read config file ${file}: ${error.message}`);
  }
  const settings = await settingsFromToml(text, file);
  const dir = path.dirname(file);
  for (const key of ['root', 'tlsCert', 'tlsKey']) {
    if (settings[key] !== null && !path.isAbsolute(settings[key])) settings[key] = path.join(dir, settings[key]);
  }
  return settings;
}

/** Why an argon2 PHC string cannot be checked, or null: the same test as ftpwire's at start. */
export function argon2Problem(phc) {
  const parts = phc.split('$');
  if (parts.length < 2 || parts[0] !== '') return 'not a PHC string: it must start with `$`';
  if (!parts[1].startsWith('argon2')) return `algorithm is ${parts[1]}`;
  if (!/^argon2(id|i|d)$/.test(parts[1])) return `unknown algorithm ${parts[1]}`;
  const rest = parts.slice(2);
  if (rest[0]?.startsWith('v=')) {
    if (!/^v=\d+$/.test(rest.shift())) return 'the version is not a number';
  }
  const [params, salt, hash, ...extra] = rest;
  if (params === undefined || !/^[a-z0-9-]+=[^,$=]+(,[a-z0-9-]+=[^,$=]+)*$/.test(params)) {
    return 'its parameters are malformed';
  }
  if (salt === undefined || hash === undefined) return 'it has no salt or no hash part';
  if (extra.length > 0) return 'it has too many `$`-separated parts';
  if (!/^[A-Za-z0-9+/]+$/.test(salt) || !/^[A-Za-z0-9+/]+$/.test(hash)) return 'its salt or hash is not base64';
  return null;
}

/**
 * The users as the login check needs them, every entry checked as ftpwire
 * checks it (one clear error for the first problem).
 */
export function checkUsers(users) {
  const seen = new Set();
  for (const user of users) {
    const problem = (what) => new Error(`user ${JSON.stringify(user.name)}: ${what}`);
    if (user.name === '') throw problem('the name is empty');
    if (seen.has(user.name)) throw problem('configured twice');
    seen.add(user.name);
    const plain = user.password !== null && user.password !== undefined;
    const hashed = user.passwordHash !== null && user.passwordHash !== undefined;
    if (plain && hashed) throw problem('give either password or password_hash, not both');
    if (!plain && !hashed) throw problem('needs a password or a password_hash');
    if (hashed) {
      const why = argon2Problem(user.passwordHash);
      if (why) throw problem(`password_hash is not an argon2 PHC string (${why}); create one with e.g. \`argon2 SALT -id -e\``);
    }
  }
  return users;
}
