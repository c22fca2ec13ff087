/**
 * The lint rules `npm test` runs (eslint.config.mjs) catch what hung runs in issue 9: a promise
 * nobody observes, and workflow code importing things that do not belong in the sandbox.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');

interface Fixture {
  filePath: string;
  code: string;
}

/**
 * Lints fixture texts with the project's eslint.config.mjs, in a child process: jest's module
 * sandbox cannot load an ES module config. The fixture paths do not exist on disk, so the only
 * override admits them to the type-aware project (same compiler options as tsconfig.json).
 */
const LINT_TEXTS = `
const { ESLint } = require('eslint');
const fixtures = JSON.parse(process.argv[1]);
const eslint = new ESLint({
  overrideConfig: {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: fixtures.map((f) => f.filePath), defaultProject: 'tsconfig.json' },
      },
    },
  },
});
(async () => {
  const out = [];
  for (const f of fixtures) {
    const [result] = await eslint.lintText(f.code, { filePath: f.filePath });
    out.push(result.messages.map((m) => [m.ruleId, m.line, m.message]));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

type Hit = [ruleId: string | null, line: number];

async function lintAll(fixtures: Fixture[]): Promise<Hit[][]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', LINT_TEXTS, JSON.stringify(fixtures)], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
  });
  const results = JSON.parse(stdout) as [string | null, number, string][][];
  return results.map((messages) => messages.map(([ruleId, line]) => [ruleId, line]));
}

// The fixtures are linted as files in src/workflows/: their relative imports resolve from there.
const SHARED_FAILURE_TYPES = path.posix.relative('src/workflows', 'src/shared/failure-types');

const ALLOWED_WORKFLOW = `
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { MainActivities } from '../activities';
import { type SummaryRow } from '../db/repositories/ingestion.repository';
import { NON_RETRYABLE_LLM_FAILURES } from '${SHARED_FAILURE_TYPES}';
import { batchWriter } from './batch-writer';

const acts = proxyActivities<MainActivities>({ startToCloseTimeout: '1 minute' });

export async function lintFixture(rows: SummaryRow[]): Promise<number> {
  const writer = batchWriter<SummaryRow>((batch) => acts.saveSceneSummaries(batch), 10);
  for (const row of rows) writer.add(row);
  await writer.flush();
  const timer = sleep(10).catch(() => undefined);
  await timer;
  return NON_RETRYABLE_LLM_FAILURES.length;
}
`;

const FORBIDDEN_WORKFLOW = `
import { readFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { createMainActivities } from '../activities';
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { MainActivities } from '../activities';

const acts = proxyActivities<MainActivities>({ startToCloseTimeout: '1 minute' });

export async function lintFixture(): Promise<unknown[]> {
  void acts.saveSceneSummaries([]);
  sleep(10);
  return [readFileSync, DataSource, createMainActivities];
}
`;

const MISUSED_PROMISE = `
export function onEvent(register: (listener: () => void) => void, work: () => Promise<void>): void {
  register(async () => {
    await work();
  });
}
`;

describe('lint rules', () => {
  let allowedWorkflow: Hit[];
  let forbiddenWorkflow: Hit[];
  let forbiddenOutsideWorkflows: Hit[];
  let misusedPromise: Hit[];

  // One child process for every fixture: starting the type-checked project is the slow part.
  beforeAll(async () => {
    [allowedWorkflow, forbiddenWorkflow, forbiddenOutsideWorkflows, misusedPromise] = await lintAll([
      { filePath: 'src/workflows/lint-fixture-allowed.ts', code: ALLOWED_WORKFLOW },
      { filePath: 'src/workflows/lint-fixture-forbidden.ts', code: FORBIDDEN_WORKFLOW },
      { filePath: 'src/cli/lint-fixture-forbidden.ts', code: FORBIDDEN_WORKFLOW },
      { filePath: 'src/cli/lint-fixture-misused.ts', code: MISUSED_PROMISE },
    ]);
  }, 300_000);

  it('accept a workflow that awaits or settles its promises and imports only what workflows may', () => {
    expect(allowedWorkflow).toEqual([]);
  });

  it('reject value imports of node built-ins, SDKs and activities in workflow code, and floating promises (void included)', () => {
    expect(forbiddenWorkflow).toEqual([
      ['no-restricted-imports', 2],
      ['no-restricted-imports', 3],
      ['no-restricted-imports', 4],
      ['@typescript-eslint/no-floating-promises', 11],
      ['@typescript-eslint/no-floating-promises', 12],
    ]);
  });

  it('keep the import rule to workflow code, and the promise rules everywhere', () => {
    expect(forbiddenOutsideWorkflows).toEqual([
      ['@typescript-eslint/no-floating-promises', 11],
      ['@typescript-eslint/no-floating-promises', 12],
    ]);
  });

  it('reject an async function where a callback must return nothing', () => {
    expect(misusedPromise).toEqual([['@typescript-eslint/no-misused-promises', 3]]);
  });
});
