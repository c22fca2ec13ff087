/**
 * The bad-input corpus (issue 14): files an import must refuse whole, with the message that
 * names the problem. The CLI test runs each through `storyloom import`/`ingest`, the API test
 * through `POST /api/scripts`. The files live in test/fixtures/bad-input; the large ones are
 * written into `dir` when a test asks for them.
 */
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MAX_SCENES } from '../../src/domain/screenplay';
import { FIXTURES } from './scripts';

export const BAD_INPUT_CORPUS = path.join(FIXTURES, 'bad-input');

export interface BadInputFile {
  what: string;
  /** The file's path (written on first call for the generated ones). */
  file: () => string;
  /** What the refusal says. */
  message: RegExp;
  /** Not a file an upload can carry (a directory, a missing path). */
  pathOnly?: true;
}

export function badInputFiles(dir: string): BadInputFile[] {
  const corpus = (name: string) => path.join(BAD_INPUT_CORPUS, name);
  const written = (name: string, write: (p: string) => void) => () => {
    const p = path.join(dir, name);
    write(p);
    return p;
  };
  return [
    { what: 'an empty file', file: () => corpus('empty.fountain'), message: /The file is empty: nothing to import/ },
    { what: 'a whitespace-only file', file: () => corpus('whitespace.fountain'), message: /The file is empty \(it holds only whitespace\)/ },
    { what: 'a binary file', file: () => corpus('binary.fountain'), message: /not UTF-8 text \(found a NUL byte at offset 8\)/ },
    { what: 'Latin-1 text', file: () => corpus('latin1.fountain'), message: /not UTF-8 text \(found invalid bytes at offset 8\)/ },
    { what: 'text with NUL bytes', file: () => corpus('nul-bytes.fountain'), message: /not UTF-8 text \(found a NUL byte at offset 42\)/ },
    { what: 'UTF-16 text', file: () => corpus('utf16.fountain'), message: /UTF-16 byte-order mark/ },
    { what: 'text without a scene heading', file: () => corpus('no-heading.fountain'), message: /No scene heading/ },
    {
      what: 'a sparse file over the size limit',
      file: written('over-size-limit.fountain', (p) => {
        writeFileSync(p, 'INT. A - DAY\n\nA line.\n');
        truncateSync(p, 6 * 1024 * 1024);
      }),
      message: /the file is 6\.0 MB; the limit is 5 MB/,
    },
    {
      // Just over the limit in actual content (no sparse zeros): the size check must come before reading and parsing.
      what: 'a text file over the size limit',
      file: written('over-size-limit-text.fountain', (p) => writeFileSync(p, 'INT. A - DAY\n\n' + 'The rain keeps falling on the harbour.\n'.repeat(140_000))),
      message: /the limit is 5 MB/,
    },
    { what: 'malformed FDX', file: () => corpus('malformed.fdx'), message: /not well-formed XML: unclosed elements? / },
    { what: 'XML that is not Final Draft', file: () => corpus('not-final-draft.fdx'), message: /not a Final Draft document/ },
    { what: 'an FDX entity-expansion bomb', file: () => corpus('entity-bomb.fdx'), message: /declares XML entities .*refused/ },
    { what: 'an FDX external entity naming a local file', file: () => corpus('external-entity.fdx'), message: /declares XML entities .*refused/ },
    {
      what: `${(10_000).toLocaleString('en')} one-line scenes`,
      file: written('ten-thousand-scenes.fountain', (p) => writeFileSync(p, Array.from({ length: 10_000 }, (_, i) => `INT. ROOM ${i + 1} - DAY\n`).join('\n'))),
      message: new RegExp(`10,000 scenes; the limit is ${MAX_SCENES.toLocaleString('en')}`),
    },
    { what: 'a directory', file: written('a-directory.fountain', (p) => mkdirSync(p, { recursive: true })), message: /a-directory\.fountain is not a file/, pathOnly: true },
    { what: 'a missing path', file: () => path.join(dir, 'no-such-file.fountain'), message: /file not found: .*no-such-file\.fountain/, pathOnly: true },
  ];
}
