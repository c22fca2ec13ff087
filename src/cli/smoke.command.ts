import { parseArgs } from 'node:util';
import type { AppConfig } from '../config';
import { JOB_KEY } from '../shared/search-attributes';
import { smokeTest } from '../workflows';
import { connectClient, UsageError, webUiLink } from './temporal-client';

export async function smokeCommand(config: AppConfig, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      prompt: { type: 'string', default: 'Pitch a one-line story about a lighthouse keeper who collects storms.' },
      'no-cache': { type: 'boolean', default: false },
    },
  });
  const prompt = values.prompt!;
  if (!prompt.trim()) throw new UsageError('--prompt is empty: give the text to ask, or leave --prompt out for the default pitch');
  const { client, close } = await connectClient(config);
  try {
    const workflowId = `smoke-${Date.now()}`;
    const handle = await client.workflow.start(smokeTest, {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [{ prompt, useCache: !values['no-cache'] }],
      typedSearchAttributes: [{ key: JOB_KEY, value: 'smoke' }],
    });
    console.log(`Started smoke workflow ${workflowId}`);
    console.log(`Web UI: ${webUiLink(config, workflowId, handle.firstExecutionRunId)}`);
    const result = await handle.result();
    console.log(`${result.provider}/${result.model}${result.cached ? ' (from cache)' : ''}: ${result.text}`);
    console.log(`tokens in/out: ${result.inputTokens}/${result.outputTokens}; stored in smoke_results`);
    return 0;
  } finally {
    await close();
  }
}
