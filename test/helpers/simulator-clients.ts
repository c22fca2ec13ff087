import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';

export interface SimulatorClients {
  sim: RunningSimulator;
  anthropic: Anthropic;
  openai: OpenAI;
  ollama: Ollama;
}

/**
 * Starts an in-process simulator for the suite and the three official SDK clients pointed at it,
 * with the SDKs' own retries off so each test sees every answer. Read the fields inside tests
 * (they are set in beforeAll).
 */
export function useSimulatorClients(): SimulatorClients {
  const clients = {} as SimulatorClients;
  beforeAll(async () => {
    clients.sim = await startSimulator();
    clients.anthropic = new Anthropic({ baseURL: clients.sim.url, apiKey: 'test-key', maxRetries: 0 });
    clients.openai = new OpenAI({ baseURL: `${clients.sim.url}/v1`, apiKey: 'test-key', maxRetries: 0 });
    clients.ollama = new Ollama({ host: clients.sim.url });
  });
  afterAll(() => clients.sim?.close());
  return clients;
}
