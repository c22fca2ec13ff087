/**
 * A write-behind buffer: items are collected and handed to `write` in batches — when the
 * buffer fills, on a timer, and on `flush()` — so a hot path pays no statement or commit per
 * item. Batches are written in order; `flush()` resolves once everything added so far is written.
 * A failed batch is reported to `onError` and dropped: what is buffered here is an optimisation
 * or a log, never the only copy of a result.
 */
export class WriteBehind<T> {
  private buffer: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    private readonly opts: {
      maxItems: number;
      intervalMs: number;
      onError?: (err: unknown) => void;
      /** Wraps each batch write, e.g. to keep it out of an activity's accounting. */
      detach?: <R>(fn: () => R) => R;
    },
  ) {}

  /** Items added and not yet handed to `write`. */
  get pending(): readonly T[] {
    return this.buffer;
  }

  add(item: T): void {
    this.buffer.push(item);
    if (this.buffer.length >= this.opts.maxItems) {
      this.flushInBackground();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flushInBackground(), this.opts.intervalMs);
      this.timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    const detach = this.opts.detach ?? (<R>(fn: () => R) => fn());
    // Chained so batches land in order and flush() waits for earlier ones too.
    this.writing = this.writing.then(() =>
      batch.length ? detach(() => this.write(batch)).catch((err: unknown) => this.opts.onError?.(err)) : undefined,
    );
    return this.writing;
  }

  /** A flush nobody awaits: its failure still goes to `onError` rather than going unobserved. */
  private flushInBackground(): void {
    this.flush().catch((err: unknown) => this.opts.onError?.(err));
  }
}
