/**
 * The HTTP API's load check (`npm run bench:api`), bounded and on loopback only: its own Temporal
 * dev server, a throwaway database, the simulator and workers in this process, and the API as a
 * child process (`storyloom serve`, so its RSS is its own). One ingestion runs for about a minute
 * while SSE_CLIENTS clients follow its events and POLLS_PER_SECOND status requests are made for
 * DURATION_S seconds. Prints p50/p95/p99 latencies, the API's RSS, and whether every client saw
 * the final event.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { syntheticScreenplay } from '../src/domain/synthetic-screenplay';
import { STORYLOOM_SEARCH_ATTRIBUTES } from '../src/shared/search-attributes';
import { startBenchApp, startBenchEnv } from './env';

const SSE_CLIENTS = Number(process.env.API_LOAD_SSE_CLIENTS ?? 200);
const POLLS_PER_SECOND = Number(process.env.API_LOAD_POLLS_PER_SECOND ?? 50);
const DURATION_S = Number(process.env.API_LOAD_DURATION_S ?? 60);
const TOKEN = 'api-load-token';
/** temporal.api.enums.v1.IndexedValueType: INDEXED_VALUE_TYPE_KEYWORD, INDEXED_VALUE_TYPE_INT. */
const INDEXED_VALUE_TYPE_KEYWORD = 2;
const INDEXED_VALUE_TYPE_INT = 3;

const log = (line: string) => process.stderr.write(`[api-load] ${line}\n`);

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN; // the process is gone
  }
}

async function okJson<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Follows the run's events; resolves with the final event's status, or 'missed' when the stream ended without one. */
async function sseClient(url: string, firstEvent: (ms: number) => void): Promise<string> {
  const started = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
  if (!res.ok || !res.body) return `http ${res.status}`;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let first = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'missed';
    buffer += decoder.decode(value, { stream: true });
    let split: number;
    while ((split = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, split);
      buffer = buffer.slice(split + 2);
      if (!frame.includes('data:')) continue;
      if (first) {
        first = false;
        firstEvent(performance.now() - started);
      }
      if (frame.includes('event: final')) {
        await reader.cancel();
        return (JSON.parse(frame.slice(frame.indexOf('data:') + 5)) as { status: string }).status;
      }
    }
  }
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, __dirname.includes('bench-dist') ? '../../..' : '..');
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const env = await startBenchEnv({ root, runTag: `api-load-${Date.now()}`, cleanups });
    cleanups.push(() => env.close());
    // The API starts runs as the CLI does, with storyloom's search attributes: the bench server needs them.
    await env.client.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(STORYLOOM_SEARCH_ATTRIBUTES.map((k) => [k.name, k.type === 'INT' ? INDEXED_VALUE_TYPE_INT : INDEXED_VALUE_TYPE_KEYWORD])),
    });
    // Summaries at 1 s each, 4 in flight: 200 scenes take about 50 s, phase 2 a few more.
    const app = await startBenchApp(env, 'api-load', { latency: { byPurpose: { summary: { fixedMs: 1000 }, sheet: { fixedMs: 1000 }, outline: { fixedMs: 2000 } } } });
    cleanups.push(() => app.stop());

    const starter = path.join(root, '.data/bench-dist/src/starter.js');
    const child = spawn(process.execPath, [starter, 'serve', '--port', '0'], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.temporal.address,
        DATABASE_URL: env.databaseUrl,
        STORYLOOM_TASK_QUEUE: app.taskQueue,
        STORYLOOM_API_HOST: '127.0.0.1',
        STORYLOOM_API_TOKENS: TOKEN,
        STORYLOOM_API_RATE_LIMIT: '100000',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    });
    const apiUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`the API exited (${code}) before listening`)));
    });
    log(`API at ${apiUrl} (pid ${child.pid})`);
    const call = (p: string, init: RequestInit = {}) => fetch(`${apiUrl}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } });

    const title = `API load ${Date.now()}`;
    const uploaded = await okJson<{ scriptId: string }>(
      await call(`/api/scripts?title=${encodeURIComponent(title)}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: syntheticScreenplay({ scenes: 200, characters: 6, title, salt: title }) }),
      'upload',
    );
    const run = await okJson<{ workflowId: string; urls: { status: string; events: string } }>(
      await call(`/api/scripts/${uploaded.scriptId}/ingestions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrency: { summaries: 4, sheets: 2 } }) }),
      'start',
    );
    log(`ingestion ${run.workflowId} started; ${SSE_CLIENTS} SSE clients, ${POLLS_PER_SECOND} polls/s for ${DURATION_S} s`);

    const rss: number[] = [rssMb(child.pid!)];
    const rssTimer = setInterval(() => rss.push(rssMb(child.pid!)), 1000);
    const firstEventMs: number[] = [];
    const clients = Array.from({ length: SSE_CLIENTS }, () => sseClient(`${apiUrl}${run.urls.events}`, (ms) => firstEventMs.push(ms)).catch((err: unknown) => `error ${(err as Error).message}`));

    const latencies: number[] = [];
    let pollErrors = 0;
    const polls: Promise<void>[] = [];
    const pollStart = Date.now();
    await new Promise<void>((resolve) => {
      // Requests go out on schedule (elapsed × rate), however late a timer fires on a busy machine.
      const timer = setInterval(() => {
        const elapsed = Math.min(Date.now() - pollStart, DURATION_S * 1000);
        while (polls.length < Math.floor((elapsed / 1000) * POLLS_PER_SECOND)) poll();
        if (elapsed >= DURATION_S * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 1000 / POLLS_PER_SECOND);
      const poll = () => {
        const t0 = performance.now();
        polls.push(
          call(run.urls.status).then(
            async (res) => {
              await res.arrayBuffer();
              latencies.push(performance.now() - t0);
              if (res.status !== 200) pollErrors++;
            },
            () => void pollErrors++,
          ),
        );
      };
    });
    await Promise.all(polls);
    log(`polling done; waiting for the run's final event`);
    const outcomes = await Promise.race([
      Promise.all(clients),
      new Promise<string[]>((resolve) => setTimeout(() => resolve([]), 300_000)),
    ]);
    clearInterval(rssTimer);
    rss.push(rssMb(child.pid!));

    const sorted = [...latencies].sort((a, b) => a - b);
    const firstSorted = [...firstEventMs].sort((a, b) => a - b);
    const counts = outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});
    const summary = {
      sseClients: SSE_CLIENTS,
      finalEvents: counts,
      missedFinal: SSE_CLIENTS - (counts.COMPLETED ?? 0),
      polls: latencies.length,
      pollErrors,
      pollsPerSecond: +(latencies.length / DURATION_S).toFixed(1),
      statusLatencyMs: { p50: +percentile(sorted, 50).toFixed(1), p95: +percentile(sorted, 95).toFixed(1), p99: +percentile(sorted, 99).toFixed(1), max: +(sorted.at(-1) ?? NaN).toFixed(1) },
      sseFirstEventMs: { p50: +percentile(firstSorted, 50).toFixed(1), p95: +percentile(firstSorted, 95).toFixed(1) },
      machine: { cpus: cpus().length, loadAverage1m: +loadavg()[0].toFixed(1) },
      apiRssMb: { start: +rss[0].toFixed(1), max: +Math.max(...rss).toFixed(1), end: +rss.at(-1)!.toFixed(1) },
    };
    console.log(JSON.stringify(summary, null, 2));
    if (summary.missedFinal > 0 || pollErrors > 0) process.exitCode = 1;
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
