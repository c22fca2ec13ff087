/**
 * Bad input never crashes, hangs or eats memory: every file of the bad-input corpus
 * (test/fixtures/bad-input, plus the large ones generated here) and every numeric option out of
 * range goes through the real CLI as its own process. Each must exit 2 with a message naming the
 * problem, within a time limit, under a peak-RSS bound, and write no row. The CLI gets a database
 * of its own (nothing else writes to it, so "no row" is exact) and a Temporal address where no
 * server listens: refusing bad input must not need one.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { dropDatabase, migrateDatabase } from '../../src/db/data-source';
import { BAD_INPUT_CORPUS, badInputFiles } from '../helpers/bad-input-corpus';
import { FIXTURES } from '../helpers/scripts';

const ROOT = path.resolve(__dirname, '../..');
/** Peak resident memory allowed to a refused command (the CLI alone, sources compiled on load, is about 200 MB). */
const MAX_RSS_MB = 400;
/** A refusal takes well under this; longer counts as a hang. */
const TIMEOUT_MS = 60_000;

const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-bad-input-'));
const databaseUrl = (() => {
  const url = new URL(process.env.STORYLOOM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  url.pathname = `${url.pathname}_bad_input`;
  return url.toString();
})();

beforeAll(async () => {
  await migrateDatabase(databaseUrl);
}, 60_000);
afterAll(async () => {
  await dropDatabase(databaseUrl);
  rmSync(dir, { recursive: true, force: true });
});

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  maxRssMb: number;
  ms: number;
}

/** `storyloom <argv…>` as a child process; it reports its own peak RSS (process.resourceUsage) on exit. */
function cliProcess(argv: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { LOG_LEVEL: _inherited, ...base } = process.env;
  const run =
    "require('./src/starter').main(process.argv.slice(1)).then((code) => { " +
    "process.stderr.write('\\nMAXRSS_KB=' + process.resourceUsage().maxRSS + '\\n'); process.exit(code); })";
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', './test/helpers/ts-register.js', '-e', run, '--', ...argv],
      {
        cwd: ROOT,
        timeout: TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...base, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
      },
      (error, out, errOut) => {
        const rss = /\nMAXRSS_KB=(\d+)\n/.exec(errOut);
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: (error?.signal as NodeJS.Signals | undefined) ?? null,
          out,
          err: errOut.replace(/\nMAXRSS_KB=\d+\n/, ''),
          maxRssMb: rss ? Number(rss[1]) / 1024 : Number.NaN,
          ms: Date.now() - started,
        });
      },
    );
  });
}

/** Rows in every table of the app (the migrations table aside). */
async function rowCount(): Promise<number> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const tables = await db.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'migrations'",
    );
    let total = 0;
    for (const { name } of tables.rows) total += Number((await db.query(`SELECT count(*) AS n FROM "${name}"`)).rows[0].n);
    return total;
  } finally {
    await db.end();
  }
}

const FILES = badInputFiles(dir).map(({ what, file, message }) => [what, file, message] as const);
const corpus = (name: string) => path.join(BAD_INPUT_CORPUS, name);

type Case = [what: string, argv: () => string[], message: RegExp, env?: Record<string, string>];

const fountain = () => path.join(FIXTURES, 'fountain/night-ferry.fountain');

const CASES: Case[] = [
  ...FILES.map(([what, file, message]): Case => [`import: ${what}`, () => ['import', file()], message]),
  // ingest imports a file through the same code; these check its own paths (a directory exists, a missing path may name a script).
  ...FILES.filter(([what]) => /bomb|external|scenes|directory|missing|binary/.test(what)).map(
    ([what, file, message]): Case => [`ingest: ${what}`, () => ['ingest', file(), '--wait'], message],
  ),
  ['import --script-id that is not a uuid', () => ['import', fountain(), '--script-id', 'not-a-uuid'], /No script with id not-a-uuid/],
  ['import --title empty', () => ['import', fountain(), '--title', '  '], /--title must not be blank/],
  ...[
    ['--concurrency-summaries', '0'],
    ['--concurrency-summaries', '-3'],
    ['--concurrency-summaries', '1.5'],
    ['--concurrency-summaries', 'many'],
    ['--concurrency-summaries', ''],
    ['--concurrency-sheets', '201'],
    ['--concurrency-sheets', '9999999999999999999'],
  ].map(([option, value]): Case => [
    `ingest ${option} "${value}"`,
    // --option=value: a separate "-3" would be refused by the argument parser before our check.
    () => ['ingest', fountain(), `${option}=${value}`],
    new RegExp(`${option} must be an integer from 1 to 200; got "${value.replace(/[.+]/g, '\\$&')}"`),
  ]),
  ...[
    ['--summaries', '201', 'got 201'],
    ['--sheets', '-1', 'got -1'],
    ['--sheets', 'lots', 'got "lots"'],
  ].map(([option, value, got]): Case => [
    `concurrency ${option} "${value}"`,
    () => ['concurrency', 'Any Script', `${option}=${value}`],
    new RegExp(`${option} must be an integer from 1 to 200; ${got.replace(/[.]/g, '\\.')}`),
  ]),
  // Limits: integers from 1 to the HTTP API's cap for the same rows (src/shared/list-limits.ts), however large the number given.
  ...['-5', 'ten', '51', '1e20'].map((value): Case => [
    `search --limit "${value}"`,
    () => ['search', 'Any Script', 'rain', `--limit=${value}`],
    new RegExp(`--limit must be an integer from 1 to 50; got "${value}"`),
  ]),
  ['ingest --concurrency-summaries -3 (value apart)', () => ['ingest', fountain(), '--concurrency-summaries', '-3'], /Option '--concurrency-summaries' argument is ambiguous/],
  ...[
    ['STORYLOOM_LLM_TIMEOUT_MS', '0'],
    ['STORYLOOM_LLM_TIMEOUT_MS', '99999999999'],
    ['STORYLOOM_ANTHROPIC_MAX_CONCURRENT', '0'],
    ['STORYLOOM_OPENAI_MAX_CONCURRENT', '1e9'],
    ['STORYLOOM_ANTHROPIC_MAX_PER_SECOND', '-1'],
    ['STORYLOOM_EMBEDDING_DIMENSIONS', '0'],
    ['STORYLOOM_OUTLINE_CONTEXT_TOKENS', '10'],
    ['STORYLOOM_METRICS_PORT', '70000'],
  ].map(([name, value]): Case => [`${name}=${value}`, () => ['import', fountain()], new RegExp(`${name} must be .*; got "${value}"`), { [name]: value }]),
  ...[
    ['STORYLOOM_API_PORT', '99999'],
    ['STORYLOOM_CODEC_PORT', '70000'],
    ['TEMPORAL_TLS', 'maybe'],
    ['TEMPORAL_UI_URL', '127.0.0.1:8233'],
  ].map(([name, value]): Case => [`${name}=${value}`, () => ['import', fountain()], new RegExp(`${name} must be .*; got "${value.replace(/[.]/g, '\\.')}"`), { [name]: value }]),
  ['STORYLOOM_PRICES=null', () => ['import', fountain()], /STORYLOOM_PRICES must be a JSON object like .*; got null/, { STORYLOOM_PRICES: 'null' }],
  // A DATABASE_URL that is not a URL is not shown (its password could be anywhere in it).
  ['DATABASE_URL not a URL', () => ['import', fountain()], /DATABASE_URL must be a URL like .*\(not shown: it may hold a password\)\s*$/, { DATABASE_URL: 'postgres://app:s3cret@db host/storyloom' }],
  // Dates, durations and scopes of `stories generate`: refused before a server is needed, nothing started.
  ...([
    ['--from=2026-02-31', /--from takes an ISO 8601 date or date-time .*; got "2026-02-31": no such date/],
    ['--from=1', /--from takes an ISO 8601 date or date-time .*; got "1"/],
    ['--from=March 7', /--from takes an ISO 8601 date or date-time .*; got "March 7"/],
    ['--since=99999999999d', /--since takes a duration of at most 3650000d \(10,000 years\); got "99999999999d"/],
    ['--from=2999-01-01', /the scope covers no time: it starts at 2999-01-01T00:00:00\.000Z, not before its end \(now, /],
  ] as const).map(([option, message]): Case => [`stories generate ${option}`, () => ['stories', 'generate', option], message]),
  ...['0', '-5', 'ten', '501', '1e19'].map((value): Case => [
    `stories search --limit "${value}"`,
    () => ['stories', 'search', 'rain', `--limit=${value}`],
    new RegExp(`--limit must be an integer from 1 to 500; got "${value}"`),
  ]),
  ...['10000000000000000000', '9999999999999999999999', '501', '0'].map((value): Case => [
    `stories list --limit "${value}"`,
    () => ['stories', 'list', `--limit=${value}`],
    new RegExp(`--limit must be an integer from 1 to 500; got "${value}"`),
  ]),
  ['screenplays show --version 1e20', () => ['screenplays', 'show', 'Any Story', '--version=1e20'], /--version must be an integer from 1 to 2147483647; got "1e20"/],
  ['stories with no subcommand', () => ['stories'], /^storyloom stories: usage: storyloom stories <generate \| list \| show/],
  // A plot file is checked as a screenplay file is: the same corpus files, the same reasons.
  ...([
    ['empty.fountain', /: The plot is empty: nothing to write a screenplay from\./],
    ['whitespace.fountain', /: The plot is empty \(it holds only whitespace\)/],
    ['binary.fountain', /: The plot is not UTF-8 text \(found a NUL byte at offset 8\); it looks like a binary file\./],
    ['latin1.fountain', /: The plot is not UTF-8 text \(found invalid bytes at offset 8\)/],
    ['nul-bytes.fountain', /: The plot is not UTF-8 text \(found a NUL byte at offset 42\)/],
    ['utf16.fountain', /: The plot is not UTF-8 text \(it starts with a UTF-16 byte-order mark\)/],
  ] as const).map(([name, message]): Case => [`generate --plot ${name}`, () => ['generate', '--plot', corpus(name), '--persona', 'Mara Quill'], message]),
  ['generate --plot a directory', () => ['generate', '--plot', dir, '--persona', 'Mara Quill'], /is not a file/],
  // Personas are checked before the plot is stored or a run starts (no persona exists in this database).
  ['generate --persona unknown', () => ['generate', '--plot', path.join(FIXTURES, 'plots/harbour.txt'), '--persona', 'Mara Quil'], /storyloom generate: no persona "Mara Quil"\. See `storyloom personas list`\./],
  // Commands that take no options refuse one rather than ignore it (or look up a script named "--json").
  ...[['show', '--json'], ['status', '--json'], ['pause', 'Any Script', '--json'], ['cancel', '--now', 'Any Script'], ['worker', '--json'], ['migrate', '--force']].map(
    (argv): Case => [argv.join(' '), () => argv, new RegExp(`storyloom ${argv[0]}: Unknown option '${argv.find((a) => a.startsWith('-'))}'.* \\(see \`storyloom ${argv[0]} --help\`\\)`)],
  ),
  ['migrate now', () => ['migrate', 'now'], /storyloom migrate: takes no arguments; got "now"/],
  ['play --title over 200 characters', () => ['play', '--title', 'x'.repeat(201)], /storyloom play: --title has 201 characters; the limit is 200\./],
  ['generate --title of two lines', () => ['generate', '--plot', path.join(FIXTURES, 'plots/harbour.txt'), '--persona', 'Mara Quill', '--title', 'Two\nlines'], /--title must be one line/],
  // Checked before they are read: a device was read without end, a large file whole.
  ['personas import /dev/zero', () => ['personas', 'import', '/dev/zero'], /\/dev\/zero is not a file\./],
  ['personas import a 6 MB file', () => {
    const file = path.join(dir, 'huge-personas.yaml');
    truncateSync(emptyFile(file), 6 * 1024 * 1024);
    return ['personas', 'import', file];
  }, /huge-personas\.yaml: the file is 6\.0 MB; the limit is 5 MB\./],
];

/** An empty file at `file` (the case then makes it sparse, of the size it needs). */
function emptyFile(file: string): string {
  writeFileSync(file, '');
  return file;
}

describe('bad input', () => {
  // Every row has its env (possibly empty): a row shorter than the callback's parameters would make jest pass `done`.
  it.each(CASES.map(([what, argv, message, env]): Required<Case> => [what, argv, message, env ?? {}]))(
    '%s: exit 2, a message naming the problem, bounded memory, nothing written',
    async (_what, argv, message, env) => {
    const result = await cliProcess(argv(), env);
    const context = `stderr: ${result.err}\nstdout: ${result.out}`;
    expect({ signal: result.signal, code: result.code, context }).toMatchObject({ signal: null, code: 2 });
    expect(result.err).toMatch(message);
    // A refusal is one line or two, never a stack trace.
    expect(result.err).not.toMatch(/\n\s+at /);
    expect(result.maxRssMb).toBeLessThan(MAX_RSS_MB);
    expect(await rowCount()).toBe(0);
    },
  );

  it('never shows the local file an external entity names', async () => {
    const result = await cliProcess(['import', corpus('external-entity.fdx')]);
    expect(result.code).toBe(2);
    expect(result.out + result.err).not.toMatch(/root:.*:0:0:/);
  });
});
