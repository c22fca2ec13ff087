/**
 * `npm run bench [-- --time-scale X] [--only S1,S2,S3,S4] [--out file.json]`: the benchmark. A report,
 * not a test: it measures and asserts nothing. Starts its own Temporal dev server, a throwaway
 * Postgres database (dropped at the end) and, per scenario, the LLM simulator and the app's
 * workers in this process; prints a fixed-width table and its markdown version, writes the JSON
 * to bench/results/<date>-<time-scale>.json (<date>-<time-scale>-S1….json for an --only subset;
 * or --out) and the markdown to bench/results/latest.md.
 */
import { cpus, hostname, loadavg, platform, release, totalmem } from 'node:os';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { redactUrl, startBenchEnv, type BenchEnv } from './env';
import { runS1 } from './scenarios/s1';
import { runS2 } from './scenarios/s2';
import { runS3, S3_TIME_SCALE } from './scenarios/s3';
import { runS4 } from './scenarios/s4';
import type { ScenarioCtx, ScenarioReport } from './scenarios/common';
import { markdownTable, targetLines, textTable, type Row, type Target } from './table';

const SCENARIOS = { S1: runS1, S2: runS2, S3: runS3, S4: runS4 } as const;
type ScenarioName = keyof typeof SCENARIOS;

/** Compiled to <root>/.data/bench-dist/bench/run.js (scripts/bench.sh); the source is <root>/bench/run.ts. */
function projectRoot(): string {
  const compiled = `${path.sep}.data${path.sep}bench-dist${path.sep}`;
  return __dirname.includes(compiled) ? path.resolve(__dirname, '../../..') : path.resolve(__dirname, '..');
}

function parse() {
  const { values } = parseArgs({
    options: {
      'time-scale': { type: 'string', default: '1' },
      only: { type: 'string', default: 'S1,S2,S3,S4' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench -- [--time-scale X (default 1; 0.1 for a quick run)] [--only S1,S2,S3,S4] [--out results.json]');
    process.exit(0);
  }
  const timeScale = Number(values['time-scale']);
  if (!Number.isFinite(timeScale) || timeScale <= 0) throw new Error(`--time-scale must be a number > 0; got "${values['time-scale']}"`);
  const only = String(values.only)
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  for (const s of only) if (!(s in SCENARIOS)) throw new Error(`--only takes S1, S2, S3, S4 (comma-separated); got "${s}"`);
  return { timeScale, only: only as ScenarioName[], out: values.out as string | undefined };
}

function localDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function main(): Promise<void> {
  const args = parse();
  const root = projectRoot();
  const started = new Date();
  // Other work on the machine skews every timing: recorded with the results.
  const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
  const runTag = `${started.toISOString().replace(/[-:T]/g, '').slice(0, 14)}_${process.pid}`;
  const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();

  const cleanups: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const c of cleanups.reverse()) await c().catch((err) => log(`cleanup: ${(err as Error).message}`));
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping the dev server and dropping the database`);
      const exit = () => process.exit(130);
      cleanup().then(exit, (err: unknown) => {
        log(`cleanup: ${(err as Error).message}`);
        exit();
      });
    });
  }

  const reports: Partial<Record<ScenarioName, ScenarioReport>> = {};
  const errors: Record<string, string> = {};
  let env: BenchEnv | undefined;
  try {
    log(`time scale ${args.timeScale} (S3 always ${S3_TIME_SCALE}); scenarios ${args.only.join(', ')}`);
    log('starting a Temporal dev server, a throwaway database, and bundling the workflows');
    env = await startBenchEnv({ root, runTag, cleanups });
    log(`Temporal ${env.temporal.address} (log ${path.relative(root, env.temporal.logFile)}), database ${redactUrl(env.databaseUrl)}`);
    const ctx: ScenarioCtx = { env, timeScale: args.timeScale, runTag, log };
    for (const name of args.only) {
      const t = performance.now();
      try {
        reports[name] = await SCENARIOS[name](ctx);
        log(`${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      } catch (err) {
        errors[name] = (err as Error).stack ?? String(err);
        log(`${name} FAILED: ${(err as Error).message}`);
      }
    }
  } finally {
    await env?.close().catch(() => undefined);
    await cleanup();
  }

  const rows: Row[] = [];
  const targets: Target[] = [];
  const profile: string[] = [];
  for (const name of args.only) {
    const r = reports[name];
    if (r) {
      rows.push(...r.rows);
      targets.push(...r.targets);
      profile.push(...r.profile);
    } else {
      rows.push({ id: name, label: 'FAILED (see JSON)', wallMs: null, boundMs: null, llmCalls: null, rateLimited: null, dbQueries: null, dbCommits: null, historyEvents: null, notes: [errors[name]?.split('\n')[0] ?? ''] });
    }
  }

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    hostname: hostname(),
    loadAverage: { atStart: loadAtStart, atEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
  };
  const scaleNote =
    args.timeScale === 1
      ? 'Targets are defined at time scale 1.'
      : `Time scale ${args.timeScale}: provider latencies are × ${args.timeScale} while Temporal and database overheads are not, so wall/bound is higher than at scale 1; targets are defined at time scale 1.`;
  const header = `storyloom bench — ${started.toISOString()} — time scale ${args.timeScale} (S3: ${S3_TIME_SCALE}) — ${machine.cpus} CPUs, ${(machine.memoryBytes / 1024 ** 3).toFixed(0)} GiB, Node ${machine.node}, load avg ${loadAtStart[0]} → ${machine.loadAverage.atEnd[0]}`;

  const text = [
    '',
    header,
    '',
    textTable(rows),
    '',
    'Targets:',
    targetLines(targets, false),
    `  (${scaleNote})`,
    '',
    'Profile (from the workflow histories):',
    ...profile.map((p) => `  ${p}`),
  ].join('\n');
  const markdown = [
    `**${header}** — \`${command}\``,
    '',
    markdownTable(rows),
    '',
    'Bounds: the provider latencies alone (summary 2 s, outline 5 s, sheet 3 s, embeddings 0.5 s + 15 ms per input, × time scale): ' +
      'row 1 the sum of every call; rows 2 and 5 ceil(N/10)·t + max(outline, ceil(C/5)·t, embeddings); row 3 zero; row 4 the same for what the edit made stale; ' +
      'S2 the Anthropic call-time of all ten scripts ÷ the cap of 10; S3 as row 2 at 2,000 scenes and 60 characters; ' +
      'S4 (synthesis 17.5 s) the embedding request + ceil(syntheses/window)·17.5 s (row 1 window 1, row 3 zero). ' +
      'LLM calls are provider requests the simulator received; DB queries and commits are what the worker charged to the run in run_db_stats.',
    '',
    targetLines(targets, true),
    '',
    `_${scaleNote}_`,
    '',
    '<details><summary>Profile (from the workflow histories)</summary>',
    '',
    ...profile.map((p) => `- ${p}`),
    '',
    '</details>',
    '',
  ].join('\n');

  process.stdout.write(`${text}\n\nMarkdown:\n\n${markdown}\n`);

  const json = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    timeScale: args.timeScale,
    s3TimeScale: S3_TIME_SCALE,
    scenarios: args.only,
    machine,
    rows,
    targets,
    profile,
    errors,
    details: Object.fromEntries(Object.entries(reports).map(([k, v]) => [k, v?.details])),
  };
  // A subset run (--only) is named after its scenarios, so it never overwrites a full run's file.
  const subset = args.only.length === Object.keys(SCENARIOS).length ? '' : `-${args.only.join('-')}`;
  const outFile = args.out ? path.resolve(process.cwd(), args.out) : path.join(root, 'bench', 'results', `${localDate(started)}-${args.timeScale}${subset}.json`);
  writeAtomically(outFile, `${JSON.stringify(json, null, 2)}\n`);
  writeAtomically(path.join(root, 'bench', 'results', 'latest.md'), markdown);
  log(`wrote ${path.relative(root, outFile)} and bench/results/latest.md`);
  if (Object.keys(errors).length) {
    for (const [name, stack] of Object.entries(errors)) log(`${name}: ${stack}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
