import { existsSync } from 'node:fs';
import path from 'node:path';
import { CORPUS } from './corpus-dir';

/** jest globalSetup of `npm run test:corpus`: without the corpus there is nothing to test, so say so and fail. */
export default function checkCorpus(): void {
  if (existsSync(path.join(CORPUS, 'SOURCES.md'))) return;
  throw new Error(
    `The third-party screenplay corpus is missing: no ${path.join(CORPUS, 'SOURCES.md')}. ` +
      '`npm run test:corpus` needs it beside the repository (../shared/fixtures) or at STORYLOOM_CORPUS_DIR. ' +
      '`npm test` does not: it uses the project\'s own fixtures in test/fixtures.',
  );
}
