/**
 * The worker process's lifecycle without a server: running workers until one fails (the others are
 * shut down, the first failure comes out), closing its parts in order whatever fails, and which
 * concurrency-limit changes are worth an info line.
 */
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { gateChangeLogger, runWorkers, type RunnableWorker } from '../../src/runtime';
import { closeInOrder, holdRepeatedShutdownSignals, missingApiKeys } from '../../src/worker';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/observability/logger';

type State = ReturnType<RunnableWorker['getState']>;

/** A worker that runs until shutdown() (or fails with `failWith` once started). */
function fakeWorker(failWith?: Error) {
  let state: State = 'INITIALIZED';
  let stop: () => void = () => undefined;
  const worker = {
    shutdown: jest.fn(() => {
      if (state !== 'RUNNING') throw new Error(`Not running. Current state: ${state}`);
      state = 'DRAINING';
      // Drains on the next tick, as a worker finishing its in-flight tasks would.
      setImmediate(() => {
        state = 'STOPPED';
        stop();
      });
    }),
    getState: () => state,
    run: jest.fn(async () => {
      state = 'RUNNING';
      if (failWith) {
        await new Promise((r) => setImmediate(r));
        state = 'FAILED';
        throw failWith;
      }
      await new Promise<void>((resolve) => (stop = resolve));
    }),
  };
  return worker;
}

describe('runWorkers', () => {
  it('when one worker fails, shuts the others down, waits for them, and rejects with the failure', async () => {
    const failing = fakeWorker(new Error('boom'));
    const healthy = fakeWorker();
    const another = fakeWorker();
    await expect(runWorkers([failing, healthy, another])).rejects.toThrow('boom');
    expect(healthy.shutdown).toHaveBeenCalledTimes(1);
    expect(another.shutdown).toHaveBeenCalledTimes(1);
    expect(failing.shutdown).not.toHaveBeenCalled();
    // Settled, not abandoned: nothing holds the connection once runWorkers has answered.
    expect([healthy.getState(), another.getState()]).toEqual(['STOPPED', 'STOPPED']);
  });

  it('rethrows the first failure when several fail', async () => {
    await expect(runWorkers([fakeWorker(new Error('first')), fakeWorker(new Error('second'))])).rejects.toThrow('first');
  });

  it('resolves once every worker has been shut down normally', async () => {
    const workers = [fakeWorker(), fakeWorker()];
    const running = runWorkers(workers);
    for (const w of workers) w.shutdown();
    await expect(running).resolves.toBeUndefined();
  });
});

describe('closeInOrder', () => {
  it('runs every step in order even when one throws, and logs the failure without its data', async () => {
    const out: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void out.push(line) });
    const ran: string[] = [];
    await closeInOrder(logger, [
      ['metrics server', async () => void ran.push('metrics')],
      ['Temporal connection', async () => {
        ran.push('connection');
        throw new Error('Cannot close connection while Workers hold a reference');
      }],
      ['database and recorders', async () => void ran.push('services')],
      ['tracing', () => undefined],
    ]);
    expect(ran).toEqual(['metrics', 'connection', 'services']);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0])).toMatchObject({ level: 'warn', msg: 'worker shutdown: closing the Temporal connection failed' });
  });
});

describe('concurrency limit lines', () => {
  it('are debug while the limit steps, info only when it first drops below the maximum and when it is back', () => {
    const out: { level: string; msg: string }[] = [];
    const log = gateChangeLogger(createLogger('debug', { write: (line: string) => void out.push(JSON.parse(line)) }), 'anthropic', 10);
    for (const [limit, reason] of [[7, 'rate_limited'], [8, 'recovered'], [5, 'rate_limited'], [9, 'recovered'], [10, 'recovered'], [7, 'rate_limited']] as const) {
      log({ provider: 'anthropic', limit, reason });
    }
    expect(out.map((l) => l.level)).toEqual(['info', 'debug', 'debug', 'debug', 'info', 'info']);
    expect(out[0].msg).toMatch(/^anthropic: concurrency limit now 7 \(rate_limited\): below the maximum 10/);
    expect(out[4].msg).toBe('anthropic: concurrency limit now 10 (recovered): back at the maximum');
  });
});

describe('missing API keys at start-up', () => {
  const env = { STORYLOOM_MODEL_SUMMARY: 'ollama:llama3.2', STORYLOOM_MODEL_EMBEDDING: 'openai:text-embedding-3-small' };

  it('names the variable of each routed provider without a key, and the models that use it (never a value)', () => {
    const warnings = missingApiKeys(loadConfig({ ...env, OPENAI_API_KEY: 'sk-secret-value' }));
    expect(warnings.map((w) => [w.provider, w.variable])).toEqual([['anthropic', 'ANTHROPIC_API_KEY']]);
    expect(warnings[0].purposes).toEqual(expect.arrayContaining(['smoke', 'outline', 'session']));
    expect(warnings[0].purposes).not.toContain('summary');
    expect(warnings[0].message).toMatch(/^ANTHROPIC_API_KEY is not set, and the .*smoke.* model\(s\) use anthropic: those calls will fail/);
    expect(JSON.stringify(warnings)).not.toMatch(/sk-secret-value/);
    expect(missingApiKeys(loadConfig(env)).map((w) => w.variable)).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY']);
  });

  it('says nothing when every routed provider has its key, or needs none (Ollama)', () => {
    expect(missingApiKeys(loadConfig({ ANTHROPIC_API_KEY: 'a', OPENAI_API_KEY: 'o' }))).toEqual([]);
    const ollamaOnly = Object.fromEntries(['SMOKE', 'SUMMARY', 'OUTLINE', 'SHEET', 'SYNTHESIS', 'SESSION', 'SCREENPLAY', 'EMBEDDING'].map((p) => [`STORYLOOM_MODEL_${p}`, 'ollama:m']));
    expect(missingApiKeys(loadConfig(ollamaOnly))).toEqual([]);
  });
});

describe('a second SIGTERM or SIGINT', () => {
  it('does not end the drain: the first signal is an info line, later ones a warning, and the listeners go when released', () => {
    const out: { level: string; msg: string }[] = [];
    const proc = new EventEmitter();
    const release = holdRepeatedShutdownSignals(
      createLogger('info', { write: (line: string) => void out.push(JSON.parse(line)) }),
      130_000,
      proc as unknown as NodeJS.Process,
    );
    // Without a listener of ours, Node's default action for the second signal kills the process.
    expect([proc.listenerCount('SIGTERM'), proc.listenerCount('SIGINT')]).toEqual([1, 1]);
    proc.emit('SIGTERM', 'SIGTERM');
    proc.emit('SIGINT', 'SIGINT');
    expect(out.map((l) => l.level)).toEqual(['info', 'warn']);
    expect(out[0].msg).toBe('SIGTERM: stopping; activities in flight have up to 130 s to finish');
    expect(out[1].msg).toMatch(/^SIGINT again: already stopping, activities in flight still have up to 13\d s to finish \(SIGKILL stops at once/);
    release();
    expect([proc.listenerCount('SIGTERM'), proc.listenerCount('SIGINT')]).toEqual([0, 0]);
  });
});

describe('`npm run worker` (node dist/worker.js) with a bad value', () => {
  it('prints the refusal naming the variable, without a stack trace, and exits 2 (as `storyloom worker` does)', () => {
    const root = path.join(__dirname, '../..');
    const run = spawnSync(process.execPath, ['-r', './test/helpers/ts-register.js', 'src/worker.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', STORYLOOM_METRICS_PORT: 'abc' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 2, stdout: '' });
    expect(run.stderr).toBe('storyloom worker: STORYLOOM_METRICS_PORT must be an integer from 0 to 65534 (the Temporal SDK\'s metrics take the next port); got "abc"\n');
  });
});
