// Auto-ban for the Node host, as drivers/backend/src/native/bans.rs does it
// for std and smol: failed logins from one address within a window ban it
// for a while; its connections then read 421 and its open sessions log in
// no more. Same defaults, same log lines.

const MAX_TRACKED = 65_536;

export const DEFAULT_BAN_POLICY = { after: 10, windowMs: 600_000, banTimeMs: 900_000 };

export class Bans {
  /** `policy`: {after (0: never ban), windowMs, banTimeMs}; `log(line)` for bans and their end. */
  constructor(policy = DEFAULT_BAN_POLICY, log = () => {}) {
    this.policy = policy;
    this.log = log;
    /** canonical IP -> {windowStart, failures, bannedUntil} */
    this.records = new Map();
  }

  /** A failed login from `ip` at `now` (ms); true when it starts a ban. */
  recordFailure(ip, now) {
    const { after, windowMs, banTimeMs } = this.policy;
    if (after === 0) return false;
    if (this.records.size >= MAX_TRACKED && !this.records.has(ip)) {
      this.sweep(now);
      if (this.records.size >= MAX_TRACKED) return false;
    }
    let record = this.records.get(ip);
    if (!record) {
      record = { windowStart: now, failures: 0, bannedUntil: null };
      this.records.set(ip, record);
    }
    if (record.bannedUntil !== null) return false;
    if (now - record.windowStart > windowMs) {
      record.windowStart = now;
      record.failures = 0;
    }
    record.failures += 1;
    if (record.failures < after) return false;
    record.bannedUntil = now + banTimeMs;
    this.log(`${ip}: banned for ${Math.floor(banTimeMs / 1000)} s after ${record.failures} failed logins within ${Math.floor(windowMs / 1000)} s`);
    return true;
  }

  /** Milliseconds `ip` stays banned at `now`, or 0; an expired ban ends here (logged). */
  banned(ip, now) {
    const until = this.records.get(ip)?.bannedUntil ?? null;
    if (until === null) return 0;
    if (now < until) return until - now;
    this.sweep(now);
    return 0;
  }

  sweep(now) {
    for (const [ip, record] of this.records) {
      if (record.bannedUntil !== null) {
        if (now >= record.bannedUntil) {
          this.log(`${ip}: ban over`);
          this.records.delete(ip);
        }
      } else if (now - record.windowStart > this.policy.windowMs) {
        this.records.delete(ip);
      }
    }
  }
}
