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
 * Runs `c` (a `job: 'stories'` case) and fills what the ingestion cases fill before the common
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
  await new NewsRepository(stack.db).importArticles(syntheticNews({ articles: STORY_ARTICLES, clusters: STORY_CLUSTERS, dayMs: day, salt: `${c.id}-${runTag}` }));
  const taskQueue = `chaos-${c.id}-${runTag}`;
  const workers = [await stack.startWorker(taskQueue, c.workerEnv)];
  stack.sim.resetStats();
  stack.sim.configure({ faults: [], ...c.sim?.({ timeScale: opts.timeScale, keys: stack.keys }) });

  const input = { scope: { fromMs: day, toMs: day + DAY_MS } };
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
  const at = c.killAtSynthesis;
  const poller = (async () => {
    while (!finished) {
      try {
        const p: StoriesProgress = await stack.client.withDeadline(Date.now() + 3000, () => handle.query(storiesProgressQuery));
        const done = p.synthesis.done + p.synthesis.failed + p.synthesis.reused;
        samples.push({ t: now(), done });
        if (at !== undefined && !fault && p.synthesis.total > 0 && done >= Math.ceil(p.synthesis.total * at)) {
          log(`  ${c.id}: SIGKILL the worker at ${done}/${p.synthesis.total} syntheses`);
          fault = await killAndRestartWorker(stack, workers, () => stack.startWorker(taskQueue, c.workerEnv), now, `killed at ${done}/${p.synthesis.total} syntheses`);
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
  if (at !== undefined && !fault) out.error = `${out.error ?? ''} (no kill: the syntheses never reached ${Math.round(at * 100)}%)`.trim();
  if (fault) {
    out.fault = fault;
    out.recoveryMs = recoveryMs(samples, fault.restoredAt, out.wallMs);
  }
  for (const w of workers) await w.stop().catch(() => undefined);

  // Stories of the day: one per cluster, written once; their links; the run row; the call log.
  const q = (sql: string, params: unknown[]) => stack.db.query(sql, params);
  const window = [new Date(day), new Date(day + DAY_MS)];
  const [stories] = await q('SELECT count(*) AS rows, count(DISTINCT story_hash) AS items FROM stories WHERE window_start >= $1 AND window_start < $2', window);
  const [links] = await q(
    'SELECT count(*) AS rows, count(DISTINCT sa.article_id) AS items FROM story_articles sa JOIN stories s ON s.id = sa.story_id WHERE s.window_start >= $1 AND s.window_start < $2',
    window,
  );
  const [runs] = await q('SELECT count(*) - count(DISTINCT run_id) AS n FROM story_runs WHERE workflow_id = $1', [workflowId]);
  const log_ = await checkCallLog(stack.db, workflowId);
  const clusters = result?.clusters ?? STORY_CLUSTERS;
  const storyItems = Number(stories.items);
  out.db = {
    scenes: 0,
    characters: 0,
    // The ingestion's columns, reused: a cluster without its story counts as a missing "summary".
    missing: { summaries: Math.max(0, clusters - storyItems), embeddings: 0, sheets: 0, outline: 0 },
    duplicated: Number(stories.rows) - storyItems + (Number(links.rows) - Number(links.items)) + Number(runs.n) + log_.repeatedKeys,
    calls: log_.calls,
    paidLogged: log_.paidLogged,
    rowlessAttempts: log_.rowlessAttempts,
  };
  out.itemsLost = out.db.missing.summaries;
  if (fault) fault.note = `${fault.note}; ${storyItems} stories of ${clusters} clusters, ${links.items} of ${STORY_ARTICLES} articles linked`;
  return out;
}
