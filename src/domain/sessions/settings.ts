/**
 * The story sessions' prompt settings that can change at runtime (the seed's `POST
 * /optimization/configure` and presets): `max_context_tokens` (MAX_CONTEXT_TOKENS) and
 * `max_turn_history` (MAX_TURN_HISTORY). A stored override (session_settings) wins over the
 * environment's value, one setting at a time; null in the override means "the environment's".
 * Pure: safe anywhere (the activities, the API, the CLI).
 */

/** The ranges a stored value may take (the API, the CLI and the table's CHECK constraints agree). */
export const PROMPT_SETTING_LIMITS = {
  /** MAX_CONTEXT_TOKENS's own minimum; the maximum keeps a typo from asking for a billion-token prompt. */
  maxContextTokens: { min: 500, max: 1_000_000 },
  /** 0: no turn in full (the story so far only). */
  maxTurnHistory: { min: 0, max: 1_000 },
} as const;

export interface PromptSettings {
  maxContextTokens: number;
  maxTurnHistory: number;
}

export type SettingSource = 'environment' | 'override';

/** The stored override: null where a setting takes the environment's value; `updatedAt` null when none was ever stored. */
export interface PromptSettingsOverride {
  maxContextTokens: number | null;
  maxTurnHistory: number | null;
  updatedAt: Date | null;
}

export const NO_OVERRIDE: PromptSettingsOverride = { maxContextTokens: null, maxTurnHistory: null, updatedAt: null };

/** A change to the override: a number sets a setting, null clears it (back to the environment's), absent leaves it. */
export interface PromptSettingsChange {
  maxContextTokens?: number | null;
  maxTurnHistory?: number | null;
}

export interface EffectivePromptSettings extends PromptSettings {
  sources: Record<keyof PromptSettings, SettingSource>;
}

/** What a prompt uses: each setting from the override when it holds one, else from the environment. */
export function effectivePromptSettings(environment: PromptSettings, override: Pick<PromptSettingsOverride, keyof PromptSettings>): EffectivePromptSettings {
  const pick = (key: keyof PromptSettings) => (override[key] === null ? { value: environment[key], source: 'environment' as const } : { value: override[key], source: 'override' as const });
  const tokens = pick('maxContextTokens');
  const history = pick('maxTurnHistory');
  return { maxContextTokens: tokens.value, maxTurnHistory: history.value, sources: { maxContextTokens: tokens.source, maxTurnHistory: history.source } };
}

export interface SessionPreset {
  description: string;
  /** The override it stores; null for both: it clears the override (the environment's values). */
  settings: PromptSettings | null;
}

/** Named pairs of settings (`POST /optimization/presets/:name/apply`, `sessions configure --preset`). */
export const SESSION_PRESETS = {
  fast: {
    description: 'Small prompts and a short history: quicker, cheaper model steps; older turns reach the model as the story so far',
    settings: { maxContextTokens: 2_000, maxTurnHistory: 2 },
  },
  balanced: {
    description: "The environment's values (MAX_CONTEXT_TOKENS, MAX_TURN_HISTORY): clears the override",
    settings: null,
  },
  thorough: {
    description: 'Large prompts and a long history: more of the story in full, slower and dearer model steps',
    settings: { maxContextTokens: 16_000, maxTurnHistory: 20 },
  },
} as const satisfies Record<string, SessionPreset>;

export type SessionPresetName = keyof typeof SESSION_PRESETS;
export const SESSION_PRESET_NAMES = Object.keys(SESSION_PRESETS) as SessionPresetName[];

/** The preset of that name (any case), or undefined. */
export function findPreset(name: string): { name: SessionPresetName; preset: SessionPreset } | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(SESSION_PRESETS, key) ? { name: key as SessionPresetName, preset: SESSION_PRESETS[key as SessionPresetName] } : undefined;
}

/** The change a preset makes: both settings set, or both cleared. */
export function presetChange(preset: SessionPreset): Required<PromptSettingsChange> {
  return preset.settings ? { ...preset.settings } : { maxContextTokens: null, maxTurnHistory: null };
}

/**
 * Fields the seed's `POST /optimization/configure` took that storyloom has no setting for, and
 * what storyloom does instead (the API answers them with a 400 saying so).
 */
export const SEED_ONLY_SETTINGS: Record<string, string> = {
  enable_caching:
    "there is no caching switch: a turn's model steps are never answered from a cache (the world changes between them), " +
    'the story-so-far summaries are made once per range of turns and stored for every later prompt (session_summaries), ' +
    "and the memory tools' embeddings always go through the LLM response cache",
  max_memories_per_entity:
    'no memories are put in the prompt: the model reads them through its own search_memories and semantic_search tool calls (their limit argument, 5 by default)',
};
