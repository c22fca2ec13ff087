/**
 * Collects rows and writes them with `save` in batches of `size` (a transaction per batch, not
 * per row), in order and never two batches at once. Workflow-safe: only promises, no timers.
 * A failed batch is never left unobserved: after it, `add` and `flush` throw its error and no
 * further batch is written.
 */
export function batchWriter<T>(save: (rows: T[]) => Promise<void>, size: number) {
  let pending: T[] = [];
  let writing: Promise<void> = Promise.resolve();
  let failed: { error: unknown } | undefined;
  const startBatch = (): void => {
    const rows = pending;
    pending = [];
    // The chain never rejects: a failure is kept in `failed` and the batches after it are skipped.
    writing = writing.then(async () => {
      if (failed) return;
      try {
        await save(rows);
      } catch (error) {
        failed = { error };
      }
    });
  };
  return {
    /** Queues a row; starts a batch once `size` rows wait. Throws if an earlier batch failed. */
    add(row: T): void {
      if (failed) throw failed.error;
      pending.push(row);
      if (pending.length >= size) startBatch();
    },
    /** Writes whatever waits; resolves when every batch so far is written, rejects if one failed. */
    flush(): Promise<void> {
      if (pending.length) startBatch();
      return writing.then(() => {
        if (failed) throw failed.error;
      });
    },
    /** The error of a failed batch, once one has failed. */
    failure(): unknown {
      return failed?.error;
    },
  };
}
