/**
 * `npm run bench [-- --time-scale X] [--only S1,S2,S3,S4,S5,S6] [--pairs N] [--repeat N] [--out file.json]`: the benchmark. A report,
 * not a test: it measures and asserts nothing. Starts its own Temporal dev server, a throwaway
 * Postgres database (dropped at the end) and, per scenario, the LLM simulator and the app's
 * workers in this process; prints a fixed-width table and its markdown version, writes the JSON
 * to bench/results/<UTC date>T<hhmm>-<time-scale>.json (…-S1….json for an --only subset; or
 * --out) and the markdown to bench/results/latest.md.
 */
import { cpus, hostname, loadavg, platform, release, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { redactUrl, startBenchEnv, type BenchEnv } from './env';
import { mergeLatest } from './latest';
import { runS1 } from './scenarios/s1';
import { runS2 } from './scenarios/s2';
import { runS3, S3_TIME_SCALE } from './scenarios/s3';
import { runS4 } from './scenarios/s4';
import { runS5 } from './scenarios/s5';
import { runS6 } from './scenarios/s6';
import type { ScenarioCtx, ScenarioReport } from './scenarios/common';
import { markdownTable, runScenario, targetLines, textTable, type Row, type ScenarioProgress, type Target } from './table';

/** Each scenario's runner; a new scenario is one more entry (its section in latest.md is its own). */
const SCENARIOS = { S1: runS1, S2: runS2, S3: runS3, S4: runS4, S5: runS5, S6: runS6 } as const;
/** σ of the simulator's log-normal latencies: p95 ≈ 1.5 × the configured mean. */
const DEFAULT_JITTER = 0.27;
/** S1's storyloom/peer pairs: an odd count has a middle pair. */
const DEFAULT_PAIRS = 3;
/** S3's runs, judged on the median one. */
const DEFAULT_REPEAT = 3;
type ScenarioName = keyof typeof SCENARIOS;

/** Compiled to <root>/.data/bench-dist/bench/run.js (scripts/bench.sh); the source is <root>/bench/run.ts. */
function projectRoot(): string {
  const compiled = `${path.sep}.data${path.sep}bench-dist${path.sep}`;
  return __dirname.includes(compiled) ? path.resolve(__dirname, '../../..') : path.resolve(__dirname, '..');
}

/** A count flag (`--pairs`, `--repeat`): a whole number from 1 to 9. */
function oneToNine(flag: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`--${flag} must be a whole number from 1 to 9; got "${raw}"`);
  return n;
}

function parse() {
  const { values } = parseArgs({
    options: {
      'time-scale': { type: 'string', default: '1' },
      jitter: { type: 'string', default: String(DEFAULT_JITTER) },
      only: { type: 'string', default: Object.keys(SCENARIOS).join(',') },
      pairs: { type: 'string', default: String(DEFAULT_PAIRS) },
      repeat: { type: 'string', default: String(DEFAULT_REPEAT) },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      `usage: npm run bench -- [--time-scale X (default 1; 0.1 for a quick run)] [--jitter SIGMA (default ${DEFAULT_JITTER}: p95 ≈ 1.5 × mean; 0 = constant latencies)] [--only ${Object.keys(SCENARIOS).join(',')}] [--pairs N (default ${DEFAULT_PAIRS}: S1's storyloom/DBOS peer pairs)] [--repeat N (default ${DEFAULT_REPEAT}: S3's runs, judged on the median)] [--out results.json]`,
    );
    process.exit(0);
  }
  const timeScale = Number(values['time-scale']);
  if (!Number.isFinite(timeScale) || timeScale <= 0) throw new Error(`--time-scale must be a number > 0; got "${values['time-scale']}"`);
  const jitter = Number(values.jitter);
  if (!Number.isFinite(jitter) || jitter < 0 || jitter > 2) throw new Error(`--jitter must be a number from 0 to 2; got "${values.jitter}"`);
  const pairs = oneToNine('pairs', values.pairs);
  const repeat = oneToNine('repeat', values.repeat);
  const only = String(values.only)
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  for (const s of only) if (!(s in SCENARIOS)) throw new Error(`--only takes ${Object.keys(SCENARIOS).join(', ')} (comma-separated); got "${s}"`);
  return { timeScale, jitter, pairs, repeat, only: only as ScenarioName[], out: values.out as string | undefined };
}

/** `2026-11-26T0436`: the start minute in UTC, as the chaos runner names its files. */
function startStamp(d: Date): string {
  return d.toISOString().slice(0, 16).replace(/:/g, '');
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

  // A failed scenario's report too: what it measured before it failed (runScenario in table.ts).
  const reports: Partial<Record<ScenarioName, ScenarioReport>> = {};
  const errors: Record<string, string> = {};
  let env: BenchEnv | undefined;
  try {
    log(`time scale ${args.timeScale} (S3 always ${S3_TIME_SCALE}); scenarios ${args.only.join(', ')}`);
    log('starting a Temporal dev server, a throwaway database, and bundling the workflows');
    env = await startBenchEnv({ root, runTag, cleanups });
    log(`Temporal ${env.temporal.address} (log ${path.relative(root, env.temporal.logFile)}), database ${redactUrl(env.databaseUrl)}`);
    const ctx: ScenarioCtx = { env, timeScale: args.timeScale, jitter: args.jitter, pairs: args.pairs, repeat: args.repeat, runTag, log };
    for (const name of args.only) {
      const t = performance.now();
      const load0 = Math.round(loadavg()[0] * 100) / 100;
      // Scenarios that fill `progress` as they go keep their rows and declared targets when they throw.
      const { report, error } = await runScenario(name, (progress: ScenarioProgress) => SCENARIOS[name]({ ...ctx, progress }));
      reports[name] = { ...report, loadAverage: { atStart: load0, atEnd: Math.round(loadavg()[0] * 100) / 100 } };
      if (error === undefined) log(`${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      else {
        errors[name] = error;
        log(`${name} FAILED: ${error.split('\n')[0]}`);
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
    rows.push(...(r?.rows ?? []));
    targets.push(...(r?.targets ?? []));
    profile.push(...(r?.profile ?? []));
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
  const machineLine = `${machine.cpus} CPUs (${machine.cpuModel ?? '?'}), ${(machine.memoryBytes / 1024 ** 3).toFixed(0)} GiB, Node ${machine.node}, ${machine.platform}`;
  const header = `storyloom bench — ${started.toISOString()} — time scale ${args.timeScale} (S3: ${S3_TIME_SCALE}), jitter σ ${args.jitter} — ${machineLine}, load avg ${loadAtStart[0]} → ${machine.loadAverage.atEnd[0]}`;

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
  /** One scenario's section of latest.md: its own header, so sections from different runs stay honest. */
  const section = (name: ScenarioName): string => {
    const r = reports[name];
    const load = r?.loadAverage ?? { atStart: loadAtStart[0], atEnd: machine.loadAverage.atEnd[0] };
    return [
      `## ${name}`,
      '',
      `**${started.toISOString()}** — \`${command}\` — time scale ${name === 'S3' ? S3_TIME_SCALE : args.timeScale}, jitter σ ${args.jitter} — ${machineLine} — load avg (1 min) ${load.atStart} → ${load.atEnd} over this scenario`,
      '',
      markdownTable(r?.rows ?? []),
      '',
      ...(r?.boundNote ? [r.boundNote, ''] : []),
      targetLines(r?.targets ?? [], true),
      '',
      `_${scaleNote}_`,
      '',
      '<details><summary>Profile (from the workflow histories)</summary>',
      '',
      ...(r?.profile ?? []).map((p) => `- ${p}`),
      '',
      '</details>',
      '',
    ].join('\n');
  };
  const markdown = [
    `**${header}** — \`${command}\``,
    '',
    'Columns: LLM calls are provider requests the simulator received; DB statements and commits are what the app sent to Postgres during the run, ' +
      'counted on the wire (bench/pg-counter.ts: cache, call log and statistics writes included); the notes give what the worker charged to the run in run_db_stats. ' +
      'LLM activity overhead: mean start→close minus the drawn provider time, per activity type, and the mean time a freed slot stays empty (refill). ' +
      'Bounds use the latencies the simulator drew for the run (σ above; bench/bounds.ts).',
    '',
    ...args.only.map(section),
  ].join('\n');

  process.stdout.write(`${text}\n\nMarkdown:\n\n${markdown}\n`);

  const json = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    timeScale: args.timeScale,
    jitter: args.jitter,
    s3TimeScale: S3_TIME_SCALE,
    scenarios: args.only,
    machine,
    rows,
    targets,
    profile,
    errors,
    details: Object.fromEntries(Object.entries(reports).map(([k, v]) => [k, v?.details])),
  };
  // Named after its start minute and, for a subset (--only), its scenarios: a re-run the same day never overwrites an earlier file.
  const subset = args.only.length === Object.keys(SCENARIOS).length ? '' : `-${args.only.join('-')}`;
  const outFile = args.out ? path.resolve(process.cwd(), args.out) : path.join(root, 'bench', 'results', `${startStamp(started)}-${args.timeScale}${subset}.json`);
  writeAtomically(outFile, `${JSON.stringify(json, null, 2)}\n`);
  // Only the sections of the scenarios this run ran are replaced.
  const latestFile = path.join(root, 'bench', 'results', 'latest.md');
  const existing = existsSync(latestFile) ? readFileSync(latestFile, 'utf8') : '';
  writeAtomically(latestFile, mergeLatest(existing, new Map(args.only.map((name) => [name, section(name)]))));
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
