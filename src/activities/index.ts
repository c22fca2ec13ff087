import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import { IngestionRepository } from '../db/repositories/ingestion.repository';
import { SessionsRepository } from '../db/repositories/sessions.repository';
import { ProviderBatchRepository } from '../db/repositories/provider-batch.repository';
import { createBatchClients, type BatchClientRegistry } from '../llm/batch/registry';
import type { LlmService } from '../llm/llm-service';
import type { Logger } from '../observability/logger';
import type { AppMetrics } from '../observability/metrics';
import { createAnalysisActivities } from './analysis.activities';
import { createIngestionActivities } from './ingestion.activities';
import { createLlmActivities, createRoutingActivities } from './llm.activities';
import { createProviderBatchActivities } from './provider-batch.activities';
import { ArticleSnapshots, createNewsActivities, createNewsProviderActivities } from './news.activities';
import { NewsRepository } from '../db/repositories/news.repository';
import { createReportActivities } from './report.activities';
import { createSessionActivities, createSessionLlmActivities } from './sessions.activities';
import { createScreenplayActivities } from './screenplay.activities';
import { StreamPublisher } from '../db/stream-channel';
import { createProviderRegistry } from '../llm/registry';
import { TokenCounter } from '../llm/token-counter';
import { createSmokeActivities } from './smoke.activities';

export interface ActivityDeps {
  config: AppConfig;
  db: DataSource;
  llm: LlmService;
  /** Writes this process's buffered call-log rows and DB counts (before a report reads them). */
  flushRecorders?: () => Promise<void>;
  /** Story sessions log one line per tool batch and turn, and observe Prometheus histograms. */
  logger?: Logger;
  metrics?: AppMetrics;
  /** Provider batch clients (default: the real ones, configured like the adapters). */
  batchClients?: BatchClientRegistry;
  /** Publishes generation deltas to watchers (default: one of its own, on the database). */
  streams?: StreamPublisher;
  /** Token counting per provider (default: on the configured providers). */
  tokens?: TokenCounter;
}

/** Activities that run on the main task queue (database work, configuration). */
export function createMainActivities(deps: ActivityDeps) {
  const repo = new IngestionRepository(deps.db);
  return {
    ...createRoutingActivities(deps),
    ...createSmokeActivities(deps),
    ...createIngestionActivities({ repo, config: deps.config }),
    ...createReportActivities({ db: deps.db, config: deps.config, flushRecorders: deps.flushRecorders ?? (async () => undefined) }),
    ...createSessionActivities({ ...deps, repo: new SessionsRepository(deps.db) }),
    ...createNewsActivities({ repo: new NewsRepository(deps.db) }),
  };
}

/** Activities that call an LLM provider; registered on each provider's task queue. */
export function createProviderActivities(deps: ActivityDeps) {
  const streams = deps.streams ?? new StreamPublisher(deps.config.databaseUrl);
  return {
    ...createLlmActivities(deps),
    ...createAnalysisActivities({
      repo: new IngestionRepository(deps.db),
      llm: deps.llm,
      outlineContextTokens: deps.config.llm.outlineContextTokens,
      embeddingDimensions: deps.config.llm.embeddingDimensions,
    }),
    ...createSessionLlmActivities({ ...deps, repo: new SessionsRepository(deps.db), streams }),
    ...createProviderBatchActivities({
      repo: new ProviderBatchRepository(deps.db),
      llm: deps.llm,
      clients: deps.batchClients ?? createBatchClients(deps.config.llm),
    }),
    ...createNewsProviderActivities({
      repo: new NewsRepository(deps.db),
      llm: deps.llm,
      embeddingDimensions: deps.config.llm.embeddingDimensions,
      snapshots: new ArticleSnapshots(),
      batches: new ProviderBatchRepository(deps.db),
    }),
    ...createScreenplayActivities({
      config: deps.config,
      db: deps.db,
      llm: deps.llm,
      tokens: deps.tokens ?? new TokenCounter(createProviderRegistry(deps.config.llm)),
      streams,
    }),
  };
}

export type MainActivities = ReturnType<typeof createMainActivities>;
export type ProviderActivities = ReturnType<typeof createProviderActivities>;
