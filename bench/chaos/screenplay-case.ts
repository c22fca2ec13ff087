/**
 * The screenplay cases: a generateScreenplay run (the test crew's personas imported first, the
 * harbour plot, 3 variants), started as `storyloom generate` starts it, on the chaos stack's
 * worker processes, with an optional worker SIGKILL while the variants stream. Judged from the
 * database: one version per variant (none twice, none missing), its cast once, the call log complete.
 */
import { loadConfig } from '../../src/config';
import { subscribeToStream, type StreamEvent } from '../../src/db/stream-channel';
import { screenplayRunWorkflowId, startScreenplay } from '../../src/operations/start-screenplay';
import type { GenerateScreenplayResult, ScreenplayProgress } from '../../src/shared/screenplay';
import { screenplayProgressQuery } from '../../src/workflows';
import { CREW, HARBOUR_PLOT, importCrew } from '../../test/helpers/personas';
import type { ChaosCase, FaultRecord } from './cases';
import { awaitCaseRun, checkCallLog, killAndRestartWorker, recoveryMs, sleep } from './measure';
import type { CaseResult } from './run';
import type { ChaosStack } from './stack';

export const SCREENPLAY_VARIANTS = 3;

/** Runs `c` (a `job: 'screenplay'` case) and fills status, wall time, the database check and the fault, for the common judging. */
export async function runScreenplayRun(stack: ChaosStack, c: ChaosCase, opts: { timeScale: number }, runTag: string, log: (msg: string) => void): Promise<CaseResult> {
  const out: CaseResult = { id: c.id, title: c.title, expect: c.expect };
  await importCrew(stack.db);
  const taskQueue = `chaos-${c.id}-${runTag}`;
  const startWorker = () => stack.startWorker(taskQueue, c.workerEnv);
  const workers = [await startWorker()];
  stack.sim.resetStats();
  stack.sim.configure({ faults: [], ...c.sim?.({ timeScale: opts.timeScale, keys: stack.keys }) });

  // The title is the case's own, so the prompt (and the response cache's key) is too.
  const title = `chaos ${c.id} ${runTag}`;
  const config = loadConfig({ STORYLOOM_TASK_QUEUE: taskQueue, STORYLOOM_PAYLOAD_KEYS: stack.keys.payload });
  const ops = { config, db: async () => stack.db, client: async () => stack.client };
  // The run id the start will take (a titled screenplay's is derived from its title), as the CLI reads it before starting.
  const workflowId = screenplayRunWorkflowId({ title });
  out.workflowId = workflowId;
  // The run's stream (LISTEN before the start, as the CLI does): the kill waits for text on every variant.
  const streamed = new Set<number>();
  let firstDeltas: () => void = () => {};
  const everyVariantStreams = new Promise<void>((resolve) => (firstDeltas = resolve));
  const subscription = await subscribeToStream(stack.databaseUrl, workflowId, (e: StreamEvent) => {
    if (e.type !== 'delta') return;
    streamed.add(e.variant);
    if (streamed.size >= SCREENPLAY_VARIANTS) firstDeltas();
  });

  const started = Date.now();
  const now = () => Date.now() - started;
  const { handle } = await startScreenplay(ops, { plot: HARBOUR_PLOT, personaNames: CREW, title, variants: SCREENPLAY_VARIANTS });

  const samples: { t: number; done: number }[] = [];
  let finished = false;
  const poller = (async () => {
    while (!finished) {
      try {
        const p: ScreenplayProgress = await stack.client.withDeadline(Date.now() + 3000, () => handle.query(screenplayProgressQuery));
        samples.push({ t: now(), done: p.variants.filter((v) => v.status === 'saved' || v.status === 'failed').length });
      } catch {
        // No worker for the moment: the next poll tries again.
      }
      await sleep(300);
    }
  })();
  let fault: FaultRecord | undefined;
  const injected = c.killWhileStreaming
    ? Promise.race([everyVariantStreams.then(() => true), handle.result().then(() => false, () => false)]).then(async (streaming) => {
        if (!streaming) return;
        log(`  ${c.id}: SIGKILL the worker with ${streamed.size} variant(s) streaming`);
        fault = await killAndRestartWorker(stack, workers, startWorker, now, `killed with ${streamed.size} of ${SCREENPLAY_VARIANTS} variants streaming`);
      })
    : Promise.resolve();

  const result = await awaitCaseRun<GenerateScreenplayResult>(handle, 180_000, out, () => ({ status: 'completed' }));
  out.wallMs = now();
  finished = true;
  await Promise.all([poller, injected]);
  await subscription.close();
  if (c.killWhileStreaming && !fault) out.error = `${out.error ?? ''} (no kill: the variants never all streamed)`.trim();
  if (fault) {
    out.fault = fault;
    out.recoveryMs = recoveryMs(samples, fault.restoredAt, out.wallMs);
  }
  for (const w of workers) await w.stop().catch(() => undefined);

  // The run's versions (save key `<workflowId>/<runId>/<variant>`), the story's, their cast, the run report, the call log.
  const q = (sql: string, params: unknown[]) => stack.db.query(sql, params);
  const [versions] = await q(
    "SELECT count(*) AS rows, count(DISTINCT split_part(save_key, '/', 3)) AS items, count(DISTINCT story_id) AS stories FROM screenplay_versions WHERE save_key LIKE $1",
    [`${workflowId}/%`],
  );
  const storyId = result?.storyId;
  const [ofStory] = storyId ? await q('SELECT count(*) AS n FROM screenplay_versions WHERE story_id = $1', [storyId]) : [{ n: 0 }];
  const [cast] = await q(
    `SELECT count(*) AS rows, count(DISTINCT (c.version_id, c.character)) AS items, count(DISTINCT c.version_id) AS versions
       FROM story_cast c JOIN screenplay_versions v ON v.id = c.version_id WHERE v.save_key LIKE $1`,
    [`${workflowId}/%`],
  );
  const [reports] = await q('SELECT count(*) AS n FROM run_reports WHERE workflow_id = $1', [workflowId]);
  const callLog = await checkCallLog(stack.db, workflowId);
  const saved = Number(versions.items);
  const versionsWithoutCast = saved - Number(cast.versions);
  out.db = {
    scenes: 0,
    characters: 0,
    // The ingestion's columns, reused: a variant without its version counts as a missing "summary", a version without its cast as a missing "sheet".
    missing: { summaries: Math.max(0, SCREENPLAY_VARIANTS - saved), embeddings: 0, sheets: versionsWithoutCast, outline: 0 },
    duplicated:
      Number(versions.rows) - saved +
      Math.max(0, Number(ofStory.n) - Number(versions.rows)) +
      (Number(cast.rows) - Number(cast.items)) +
      Math.max(0, Number(reports.n) - 1) +
      callLog.repeatedKeys,
    calls: callLog.calls,
    paidLogged: callLog.paidLogged,
    rowlessAttempts: callLog.rowlessAttempts,
  };
  out.itemsLost = out.db.missing.summaries + out.db.missing.sheets;
  const note = `${saved} of ${SCREENPLAY_VARIANTS} versions saved (${versions.rows} rows, ${ofStory.n} in the story), cast of ${cast.versions} (${cast.rows} rows)`;
  out.note = note;
  log(`  ${c.id}: ${note}`);
  return out;
}
