/**
 * Once per jest run: a throwaway database (created, migrated; dropped in teardown) and the
 * workflow bundle built once for every test's workers.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrateDatabase } from '../../src/db/data-source';
import { ENCRYPTED_FAILURE_CONVERTER_PATH } from '../../src/security/data-converter';

export default async function globalSetup(): Promise<void> {
  const base = new URL(process.env.STORYLOOM_TEST_DATABASE_BASE ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/storyloom_test_${process.pid}_${Date.now().toString(36)}`;
  process.env.STORYLOOM_TEST_DATABASE_URL = base.toString();
  await migrateDatabase(base.toString());

  const { code } = await bundleWorkflowCode({
    workflowsPath: path.resolve(__dirname, '../../src/workflows'),
    // The tests' workers run encrypted (harness.ts): failures are encoded in the workflow code too.
    failureConverterPath: ENCRYPTED_FAILURE_CONVERTER_PATH,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  });
  const bundlePath = path.join(tmpdir(), `storyloom-workflows-${process.pid}.js`);
  writeFileSync(bundlePath, code);
  process.env.STORYLOOM_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.TEMPORAL_CLI ??= path.resolve(__dirname, '../../.tools/bin/temporal');
}
