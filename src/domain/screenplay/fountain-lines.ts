import { normaliseCharacterName } from './characters';

/** INT, EXT, EST, INT./EXT, INT/EXT, I/E, in any case, then '.' or a space (so `INTERIOR` or `ESTATE` are not headings). */
const SCENE_HEADING = /^(?:INT\.?\/EXT|INT|EXT|EST|I\/E)[. ]/i;
/** A single '.' then a letter or digit: `..` and `. NOT A HEADER` stay action (the spec's ellipsis rule). */
const FORCED_HEADING = /^\.[\p{L}\p{N}]/u;
/** `#3#`, `#1A#`, `#A3-1#`, `#1.#` at the very end of a heading. */
const SCENE_NUMBER = /\s*#([\p{L}\p{N}.-]+)#$/u;

/**
 * Letters of a cue name must be uppercase and the first character a letter (`C3PO` speaks, `3CPO`
 * does not; the screenplay-tools fixture is stricter than fountain.io here). Besides letters and
 * digits only name punctuation is allowed, which keeps shouted action (`BANG!`) and transitions
 * (`FADE IN:`, `CUT TO:`) from reading as cues.
 */
const CUE_NAME = /^\p{Lu}[\p{Lu}\p{M}\p{N}\s.'\u2018\u2019&,/#-]*$/u;
/** Zero or more `(…)` extensions after the name, in any case: `(V.O.)`, `(O. S.)`, `(cont'd)`. */
const CUE_EXTENSIONS = /^(?:\([^()]*\)\s*)*$/;

export interface SceneHeadingMatch {
  heading: string;
  sceneNumber: string | null;
}

/** `line` is trimmed. The caller checks that a blank line (or the start of the body) comes first. */
export function matchSceneHeading(line: string): SceneHeadingMatch | null {
  let heading: string;
  if (FORCED_HEADING.test(line)) heading = line.slice(1);
  else if (SCENE_HEADING.test(line)) heading = line;
  else return null;
  const number = SCENE_NUMBER.exec(heading);
  if (number) heading = heading.slice(0, number.index);
  return { heading: heading.replace(/\s+/g, ' ').trim(), sceneNumber: number?.[1] ?? null };
}

/**
 * The normalised speaker of a cue line, or null. `line` is trimmed; the caller checks the blank line
 * before and the non-blank line after. `@` forces a cue whatever its case (`@McCABE`, `@3CPO`);
 * otherwise the name must pass CUE_NAME, may carry extensions, and may end with the dual-dialogue
 * `^` (only at the very end: `AND ^ (Dual)` is not a cue).
 */
export function matchCharacterCue(line: string): string | null {
  if (line.startsWith('@')) return normaliseCharacterName(line) || null;
  const withoutCaret = line.replace(/\s*\^$/, '');
  const open = withoutCaret.indexOf('(');
  const name = (open < 0 ? withoutCaret : withoutCaret.slice(0, open)).trim();
  const extensions = open < 0 ? '' : withoutCaret.slice(open);
  if (!CUE_NAME.test(name) || !CUE_EXTENSIONS.test(extensions)) return null;
  return normaliseCharacterName(withoutCaret) || null;
}

/**
 * Sections (`#`), synopses (`=`) and page breaks (`===`): outline structure, not screenplay content.
 * They are left out of scene text and, like a blank line, may precede a heading or cue.
 */
export function isOutlineLine(line: string): boolean {
  return line.startsWith('#') || line.startsWith('=');
}
