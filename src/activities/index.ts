import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import { IngestionRepository } from '../db/repositories/ingestion.repository';
import type { LlmService } from '../llm/llm-service';
import { createAnalysisActivities } from './analysis.activities';
import { createIngestionActivities } from './ingestion.activities';
import { createLlmActivities, createRoutingActivities } from './llm.activities';
import { createReportActivities } from './report.activities';
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
  };
}

/** Activities that call an LLM provider; registered on each provider's task queue. */
export function createProviderActivities(deps: ActivityDeps) {
  return {
    ...createLlmActivities(deps),
    ...createAnalysisActivities({
      repo: new IngestionRepository(deps.db),
      llm: deps.llm,
      outlineContextTokens: deps.config.llm.outlineContextTokens,
      embeddingDimensions: deps.config.llm.embeddingDimensions,
    }),
    ...createScreenplayActivities({
      config: deps.config,
      db: deps.db,
      llm: deps.llm,
      tokens: deps.tokens ?? new TokenCounter(createProviderRegistry(deps.config.llm)),
      streams: deps.streams ?? new StreamPublisher(deps.config.databaseUrl),
    }),
  };
}

export type MainActivities = ReturnType<typeof createMainActivities>;
export type ProviderActivities = ReturnType<typeof createProviderActivities>;
