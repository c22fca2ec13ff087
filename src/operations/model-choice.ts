/** A run's `--model` / `"model"`: the provider and model to use instead of the purpose's configured one. */
import { ConfigError, parseModelRef } from '../config';
import type { ModelChoice } from '../shared/llm-routing';
import { OperationError } from './context';

/** `provider:model` read as a run's model; a bad reference is a bad request naming `label`. */
export function parseModelChoice(label: string, raw: string | undefined): ModelChoice | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseModelRef(label, raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new OperationError('bad_request', err.message);
    throw err;
  }
}
