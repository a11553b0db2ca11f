/**
 * Login throttling: decided BEFORE any PAM or argon2 work, per client IP and per account,
 * with exponential backoff. An attempt is counted when it starts (not when it fails), so twenty
 * concurrent guesses cannot all slip past the check while the first ones are still in PAM; a
 * success clears the counters. Memory is bounded: the oldest entries are dropped past `maxEntries`.
 */
import { AppError } from '../shared/errors.ts';

export interface ThrottlePolicy {
  /** Attempts allowed before backoff starts. */
  free: number;
  /** First lockout; doubles with each further attempt. */
  baseMs: number;
  maxMs: number;
}

export interface LoginThrottleOptions {
  perIp?: ThrottlePolicy;
  perAccount?: ThrottlePolicy;
  /** Counters older than this (since the last attempt) are forgotten. */
  forgetMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry { attempts: number; last: number; until: number }

export interface Attempt {
  /** The attempt failed (wrong credentials): keep it counted. */
  failed(): void;
  /** The attempt succeeded: clear the counters for this IP and account. */
  succeeded(): void;
  /** The attempt never reached a verdict (helper down): do not hold it against the user. */
  abandoned(): void;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly perIp: ThrottlePolicy;
  private readonly perAccount: ThrottlePolicy;
  private readonly forgetMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: LoginThrottleOptions = {}) {
    this.perIp = opts.perIp ?? { free: 10, baseMs: 1000, maxMs: 15 * 60_000 };
    this.perAccount = opts.perAccount ?? { free: 5, baseMs: 1000, maxMs: 15 * 60_000 };
    this.forgetMs = opts.forgetMs ?? 60 * 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Throws 429 (details.retry_after_s) when either key is backing off; otherwise counts the attempt. */
  begin(ip: string, account: string): Attempt {
    const now = this.now();
    const keys: Array<[string, ThrottlePolicy]> = [[`ip:${ip}`, this.perIp], [`acct:${account}`, this.perAccount]];
    const waitMs = Math.max(...keys.map(([k]) => (this.fresh(k, now)?.until ?? 0) - now));
    if (waitMs > 0) {
      const retry = Math.ceil(waitMs / 1000);
      throw new AppError('too_many_attempts', 429, `Too many login attempts; try again in ${retry} s`, { retry_after_s: retry });
    }
    for (const [k, policy] of keys) this.count(k, policy, now);
    return {
      // the lockout runs from the verdict, not from the start: PAM itself takes ~2 s to say "wrong"
      failed: () => { for (const [k, policy] of keys) this.rearm(k, policy, this.now()); },
      succeeded: () => { for (const [k] of keys) this.entries.delete(k); },
      abandoned: () => { for (const [k] of keys) this.uncount(k); },
    };
  }

  private fresh(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && now - e.last > this.forgetMs) { this.entries.delete(key); return undefined; }
    return e;
  }

  private count(key: string, policy: ThrottlePolicy, now: number): void {
    const e = this.fresh(key, now) ?? { attempts: 0, last: now, until: 0 };
    e.attempts += 1;
    e.last = now;
    e.until = Math.max(e.until, this.lockUntil(e.attempts, policy, now));
    this.entries.delete(key); // re-insert so Map order is least-recently-used first
    this.entries.set(key, e);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  private rearm(key: string, policy: ThrottlePolicy, now: number): void {
    const e = this.entries.get(key);
    if (e) e.until = Math.max(e.until, this.lockUntil(e.attempts, policy, now));
  }

  private lockUntil(attempts: number, policy: ThrottlePolicy, now: number): number {
    const over = attempts - policy.free;
    return over < 0 ? 0 : now + Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(over, 30));
  }

  private uncount(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.attempts = Math.max(0, e.attempts - 1);
    e.until = 0;
  }
}
