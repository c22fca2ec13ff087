/**
 * Adaptive concurrency per provider (AIMD): every provider request of this process passes a
 * gate whose limit halves (×`decrease`) when the provider rate limits a request and grows by
 * about one per `limit` successes while the limit is in use, between 1 and the provider's
 * STORYLOOM_<P>_MAX_CONCURRENT. One decrease per "generation": the requests that were already
 * in flight when the limit dropped and come back rate limited do not drop it again (as TCP
 * counts one loss per window). Nor do rate limits within the retry-after of the last decrease:
 * the provider has said how long it needs, and each of those requests waits it out anyway; a
 * decrease per answer of a storm would starve the run far below what the provider admits.
 *
 * Per process, not per cluster: each worker of a provider's queue sees the provider's 429s for
 * its own requests and backs off alike, so N workers converge on their share without a shared
 * table on the hot path (a database outage must not stop LLM calls). README "Reliability".
 */

export interface GatePermit {
  /** The gate's generation when the permit was taken. */
  readonly generation: number;
  release(): void;
}

export interface GateChange {
  provider: string;
  limit: number;
  reason: 'rate_limited' | 'recovered';
}

export interface AimdGateOptions {
  provider: string;
  /** Upper bound and starting limit. */
  max: number;
  /** Multiplier on a rate limit (default 0.7). */
  decrease?: number;
  /** Told whenever the whole-number limit changes (logs, metrics). */
  onChange?: (change: GateChange) => void;
  now?: () => number;
}

export class AimdGate {
  private limitValue: number;
  private inFlight = 0;
  private generation = 0;
  /** No decrease before this time: the retry-after the provider gave with the last one. */
  private quietUntil = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly opts: AimdGateOptions) {
    this.limitValue = Math.max(1, opts.max);
  }

  /** Requests allowed in flight now. */
  get limit(): number {
    return Math.max(1, Math.floor(this.limitValue));
  }

  get active(): number {
    return this.inFlight;
  }

  /** Waits for a free slot (rejects with the signal's reason when it aborts first). */
  async acquire(signal?: AbortSignal): Promise<GatePermit> {
    while (this.inFlight >= this.limit) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason);
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    this.inFlight++;
    let released = false;
    return {
      generation: this.generation,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.wakeUp();
      },
    };
  }

  /** A request answered: grow the limit by ~1 per `limit` successes, when the limit is in use. */
  succeeded(): void {
    if (this.limitValue >= this.opts.max) return;
    // Only a limit that is reached is raised: idle capacity proves nothing about the provider.
    if (this.inFlight < this.limit) return;
    const before = this.limit;
    this.limitValue = Math.min(this.opts.max, this.limitValue + 1 / this.limitValue);
    if (this.limit !== before) this.opts.onChange?.({ provider: this.opts.provider, limit: this.limit, reason: 'recovered' });
    this.wakeUp();
  }

  /**
   * The provider rate limited a request and asked for `retryAfterMs`: lower the limit, once per
   * generation and at most once per retry-after.
   */
  rateLimited(permit: GatePermit, retryAfterMs = 0): void {
    if (permit.generation !== this.generation) return;
    const now = (this.opts.now ?? Date.now)();
    if (now < this.quietUntil) return;
    this.quietUntil = now + retryAfterMs;
    this.generation++;
    const before = this.limit;
    this.limitValue = Math.max(1, this.limitValue * (this.opts.decrease ?? 0.7));
    if (this.limit !== before) this.opts.onChange?.({ provider: this.opts.provider, limit: this.limit, reason: 'rate_limited' });
  }

  private wakeUp(): void {
    let free = this.limit - this.inFlight;
    while (free-- > 0 && this.waiters.length) this.waiters.shift()?.();
  }
}

/** One gate per provider, made on first use. */
export class ProviderGates {
  private readonly gates = new Map<string, AimdGate>();

  constructor(private readonly make: (provider: string) => AimdGate) {}

  for(provider: string): AimdGate {
    let gate = this.gates.get(provider);
    if (!gate) {
      gate = this.make(provider);
      this.gates.set(provider, gate);
    }
    return gate;
  }

  /** Current limits, for metrics and tests. */
  limits(): Record<string, number> {
    return Object.fromEntries([...this.gates].map(([p, g]) => [p, g.limit]));
  }
}
