import path from 'node:path';

/** The third-party screenplay corpus: `../shared/fixtures` beside the repository, or STORYLOOM_CORPUS_DIR. */
export const CORPUS = path.resolve(process.env.STORYLOOM_CORPUS_DIR ?? path.resolve(__dirname, '../../../shared/fixtures'));
