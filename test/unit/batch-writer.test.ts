/** batchWriter outside a workflow (it is plain promises): batching, order, and a failed batch surfacing. */
import { batchWriter } from '../../src/workflows/batch-writer';

const tick = () => new Promise((r) => setImmediate(r));

it('writes full batches in order, one at a time, and the rest on flush', async () => {
  const written: number[][] = [];
  let concurrent = 0;
  let peak = 0;
  const writer = batchWriter<number>(async (rows) => {
    peak = Math.max(peak, ++concurrent);
    await tick();
    written.push(rows);
    concurrent--;
  }, 2);
  for (const n of [1, 2, 3, 4, 5]) writer.add(n);
  await writer.flush();
  expect(written).toEqual([[1, 2], [3, 4], [5]]);
  expect(peak).toBe(1);
});

it('a failed batch is never unhandled: the next add and flush throw its error, and nothing more is written', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const boom = new Error('write refused');
    const saves: number[][] = [];
    const writer = batchWriter<number>(async (rows) => {
      saves.push(rows);
      throw boom;
    }, 2);
    writer.add(1);
    writer.add(2); // starts the batch that fails
    await tick();
    await tick();
    expect(writer.failure()).toBe(boom);
    expect(() => writer.add(3)).toThrow(boom);
    await expect(writer.flush()).rejects.toBe(boom);
    expect(saves).toEqual([[1, 2]]);
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

it('held rows wait for flush: all of them in one call to saveLast, or in batches of size without it', async () => {
  const regular: number[][] = [];
  const last: number[][] = [];
  const writer = batchWriter<number>(async (rows) => void regular.push(rows), 2);
  writer.add(1);
  writer.add(2); // a full batch before the hold is written as usual
  writer.hold();
  for (const n of [3, 4, 5]) writer.add(n);
  await tick();
  expect(regular).toEqual([[1, 2]]);
  await writer.flush(async (rows) => void last.push(rows));
  expect(last).toEqual([[3, 4, 5]]);

  const batches: number[][] = [];
  const other = batchWriter<number>(async (rows) => void batches.push(rows), 2);
  other.hold();
  for (const n of [1, 2, 3]) other.add(n);
  await other.flush();
  expect(batches).toEqual([[1, 2], [3]]);
});
