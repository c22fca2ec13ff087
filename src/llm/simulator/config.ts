/** Simulator config: defaults, deep merge of partial updates, and validation. */
import {
  BATCH_ITEM_FAULT_KINDS,
  FAULT_KINDS,
  PROVIDERS,
  ROUTE_NAMES,
  type BatchConfig,
  type BatchItemFault,
  type DeepPartial,
  type FaultRule,
  type LatencySpec,
  type SimulatorConfig,
} from './types';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function defaultConfig(): SimulatorConfig {
  return {
    timeScale: 1,
    latency: { default: { fixedMs: 0 } },
    limits: {},
    retryAfterMs: 1000,
    faults: [],
    apiKeys: {},
    seed: 42,
    jitter: 0,
    embeddingDimensions: 256,
    batches: { processingMs: 1000, itemFaults: [] },
  };
}

type Json = unknown;

function isRecord(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge, arrays and scalars replace, `null` falls back to `defaults` (or removes the key). */
function mergeInto(base: Json, patch: Json, defaults: Json): Json {
  if (!isRecord(patch) || !isRecord(base)) return structuredClone(patch);
  const out: Record<string, Json> = { ...base };
  const defs = isRecord(defaults) ? defaults : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) {
      if (key in defs) out[key] = structuredClone(defs[key]);
      else delete out[key];
      continue;
    }
    out[key] = key in out ? mergeInto(out[key], value, defs[key]) : structuredClone(value);
  }
  return out;
}

/** Returns a new validated config; throws ConfigError and leaves `base` untouched when the result is invalid. */
export function mergeConfig(base: SimulatorConfig, patch: DeepPartial<SimulatorConfig> | undefined): SimulatorConfig {
  if (patch === undefined) return validateConfig(structuredClone(base));
  if (!isRecord(patch)) throw new ConfigError('config must be a JSON object');
  return validateConfig(mergeInto(base, patch, defaultConfig()));
}

function fail(path: string, want: string, got: Json): never {
  throw new ConfigError(`config.${path} must be ${want} (got ${JSON.stringify(got)})`);
}

function nonNegative(path: string, v: Json): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(path, 'a finite number >= 0', v);
  return v;
}

function positiveInt(path: string, v: Json): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(path, 'an integer >= 1', v);
  return v;
}

function onlyKeys(path: string, obj: Record<string, Json>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(`unknown key config.${path ? `${path}.` : ''}${key} (expected one of: ${allowed.join(', ')})`);
    }
  }
}

function record(path: string, v: Json): Record<string, Json> {
  if (!isRecord(v)) fail(path, 'an object', v);
  return v;
}

function latencySpec(path: string, v: Json): LatencySpec {
  const obj = record(path, v);
  onlyKeys(path, obj, ['fixedMs', 'perOutputTokenMs', 'perInputMs', 'perInputTokenMs', 'jitter']);
  // A partial spec created by a merge may lack fixedMs; 0 is the only sensible fill.
  const spec: LatencySpec = { fixedMs: obj.fixedMs === undefined ? 0 : nonNegative(`${path}.fixedMs`, obj.fixedMs) };
  for (const key of ['perOutputTokenMs', 'perInputMs', 'perInputTokenMs'] as const) {
    if (obj[key] !== undefined) spec[key] = nonNegative(`${path}.${key}`, obj[key]);
  }
  if (obj.jitter !== undefined) spec.jitter = jitterOf(`${path}.jitter`, obj.jitter);
  return spec;
}

function faultRule(path: string, v: Json): FaultRule {
  const obj = record(path, v);
  onlyKeys(path, obj, ['route', 'purpose', 'contains', 'kind', 'rate', 'times', 'retryAfterMs']);
  if (typeof obj.kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(obj.kind)) {
    fail(`${path}.kind`, `one of ${FAULT_KINDS.join(', ')}`, obj.kind);
  }
  const rule: FaultRule = { kind: obj.kind as FaultRule['kind'] };
  if (obj.route !== undefined) {
    if (typeof obj.route !== 'string' || !(ROUTE_NAMES as readonly string[]).includes(obj.route)) {
      fail(`${path}.route`, `one of ${ROUTE_NAMES.join(', ')}`, obj.route);
    }
    rule.route = obj.route as FaultRule['route'];
  }
  for (const key of ['purpose', 'contains'] as const) {
    if (obj[key] === undefined) continue;
    if (typeof obj[key] !== 'string') fail(`${path}.${key}`, 'a string', obj[key]);
    rule[key] = obj[key] as string;
  }
  if (obj.rate !== undefined) {
    if (typeof obj.rate !== 'number' || !(obj.rate >= 0 && obj.rate <= 1)) fail(`${path}.rate`, 'a number in 0..1', obj.rate);
    rule.rate = obj.rate;
  }
  if (obj.times !== undefined) {
    if (typeof obj.times !== 'number' || !Number.isInteger(obj.times) || obj.times < 0) {
      fail(`${path}.times`, 'an integer >= 0', obj.times);
    }
    rule.times = obj.times;
  }
  if (obj.retryAfterMs !== undefined) rule.retryAfterMs = nonNegative(`${path}.retryAfterMs`, obj.retryAfterMs);
  return rule;
}

/** A rule's string matchers and its `rate` and `times` (fault rules and batch item faults alike). */
function matchAndBudget<R extends { rate?: number; times?: number }>(path: string, obj: Record<string, Json>, rule: R, strings: readonly (keyof R & string)[]): void {
  for (const key of strings) {
    if (obj[key] === undefined) continue;
    if (typeof obj[key] !== 'string') fail(`${path}.${key}`, 'a string', obj[key]);
    (rule as Record<string, unknown>)[key] = obj[key];
  }
  if (obj.rate !== undefined) {
    if (typeof obj.rate !== 'number' || !(obj.rate >= 0 && obj.rate <= 1)) fail(`${path}.rate`, 'a number in 0..1', obj.rate);
    rule.rate = obj.rate;
  }
  if (obj.times !== undefined) {
    if (typeof obj.times !== 'number' || !Number.isInteger(obj.times) || obj.times < 0) fail(`${path}.times`, 'an integer >= 0', obj.times);
    rule.times = obj.times;
  }
}

function batchItemFault(path: string, v: Json): BatchItemFault {
  const obj = record(path, v);
  onlyKeys(path, obj, ['provider', 'customId', 'contains', 'kind', 'rate', 'times']);
  if (typeof obj.kind !== 'string' || !(BATCH_ITEM_FAULT_KINDS as readonly string[]).includes(obj.kind)) {
    fail(`${path}.kind`, `one of ${BATCH_ITEM_FAULT_KINDS.join(', ')}`, obj.kind);
  }
  const rule: BatchItemFault = { kind: obj.kind as BatchItemFault['kind'] };
  if (obj.provider !== undefined) {
    if (obj.provider !== 'anthropic' && obj.provider !== 'openai') fail(`${path}.provider`, "'anthropic' or 'openai'", obj.provider);
    rule.provider = obj.provider;
  }
  matchAndBudget(path, obj, rule, ['customId', 'contains']);
  return rule;
}

function batchConfig(v: Json): BatchConfig {
  const obj = record('batches', v);
  onlyKeys('batches', obj, ['processingMs', 'itemFaults', 'stallAfterItems']);
  const faults = obj.itemFaults ?? [];
  if (!Array.isArray(faults)) fail('batches.itemFaults', 'an array', faults);
  const batches: BatchConfig = {
    processingMs: obj.processingMs === undefined ? defaultConfig().batches.processingMs : nonNegative('batches.processingMs', obj.processingMs),
    itemFaults: faults.map((f, i) => batchItemFault(`batches.itemFaults[${i}]`, f)),
  };
  if (obj.stallAfterItems !== undefined) {
    const stall = obj.stallAfterItems;
    if (typeof stall !== 'number' || !Number.isInteger(stall) || stall < 0) fail('batches.stallAfterItems', 'an integer >= 0', stall);
    batches.stallAfterItems = stall;
  }
  return batches;
}

function jitterOf(path: string, v: Json): number {
  const sigma = nonNegative(path, v ?? 0);
  if (sigma > 2) fail(path, 'at most 2 (the σ of a log-normal; 0.27 gives p95 ≈ 1.5 × the mean)', v);
  return sigma;
}

/** Checks every field (unknown keys included, to catch typos in PUT bodies) and rebuilds a clean config. */
export function validateConfig(v: Json): SimulatorConfig {
  const obj = record('', v);
  onlyKeys('', obj, Object.keys(defaultConfig()));

  const lat = record('latency', obj.latency);
  onlyKeys('latency', lat, ['default', 'byRoute', 'byPurpose']);
  const latency: SimulatorConfig['latency'] = { default: latencySpec('latency.default', lat.default) };
  if (lat.byRoute !== undefined) {
    const byRoute = record('latency.byRoute', lat.byRoute);
    onlyKeys('latency.byRoute', byRoute, ROUTE_NAMES);
    latency.byRoute = {};
    for (const route of ROUTE_NAMES) {
      if (byRoute[route] !== undefined) latency.byRoute[route] = latencySpec(`latency.byRoute.${route}`, byRoute[route]);
    }
  }
  if (lat.byPurpose !== undefined) {
    const byPurpose = record('latency.byPurpose', lat.byPurpose);
    latency.byPurpose = {};
    for (const [purpose, spec] of Object.entries(byPurpose)) {
      latency.byPurpose[purpose] = latencySpec(`latency.byPurpose.${purpose}`, spec);
    }
  }

  const lim = record('limits', obj.limits);
  onlyKeys('limits', lim, PROVIDERS);
  const limits: SimulatorConfig['limits'] = {};
  for (const provider of PROVIDERS) {
    if (lim[provider] === undefined) continue;
    const p = record(`limits.${provider}`, lim[provider]);
    onlyKeys(`limits.${provider}`, p, ['maxConcurrent', 'rpm']);
    limits[provider] = {};
    if (p.maxConcurrent !== undefined) limits[provider].maxConcurrent = positiveInt(`limits.${provider}.maxConcurrent`, p.maxConcurrent);
    if (p.rpm !== undefined) limits[provider].rpm = positiveInt(`limits.${provider}.rpm`, p.rpm);
  }

  if (!Array.isArray(obj.faults)) fail('faults', 'an array', obj.faults);
  const faults = obj.faults.map((f, i) => faultRule(`faults[${i}]`, f));

  const keys = record('apiKeys', obj.apiKeys);
  onlyKeys('apiKeys', keys, PROVIDERS);
  const apiKeys: SimulatorConfig['apiKeys'] = {};
  for (const provider of PROVIDERS) {
    if (keys[provider] === undefined) continue;
    if (typeof keys[provider] !== 'string') fail(`apiKeys.${provider}`, 'a string', keys[provider]);
    apiKeys[provider] = keys[provider] as string;
  }

  if (typeof obj.seed !== 'number' || !Number.isInteger(obj.seed)) fail('seed', 'an integer', obj.seed);
  const embeddingDimensions = positiveInt('embeddingDimensions', obj.embeddingDimensions);
  if (embeddingDimensions > 16384) fail('embeddingDimensions', 'at most 16384', embeddingDimensions);

  return {
    timeScale: nonNegative('timeScale', obj.timeScale),
    latency,
    limits,
    retryAfterMs: nonNegative('retryAfterMs', obj.retryAfterMs),
    faults,
    apiKeys,
    seed: obj.seed,
    jitter: jitterOf('jitter', obj.jitter),
    embeddingDimensions,
    batches: batchConfig(obj.batches),
  };
}
