/** The hint a waiting command gives once when no answer comes (a turn with no worker to take it). */
import { withSlowAnswerHint } from '../../src/cli/slow-answer';

function captureStderr(): { text: () => string; restore: () => void } {
  let written = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((written += String(chunk)), true));
  return { text: () => written, restore: () => spy.mockRestore() };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

it('says the hint once when nothing has answered by then, and keeps waiting for the answer', async () => {
  const stderr = captureStderr();
  try {
    let answer!: (v: string) => void;
    const waiting = withSlowAnswerHint('(is a worker running?)', () => new Promise<string>((r) => (answer = r)), () => false, 10_000);
    await jest.advanceTimersByTimeAsync(9_999);
    expect(stderr.text()).toBe('');
    await jest.advanceTimersByTimeAsync(1);
    expect(stderr.text()).toBe('\n(is a worker running?)\n');
    await jest.advanceTimersByTimeAsync(60_000);
    expect(stderr.text()).toBe('\n(is a worker running?)\n');
    answer('the reply');
    expect(await waiting).toBe('the reply');
  } finally {
    stderr.restore();
  }
});

it('says nothing when the answer comes in time, or when something showed it is alive', async () => {
  const stderr = captureStderr();
  try {
    expect(await withSlowAnswerHint('(hint)', async () => 'quick', () => false, 10_000)).toBe('quick');
    await jest.advanceTimersByTimeAsync(20_000);
    let answer!: (v: string) => void;
    const streaming = withSlowAnswerHint('(hint)', () => new Promise<string>((r) => (answer = r)), () => true, 10_000);
    await jest.advanceTimersByTimeAsync(20_000);
    answer('late but streaming');
    expect(await streaming).toBe('late but streaming');
    expect(stderr.text()).toBe('');
  } finally {
    stderr.restore();
  }
});

it('asks an asynchronous sign of life (a worker answering for the run): no hint when it answers yes, the hint when no', async () => {
  const stderr = captureStderr();
  try {
    let answer!: (v: string) => void;
    const busy = withSlowAnswerHint('(hint)', () => new Promise<string>((r) => (answer = r)), async () => true, 10_000);
    await jest.advanceTimersByTimeAsync(20_000);
    answer('a turn busy with its tools');
    expect(await busy).toBe('a turn busy with its tools');
    expect(stderr.text()).toBe('');
    const idle = withSlowAnswerHint('(hint)', () => new Promise<string>((r) => (answer = r)), () => Promise.reject(new Error('no answer')), 10_000);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(stderr.text()).toBe('\n(hint)\n');
    answer('at last');
    await idle;
  } finally {
    stderr.restore();
  }
});
