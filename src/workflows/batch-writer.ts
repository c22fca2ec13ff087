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
  let held = false;
  const startBatch = (rows: T[], saveWith: (rows: T[]) => Promise<void>): void => {
    // The chain never rejects: a failure is kept in `failed` and the batches after it are skipped.
    writing = writing.then(async () => {
      if (failed) return;
      try {
        await saveWith(rows);
      } catch (error) {
        failed = { error };
      }
    });
  };
  return {
    /** Queues a row; starts a batch once `size` rows wait (unless held). Throws if an earlier batch failed. */
    add(row: T): void {
      if (failed) throw failed.error;
      pending.push(row);
      if (pending.length >= size && !held) {
        startBatch(pending, save);
        pending = [];
      }
    },
    /** From now on rows only queue: they wait for `flush` (the phase's last rows, written in one go). */
    hold(): void {
      held = true;
    },
    /**
     * Writes whatever waits — all of it with `saveLast` when given (one call, e.g. a local
     * activity, whose input is not kept in history), else in batches of `size` with `save` —
     * and resolves when every batch so far is written; rejects if one failed.
     */
    flush(saveLast?: (rows: T[]) => Promise<void>): Promise<void> {
      if (pending.length && saveLast) startBatch(pending, saveLast);
      else for (let i = 0; i < pending.length; i += size) startBatch(pending.slice(i, i + size), save);
      pending = [];
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
