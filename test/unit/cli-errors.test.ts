/**
 * What the CLI prints when something it needs fails: a workflow it waited for (the provider's own
 * words, not "Workflow execution failed", encrypted or not), the migrations it applied, and a
 * Postgres it cannot reach (the URL without its password, and what to do).
 */
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError, encodeErrorToFailure, loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { createDataSource, DatabaseUnreachableError, describeMigrations, dropDatabase, initializeDataSource } from '../../src/db/data-source';
import { migrations } from '../../src/db/migrations';
import { toLlmFailure } from '../../src/llm/errors';
import { dataConverterFor } from '../../src/security/data-converter';
import { parsePayloadKeys } from '../../src/security/payload-codec';
import { workflowFailureMessage } from '../../src/cli/workflow-failure';
import { describeResult } from '../../src/cli/ingest.command';
import type { IngestionResult } from '../../src/shared/ingestion';
import { failureMessage, main, migrateCommand } from '../../src/starter';
import { CliContext } from '../../src/cli/context';
import { LlmFailureType } from '../../src/shared/failure-types';

const PROVIDER_MESSAGE = /^anthropic \(model claude-x\) rejected the credentials \(401\): check ANTHROPIC_API_KEY\. invalid x-api-key$/;

/** The chain the client hands a command whose smoke run failed on a 401: workflow ← activity ← provider failure ← SDK error. */
function smokeFailure(): WorkflowFailedError {
  const sdkError = Object.assign(new Error('401 invalid x-api-key'), { status: 401 });
  const provider = toLlmFailure(sdkError, 'anthropic', 'claude-x') as ApplicationFailure;
  const activity = new ActivityFailure('Activity task failed', 'smokeCall', '1', RetryState.NON_RETRYABLE_FAILURE, 'identity', provider);
  return new WorkflowFailedError('Workflow execution failed', activity, RetryState.NON_RETRYABLE_FAILURE);
}

function captureStderr(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  return { lines, restore: () => spy.mockRestore() };
}

/** `storyloom <argv>` in-process with `env` set for the call: its exit code and stderr lines. */
async function runMain(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; lines: string[] }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const stderr = captureStderr();
  try {
    return { code: await main(argv), lines: stderr.lines };
  } finally {
    stderr.restore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('workflowFailureMessage: what a failed workflow a command waited for says', () => {
  it('is the provider failure\'s message, through ActivityFailure, not "Workflow execution failed" nor the SDK error under it', () => {
    const err = smokeFailure();
    expect(workflowFailureMessage(err)).toMatch(PROVIDER_MESSAGE);
    expect(failureMessage(err)).toMatch(PROVIDER_MESSAGE);
  });

  it('goes through a child workflow\'s failure, and keeps a workflow\'s own message in front of the activity\'s it wraps', () => {
    const inner = ApplicationFailure.create({ type: LlmFailureType.NotFound, message: 'openai (model gpt-x) was not found (404)', nonRetryable: true });
    const activity = new ActivityFailure('Activity task failed', 'summarize', '7', RetryState.NON_RETRYABLE_FAILURE, 'identity', inner);
    const child = new ChildWorkflowFailure('default', { workflowId: 'child', runId: 'r' }, 'ingestScript', RetryState.NON_RETRYABLE_FAILURE, activity);
    expect(workflowFailureMessage(new WorkflowFailedError('Workflow execution failed', child, RetryState.NON_RETRYABLE_FAILURE))).toBe('openai (model gpt-x) was not found (404)');
    const wrapped = ApplicationFailure.create({ message: 'the outline failed', cause: activity });
    expect(workflowFailureMessage(new WorkflowFailedError('Workflow execution failed', wrapped, RetryState.NON_RETRYABLE_FAILURE))).toBe(
      'the outline failed: openai (model gpt-x) was not found (404)',
    );
  });

  it('reads a failure recorded encrypted (STORYLOOM_PAYLOAD_KEYS: message in encoded attributes) once the client decodes it', async () => {
    const converter = loadDataConverter(dataConverterFor({ payloadKeys: parsePayloadKeys('k1:c3Rvcnlsb29tLXRlc3QtcGF5bG9hZC1rZXktMzJiISE=', undefined) }));
    const proto = await encodeErrorToFailure(converter, smokeFailure().cause);
    // As history holds it: no message in clear at any level.
    expect(JSON.stringify(proto)).not.toMatch(/rejected the credentials|ANTHROPIC_API_KEY/);
    expect(proto.message).toBe('Encoded failure');
    const decoded = await decodeOptionalFailureToOptionalError(converter, proto);
    expect(workflowFailureMessage(new WorkflowFailedError('Workflow execution failed', decoded, RetryState.NON_RETRYABLE_FAILURE))).toMatch(PROVIDER_MESSAGE);
  });

  it('a failure recorded encrypted, read by a CLI without the keys: says to set STORYLOOM_PAYLOAD_KEYS, not only "Unknown encoding"', async () => {
    const withKeys = loadDataConverter(dataConverterFor({ payloadKeys: parsePayloadKeys('k1:c3Rvcnlsb29tLXRlc3QtcGF5bG9hZC1rZXktMzJiISE=', undefined) }));
    const proto = await encodeErrorToFailure(withKeys, smokeFailure().cause);
    const withoutKeys = loadDataConverter(dataConverterFor({ payloadKeys: undefined }));
    const err = await decodeOptionalFailureToOptionalError(withoutKeys, proto).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failureMessage(err)).toBe(
      "Unknown encoding: binary/encrypted: the run's payloads are encrypted; set STORYLOOM_PAYLOAD_KEYS to the workers' keys to read them",
    );
  });

  it('is undefined for other errors, which keep their own message', () => {
    expect(workflowFailureMessage(new Error('boom'))).toBeUndefined();
    expect(failureMessage(new Error('boom'))).toBe('boom');
    expect(workflowFailureMessage(new WorkflowFailedError('Workflow execution failed', undefined, RetryState.NON_RETRYABLE_FAILURE))).toBe('Workflow execution failed');
  });
});

describe('a run whose workflow task keeps failing (the server refuses its updates)', () => {
  const refused = () => Object.assign(new Error('9 FAILED_PRECONDITION: Unable to perform workflow execution update due to Workflow Task in failed state.'), {
    code: 9,
    details: 'Unable to perform workflow execution update due to Workflow Task in failed state.',
    metadata: {},
  });

  it('says the run cannot take requests and where to look, and exits 1 (a gRPC error\'s numeric code crashed the CLI with a TypeError)', async () => {
    const script = jest.spyOn(CliContext.prototype, 'script').mockRejectedValue(refused());
    try {
      const { code, lines } = await runMain(['pause', 'Some Script']);
      expect(code).toBe(1);
      expect(lines.join('\n')).toMatch(/^storyloom pause failed: the run cannot take requests now: its workflow task is failing \(Workflow Task in failed state\)\. The worker's log says why/);
    } finally {
      script.mockRestore();
    }
  });

  it('as the client throws it for an update: a ServiceError ("Workflow Update failed") wrapping the gRPC error', () => {
    const wrapped = new Error('Workflow Update failed', { cause: refused() });
    expect(failureMessage(wrapped)).toMatch(/^the run cannot take requests now: its workflow task is failing/);
  });

  it('other gRPC errors keep their own message', () => {
    expect(failureMessage(Object.assign(new Error('5 NOT_FOUND: gone'), { code: 5, details: 'gone', metadata: {} }))).toBe('5 NOT_FOUND: gone');
  });
});

describe('storyloom migrate says what it applied', () => {
  const url = 'postgres://app:s3cret-pw@db.example:5432/storyloom';

  it('names the migrations it applied (a stub database), the password masked, as npm run db:migrate does', async () => {
    const out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const code = await migrateCommand({ config: { databaseUrl: url } as never, migrate: async () => ['Initial1700000000000', 'LlmCallLogAndCache1700000000001'] }, []);
      expect(code).toBe(0);
      expect(out.mock.calls).toEqual([['Applied 2 migration(s) to postgres://app:***@db.example:5432/storyloom: Initial1700000000000, LlmCallLogAndCache1700000000001']]);
      out.mockClear();
      await migrateCommand({ config: { databaseUrl: url } as never, migrate: async () => [] }, []);
      expect(out.mock.calls).toEqual([['Database postgres://app:***@db.example:5432/storyloom is up to date.']]);
    } finally {
      out.mockRestore();
    }
  });

  it('on a fresh database (real server): names every migration it applied; run again: up to date', async () => {
    const fresh = new URL(process.env.STORYLOOM_TEST_DATABASE_URL!);
    fresh.pathname = `${fresh.pathname}_cli_migrate`;
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = fresh.toString();
    const out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await dropDatabase(fresh.toString());
      expect(await main(['migrate'])).toBe(0);
      expect(out.mock.calls).toHaveLength(1);
      const line = String(out.mock.calls[0][0]);
      expect(line).toMatch(new RegExp(`^Applied ${migrations.length} migration\\(s\\) to .*: .*LlmCallLogAndCache\\d+, `));
      expect(line).toContain(` to ${fresh.toString()}: `);
      out.mockClear();
      expect(await main(['migrate'])).toBe(0);
      expect(out.mock.calls).toEqual([[`Database ${fresh.toString()} is up to date.`]]);
    } finally {
      out.mockRestore();
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
      await dropDatabase(fresh.toString());
    }
  });

  it('shares its wording with npm run db:migrate', () => {
    expect(describeMigrations(['A1', 'B2'], url)).toBe('Applied 2 migration(s) to postgres://app:***@db.example:5432/storyloom: A1, B2');
  });
});

describe('Postgres out of reach', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', errno: -111, address: '127.0.0.1', port: 1 });

  it('a DataSource whose initialize is refused: says where, why and what to do (code kept for what tells an outage by it)', async () => {
    const err = await initializeDataSource({ initialize: () => Promise.reject(refused()) }, 'postgres://postgres@127.0.0.1:1/storyloom').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnreachableError);
    expect((err as Error).message).toBe('Cannot reach Postgres at postgres://postgres@127.0.0.1:1/storyloom: connect ECONNREFUSED 127.0.0.1:1. Start it or set DATABASE_URL.');
    expect((err as DatabaseUnreachableError).code).toBe('ECONNREFUSED');
  });

  it('never prints the password of the URL', async () => {
    const url = 'postgres://app:Hunter2%40pw@10.0.0.9:5432/storyloom';
    const badPassword = Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' });
    for (const cause of [refused(), badPassword, new Error(`connect to ${url} failed: timeout expired`)]) {
      const err = await initializeDataSource({ initialize: () => Promise.reject(cause) }, url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseUnreachableError);
      const message = (err as Error).message;
      expect(message).toMatch(/^Cannot reach Postgres at postgres:\/\/app:\*\*\*@10\.0\.0\.9:5432\/storyloom: .+\. (Start it or set|Check the user and password in) DATABASE_URL\.$/);
      expect(message).not.toMatch(/Hunter2/);
    }
  });

  it('a user or password the server refuses (28P01, 28000) says to check them, not to start a server that is running', async () => {
    const url = 'postgres://app:Hunter2@10.0.0.9:5432/storyloom';
    const causes = [
      Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }),
      Object.assign(new Error('role "app" does not exist'), { code: '28000' }),
    ];
    for (const cause of causes) {
      const err = await initializeDataSource({ initialize: () => Promise.reject(cause) }, url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseUnreachableError);
      expect((err as Error).message).toBe(`Cannot reach Postgres at postgres://app:***@10.0.0.9:5432/storyloom: ${cause.message}. Check the user and password in DATABASE_URL.`);
      expect((err as DatabaseUnreachableError).code).toBe(cause.code);
    }
  });

  it('never prints a password given in the query (?password=, sslpassword), which pg reads too', async () => {
    const url = 'postgres://127.0.0.1:5499/storyloom?user=app&password=Hunter2&sslpassword=Keyphrase9&application_name=x';
    const err = await initializeDataSource({ initialize: () => Promise.reject(refused()) }, url).catch((e: unknown) => e);
    const message = (err as Error).message;
    expect(message).toContain('?user=app&password=***&sslpassword=***&application_name=x');
    expect(message).not.toMatch(/Hunter2|Keyphrase9/);
  });

  it('leaves other errors as they are', async () => {
    const other = new Error('relation "x" does not exist');
    await expect(initializeDataSource({ initialize: () => Promise.reject(other) }, 'postgres://h/db')).rejects.toBe(other);
  });

  it('a database that does not exist (3D000), from a real server', async () => {
    const url = new URL(process.env.STORYLOOM_TEST_DATABASE_URL!);
    url.pathname = `/storyloom_absent_${process.pid}`;
    const err = await initializeDataSource(createDataSource(url.toString(), { poolSize: 1 }), url.toString()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnreachableError);
    expect((err as Error).message).toMatch(/^Cannot reach Postgres at .*: database "storyloom_absent_\d+" does not exist\. Create it with `storyloom migrate` or set DATABASE_URL\.$/);
  });

  it.each([['migrate'], ['show', 'some-script']])('storyloom %s: the message and exit code 2, as for an unreachable Temporal server', async (...argv: string[]) => {
    const { code, lines } = await runMain(argv, { DATABASE_URL: 'postgres://app:s3cret-pw@127.0.0.1:1/storyloom' });
    expect(lines).toEqual([
      `storyloom ${argv[0]}: Cannot reach Postgres at postgres://app:***@127.0.0.1:1/storyloom: connect ECONNREFUSED 127.0.0.1:1. Start it or set DATABASE_URL.`,
    ]);
    expect(lines.join('\n')).not.toMatch(/s3cret/);
    expect(code).toBe(2);
  });
});

describe('storyloom smoke: bad input', () => {
  it.each([[''], ['   ']])('an empty --prompt (%j) is refused before anything starts (exit 2)', async (prompt) => {
    // No Temporal server answers at this address: a refusal that reached for it would say so instead.
    const { code, lines } = await runMain(['smoke', '--prompt', prompt], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(lines).toEqual(['storyloom smoke: --prompt is empty: give the text to ask, or leave --prompt out for the default pitch']);
    expect(code).toBe(2);
  });
});

describe('storyloom search: bad input', () => {
  it.each([[''], ['   ']])('a blank text (%j) is refused before anything connects (exit 2), not embedded and ranked at 0', async (text) => {
    // Nothing answers at these addresses: a refusal that reached for them would say so instead.
    const { code, lines } = await runMain(['search', 'some-script', text], { DATABASE_URL: 'postgres://app@127.0.0.1:1/storyloom', TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(lines).toEqual(['storyloom search: the search text is empty: give the words to look for, e.g. storyloom search <scriptId> "a fight on the roof"']);
    expect(code).toBe(2);
  });

  it('a text over the API\'s 2,000 characters is refused the same way', async () => {
    const { code, lines } = await runMain(['search', 'some-script', 'x'.repeat(2001)], { DATABASE_URL: 'postgres://app@127.0.0.1:1/storyloom', TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(lines).toEqual(['storyloom search: the search text has 2001 characters; the limit is 2000']);
    expect(code).toBe(2);
  });
});

describe('storyloom import / ingest: --script-id and --title refused before anything connects', () => {
  const unreachable = { DATABASE_URL: 'postgres://app@127.0.0.1:1/storyloom', TEMPORAL_ADDRESS: '127.0.0.1:1' };
  const fountain = `${__dirname}/../fixtures/fountain/salt-mixed-endings.fountain`;

  it.each([
    ['import --script-id ""', ['import', fountain, '--script-id', ''], 'storyloom import: --script-id must not be empty (leave it out to match the script by its title).'],
    ['ingest <file> --script-id " "', ['ingest', fountain, '--script-id', ' '], 'storyloom ingest: --script-id must not be empty (leave it out to match the script by its title).'],
    ['import --title with a line break', ['import', fountain, '--title', 'Act One\nAct Two'], 'storyloom import: --title must be one line (no line break, tab or other control character).'],
    ['import --title of 501 characters', ['import', fountain, '--title', 'T'.repeat(501)], 'storyloom import: --title has 501 characters; the limit is 500.'],
    [
      'ingest <script> --script-id (no file)',
      ['ingest', 'Some Script', '--script-id', 'abc'],
      'storyloom ingest: --script-id goes with a file (ingest <file> --script-id ID updates that script from the file); to ingest a stored script, give its id or title alone: storyloom ingest abc',
    ],
  ])('storyloom %s: exit 2, nothing written, no run started', async (_what, argv, message) => {
    const { code, lines } = await runMain(argv, unreachable);
    expect(lines).toEqual([message]);
    expect(code).toBe(2);
  });
});

describe('integer options read as every integer option is (decimal digits only), before anything connects', () => {
  it.each([
    [['serve', '--port', '0x1f90'], 'storyloom serve: --port must be an integer from 0 to 65535; got "0x1f90"'],
    [['serve', '--port='], 'storyloom serve: --port must be an integer from 0 to 65535; got ""'],
    [['concurrency', 'some-script', '--summaries', '1e1'], 'storyloom concurrency: --summaries must be an integer from 1 to 200; got "1e1"'],
  ])('storyloom %j: exit 2', async (argv, message) => {
    const { code, lines } = await runMain(argv);
    expect(lines).toEqual([message]);
    expect(code).toBe(2);
  });
});

describe('describeResult (ingest --wait, status, show): a failed run says why', () => {
  it('prints the error stored with the result, not only "Ingestion failed" and the counts', () => {
    const phase = { total: 3, done: 1, reused: 0, failed: 0 };
    const result: IngestionResult = {
      scriptId: 's', status: 'failed', mode: 'full', failures: [], failureCount: 0, runs: 1,
      phases: { summaries: phase, outline: { ...phase, total: 0, done: 0 }, sheets: { ...phase, total: 0, done: 0 }, embeddings: { ...phase, total: 0, done: 0 } },
      timingsMs: { total: 1000, summaries: 1000, phase2: 0, outline: 0, sheets: 0, embeddings: 0 },
      error: { type: 'BatchWriteFailed', message: 'the summaries batch could not be written: connection terminated' },
    };
    const text = describeResult(result);
    expect(text).toMatch(/^Ingestion failed in 1\.0 s/);
    expect(text).toContain('  error: BatchWriteFailed: the summaries batch could not be written: connection terminated');
  });
});

describe('storyloom report of a run whose job stores no report', () => {
  it('a story session\'s workflow id says sessions store none and where their figures are, not "give a workflow id" (exit 2)', async () => {
    const session = '0b7c6a52-3f0e-4d61-9a55-2f1d6c1e9b20';
    const { code, lines } = await runMain(['report', `session-${session}`], { DATABASE_URL: process.env.STORYLOOM_TEST_DATABASE_URL! });
    expect(lines).toEqual([
      `storyloom report: session-${session}: story sessions store no run report (storySession runs have none); \`storyloom metrics --session ${session}\` shows the session's figures.`,
    ]);
    expect(code).toBe(2);
  });

  it('an id of no job and no script still says what to give', async () => {
    const { code, lines } = await runMain(['report', 'no-such-run-xyz'], { DATABASE_URL: process.env.STORYLOOM_TEST_DATABASE_URL! });
    expect(lines).toEqual(['storyloom report: No run report for "no-such-run-xyz": give a script id or title, or a workflow id.']);
    expect(code).toBe(2);
  });
});

describe('storyloom serve on a port another process holds', () => {
  it('names the address and the settings that change it, exit 2 (a setting, not "serve failed: listen EADDRINUSE", exit 1)', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const { code, lines } = await runMain(['serve', '--port', String(port)], { DATABASE_URL: process.env.STORYLOOM_TEST_DATABASE_URL!, STORYLOOM_API_HOST: '127.0.0.1' });
      expect(lines).toEqual([
        `storyloom serve: 127.0.0.1:${port} is already in use (another \`storyloom serve\`?): stop that process, or listen on another port with --port or STORYLOOM_API_PORT.`,
      ]);
      expect(code).toBe(2);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('codec-server the same, naming its own settings', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const { code, lines } = await runMain(['codec-server', '--port', String(port), '--host', '127.0.0.1'], { STORYLOOM_PAYLOAD_KEYS: 'k1:c3Rvcnlsb29tLXRlc3QtcGF5bG9hZC1rZXktMzJiISE=' });
      expect(lines).toEqual([
        `storyloom codec-server: 127.0.0.1:${port} is already in use (another \`storyloom codec-server\`?): stop that process, or listen on another port with --port or STORYLOOM_CODEC_PORT.`,
      ]);
      expect(code).toBe(2);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('the LLM simulator (`npm run sim`, its own process) the same, naming its own settings', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          ['-r', './test/helpers/ts-register.js', 'src/llm/simulator/cli.ts', '--port', String(port), '--host', '127.0.0.1'],
          { cwd: path.join(__dirname, '../..'), env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 60_000 },
          (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
        );
      });
      expect(run).toEqual({
        code: 2,
        stdout: '',
        stderr: `storyloom-sim: 127.0.0.1:${port} is already in use (another \`storyloom-sim\`?): stop that process, or listen on another port with --port or SIM_PORT.\n`,
      });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
