/** A test-only workflow around runProviderBatch (bundled by test/workflows/provider-batch.test.ts). */
import { defineQuery, setHandler } from '@temporalio/workflow';
import type { LlmRoute } from '../../src/shared/llm-routing';
import type { BatchPollPolicy, ProviderBatchProgress, ProviderBatchResult } from '../../src/shared/provider-batch';
import { runProviderBatch } from '../../src/workflows/provider-batch';

export const batchProgressQuery = defineQuery<ProviderBatchProgress | null>('batchProgress');

export async function providerBatchProbe(input: { key: string; route: LlmRoute; poll: Partial<BatchPollPolicy> }): Promise<ProviderBatchResult> {
  let progress: ProviderBatchProgress | null = null;
  setHandler(batchProgressQuery, () => progress);
  return runProviderBatch({ ...input, onProgress: (p) => (progress = p) });
}
