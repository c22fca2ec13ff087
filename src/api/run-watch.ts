/**
 * Watching a run for Server-Sent Events: one poller per workflow id in this process, shared by
 * every client watching it (200 clients on one run cost one describe + one query per interval).
 * A poller keeps only what it last saw, to tell a change; it stops when its last client leaves.
 */
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';

/** A run's final state: the result, or the error it ended with. */
export interface RunFinal {
  status: string;
  result?: unknown;
  error?: { type: string; message: string };
}

/**
 * One event for a client. `id` is `<runId>:<historyLength>` (the run's state changes only with
 * its history, so equal ids mean equal state) or `<runId>:final`: any API process gives the same
 * id to the same state, which is what makes `Last-Event-ID` work across restarts.
 */
export type RunEvent = { id: string; type: 'progress'; data: { status: string; progress: unknown } } | { id: string; type: 'final'; data: RunFinal };

type Listener = (event: RunEvent) => void;

/** The final state of a closed run. */
export async function runFinal(client: Client, workflowId: string, status: string): Promise<RunFinal> {
  try {
    return { status, result: await client.workflow.getHandle(workflowId).result() };
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause;
      return { status, error: { type: cause?.name ?? 'WorkflowFailedError', message: cause?.message ?? err.message } };
    }
    if (err instanceof WorkflowNotFoundError) return { status, error: { type: 'WorkflowNotFoundError', message: `No workflow ${workflowId}.` } };
    return { status, error: { type: (err as Error).name ?? 'Error', message: (err as Error).message ?? String(err) } };
  }
}

class RunWatcher {
  private readonly listeners = new Set<Listener>();
  private last?: RunEvent;
  private lastProgressJson?: string;
  private stopped = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly client: Client,
    private readonly workflowId: string,
    private readonly intervalMs: number,
    private readonly onIdle: () => void,
  ) {}

  add(listener: Listener): void {
    this.listeners.add(listener);
    if (this.last) listener(this.last);
    if (this.listeners.size === 1 && !this.timer && !this.stopped) this.schedule(0);
  }

  remove(listener: Listener): void {
    this.listeners.delete(listener);
    if (!this.listeners.size) this.stop();
  }

  private stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.onIdle();
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.poll().then(
        (done) => {
          if (!done && !this.stopped) this.schedule(this.intervalMs);
        },
        () => {
          // Temporal unreachable for a moment: ask again.
          if (!this.stopped) this.schedule(this.intervalMs);
        },
      );
    }, ms);
  }

  private emit(event: RunEvent): void {
    this.last = event;
    for (const listener of [...this.listeners]) listener(event);
  }

  /** One look at the run; true once the final event is out. */
  private async poll(): Promise<boolean> {
    const handle = this.client.workflow.getHandle(this.workflowId);
    const desc = await handle.describe();
    const status = desc.status.name;
    if (status === 'CONTINUED_AS_NEW') return false; // the next run is starting
    if (status !== 'RUNNING') {
      this.emit({ id: `${desc.runId}:final`, type: 'final', data: await runFinal(this.client, this.workflowId, status) });
      this.stop();
      return true;
    }
    let progress: unknown;
    try {
      progress = await handle.query('progress');
    } catch {
      // Before the first workflow task, or a job without a progress query: report the status alone.
      progress = null;
    }
    const json = JSON.stringify(progress);
    if (json !== this.lastProgressJson || !this.last) {
      this.lastProgressJson = json;
      this.emit({ id: `${desc.runId}:${desc.historyLength}`, type: 'progress', data: { status, progress } });
    }
    return false;
  }
}

export class RunWatchHub {
  private readonly watchers = new Map<string, RunWatcher>();

  constructor(
    private readonly client: Client,
    private readonly opts: { intervalMs: number },
  ) {}

  /** Calls `listener` with the run's current state and every change, then its final event; returns the unsubscribe. */
  watch(workflowId: string, listener: Listener): () => void {
    let watcher = this.watchers.get(workflowId);
    if (!watcher) {
      const created = new RunWatcher(this.client, workflowId, this.opts.intervalMs, () => {
        if (this.watchers.get(workflowId) === created) this.watchers.delete(workflowId);
      });
      watcher = created;
      this.watchers.set(workflowId, watcher);
    }
    watcher.add(listener);
    const w = watcher;
    return () => w.remove(listener);
  }

  /** Runs being watched now (for tests and the load check). */
  get size(): number {
    return this.watchers.size;
  }
}
