import { rmSync } from 'node:fs';
import { dropDatabase } from '../../src/db/data-source';

export default async function globalTeardown(): Promise<void> {
  if (process.env.STORYLOOM_TEST_DATABASE_URL) await dropDatabase(process.env.STORYLOOM_TEST_DATABASE_URL);
  if (process.env.STORYLOOM_TEST_WORKFLOW_BUNDLE) rmSync(process.env.STORYLOOM_TEST_WORKFLOW_BUNDLE, { force: true });
}
