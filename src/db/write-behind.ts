/**
 * A batching buffer: items are collected and handed to `write` in batches — when the buffer
 * fills, on a timer, and on `flush()` — so a hot path pays no statement or commit per item.
 *
 * Batches are written one at a time, in order. Items added while a batch is being written
 * wait and go together in the next one (group commit): many callers writing at once share a
 * statement. `add()` returns a promise of its item's batch, so a caller that needs its item
 * durable awaits it (and sees the write's error); failures are also reported to `onError`.
 */
export class WriteBehind<T> {
  private buffer: T[] = [];
  /** Settles when the batch holding the buffered items is written. */
  private bufferWritten: Deferred | undefined;
  /** The buffered items' batch is queued behind `writing` already. */
  private queued = false;
  private timer: NodeJS.Timeout | undefined;
  /** The last batch queued; never rejects (errors go to each batch's own promise). */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    private readonly opts: {
      maxItems: number;
      /** How long an item may wait for company before its batch is written. */
      intervalMs: number;
      onError?: (err: unknown) => void;
      /** Wraps each batch write and the timer, e.g. to keep them out of an activity's accounting. */
      detach?: <R>(fn: () => R) => R;
    },
  ) {}

  /** Items added and not yet handed to `write`. */
  get pending(): readonly T[] {
    return this.buffer;
  }

  /** Buffers `item`; the promise settles when its batch is written (rejects when that failed). */
  add(item: T): Promise<void> {
    this.buffer.push(item);
    const written = (this.bufferWritten ??= deferred());
    if (this.buffer.length >= this.opts.maxItems) {
      this.queueInBackground();
    } else if (!this.timer && !this.queued) {
      this.timer = this.detach(() => setTimeout(() => this.queueInBackground(), this.opts.intervalMs));
      this.timer.unref();
    }
    return written.promise;
  }

  /** Resolves when every item added so far is written or its failure reported (never rejects). */
  flush(): Promise<void> {
    return this.buffer.length ? this.queueBatch().catch(() => undefined) : this.writing;
  }

  private detach<R>(fn: () => R): R {
    return this.opts.detach ? this.opts.detach(fn) : fn();
  }

  private queueBatch(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const written = this.bufferWritten;
    if (!written) return this.writing;
    if (!this.queued) {
      this.queued = true;
      this.writing = this.writing.then(async () => {
        // Everything buffered until now goes in this batch; later items start the next.
        const items = this.buffer;
        this.buffer = [];
        this.bufferWritten = undefined;
        this.queued = false;
        try {
          await this.detach(() => this.write(items));
          written.resolve();
        } catch (err) {
          this.opts.onError?.(err);
          written.reject(err);
        }
      });
    }
    return written.promise;
  }

  /** A batch nobody awaits here: its failure already went to `onError` and to its items' callers. */
  private queueInBackground(): void {
    this.queueBatch().catch(() => undefined);
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits (a cache entry) must not become an unhandled rejection; onError saw it.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
