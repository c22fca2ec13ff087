/** The note a window wider than a worker's provider cap gets at the CLI (it would otherwise wait on the cap without a word). */
import { loadConfig } from '../../src/config';
import { windowOverWorkerCap } from '../../src/cli/worker-cap';

const config = loadConfig({ STORYLOOM_ANTHROPIC_MAX_CONCURRENT: '10', STORYLOOM_MODEL_SHEET: 'openai:gpt-4o-mini', STORYLOOM_OPENAI_MAX_CONCURRENT: '4' });

it('says nothing when the window fits the cap of its purpose\'s provider', () => {
  expect(windowOverWorkerCap(config, 'summary', '--concurrency-summaries', 10)).toBeUndefined();
  expect(windowOverWorkerCap(config, 'sheet', '--concurrency-sheets', 4)).toBeUndefined();
});

it('names the option, the provider\'s cap and its setting when the window is wider', () => {
  expect(windowOverWorkerCap(config, 'summary', '--concurrency-summaries', 50)).toBe(
    'note: --concurrency-summaries 50 is above the 10 anthropic calls a worker makes at once (STORYLOOM_ANTHROPIC_MAX_CONCURRENT): with one worker, 10 run at a time and the rest wait for a slot.',
  );
  expect(windowOverWorkerCap(config, 'sheet', '--concurrency-sheets', 5)).toContain('above the 4 openai calls a worker makes at once (STORYLOOM_OPENAI_MAX_CONCURRENT)');
});
