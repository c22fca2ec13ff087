/**
 * Watching a run for Server-Sent Events: one poller per workflow id in this process, shared by
 * every client watching it (200 clients on one run cost one describe + one query per interval).
 * A poller keeps only what it last saw, to tell a change; it stops when its last client leaves.
 */
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { queryProgress } from '../operations/run-progress';
import { workflowFailure } from '../cli/workflow-failure';
import { finalEventId } from './sse';

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
export type RunEvent =
  | { id: string; type: 'progress'; data: { status: string; progress: unknown; progressError?: string } }
  | { id: string; type: 'final'; data: RunFinal };

type Listener = (event: RunEvent) => void;

/** The final state of a closed run. */
export async function runFinal(client: Client, workflowId: string, status: string): Promise<RunFinal> {
  try {
    return { status, result: await client.workflow.getHandle(workflowId).result() };
  } catch (err) {
    // The failure that says what went wrong (`LlmAuthentication`), not its wrapper's class name.
    if (err instanceof WorkflowFailedError) return { status, error: workflowFailure(err)! };
    if (err instanceof WorkflowNotFoundError) return { status, error: { type: 'WorkflowNotFoundError', message: `No workflow ${workflowId}.` } };
    return { status, error: { type: (err as Error).name ?? 'Error', message: (err as Error).message ?? String(err) } };
  }
}

/** A run as one describe + one progress query saw it. */
export interface RunSnapshot {
  desc: WorkflowExecutionDescription;
  /** The progress query's answer; null when it had none (no such query, no worker, between runs). */
  progress: unknown;
  /** Why `progress` is null (`no worker answered within 5 s`); absent when the query answered. */
  progressError?: string;
  /** The result or error, once the run is closed. */
  final?: RunFinal;
}

const OPEN_STATUSES = new Set(['RUNNING', 'CONTINUED_AS_NEW']);

/** Asks Temporal for a run's snapshot: the description, and the progress query while it runs. */
async function takeSnapshot(client: Client, workflowId: string): Promise<RunSnapshot> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await handle.describe();
  // Bounded: with no worker the query would hold the answer for the server's whole timeout.
  const { progress, error: progressError } = await queryProgress(client, handle).catch((err: unknown) => ({
    progress: null,
    error: `the progress query failed: ${(err as Error).message}`,
  }));
  const status = desc.status.name;
  return {
    desc,
    progress,
    ...(progressError ? { progressError } : {}),
    ...(OPEN_STATUSES.has(status) ? {} : { final: await runFinal(client, workflowId, status) }),
  };
}

class RunWatcher {
  private readonly listeners = new Set<Listener>();
  private last?: RunEvent;
  private lastProgressJson?: string;
  private stopped = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly intervalMs: number,
    private readonly snapshot: () => Promise<RunSnapshot>,
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
    const { desc, progress, progressError, final } = await this.snapshot();
    const status = desc.status.name;
    if (status === 'CONTINUED_AS_NEW') return false; // the next run is starting
    if (final) {
      this.emit({ id: finalEventId(desc.runId), type: 'final', data: final });
      this.stop();
      return true;
    }
    // A new event when the run's state changed, not merely its clock (a paused run's elapsed time goes on).
    const json = JSON.stringify(progress, (key, value: unknown) => (key === 'elapsedMs' || key === 'estimatedRemainingMs' ? undefined : value));
    if (json !== this.lastProgressJson || !this.last) {
      this.lastProgressJson = json;
      this.emit({ id: `${desc.runId}:${desc.historyLength}`, type: 'progress', data: { status, progress, ...(progressError ? { progressError } : {}) } });
    }
    return false;
  }
}

export class RunWatchHub {
  private readonly watchers = new Map<string, RunWatcher>();
  private readonly snapshots = new Map<string, { at: number; value: Promise<RunSnapshot> }>();

  constructor(
    private readonly client: Client,
    private readonly opts: { intervalMs: number },
  ) {}

  /**
   * The run's snapshot, shared by the requests of the same moment: one taken (or being taken)
   * less than half an interval ago is answered again, so N clients asking together cost one
   * describe and one query. Kept only that long (this is no store of job state).
   */
  snapshot(workflowId: string): Promise<RunSnapshot> {
    const now = Date.now();
    const recent = this.snapshots.get(workflowId);
    if (recent && now - recent.at < this.opts.intervalMs / 2) return recent.value;
    const value = takeSnapshot(this.client, workflowId);
    this.snapshots.set(workflowId, { at: now, value });
    const forget = () => {
      setTimeout(() => {
        if (this.snapshots.get(workflowId)?.value === value) this.snapshots.delete(workflowId);
      }, this.opts.intervalMs / 2).unref();
    };
    value.then(forget, () => {
      // A failure is not shared with later requests.
      if (this.snapshots.get(workflowId)?.value === value) this.snapshots.delete(workflowId);
    });
    return value;
  }

  /** Forgets the run's shared snapshot (after a change a client made: its next request sees it). */
  invalidate(workflowId: string): void {
    this.snapshots.delete(workflowId);
  }

  /** Calls `listener` with the run's current state and every change, then its final event; returns the unsubscribe. */
  watch(workflowId: string, listener: Listener): () => void {
    let watcher = this.watchers.get(workflowId);
    if (!watcher) {
      const created = new RunWatcher(this.opts.intervalMs, () => this.snapshot(workflowId), () => {
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
