// Runs the core's session scripts (core/scripts/sessions.json)
// through the WebAssembly module; tests/fixtures.rs runs the same file
// natively. The step format is in core/scripts/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Session, ServerConfig } from '../module.mjs';

const fixtures = JSON.parse(readFileSync(new URL('../../../../core/scripts/sessions.json', import.meta.url), 'utf8'));
const text = (bytes) => Buffer.from(bytes).toString('utf8');

/** The fixture form of an output: no ids, bytes as UTF-8 text. */
function plain(value) {
  if (value instanceof Uint8Array) return text(value);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'id')
      .map(([key, v]) => [key, plain(v)]),
  );
}

function address(textAddress) {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(textAddress);
  return { address: match[1], port: Number(match[2]) };
}

function config(settings = {}) {
  const config = new ServerConfig();
  for (const [key, value] of Object.entries(settings)) {
    switch (key) {
      case 'passiveAddress':
        config.set('passiveAddress', value);
        break;
      case 'tlsPassiveAddress':
        config.set('tlsPassiveAddress', value);
        break;
      case 'localNetworks':
        for (const net of value) config.addLocalNetwork(net);
        break;
      case 'greeting':
      case 'tls':
      case 'requireTls':
      case 'allowCcc':
      case 'showDotFiles':
      case 'shareDotFiles':
      case 'maxLoginFailures':
      case 'failedLoginDelayMs':
      case 'idleTimeoutMs':
      case 'dataConnectionTimeoutMs':
        config.set(key, value);
        break;
      default:
        throw new Error(`unknown config key ${key} in fixture`);
    }
  }
  return config;
}

const STEPS = new Set(['connectData', 'secureData', 'moveData', 'closeData']);
/** Transfer failures that are not a file's (see answer.rs). */
const TRANSFER_ERRORS = new Set(['noDataConnection', 'connectionLost', 'ECONNRESET', 'EPIPE', 'aborted', 'tlsFailed', 'tlsSessionNotReused']);

class Runner {
  constructor(script) {
    const make = script.implicitTls ? Session.implicitTls : (...args) => new Session(...args);
    this.now = 1000;
    this.session = make(
      config(script.config),
      address(script.local ?? '127.0.0.1:21'),
      address(script.peer ?? '127.0.0.1:40000'),
      this.now,
    );
    this.held = Buffer.alloc(0);
    this.out = [];
    this.events = [];
    this.ids = new Map();
    /** The running transfer's step in flight. */
    this.transferStep = null;
    this.closed = false;
  }

  offer() {
    this.drain();
    if (this.held.length > 0) {
      const input = this.held;
      this.held = Buffer.alloc(0);
      this.session.handleInput(this.now, input);
      this.drain();
    }
  }

  drain() {
    for (;;) {
      const output = this.session.pollOutput();
      if (output.type === 'transmit') this.out.push(Buffer.from(output.data));
      else if (output.type === 'timeout') break;
      else if (output.type === 'closed') {
        this.closed = true;
        break;
      } else if (STEPS.has(output.type)) {
        // A transfer's steps: the scripts answer a transfer as a whole
        // ("started", "finished", "error"); the runner walks it through them.
        this.transferStep = output.type;
      } else if (output.type === 'notice' && output.notice === 'transferEnded') {
        // One per transfer; the scripts do not list it.
      } else {
        if (output.type === 'abortTransfer') {
          this.ids.delete('transfer');
          this.transferStep = null;
        } else if (typeof output.id === 'number') this.ids.set(output.type, output.id);
        this.events.push(plain(output));
      }
    }
  }

  id(kind, keep = false) {
    assert.ok(this.ids.has(kind), `no ${kind} event to answer`);
    const id = this.ids.get(kind);
    if (!keep) this.ids.delete(kind);
    return id;
  }

  facts(value) {
    return typeof value === 'string' ? fixtures.facts[value] : value;
  }

  answer(step) {
    const s = this.session;
    switch (step.answer) {
      case 'login':
        s.answer(this.id('login'), 'login', { accepted: step.accepted, readOnly: step.readOnly ?? false });
        break;
      case 'openPassive':
        if (step.error) s.answer(this.id('openPassive'), 'passiveFailed', step.error);
        else s.answer(this.id('openPassive'), 'passiveOpened', { port: step.port, resolved: step.resolved });
        break;
      case 'stat':
        if (step.error) s.answer(this.id('stat'), 'statFailed', step.error);
        else s.answer(this.id('stat'), 'statDone', this.facts(step.facts));
        break;
      case 'enterDirectory':
        if (step.error) s.answer(this.id('enterDirectory'), 'enterDirectoryFailed', step.error);
        else s.answer(this.id('enterDirectory'), 'directoryEntered');
        break;
      case 'fileChange':
        if (step.error) s.answer(this.id('fileChange'), 'changeFailed', step.error);
        else s.answer(this.id('fileChange'), 'changeDone');
        break;
      case 'upgradeTls':
        s.answer(this.id('upgradeTls'), 'tlsEstablished');
        break;
      case 'transfer': {
        const id = this.id('transfer', true);
        const unique = step.uniqueName === undefined ? undefined : Buffer.from(step.uniqueName);
        // A file error before any data connection is the storage's.
        const fileError = step.error !== undefined && !TRANSFER_ERRORS.has(step.error);
        const opens = !fileError || step.started || step.opened;
        if (opens && this.transferStep === null) {
          s.answer(id, 'storageOpened', { uniqueName: unique }, this.now);
          this.offer();
        }
        const connects = step.started || step.finished !== undefined || unique !== undefined;
        if (connects && this.transferStep === 'connectData') {
          s.answer(id, 'dataConnected', undefined, this.now);
          this.offer();
          if (this.transferStep === 'secureData') {
            s.answer(id, 'dataSecured', true, this.now);
            this.offer();
          }
        }
        if (step.finished !== undefined) {
          s.answer(id, 'dataMoved', step.finished, this.now);
          this.offer();
          s.answer(id, 'dataClosed', undefined, this.now);
          this.ids.delete('transfer');
          this.transferStep = null;
        }
        if (step.error !== undefined) {
          s.answer(id, 'transferFailed', step.error, this.now);
          this.ids.delete('transfer');
          this.transferStep = null;
        }
        break;
      }
      default:
        throw new Error(`cannot answer ${step.answer}`);
    }
    this.offer();
  }

  step(step, at) {
    let replies = step.replies ?? '';
    let events = step.events ?? [];
    if (step.login) {
      this.held = Buffer.concat([this.held, Buffer.from('USER alice\r\nPASS secret\r\n')]);
      this.offer();
      this.session.answer(this.id('login'), 'login', { accepted: true, readOnly: step.login.readOnly ?? false });
      this.offer();
      replies = '331 Password required.\r\n230 Login successful.\r\n';
      events = [
        { type: 'login', user: 'alice', password: 'secret' },
        { type: 'notice', notice: 'loginSucceeded', user: 'alice', message: 'login ok: alice' },
      ];
    } else {
      const input = [];
      if (step.sendHex) input.push(Buffer.from(step.sendHex, 'hex'));
      if (step.sendRepeat) input.push(Buffer.from(step.sendRepeat.text.repeat(step.sendRepeat.times)));
      if (step.send !== undefined) input.push(Buffer.from(step.send));
      if (input.length > 0) {
        this.held = Buffer.concat([this.held, ...input]);
        this.offer();
      }
      if (step.advance !== undefined) {
        this.now += step.advance;
        // As a host does before a deadline: what moved meanwhile.
        if (step.progress !== undefined) this.session.answer(this.id('transfer', true), 'dataProgress', step.progress, this.now);
        this.session.handleTimeout(this.now);
        this.offer();
      }
      if (step.peerClosed) {
        this.session.handlePeerClosed();
        this.offer();
      }
      if (step.answer) this.answer(step);
      if (step.listing) {
        const entries = step.listing.map((e) => ({ name: e.name, facts: this.facts(e.facts), linkTarget: e.linkTarget }));
        const bytes = this.session.formatListing(this.id('transfer', true), entries, step.nowUnix);
        assert.equal(text(bytes), step.bytes, `${at}: listing bytes`);
      }
    }
    assert.equal(text(Buffer.concat(this.out.splice(0))), replies, `${at}: replies`);
    assert.deepEqual(this.events.splice(0), events, `${at}: events`);
    // The session holds them now; the script names the bytes.
    if (step.held !== undefined) assert.equal(this.session.heldInput(), Buffer.byteLength(step.held), `${at}: held input`);
    if (step.closed !== undefined) assert.equal(this.closed, step.closed, `${at}: closed`);
    if (step.secured !== undefined) assert.equal(this.session.isSecured(), step.secured, `${at}: secured`);
  }
}

test('the fixture file holds the shared scripts', () => {
  assert.ok(fixtures.scripts.length >= 40, `only ${fixtures.scripts.length} scripts`);
});

for (const script of fixtures.scripts) {
  test(`script: ${script.name}`, () => {
    const runner = new Runner(script);
    runner.drain();
    assert.equal(text(Buffer.concat(runner.out.splice(0))), script.greeting ?? '220 ftpwire ready\r\n', 'greeting');
    assert.deepEqual(runner.events, [], 'events before any input');
    script.steps.forEach((step, i) => runner.step(step, `step ${i + 1}`));
  });
}
