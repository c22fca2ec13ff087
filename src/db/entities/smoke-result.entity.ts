import { EntitySchema } from 'typeorm';

/** What the smoke workflow stored: one row per workflow id (a retried save updates it). */
export interface SmokeResult {
  workflowId: string;
  prompt: string;
  text: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cached: boolean;
  createdAt: Date;
}

export const SmokeResultEntity = new EntitySchema<SmokeResult>({
  name: 'SmokeResult',
  tableName: 'smoke_results',
  columns: {
    workflowId: { name: 'workflow_id', type: 'text', primary: true },
    prompt: { type: 'text' },
    text: { type: 'text' },
    model: { type: 'text' },
    inputTokens: { name: 'input_tokens', type: 'integer' },
    outputTokens: { name: 'output_tokens', type: 'integer' },
    cached: { type: 'boolean' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
  },
});
