/** The simulator's latency jitter: seeded log-normal draws around the configured mean, reported per request. */
import OpenAI from 'openai';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { parseArgs } from '../../src/llm/simulator/cli';
import { jitterFactor } from '../../src/llm/simulator/latency';

let sim: RunningSimulator;
let openai: OpenAI;

beforeAll(async () => {
  sim = await startSimulator({ timeScale: 0.01, latency: { default: { fixedMs: 1000 } } });
  openai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'test-key', maxRetries: 0 });
});

afterAll(async () => {
  await sim.close();
});

const ask = (content: string, purpose = 'summary') =>
  openai.chat.completions.create({ model: 'g', messages: [{ role: 'user', content }] }, { headers: { 'x-storyloom-purpose': purpose } });

describe('jitterFactor', () => {
  it('is 1 without jitter', () => {
    expect(jitterFactor(0, 42, 'summary', 'x')).toBe(1);
  });

  it('has mean ≈ 1 and p95 ≈ 1.5 at σ 0.27, and the same request always draws the same', () => {
    const xs = Array.from({ length: 20_000 }, (_, i) => jitterFactor(0.27, 42, 'summary', `body ${i}`)).sort((a, b) => a - b);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.98);
    expect(mean).toBeLessThan(1.02);
    const p95 = xs[Math.floor(0.95 * xs.length)];
    expect(p95).toBeGreaterThan(1.42);
    expect(p95).toBeLessThan(1.58);
    expect(jitterFactor(0.27, 42, 'summary', 'body 7')).toBe(jitterFactor(0.27, 42, 'summary', 'body 7'));
    expect(jitterFactor(0.27, 43, 'summary', 'body 7')).not.toBe(jitterFactor(0.27, 42, 'summary', 'body 7'));
  });
});

describe('simulator with jitter', () => {
  it('reports each drawn latency with its purpose, and waits it out', async () => {
    sim.configure({ jitter: 0.5 });
    const from = sim.latencies().at(-1)?.seq ?? 0;
    const t0 = performance.now();
    await ask('first');
    const t1 = performance.now();
    const took = t1 - t0;
    await ask('second', 'sheet');
    const draws = sim.latencies(from);
    // When the wait began, on the epoch clock: inside the request, its wait ending before the answer arrived.
    const epoch = (t: number) => performance.timeOrigin + t;
    expect(draws[0].atMs).toBeGreaterThanOrEqual(epoch(t0));
    expect(draws[0].atMs + draws[0].ms).toBeLessThanOrEqual(epoch(t1) + 1);
    // The second request was sent once the first answer was in.
    expect(draws[1].atMs).toBeGreaterThanOrEqual(epoch(t1));
    expect(draws.map((d) => d.purpose)).toEqual(['summary', 'sheet']);
    expect(draws[0]).toMatchObject({ provider: 'openai', route: 'openai.chat', meanMs: 10 });
    // The draw is a hash of seed, purpose and the body the SDK sent.
    const body = JSON.stringify({ model: 'g', messages: [{ role: 'user', content: 'first' }] });
    expect(draws[0].ms).toBeCloseTo(10 * jitterFactor(0.5, 42, 'summary', body), 6);
    expect(took).toBeGreaterThanOrEqual(draws[0].ms - 1);
    expect(draws[0].ms).not.toBe(draws[1].ms);
    // The same request draws the same latency again.
    await ask('first');
    expect(sim.latencies(draws[1].seq)[0].ms).toBe(draws[0].ms);
  });

  it('draws nothing but the configured latency at jitter 0', async () => {
    sim.configure({ jitter: 0 });
    const from = sim.latencies().at(-1)?.seq ?? 0;
    await ask('constant');
    expect(sim.latencies(from)).toEqual([expect.objectContaining({ meanMs: 10, ms: 10 })]);
  });

  it("draws a purpose's requests with its own σ when its latency spec sets one", async () => {
    sim.configure({ jitter: 0.5, latency: { byPurpose: { synthesis: { fixedMs: 1000, jitter: 0.05 }, outline: { fixedMs: 1000, jitter: 0 } } } });
    const from = sim.latencies().at(-1)?.seq ?? 0;
    await ask('own sigma', 'synthesis');
    await ask('no sigma', 'outline');
    await ask('config sigma', 'summary');
    const [synthesis, outline, summary] = sim.latencies(from);
    const bodyOf = (content: string) => JSON.stringify({ model: 'g', messages: [{ role: 'user', content }] });
    expect(synthesis.ms).toBeCloseTo(10 * jitterFactor(0.05, 42, 'synthesis', bodyOf('own sigma')), 6);
    expect(synthesis.ms).not.toBe(10);
    expect(outline.ms).toBe(10);
    expect(summary.ms).toBeCloseTo(10 * jitterFactor(0.5, 42, 'summary', bodyOf('config sigma')), 6);
    sim.configure({ jitter: 0, latency: { byPurpose: null } });
  });

  it('rejects a negative or huge jitter', () => {
    expect(() => sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 1, jitter: 3 } } } })).toThrow(/latency\.byPurpose\.synthesis\.jitter/);

    expect(() => sim.configure({ jitter: -1 })).toThrow(/jitter/);
    expect(() => sim.configure({ jitter: 5 })).toThrow(/jitter/);
  });

  it('takes --jitter on the command line', () => {
    expect(parseArgs(['--jitter', '0.27'], {})).toMatchObject({ jitter: 0.27 });
    expect(() => parseArgs(['--jitter', 'x'], {})).toThrow(/--jitter/);
  });
});
