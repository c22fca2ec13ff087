import type { AppConfig } from '../config';
import type { LlmService } from '../llm/llm-service';
import type { ChatMessage, JsonSchemaSpec } from '../llm/types';
import { llmTaskQueue, type LlmRoute, type Purpose } from '../shared/llm-routing';
import { withActivityContext } from './activity-context';

export interface ChatCompletionInput {
  purpose: string;
  route: LlmRoute;
  promptVersion: string;
  system?: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  jsonSchema?: JsonSchemaSpec;
  useCache: boolean;
  /** Until when rate limits are waited out (epoch ms); default: 6 h after the activity was first scheduled. */
  deadlineAt?: number;
}

export interface ChatCompletionOutput {
  text: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cached: boolean;
}

/** Activities that call a provider; they run on the provider's own task queue. */
export function createLlmActivities(deps: { llm: LlmService }) {
  return {
    /**
     * One chat completion for a small prompt carried in the input (the smoke job). Retry-safe:
     * it writes nothing but the call log, and a repeat may be served by the cache.
     */
    async chatCompletion(input: ChatCompletionInput): Promise<ChatCompletionOutput> {
      return withActivityContext(async (ctx) => {
        const result = await deps.llm.chat(
          {
            purpose: input.purpose,
            provider: input.route.provider,
            model: input.route.model,
            promptVersion: input.promptVersion,
            request: {
              system: input.system,
              messages: input.messages,
              maxTokens: input.maxTokens,
              temperature: input.temperature,
              jsonSchema: input.jsonSchema,
            },
            useCache: input.useCache,
          },
          ctx,
        );
        return {
          text: result.text,
          model: result.model,
          inputTokens: result.usage.inputTokens,
          outputTokens: result.usage.outputTokens,
          cached: result.cached,
        };
      }, { deadlineAt: input.deadlineAt, rateLimitDeadlineMs: input.route.rateLimitDeadlineMs });
    },
  };
}

/**
 * Which provider, model and task queue serve each purpose, and the request timeout (which
 * sizes the activities' limits), from the worker's configuration.
 */
export function llmRoutesFor(config: AppConfig, purposes: Purpose[]): Record<string, LlmRoute> {
  const routes: Record<string, LlmRoute> = {};
  for (const purpose of purposes) {
    const ref = config.llm.models[purpose];
    if (!ref) throw new Error(`Unknown LLM purpose "${purpose}"`);
    routes[purpose] = {
      ...ref,
      taskQueue: llmTaskQueue(config.temporal.taskQueue, ref.provider),
      requestTimeoutMs: config.llm.requestTimeoutMs,
      rateLimitDeadlineMs: config.llm.rateLimitDeadlineMs,
    };
  }
  return routes;
}

/** Activities that only read configuration; they run on the main task queue. */
export function createRoutingActivities(deps: { config: AppConfig }) {
  return {
    /** The routes of `purposes` (llmRoutesFor). Called once at the start of a run so the choice is fixed in the run's history. */
    async resolveLlmRoutes(purposes: Purpose[]): Promise<Record<string, LlmRoute>> {
      return llmRoutesFor(deps.config, purposes);
    },
  };
}
