/** Request accounting by route, provider and purpose, including concurrency and its time integral. */
import { PROVIDERS, ROUTE_NAMES, ROUTE_PROVIDER, type Provider, type RouteName, type RouteStats, type SimulatorStats } from './types';
import type { Usage } from './reply';

/** Counters plus the live concurrency gauge that busyMs integrates. */
class Bucket {
  requests = 0;
  ok = 0;
  errors: Record<string, number> = {};
  rateLimited = 0;
  aborted = 0;
  inputTokens = 0;
  outputTokens = 0;
  embeddingInputs = 0;
  peakConcurrent = 0;
  current = 0;
  private busyMs = 0;
  private lastChange: number;

  constructor(now: number) {
    this.lastChange = now;
  }

  concurrency(delta: 1 | -1, now: number): void {
    this.busyMs += this.current * (now - this.lastChange);
    this.lastChange = now;
    this.current += delta;
    this.peakConcurrent = Math.max(this.peakConcurrent, this.current);
  }

  /** Zeroes the counters; requests still in flight stay counted as concurrent. */
  reset(now: number): void {
    this.requests = this.ok = this.rateLimited = this.aborted = 0;
    this.inputTokens = this.outputTokens = this.embeddingInputs = 0;
    this.errors = {};
    this.peakConcurrent = this.current;
    this.busyMs = 0;
    this.lastChange = now;
  }

  snapshot(now: number): RouteStats {
    return {
      requests: this.requests,
      ok: this.ok,
      errors: { ...this.errors },
      rateLimited: this.rateLimited,
      aborted: this.aborted,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      embeddingInputs: this.embeddingInputs,
      peakConcurrent: this.peakConcurrent,
      busyMs: Math.round(this.busyMs + this.current * (now - this.lastChange)),
    };
  }
}

/** One request's view of the recorder. Each request ends exactly once: ok, error or aborted. */
export interface RequestRecord {
  /** The request was admitted and now counts as concurrent until it ends. */
  enter(): void;
  ok(usage: Usage): void;
  /** `key` is the fault kind or the HTTP status ('hang', 'streamStall' and 'wrongShape' do not end the request). */
  error(key: string, status: number): void;
  /** The client went away before the answer was complete (a hang's error was counted already). */
  aborted(): void;
}

export class StatsRecorder {
  private total: Bucket;
  private byRoute: Record<RouteName, Bucket>;
  private byProvider: Record<Provider, Bucket>;
  private byPurpose = new Map<string, Bucket>();

  constructor(private readonly now: () => number = () => performance.now()) {
    const t = now();
    this.total = new Bucket(t);
    this.byRoute = Object.fromEntries(ROUTE_NAMES.map((r) => [r, new Bucket(t)])) as Record<RouteName, Bucket>;
    this.byProvider = Object.fromEntries(PROVIDERS.map((p) => [p, new Bucket(t)])) as Record<Provider, Bucket>;
  }

  begin(route: RouteName, purpose: string): RequestRecord {
    let purposeBucket = this.byPurpose.get(purpose);
    if (!purposeBucket) {
      purposeBucket = new Bucket(this.now());
      this.byPurpose.set(purpose, purposeBucket);
    }
    const buckets = [this.total, this.byRoute[route], this.byProvider[ROUTE_PROVIDER[route]], purposeBucket];
    for (const b of buckets) b.requests++;
    let entered = false;
    let ended = false;
    const end = (apply: (b: Bucket) => void) => {
      if (ended) return;
      ended = true;
      const t = this.now();
      for (const b of buckets) {
        apply(b);
        if (entered) b.concurrency(-1, t);
      }
    };
    return {
      enter: () => {
        if (entered || ended) return;
        entered = true;
        const t = this.now();
        for (const b of buckets) b.concurrency(1, t);
      },
      ok: (usage) =>
        end((b) => {
          b.ok++;
          b.inputTokens += usage.inputTokens;
          b.outputTokens += usage.outputTokens;
          b.embeddingInputs += usage.embeddingInputs;
        }),
      error: (key, status) => {
        // A hang or a stalled stream is an error at once but keeps its slot until the client
        // leaves, which ends it as aborted; a wrong-shape answer is counted here and still
        // delivered (and ends as ok).
        const apply = (b: Bucket) => {
          b.errors[key] = (b.errors[key] ?? 0) + 1;
          if (status === 429) b.rateLimited++;
        };
        if (key === 'hang' || key === 'streamStall' || key === 'wrongShape') {
          if (!ended) for (const b of buckets) apply(b);
        } else {
          end(apply);
        }
      },
      aborted: () => end((b) => b.aborted++),
    };
  }

  snapshot(): Omit<SimulatorStats, 'batches'> {
    const t = this.now();
    const total = this.total.snapshot(t);
    const map = <K extends string>(entries: [K, Bucket][]) =>
      Object.fromEntries(entries.map(([k, b]) => [k, b.snapshot(t)])) as Record<K, RouteStats>;
    return {
      totalRequests: total.requests,
      ok: total.ok,
      rateLimited: total.rateLimited,
      aborted: total.aborted,
      peakConcurrent: total.peakConcurrent,
      currentConcurrent: this.total.current,
      byRoute: map(Object.entries(this.byRoute) as [RouteName, Bucket][]),
      byPurpose: map([...this.byPurpose.entries()]),
      byProvider: map(Object.entries(this.byProvider) as [Provider, Bucket][]),
    };
  }

  reset(): void {
    const t = this.now();
    for (const b of [this.total, ...Object.values(this.byRoute), ...Object.values(this.byProvider)]) b.reset(t);
    for (const [purpose, b] of this.byPurpose) {
      if (b.current === 0) this.byPurpose.delete(purpose);
      else b.reset(t);
    }
  }
}
