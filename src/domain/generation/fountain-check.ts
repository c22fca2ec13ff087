/** Checks a generated screenplay with the project's Fountain parser, and counts scenes in a stream. Pure. */
import { normaliseCharacterName, OPENING_SCENE_HEADING, ScreenplayParseError } from '../screenplay';
import { parseFountain } from '../screenplay/fountain';

export type FountainCheck =
  | { ok: true; scenes: number; characters: string[]; title: string | null }
  | { ok: false; problem: string };

/** At least one scene heading; the cast as the parser reads it. */
export function checkFountain(text: string): FountainCheck {
  try {
    const parsed = parseFountain(text.replace(/\r\n?/g, '\n'));
    const scenes = parsed.scenes.filter((s) => s.heading !== OPENING_SCENE_HEADING).length;
    if (scenes === 0) return { ok: false, problem: 'no scene heading found (a scene starts with INT., EXT., EST., INT./EXT. or I/E)' };
    return { ok: true, scenes, characters: parsed.characters, title: parsed.title };
  } catch (err) {
    if (err instanceof ScreenplayParseError) return { ok: false, problem: err.message };
    throw err;
  }
}

const HEADING = /(^|\n)[ \t]*(INT\.?\/EXT|INT|EXT|EST|I\/E)[. ][^\n]*\n/g;

/** Scene headings written so far (cheap, for progress while the text streams). */
export function scenesSoFar(text: string): number {
  return text.match(HEADING)?.length ?? 0;
}

/** Which persona each character was written for: the persona whose name (or first name) is the character's. */
export function castOf(characters: string[], personas: { id: number; name: string }[]): { character: string; personaId: number | null }[] {
  const full = new Map(personas.map((p) => [normaliseCharacterName(p.name), p.id]));
  const first = new Map(personas.map((p) => [normaliseCharacterName(p.name.split(/\s+/)[0]), p.id]));
  return characters.map((character) => ({ character, personaId: full.get(character) ?? first.get(character) ?? null }));
}
