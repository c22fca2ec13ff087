/**
 * LLM provider simulator: an HTTP server speaking the parts of the Anthropic, OpenAI and Ollama APIs that the
 * official SDKs use, with deterministic answers, latency, limits and fault injection. Point an SDK's base URL at
 * `url` (OpenAI: `${url}/v1`).
 */
import type { AddressInfo } from 'node:net';
import { createSimulatorServer, SimulatorState } from './server';
import type { DeepPartial, RunningSimulator, SimulatorConfig, StartOptions } from './types';

export { ConfigError, defaultConfig } from './config';
export { PURPOSE_HEADER } from './pipeline';
export { sampleFromSchema } from './schema-sample';
export { cosine, embed } from './embeddings';
export * from './types';

export async function startSimulator(
  config?: DeepPartial<SimulatorConfig>,
  opts: StartOptions = {},
): Promise<RunningSimulator> {
  const state = new SimulatorState(config); // throws ConfigError before anything listens
  const { server, close } = createSimulatorServer(state);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // A wildcard bind is reachable on loopback; the url is for clients to connect to.
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const urlHost = reachable.includes(':') ? `[${reachable}]` : reachable;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    stats: () => state.snapshot(),
    resetStats: () => state.reset(),
    latencies: (afterSeq) => state.latencies(afterSeq),
    configure: (partial) => {
      state.configure(partial);
    },
    config: () => structuredClone(state.config),
    loseBatches: () => state.batches.lose(),
    close: () => (closing ??= close()),
  };
}
