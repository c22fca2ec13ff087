/**
 * Tells a provider outage from bad luck: the provider is "down" when most of its recent calls
 * in this process failed the same transient way (5xx, unreachable, timed out) across several
 * items. While it is down, a call that fails that way ends its activity with
 * `LlmProviderUnavailable` (not retried) so the workflow pauses itself instead of spending
 * attempts; the first success, or a quiet `ttlMs` without such failures, ends the outage.
 * Rate limits are not outages (they slow a run, see rate-gate.ts); nor are 4xx.
 */
import { LlmFailureType } from '../shared/failure-types';

/** Failure types that look the same for every item when a provider or its proxy is down. */
export const OUTAGE_FAILURES: readonly string[] = [LlmFailureType.Transient, LlmFailureType.Timeout];

export interface OutageOptions {
  /** Recent calls considered, per provider (default 20). */
  window?: number;
  /** Share of the window failing the same way (default 0.8). */
  threshold?: number;
  /** Failures needed at least (default 10). */
  minFailures?: number;
  /** Distinct items among those failures (default 5): one bad scene retried is no outage. */
  minItems?: number;
  /** An outage ends this long after its last failure without a new one (default 60 s). */
  ttlMs?: number;
  now?: () => number;
}

export interface Outage {
  provider: string;
  errorType: string;
  failures: number;
  calls: number;
  /** The most recent failure's message (provider error text; no request content). */
  example: string;
  since: number;
}

interface Outcome {
  errorType?: string;
  item: string;
  message?: string;
}

interface ProviderState {
  recent: Outcome[];
  down?: Outage & { lastFailureAt: number };
}

export class OutageDetector {
  private readonly providers = new Map<string, ProviderState>();
  private readonly o: Required<Omit<OutageOptions, 'now'>> & { now: () => number };

  constructor(opts: OutageOptions = {}) {
    this.o = {
      window: opts.window ?? 20,
      threshold: opts.threshold ?? 0.8,
      minFailures: opts.minFailures ?? 10,
      minItems: opts.minItems ?? 5,
      ttlMs: opts.ttlMs ?? 60_000,
      now: opts.now ?? Date.now,
    };
  }

  private state(provider: string): ProviderState {
    let s = this.providers.get(provider);
    if (!s) {
      s = { recent: [] };
      this.providers.set(provider, s);
    }
    return s;
  }

  /** A call answered: the provider is up. */
  succeeded(provider: string, item: string): void {
    const s = this.state(provider);
    s.down = undefined;
    this.push(s, { item });
  }

  /** A call failed; returns the outage when this failure is part of one. */
  failed(provider: string, item: string, errorType: string, message: string): Outage | undefined {
    if (!OUTAGE_FAILURES.includes(errorType)) return undefined;
    const s = this.state(provider);
    const now = this.o.now();
    this.push(s, { item, errorType, message });
    if (s.down && s.down.errorType === errorType && now - s.down.lastFailureAt < this.o.ttlMs) {
      s.down.lastFailureAt = now;
      s.down.example = message;
      return strip(s.down);
    }
    s.down = undefined;
    const same = s.recent.filter((r) => r.errorType === errorType);
    const items = new Set(same.map((r) => r.item)).size;
    if (same.length >= this.o.minFailures && same.length >= this.o.threshold * s.recent.length && items >= this.o.minItems) {
      s.down = { provider, errorType, failures: same.length, calls: s.recent.length, example: message, since: now, lastFailureAt: now };
      return strip(s.down);
    }
    return undefined;
  }

  /** The provider's outage now, if any (for status lines and tests). */
  current(provider: string): Outage | undefined {
    const down = this.providers.get(provider)?.down;
    return down && this.o.now() - down.lastFailureAt < this.o.ttlMs ? strip(down) : undefined;
  }

  private push(s: ProviderState, outcome: Outcome): void {
    s.recent.push(outcome);
    if (s.recent.length > this.o.window) s.recent.shift();
  }
}

function strip(down: Outage & { lastFailureAt: number }): Outage {
  const { lastFailureAt: _last, ...outage } = down;
  return outage;
}

/** The message a paused run shows: what failed, how often, and what to do. */
export function describeOutage(o: Outage): string {
  return `${o.provider} looks down: ${o.failures} of its last ${o.calls} calls failed (${o.errorType}), e.g. "${o.example.slice(0, 200)}". ` +
    'The run paused itself: it probes the provider now and then and resumes once it answers (or `resume` it).';
}
