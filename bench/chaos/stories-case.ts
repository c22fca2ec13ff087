/**
 * The news-stories cases: a generateStories run over a day of synthetic news (imported the way
 * `storyloom articles import` does), on the chaos stack's worker processes, with an optional
 * worker SIGKILL once a share of the syntheses is done. Judged from the database like the
 * ingestion cases: every cluster's story written once, the call log complete.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { storyloomSearchAttributes } from '../../src/shared/search-attributes';
import { DAY_MS, resolveScope, storiesWorkflowId, type StoriesProgress, type StoriesResult, type StoryFailure } from '../../src/shared/stories';
import { generateStories, storiesProgressQuery } from '../../src/workflows';
import type { ChaosCase, FaultRecord } from './cases';
import { awaitCaseRun, checkCallLog, killAndRestartWorker, recoveryMs, runResultOutcome, sleep } from './measure';
import type { CaseResult } from './run';
import type { ChaosStack } from './stack';

/** 12 clusters (the generator's most) of 6 articles: at time scale 0.5 and 5 syntheses in flight, about 2.5 s of synthesis. */
export const STORY_ARTICLES = 72;
export const STORY_CLUSTERS = 12;
/**
 * The chain cases (`job: 'stories-chain'`): an article a topic, so a cluster each, and a run that
 * continues as new every 50 syntheses, the size of a write: three runs, each writing its
 * stories as they are made, the way a day of thousands of clusters runs (500 a run).
 */
export const STORY_CHAIN_CLUSTERS = 120;
export const STORY_CHAIN_PER_RUN = 50;


/**
 * Runs `c` (a `job: 'stories'` or `'stories-chain'` case) and fills what the ingestion cases fill before the common
 * judging: status, wall time, the database check (items lost = clusters without a story), the fault.
 */
export async function runStoriesRun(
  stack: ChaosStack,
  c: ChaosCase,
  opts: { timeScale: number },
  runTag: string,
  dayIndex: number,
  log: (msg: string) => void,
): Promise<CaseResult> {
  const out: CaseResult = { id: c.id, title: c.title, expect: c.expect };
  // Each case a day of its own (the database is the run's own): its stories are the day's stories.
  const day = Date.UTC(2026, 0, 1) + dayIndex * DAY_MS;
  const chain = c.job === 'stories-chain';
  const articles = chain ? STORY_CHAIN_CLUSTERS : STORY_ARTICLES;
  const news = syntheticNews({ articles, clusters: STORY_CLUSTERS, dayMs: day, salt: `${c.id}-${runTag}` });
  await new NewsRepository(stack.db).importArticles(chain ? news.map((a, i) => ({ ...a, topic: `Topic ${i}` })) : news);
  const taskQueue = `chaos-${c.id}-${runTag}`;
  const workers = [await stack.startWorker(taskQueue, c.workerEnv)];
  stack.sim.resetStats();
  stack.sim.configure({ faults: [], ...c.sim?.({ timeScale: opts.timeScale, keys: stack.keys }) });

  const input = { scope: { fromMs: day, toMs: day + DAY_MS }, ...(chain ? { synthesesPerRun: STORY_CHAIN_PER_RUN } : {}) };
  const workflowId = storiesWorkflowId(resolveScope(input.scope, Date.now()));
  out.workflowId = workflowId;
  const started = Date.now();
  const now = () => Date.now() - started;
  const handle: WorkflowHandle<typeof generateStories> = await stack.client.workflow.start(generateStories, {
    taskQueue,
    workflowId,
    args: [input],
    typedSearchAttributes: storyloomSearchAttributes('stories', `chaos ${c.id}`, 'running'),
  });

  const samples: { t: number; done: number }[] = [];
  let fault: FaultRecord | undefined;
  let finished = false;
  const planned = c.synthesisFault;
  const injectFault = async (done: number, total: number): Promise<FaultRecord> => {
    const when = `at ${done}/${total} syntheses`;
    if (planned!.kind === 'worker-kill') {
      log(`  ${c.id}: SIGKILL the worker ${when}`);
      return killAndRestartWorker(stack, workers, () => stack.startWorker(taskQueue, c.workerEnv), now, `killed ${when}`);
    }
    const inFlight = stack.sim.stats().currentConcurrent;
    const faultAt = now();
    if (planned!.kind === 'dev-server-kill') {
      log(`  ${c.id}: kill -9 the dev server ${when}`);
      await stack.server.kill();
      await sleep(2000);
      await stack.server.start();
      return { faultAt, inFlight, restoredAt: now(), note: `dev server killed ${when}, back 2 s later` };
    }
    const ms = planned!.ms ?? 2000;
    log(`  ${c.id}: cut Postgres for ${ms / 1000} s ${when}`);
    await stack.proxy.cut();
    await sleep(ms);
    await stack.proxy.restore();
    return { faultAt, inFlight, restoredAt: now(), note: `proxy cut ${ms / 1000} s ${when} (real time, not scaled)` };
  };
  const poller = (async () => {
    while (!finished) {
      try {
        const p: StoriesProgress = await stack.client.withDeadline(Date.now() + 3000, () => handle.query(storiesProgressQuery));
        const done = p.synthesis.done + p.synthesis.failed + p.synthesis.reused;
        samples.push({ t: now(), done });
        if (planned && !fault && p.synthesis.total > 0 && done >= Math.ceil(p.synthesis.total * planned.at)) {
          fault = await injectFault(done, p.synthesis.total);
        }
      } catch {
        // No worker for the moment: the next poll tries again.
      }
      await sleep(300);
    }
  })();

  const deadlineMs = 180_000;
  const result = await awaitCaseRun<StoriesResult>(handle, deadlineMs, out, runResultOutcome<StoryFailure>((f) => `cluster ${f.cluster}: ${f.errorType}`));
  out.wallMs = now();
  finished = true;
  await poller;
  if (planned && !fault) out.error = `${out.error ?? ''} (no fault: the syntheses never reached ${Math.round(planned.at * 100)}%)`.trim();
  if (fault) {
    out.fault = fault;
    out.recoveryMs = recoveryMs(samples, fault.restoredAt, out.wallMs);
  }
  for (const w of workers) await w.stop().catch(() => undefined);

  // Stories of the day: one per cluster, written once; their links; the run row; the call log.
  const q = (sql: string, params: unknown[]) => stack.db.query(sql, params);
  const window = [new Date(day), new Date(day + DAY_MS)];
  // A story still pending (written during the run, never made current by its last write) is lost to readers.
  const [stories] = await q(
    "SELECT count(*) AS rows, count(DISTINCT story_hash) AS hashes, count(*) FILTER (WHERE status = 'current') AS items FROM stories WHERE window_start >= $1 AND window_start < $2",
    window,
  );
  const [links] = await q(
    'SELECT count(*) AS rows, count(DISTINCT sa.article_id) AS items FROM story_articles sa JOIN stories s ON s.id = sa.story_id WHERE s.window_start >= $1 AND s.window_start < $2',
    window,
  );
  // One row for the run, a chain of runs included (kept under its first run's id).
  const [runs] = await q('SELECT count(*) AS n FROM story_runs WHERE workflow_id = $1', [workflowId]);
  const log_ = await checkCallLog(stack.db, workflowId);
  const [chainRuns] = await q("SELECT count(DISTINCT run_id) AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis'", [workflowId]);
  const clusters = result?.clusters ?? STORY_CLUSTERS;
  const storyItems = Number(stories.items);
  out.db = {
    scenes: 0,
    characters: 0,
    // The ingestion's columns, reused: a cluster without its story counts as a missing "summary".
    missing: { summaries: Math.max(0, clusters - storyItems), embeddings: 0, sheets: 0, outline: 0 },
    duplicated: Number(stories.rows) - Number(stories.hashes) + (Number(links.rows) - Number(links.items)) + Math.max(0, Number(runs.n) - 1) + log_.repeatedKeys,
    calls: log_.calls,
    paidLogged: log_.paidLogged,
    rowlessAttempts: log_.rowlessAttempts,
  };
  out.itemsLost = out.db.missing.summaries;
  const notCurrent = Number(stories.rows) - storyItems;
  const told = `${storyItems} current stories of ${clusters} clusters${notCurrent ? ` (${notCurrent} not current)` : ''}, ${links.items} of ${articles} articles linked, syntheses made in ${chainRuns.n} run(s)`;
  const runsExpected = chain ? Math.ceil(clusters / STORY_CHAIN_PER_RUN) : 1;
  if (Number(chainRuns.n) !== runsExpected) out.miss = `syntheses made in ${chainRuns.n} run(s), not ${runsExpected}`;
  if (Number(runs.n) === 0) out.miss = [out.miss, 'no story_runs row'].filter(Boolean).join('; ');
  if (fault) fault.note = `${fault.note}; ${told}`;
  else out.note = told;
  return out;
}
