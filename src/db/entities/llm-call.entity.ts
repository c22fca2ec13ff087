import { EntitySchema } from 'typeorm';

/** One row per LLM call, hit or miss: what was asked of which model, how long it took, how it ended. */
export interface LlmCall {
  id: string;
  createdAt: Date;
  purpose: string;
  provider: string;
  model: string;
  promptVersion: string;
  /** ok | cache_hit | error */
  outcome: string;
  errorType: string | null;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  workflowId: string | null;
  runId: string | null;
  activityId: string | null;
  activityType: string | null;
  attempt: number | null;
  cacheKey: string | null;
  /** workflow/run/activity/attempt/request index of a call made in an activity: a row is written once. */
  callKey: string | null;
  /** Made through a provider batch (priced at the batch discount). */
  batch: boolean;
}

export const LlmCallEntity = new EntitySchema<LlmCall>({
  name: 'LlmCall',
  tableName: 'llm_calls',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    purpose: { type: 'text' },
    provider: { type: 'text' },
    model: { type: 'text' },
    promptVersion: { name: 'prompt_version', type: 'text' },
    outcome: { type: 'text' },
    errorType: { name: 'error_type', type: 'text', nullable: true },
    latencyMs: { name: 'latency_ms', type: 'integer' },
    inputTokens: { name: 'input_tokens', type: 'integer' },
    outputTokens: { name: 'output_tokens', type: 'integer' },
    workflowId: { name: 'workflow_id', type: 'text', nullable: true },
    runId: { name: 'run_id', type: 'text', nullable: true },
    activityId: { name: 'activity_id', type: 'text', nullable: true },
    activityType: { name: 'activity_type', type: 'text', nullable: true },
    attempt: { type: 'integer', nullable: true },
    cacheKey: { name: 'cache_key', type: 'text', nullable: true },
    callKey: { name: 'call_key', type: 'text', nullable: true },
    batch: { type: 'boolean', default: false },
  },
  indices: [
    { name: 'llm_calls_workflow_idx', columns: ['workflowId'] },
    { name: 'llm_calls_call_key_idx', columns: ['callKey'], unique: true },
  ],
});
