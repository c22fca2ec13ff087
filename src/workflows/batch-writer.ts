/**
 * Collects rows and writes them with `save` in batches of `size` (a transaction per batch, not
 * per row), in order and never two batches at once. Workflow-safe: only promises, no timers.
 */
export function batchWriter<T>(save: (rows: T[]) => Promise<void>, size: number) {
  let pending: T[] = [];
  let writing: Promise<void> = Promise.resolve();
  const flush = (all: boolean): Promise<void> => {
    if (pending.length >= (all ? 1 : size)) {
      const rows = pending;
      pending = [];
      writing = writing.then(() => save(rows));
    }
    return writing;
  };
  return {
    /** Queues a row; writes a batch once `size` rows wait. */
    add(row: T): void {
      pending.push(row);
      // A failed save must not go unobserved (the SDK would fail every workflow task on it, and
      // the run would hang). Later batches chain on this promise, so the failure rejects the
      // next `flush()` the workflow awaits.
      flush(false).catch(() => undefined);
    },
    /** Writes whatever waits; resolves when every batch so far is written. */
    flush: () => flush(true),
  };
}
