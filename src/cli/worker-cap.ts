import type { AppConfig } from '../config';
import type { Purpose } from '../shared/llm-routing';

/**
 * A window wider than a worker's cap on its provider's calls waits on that cap (the provider
 * queue's slots) without a word, unless more workers poll the queue: the note says so, as this
 * process's settings see it (a worker's own may differ). Undefined when the window fits.
 */
export function windowOverWorkerCap(config: AppConfig, purpose: Purpose, option: string, window: number): string | undefined {
  const { provider } = config.llm.models[purpose];
  const cap = config.llm.providers[provider].maxConcurrent;
  if (window <= cap) return undefined;
  return (
    `note: ${option} ${window} is above the ${cap} ${provider} calls a worker makes at once (STORYLOOM_${provider.toUpperCase()}_MAX_CONCURRENT): ` +
    `with one worker, ${cap} run at a time and the rest wait for a slot.`
  );
}
