/** Latency model: which spec applies, how long to wait, and waits that end early when the client goes away. */
import { fnv1a, mulberry32 } from './hash';
import type { Usage } from './reply';
import type { LatencySpec, RouteName, SimulatorConfig } from './types';

/** Most specific wins: purpose > route > default. */
export function latencySpecFor(config: SimulatorConfig, route: RouteName, purpose: string): LatencySpec {
  return config.latency.byPurpose?.[purpose] ?? config.latency.byRoute?.[route] ?? config.latency.default;
}

/** Time before the first byte: fixed cost plus prompt processing. */
export function firstByteMs(spec: LatencySpec, usage: Usage, timeScale: number): number {
  const ms =
    spec.fixedMs +
    (spec.perInputTokenMs ?? 0) * usage.inputTokens +
    (spec.perInputMs ?? 0) * usage.embeddingInputs;
  return ms * timeScale;
}

export function outputMs(spec: LatencySpec, outputTokens: number, timeScale: number): number {
  return (spec.perOutputTokenMs ?? 0) * outputTokens * timeScale;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The latency multiplier of one request: log-normal with mean 1 and σ = `sigma`, drawn from a
 * hash of the seed, the purpose and the body (the same request always draws the same).
 */
export function jitterFactor(sigma: number, seed: number, purpose: string, body: string): number {
  if (sigma <= 0) return 1;
  const key = `${seed}\u0000${purpose}\u0000${body}`;
  // Two uniforms from a PRNG seeded by the request's hash, then Box-Muller.
  const random = mulberry32(fnv1a(key));
  const u1 = Math.max(random(), 1e-12);
  const u2 = random();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.exp(sigma * z - (sigma * sigma) / 2);
}
