/**
 * Persona files (JSON or YAML, already parsed) checked whole: every entry and field, so a bad
 * file is refused with the entry and field at fault and nothing is written. Pure.
 */
import type { PersonaConfig } from '../../db/entities/screenplay.entity';
import { storableTextProblem } from '../../shared/storable-text';

export interface PersonaInput {
  name: string;
  config: PersonaConfig;
}

export class PersonaFileError extends Error {
  override readonly name = 'PersonaFileError';
}

export const MAX_PERSONA_NAME = 100;
export const MAX_PERSONA_CONTEXT_CHARS = 50_000;
const FIELDS = ['name', 'description', 'context', 'system_prompt', 'voice_notes'];

/** Validates a parsed persona file: an array of entries, or `{ personas: [...] }`. */
export function validatePersonaFile(doc: unknown): PersonaInput[] {
  const entries = Array.isArray(doc) ? doc : (doc as { personas?: unknown } | null)?.personas;
  if (!Array.isArray(entries)) throw new PersonaFileError('expected a list of personas (or an object with a "personas" list)');
  if (entries.length === 0) throw new PersonaFileError('the file lists no personas');
  const seen = new Map<string, number>();
  return entries.map((entry, i) => {
    // The name as a JSON string: quoted as before, and a control character in it (a NUL) shown escaped, not sent to the terminal.
    const where = (field: string) => `entry ${i + 1}${typeof entry?.name === 'string' && entry.name.trim() ? ` (${JSON.stringify(entry.name.trim())})` : ''}, field "${field}"`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new PersonaFileError(`entry ${i + 1}: expected an object`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!FIELDS.includes(key)) throw new PersonaFileError(`${where(key)}: unknown field (expected ${FIELDS.join(', ')})`);
    }
    const text = (field: string, value: unknown, max: number): string => {
      if (typeof value !== 'string' || !value.trim()) throw new PersonaFileError(`${where(field)}: required, a non-empty string`);
      if (value.length > max) throw new PersonaFileError(`${where(field)}: ${value.length} characters; at most ${max}`);
      // Refused here, not by the insert (which failed with exit 1, or stored a surrogate as U+FFFD).
      const problem = storableTextProblem(value);
      if (problem) throw new PersonaFileError(`${where(field)}: ${problem}`);
      return value.trim();
    };
    const name = text('name', e.name, MAX_PERSONA_NAME);
    const first = seen.get(name.toLowerCase());
    if (first !== undefined) throw new PersonaFileError(`${where('name')}: "${name}" is also entry ${first + 1} (names are unique, case-insensitively)`);
    seen.set(name.toLowerCase(), i);
    if (e.context !== undefined && e.system_prompt !== undefined) throw new PersonaFileError(`${where('system_prompt')}: give "context" or "system_prompt", not both`);
    const context = text(e.system_prompt !== undefined ? 'system_prompt' : 'context', e.context ?? e.system_prompt, MAX_PERSONA_CONTEXT_CHARS);
    const description = text('description', e.description, MAX_PERSONA_CONTEXT_CHARS);
    let voiceNotes: string[] = [];
    if (e.voice_notes !== undefined) {
      const notes = typeof e.voice_notes === 'string' ? [e.voice_notes] : e.voice_notes;
      if (!Array.isArray(notes) || notes.some((n) => typeof n !== 'string' || !n.trim())) {
        throw new PersonaFileError(`${where('voice_notes')}: a string or a list of non-empty strings`);
      }
      const problem = notes.map((n: string) => storableTextProblem(n)).find(Boolean);
      if (problem) throw new PersonaFileError(`${where('voice_notes')}: ${problem}`);
      voiceNotes = notes.map((n: string) => n.trim());
    }
    return { name, config: { description, context, voiceNotes } };
  });
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `limit` existing names closest to `wanted` (case-insensitive edit distance; a shared prefix or substring counts as close). */
export function closestNames(wanted: string, existing: readonly string[], limit = 3): string[] {
  const w = wanted.toLowerCase();
  return existing
    .map((name) => {
      const n = name.toLowerCase();
      const contains = n.includes(w) || w.includes(n) ? -100 : 0;
      return { name, score: editDistance(w, n) + contains };
    })
    .filter((c) => c.score < -50 || c.score <= Math.max(2, Math.ceil(w.length / 2)))
    .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, limit)
    .map((c) => c.name);
}

export class UnknownPersonasError extends Error {
  override readonly name = 'UnknownPersonasError';
  constructor(readonly unknown: { name: string; closest: string[] }[]) {
    super(
      unknown
        .map((u) => `no persona "${u.name}"${u.closest.length ? ` (closest: ${u.closest.map((c) => `"${c}"`).join(', ')})` : ''}`)
        .join('; ') + '. See `storyloom personas list`.',
    );
  }
}
