/**
 * The simulator's batches (Anthropic Message Batches and OpenAI Batch) and OpenAI files: what
 * each item answers (decided at creation, with the same reply generation as the synchronous
 * routes), when it finishes (evenly over the configured processing time, scaled by timeScale),
 * cancellation, item faults and the batch counters in stats.
 */
import { RuleBudget } from './faults';
import type { ErrorKind } from './providers';
import { BadRequest } from './reply';
import type { RouteHandler } from './routes/route';
import type { BatchItemFault, BatchItemFaultKind, BatchStats, Provider, SimulatorConfig } from './types';

/** What one item of a batch ends as, if processing reaches it. */
export type ItemOutcome =
  | { kind: 'succeeded'; body: unknown }
  | { kind: 'errored'; status: number; errorKind: ErrorKind; message: string }
  | { kind: 'expired' };

/** An item's final state as a result line shows it. */
export type ItemResult = ItemOutcome | { kind: 'canceled' };

export interface SimBatchItem {
  customId: string;
  outcome: ItemOutcome;
  /** ms after creation (scaled) when the item is done (Infinity: never, see batches.stallAfterItems). */
  doneAfterMs: number;
}

export interface SimBatch {
  id: string;
  provider: 'anthropic' | 'openai';
  createdAt: Date;
  /** performance.now() at creation. */
  createdPerf: number;
  /** Infinity when processing stalls (batches.stallAfterItems): the batch ends only by a cancel. */
  durationMs: number;
  items: SimBatchItem[];
  cancelledPerf?: number;
  cancelledAt?: Date;
  /** The cancel's own answer shows `canceling`; any later look finds the batch ended. */
  cancelAnswered?: boolean;
  /** OpenAI only: the create request's fields and the files made at the end. */
  openai?: {
    inputFileId: string;
    endpoint: string;
    completionWindow: string;
    metadata: Record<string, string> | null;
    outputFileId?: string;
    errorFileId?: string;
    /** The input file was refused: the batch failed at validation. */
    validationErrors?: { code: string; line: number | null; message: string; param: string | null }[];
  };
}

export interface SimFile {
  id: string;
  bytes: Buffer;
  filename: string;
  purpose: string;
  createdAt: Date;
}

const ITEM_FAULT_ERRORS: Record<Exclude<BatchItemFaultKind, 'expired' | 'wrongShape'>, { status: number; errorKind: ErrorKind; message: string }> = {
  http500: { status: 500, errorKind: 'server', message: 'Simulated internal server error.' },
  http529: { status: 529, errorKind: 'overloaded', message: 'Simulated overload.' },
  http400: { status: 400, errorKind: 'invalid_request', message: 'Simulated invalid request.' },
};

export class BatchStore {
  private readonly batches = new Map<string, SimBatch>();
  private readonly files = new Map<string, SimFile>();
  /** Batches created since the last reset (stats count these). */
  private counted = new Set<SimBatch>();
  private cancelCount = 0;
  private seq = 0;
  private readonly budget: RuleBudget;

  constructor(seed: number) {
    this.budget = new RuleBudget(seed);
  }

  nextId(prefix: string): string {
    return `${prefix}${(++this.seq).toString().padStart(6, '0')}`;
  }

  /** A new item-fault list starts with fresh budgets. */
  rulesReplaced(): void {
    this.budget.replaced();
  }

  reseed(seed: number): void {
    this.budget.reseed(seed);
  }

  /** Forgets every batch (its files stay): requests about one answer 404 from now on. */
  lose(): number {
    const lost = this.batches.size;
    this.batches.clear();
    return lost;
  }

  /** Counters, fault budgets and PRNG start over; batches and files stay retrievable. */
  reset(): void {
    this.counted = new Set();
    this.cancelCount = 0;
    this.budget.reset();
  }

  private pickFault(rules: readonly BatchItemFault[], provider: Provider, customId: string, rawItem: string): BatchItemFault | undefined {
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule.provider !== undefined && rule.provider !== provider) continue;
      if (rule.customId !== undefined && rule.customId !== customId) continue;
      if (rule.contains !== undefined && !rawItem.includes(rule.contains)) continue;
      if (this.budget.fires(i, rule)) return rule;
    }
    return undefined;
  }

  /**
   * Decides every item's outcome now (a pure function of its request, as for synchronous calls,
   * unless an item fault picks it) and stores the batch.
   */
  create(
    cfg: SimulatorConfig,
    provider: 'anthropic' | 'openai',
    id: string,
    route: RouteHandler,
    items: { customId: string; body: unknown }[],
    openai?: SimBatch['openai'],
  ): SimBatch {
    const processingMs = cfg.batches.processingMs * cfg.timeScale;
    // With stallAfterItems, the first items finish over the processing time and the rest never do.
    const stall = cfg.batches.stallAfterItems;
    const stalls = stall !== undefined && stall < items.length;
    const n = stalls ? stall : items.length;
    const durationMs = stalls ? Infinity : processingMs;
    const built: SimBatchItem[] = items.map((item, i) => {
      const fault = this.pickFault(cfg.batches.itemFaults, provider, item.customId, JSON.stringify(item.body));
      const doneAfterMs = i >= n ? Infinity : (processingMs * (i + 1)) / n;
      return { customId: item.customId, outcome: this.outcome(cfg, route, item.body, fault?.kind), doneAfterMs };
    });
    const batch: SimBatch = { id, provider, createdAt: new Date(), createdPerf: performance.now(), durationMs, items: built, openai };
    this.batches.set(id, batch);
    this.counted.add(batch);
    return batch;
  }

  private outcome(cfg: SimulatorConfig, route: RouteHandler, body: unknown, fault: BatchItemFaultKind | undefined): ItemOutcome {
    if (fault === 'expired') return { kind: 'expired' };
    if (fault && fault !== 'wrongShape') return { kind: 'errored', ...ITEM_FAULT_ERRORS[fault] };
    try {
      if (body && typeof body === 'object' && (body as { stream?: unknown }).stream === true) {
        throw new BadRequest('stream: streaming is not supported in batch requests');
      }
      const reply = route.handle(body, {
        requestId: this.nextId('item'),
        now: new Date(),
        embeddingDimensions: cfg.embeddingDimensions,
        wrongShape: fault === 'wrongShape',
      });
      return { kind: 'succeeded', body: JSON.parse(reply.frames[0].data) };
    } catch (err) {
      if (err instanceof BadRequest) return { kind: 'errored', status: 400, errorKind: 'invalid_request', message: err.message };
      return { kind: 'errored', status: 500, errorKind: 'server', message: `Simulator bug: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  get(id: string, provider: 'anthropic' | 'openai'): SimBatch | undefined {
    const batch = this.batches.get(id);
    return batch?.provider === provider ? batch : undefined;
  }

  list(provider: 'anthropic' | 'openai'): SimBatch[] {
    return [...this.batches.values()].filter((b) => b.provider === provider).reverse();
  }

  /** in_progress, canceling (the moment cancel is asked, until the next look) or ended. */
  state(batch: SimBatch, now = performance.now()): 'in_progress' | 'canceling' | 'ended' {
    if (batch.openai?.validationErrors) return 'ended';
    if (batch.cancelledPerf !== undefined) return batch.cancelAnswered ? 'ended' : 'canceling';
    return now - batch.createdPerf >= batch.durationMs ? 'ended' : 'in_progress';
  }

  /** When processing ended (creation + duration, or the cancel), as a Date. */
  endedAt(batch: SimBatch): Date | null {
    if (this.state(batch) !== 'ended') return null;
    if (batch.cancelledAt) return batch.cancelledAt;
    return new Date(batch.createdAt.getTime() + batch.durationMs);
  }

  /** Every item's result once the batch ended; items a cancel reached first are canceled. */
  results(batch: SimBatch): { customId: string; result: ItemResult }[] {
    const cutoff = batch.cancelledPerf !== undefined ? batch.cancelledPerf - batch.createdPerf : Infinity;
    return batch.items.map((item) => ({
      customId: item.customId,
      result: item.doneAfterMs <= cutoff ? item.outcome : { kind: 'canceled' as const },
    }));
  }

  /**
   * Cancels a batch still processing and returns `view(batch)` as the cancel answers it
   * (`canceling`); the batch has ended by the next request.
   */
  cancel<T>(batch: SimBatch, view: (b: SimBatch) => T): T {
    if (this.state(batch) === 'in_progress') {
      batch.cancelledPerf = performance.now();
      batch.cancelledAt = new Date();
      if (this.counted.has(batch)) this.cancelCount++;
    }
    const answer = view(batch);
    batch.cancelAnswered = batch.cancelledPerf !== undefined;
    return answer;
  }

  addFile(file: Omit<SimFile, 'id' | 'createdAt'>): SimFile {
    const stored = { ...file, id: this.nextId('file-sim'), createdAt: new Date() };
    this.files.set(stored.id, stored);
    return stored;
  }

  file(id: string): SimFile | undefined {
    return this.files.get(id);
  }

  stats(): BatchStats {
    const out: BatchStats = {
      created: this.counted.size,
      cancelled: this.cancelCount,
      ended: 0,
      inProgress: 0,
      items: 0,
      itemsSucceeded: 0,
      itemsErrored: 0,
      itemsCanceled: 0,
      itemsExpired: 0,
    };
    for (const batch of this.counted) {
      out.items += batch.items.length;
      if (this.state(batch) !== 'ended') {
        out.inProgress++;
        continue;
      }
      out.ended++;
      for (const { result } of this.results(batch)) {
        if (result.kind === 'succeeded') out.itemsSucceeded++;
        else if (result.kind === 'errored') out.itemsErrored++;
        else if (result.kind === 'canceled') out.itemsCanceled++;
        else out.itemsExpired++;
      }
    }
    return out;
  }
}
