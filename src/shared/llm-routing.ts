/**
 * Plain types and names shared by workflows, activities and the CLI. Pure: safe inside the
 * workflow sandbox (no Node built-ins, no I/O).
 */

export const PROVIDERS = ['anthropic', 'openai', 'ollama'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** What an LLM call is for. Each purpose maps to a provider and model through configuration. */
export const CHAT_PURPOSES = ['smoke', 'summary', 'outline', 'sheet', 'synthesis', 'session', 'screenplay'] as const;
export const EMBEDDING_PURPOSES = ['embedding'] as const;
export type ChatPurpose = (typeof CHAT_PURPOSES)[number];
export type EmbeddingPurpose = (typeof EMBEDDING_PURPOSES)[number];
export type Purpose = ChatPurpose | EmbeddingPurpose;

/** Which provider, model and task queue serve a purpose; resolved once per run, then fixed in history. */
export interface LlmRoute {
  provider: Provider;
  model: string;
  taskQueue: string;
  /**
   * One request's client timeout (STORYLOOM_LLM_TIMEOUT_MS), so the workflow can size its LLM
   * activities' limits. Absent in routes resolved by earlier releases.
   */
  requestTimeoutMs?: number;
  /**
   * How long after its start a run waits out rate limits (STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS).
   * Absent in routes resolved by earlier releases.
   */
  rateLimitDeadlineMs?: number;
}

/** LLM activities run on one task queue per provider, so worker limits hold per provider. */
export function llmTaskQueue(baseQueue: string, provider: Provider): string {
  return `${baseQueue}-llm-${provider}`;
}

/** A `provider:model` a run was asked to use instead of its purpose's configured one. */
export interface ModelChoice {
  provider: Provider;
  model: string;
}

/** `route` with the run's model choice (none: as resolved): its provider's queue on `baseQueue`, the route's limits kept. */
export function routeWithModel(route: LlmRoute, choice: ModelChoice | undefined, baseQueue: string): LlmRoute {
  return choice ? { ...route, provider: choice.provider, model: choice.model, taskQueue: llmTaskQueue(baseQueue, choice.provider) } : route;
}
