import { workflowInfo } from '@temporalio/workflow';
import { llmActivities, localActivities, mainActivities } from './activity-options';

export interface SmokeTestInput {
  prompt: string;
  useCache: boolean;
}

export interface SmokeTestResult {
  text: string;
  model: string;
  provider: string;
  inputTokens: number;
  outputTokens: number;
  cached: boolean;
}

export const SMOKE_PROMPT_VERSION = 'smoke-v1';

/**
 * The foundation's end-to-end check: one LLM call through the provider layer (on the
 * provider's task queue), then the answer stored in Postgres.
 */
export async function smokeTest(input: SmokeTestInput): Promise<SmokeTestResult> {
  const startedAt = Date.now();
  const { smoke: route } = await localActivities.resolveLlmRoutes(['smoke']);
  const answer = await llmActivities(route).chatCompletion({
    purpose: 'smoke',
    route,
    promptVersion: SMOKE_PROMPT_VERSION,
    system: 'You are a story editor. Answer in two sentences.',
    messages: [{ role: 'user', content: input.prompt }],
    maxTokens: 200,
    useCache: input.useCache,
  });
  await mainActivities.saveSmokeResult({
    workflowId: workflowInfo().workflowId,
    prompt: input.prompt,
    text: answer.text,
    model: answer.model,
    inputTokens: answer.inputTokens,
    outputTokens: answer.outputTokens,
    cached: answer.cached,
  });
  const info = workflowInfo();
  await mainActivities.storeRunReport({
    workflowId: info.workflowId,
    runIds: [info.runId],
    kind: 'smokeTest',
    scriptId: null,
    status: 'completed',
    wallMs: Date.now() - startedAt,
    phasesMs: {},
  });
  return { ...answer, provider: route.provider };
}
