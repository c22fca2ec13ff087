import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import type { LlmService } from '../llm/llm-service';
import { createLlmActivities, createRoutingActivities } from './llm.activities';
import { createSmokeActivities } from './smoke.activities';

export interface ActivityDeps {
  config: AppConfig;
  db: DataSource;
  llm: LlmService;
}

/** Activities that run on the main task queue (database work, configuration). */
export function createMainActivities(deps: ActivityDeps) {
  return {
    ...createRoutingActivities(deps),
    ...createSmokeActivities(deps),
  };
}

/** Activities that call an LLM provider; registered on each provider's task queue. */
export function createProviderActivities(deps: Pick<ActivityDeps, 'llm'>) {
  return createLlmActivities(deps);
}

export type MainActivities = ReturnType<typeof createMainActivities>;
export type ProviderActivities = ReturnType<typeof createProviderActivities>;
