/** The batching buffer behind the call log and the cache, and the durability the LLM service builds on it. */
import { WriteBehind } from '../../src/db/write-behind';
import { MemoryCacheStore } from '../../src/llm/response-cache';
import { LlmService } from '../../src/llm/llm-service';
import { ProviderRegistry } from '../../src/llm/registry';
import type { ChatProvider } from '../../src/llm/types';

function recorder(opts: { fail?: (batch: number[]) => boolean } = {}) {
  const batches: number[][] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const buffer = new WriteBehind<number>(
    async (batch) => {
      batches.push(batch);
      if (gate) await gate;
      if (opts.fail?.(batch)) throw new Error(`write of ${batch.join(',')} failed`);
    },
    { maxItems: 100, intervalMs: 5, onError: () => undefined },
  );
  return {
    buffer,
    batches,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release() {
      gate = undefined;
      release?.();
    },
  };
}

it('writes items added together in one batch, and each add resolves once its batch is written', async () => {
  const r = recorder();
  await Promise.all([1, 2, 3].map((i) => r.buffer.add(i)));
  expect(r.batches).toEqual([[1, 2, 3]]);
});

it('items added while a batch is being written go together in the next one (group commit)', async () => {
  const r = recorder();
  r.hold();
  const first = r.buffer.add(1);
  await new Promise((res) => setTimeout(res, 20)); // the first batch is now being written
  const later = [2, 3, 4].map((i) => r.buffer.add(i));
  const flushed = r.buffer.flush();
  r.release();
  await Promise.all([first, ...later, flushed]);
  expect(r.batches).toEqual([[1], [2, 3, 4]]);
});

it("a failed write rejects its own items' promises only; flush() never rejects", async () => {
  const r = recorder({ fail: (batch) => batch.includes(1) });
  const failed = r.buffer.add(1);
  await expect(failed).rejects.toThrow('write of 1 failed');
  await expect(r.buffer.add(2)).resolves.toBeUndefined();
  r.buffer.add(1).catch(() => undefined);
  await expect(r.buffer.flush()).resolves.toBeUndefined();
});

it('an LLM call whose call-log row cannot be written fails instead of returning', async () => {
  const provider: ChatProvider = {
    provider: 'anthropic',
    chat: async () => ({ text: 'answer', usage: { inputTokens: 1, outputTokens: 1 }, model: 'm', stopReason: 'end_turn' }),
  };
  const llm = new LlmService({
    registry: new ProviderRegistry().registerChat(provider),
    cache: new MemoryCacheStore(),
    callLog: { record: () => Promise.reject(new Error('database is down')), flush: async () => undefined },
    requestTimeoutMs: 1000,
  });
  const call = { purpose: 'summary', provider: 'anthropic' as const, model: 'm', promptVersion: 'v', request: { messages: [{ role: 'user' as const, content: 'x' }], maxTokens: 5 }, useCache: false };
  await expect(llm.chat(call)).rejects.toThrow('database is down');
});
