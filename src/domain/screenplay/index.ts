/**
 * Pure, deterministic screenplay parsing: file bytes in, scenes and speakers out. No I/O.
 * Fountain is read by a focused scanner (fountain.ts); FDX through fast-xml-parser (fdx.ts).
 * sceneContentHash uses node:crypto, so import this module outside workflow code only.
 */
import { decodeScreenplayText } from './decode';
import { parseFdx } from './fdx';
import { detectFormat } from './format';
import { ScreenplayParseError } from './errors';
import { parseFountain } from './fountain';
import type { ParsedScreenplay } from './types';

export { MAX_SCREENPLAY_BYTES } from './decode';

/** Most scenes one file may hold: each scene costs LLM calls, so a file of thousands of one-line scenes is refused, not paid for. */
export const MAX_SCENES = 5000;
export { normaliseCharacterName } from './characters';
export { ScreenplayParseError, type ScreenplayParseErrorCode } from './errors';
export { sceneContentHash } from './hash';
export { OPENING_SCENE_HEADING } from './scene-collector';
export type { ParsedScene, ParsedScreenplay, ScreenplayFormat } from './types';

/**
 * Parses a screenplay file. The format comes from the extension (`.fdx`; `.fountain`, `.spmd`,
 * `.txt`), else from the content (`<?xml` or `<FinalDraft` at the start means FDX).
 * @throws ScreenplayParseError `empty`, `too_large` (over MAX_SCREENPLAY_BYTES), `not_text`
 * (NUL bytes, UTF-16, invalid UTF-8), `malformed_xml` and `xml_entities` (FDX only), `no_scenes` or
 * `too_many_scenes` (over MAX_SCENES).
 */
export function parseScreenplay(bytes: Uint8Array, fileName: string): ParsedScreenplay {
  const text = decodeScreenplayText(bytes);
  const parsed = detectFormat(fileName, text) === 'fdx' ? parseFdx(text) : parseFountain(text);
  if (parsed.scenes.length > MAX_SCENES) {
    throw new ScreenplayParseError(
      'too_many_scenes',
      `The file has ${parsed.scenes.length.toLocaleString('en')} scenes; the limit is ${MAX_SCENES.toLocaleString('en')} ` +
        '(a feature film has 40 to 250). Check that scene headings are only where scenes start, or split the file and import the parts.',
    );
  }
  return parsed;
}
