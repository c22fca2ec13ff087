/**
 * What a workflow run's activities read over and over, loaded once per worker and run: every
 * scene of the script for its summaries, every character with its scenes for its sheets. The
 * first activity of a run loads the whole set in one query (concurrent ones wait for that
 * load); a miss (an id not in the set) falls back to the activity's own read. Keyed by the
 * workflow run id, so a new run (or a continue-as-new) reads afresh; entries go when idle.
 * Activities stay idempotent: the data is read-only within a run.
 */
import { Context } from '@temporalio/activity';

interface Entry {
  value: Promise<Map<number, unknown>>;
  usedAt: number;
}

export class RunDataCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: { maxRuns?: number; idleMs?: number; now?: () => number } = {}) {}

  /**
   * The item `id` of the set `kind` for the current activity's run, loading the set with `load`
   * the first time; `fallback` reads the one item when the set has no `id` (or outside a run).
   */
  async get<T>(kind: string, id: number, load: () => Promise<Map<number, T>>, fallback: () => Promise<T>): Promise<T> {
    const runId = Context.current().info.workflowExecution?.runId;
    if (!runId) return fallback();
    const key = `${runId}/${kind}`;
    const now = (this.opts.now ?? Date.now)();
    this.evict(now);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: load() as Promise<Map<number, unknown>>, usedAt: now };
      this.entries.set(key, entry);
      // A failed load is forgotten: the next activity (or this one's retry) loads again.
      entry.value.catch(() => this.entries.delete(key));
    }
    entry.usedAt = now;
    let set: Map<number, unknown>;
    try {
      set = await entry.value;
    } catch {
      return fallback();
    }
    return set.has(id) ? (set.get(id) as T) : fallback();
  }

  /** Loaded sets kept (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    const idleMs = this.opts.idleMs ?? 10 * 60_000;
    for (const [key, e] of this.entries) if (now - e.usedAt > idleMs) this.entries.delete(key);
    const maxRuns = this.opts.maxRuns ?? 64;
    while (this.entries.size > maxRuns) {
      const oldest = [...this.entries].sort((a, b) => a[1].usedAt - b[1].usedAt)[0][0];
      this.entries.delete(oldest);
    }
  }
}
