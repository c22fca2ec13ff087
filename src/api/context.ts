/**
 * What the API's routes share: the configuration, the database, a Temporal client and (for
 * search) the LLM service. The API keeps no job state: everything it answers comes from Temporal
 * and Postgres, so any number of API processes behave as one.
 */
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { requireCurrentSchema } from '../db/data-source';
import type { AppConfig } from '../config';
import type { LlmService } from '../llm/llm-service';
import type { Logger } from '../observability/logger';
import { webUiLink } from '../cli/temporal-client';
import type { OperationContext } from '../operations/context';
import { runKind } from './run-kinds';
import { RunWatchHub } from './run-watch';
import { StreamWatchHub } from './stream-watch';

export interface ApiDeps {
  config: AppConfig;
  logger: Logger;
  /** Initialised on first use when it is not yet (a Postgres down at start is then a 503, not a crash). */
  db: DataSource;
  /** A client on a lazy connection: Temporal down at start is a 503 until it is back. */
  client: Client;
  /** The LLM service, for a search query's embedding (made on first use). */
  llm?: () => Promise<LlmService>;
  /** How often a watched run is asked for its state (default 500 ms). */
  watchIntervalMs?: number;
}

export class ApiContext implements OperationContext {
  readonly config: AppConfig;
  readonly watches: RunWatchHub;
  /** Screenplay runs' live text (LISTEN on their stream channels). */
  readonly streams: StreamWatchHub;
  private dbInit?: Promise<DataSource>;

  constructor(readonly deps: ApiDeps) {
    this.config = deps.config;
    this.watches = new RunWatchHub(deps.client, { intervalMs: deps.watchIntervalMs ?? 500 });
    this.streams = new StreamWatchHub(deps.config.databaseUrl);
  }

  db(): Promise<DataSource> {
    const { db } = this.deps;
    if (db.isInitialized) return Promise.resolve(db);
    // One attempt at a time; a failed one is forgotten, so the next request tries again. A schema
    // behind this release is refused (503, and /readyz says so) until `storyloom migrate` runs.
    this.dbInit ??= (async () => {
      await db.initialize();
      return requireCurrentSchema(db, this.config.databaseUrl);
    })().finally(() => {
      this.dbInit = undefined;
    });
    return this.dbInit;
  }

  client(): Promise<Client> {
    return Promise.resolve(this.deps.client);
  }

  llm(): Promise<LlmService> {
    if (!this.deps.llm) throw new Error('this API process has no LLM service (search is off)');
    return this.deps.llm();
  }

  webUi(workflowId: string, runId?: string): string {
    return webUiLink(this.config, workflowId, runId);
  }

  /**
   * The API's links to one run: those its workflow answers (src/api/run-kinds.ts), so a
   * screenplay run has no pause link. `type` is the workflow type when known (a description
   * has it); without it the kind comes from the workflow id.
   */
  runUrls(workflowId: string, type?: string): Record<string, string> {
    const base = `/api/runs/${encodeURIComponent(workflowId)}`;
    const kind = runKind(workflowId, type);
    return {
      status: base,
      events: `${base}/events`,
      ...(kind?.steerable ? { pause: `${base}/pause`, resume: `${base}/resume` } : {}),
      cancel: `${base}/cancel`,
      ...(kind?.steerable ? { concurrency: `${base}/concurrency` } : {}),
      ...(kind?.report ? { report: `${base}/report` } : {}),
      ...(kind?.stream ? { stream: kind.stream(workflowId) } : {}),
    };
  }
}
