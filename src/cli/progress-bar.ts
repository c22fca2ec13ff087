import type { IngestionProgress, PhaseProgress } from '../shared/ingestion';
import type { StoriesProgress } from '../shared/stories';

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

const count = (p: PhaseProgress) => `${p.done + p.reused}/${p.total}${p.failed ? ` ✗${p.failed}` : ''}`;

function seconds(ms: number | undefined): string {
  return ms === undefined ? '?' : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/**
 * One line describing a run's progress, e.g. for a live bar. A paused run has no time left to
 * estimate (it waits for `resume`), so none is shown: the run's estimate assumes it goes on.
 */
export function progressLine(p: IngestionProgress): string {
  const s = p.phases.summaries;
  const phase2 = [p.phases.outline, p.phases.sheets, p.phases.embeddings];
  const work = s.total + phase2.reduce((n, x) => n + x.total, 0);
  const done = [s, ...phase2].reduce((n, x) => n + x.done + x.reused + x.failed, 0);
  return (
    `${bar(work ? done / work : 0)} ${p.phase}${p.paused ? ' (paused)' : ''}  ` +
    `summaries ${count(s)}  outline ${count(p.phases.outline)}  sheets ${count(p.phases.sheets)}  embeddings ${count(p.phases.embeddings)}  ` +
    `${seconds(p.elapsedMs)} elapsed${p.estimatedRemainingMs !== undefined && !p.paused ? `, ~${seconds(p.estimatedRemainingMs)} left` : ''}`
  );
}

/** One line for a story run: clusters synthesised or reused of all, articles, time. */
export function storiesProgressLine(p: StoriesProgress): string {
  const s = p.synthesis;
  const done = s.done + s.reused + s.failed;
  return (
    `${bar(s.total ? done / s.total : 0)} ${p.phase}${p.paused ? ' (paused)' : ''}  ` +
    `articles ${p.articles}  clusters ${p.clusters}  stories ${count(s)} (${s.reused} reused)  concurrency ${p.concurrency.synthesis}  ` +
    `${seconds(p.elapsedMs)} elapsed${p.estimatedRemainingMs !== undefined && !p.paused ? `, ~${seconds(p.estimatedRemainingMs)} left` : ''}`
  );
}

/** Redraws in place on a terminal; elsewhere prints a line when it changes (at most every 5 s). */
export class ProgressPrinter {
  private last = '';
  private lastPrinted = 0;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(p: IngestionProgress): void {
    this.updateLine(progressLine(p));
  }

  /** Draws any job's progress line. */
  updateLine(line: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
    } else if (line !== this.last && Date.now() - this.lastPrinted > 5000) {
      this.out.write(`${line}\n`);
      this.lastPrinted = Date.now();
    }
    this.last = line;
  }

  end(): void {
    if (this.out.isTTY) this.out.write('\n');
    else if (this.last) this.out.write(`${this.last}\n`);
  }
}

/**
 * Draws `line()` every half second (a query of the run's progress) until `result` settles, then
 * resolves or rejects with it. A failed read is skipped: before the first workflow task, or
 * between continue-as-new runs, the query may fail.
 */
export async function drawProgressUntil<R>(result: Promise<R>, line: () => Promise<string>, printer = new ProgressPrinter()): Promise<R> {
  let done = false;
  const poll = (async () => {
    while (!done) {
      try {
        printer.updateLine(await line());
      } catch {
        // not answerable yet; try again
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    return await result;
  } finally {
    done = true;
    await poll;
    printer.end();
  }
}
