/**
 * Pure, deterministic screenplay parsing: file bytes in, scenes and speakers out. No I/O.
 * Fountain is read by a focused scanner (fountain.ts); FDX through fast-xml-parser (fdx.ts).
 * sceneContentHash uses node:crypto, so import this module outside workflow code only.
 */
import { decodeScreenplayText } from './decode';
import { parseFdx } from './fdx';
import { detectFormat } from './format';
import { parseFountain } from './fountain';
import type { ParsedScreenplay } from './types';

export { MAX_SCREENPLAY_BYTES } from './decode';
export { normaliseCharacterName } from './characters';
export { ScreenplayParseError, type ScreenplayParseErrorCode } from './errors';
export { sceneContentHash } from './hash';
export { OPENING_SCENE_HEADING } from './scene-collector';
export type { ParsedScene, ParsedScreenplay, ScreenplayFormat } from './types';

/**
 * Parses a screenplay file. The format comes from the extension (`.fdx`; `.fountain`, `.spmd`,
 * `.txt`), else from the content (`<?xml` or `<FinalDraft` at the start means FDX).
 * @throws ScreenplayParseError `empty`, `too_large` (over MAX_SCREENPLAY_BYTES), `not_text`
 * (NUL bytes, UTF-16, invalid UTF-8), `malformed_xml` (FDX only) or `no_scenes`.
 */
export function parseScreenplay(bytes: Uint8Array, fileName: string): ParsedScreenplay {
  const text = decodeScreenplayText(bytes);
  return detectFormat(fileName, text) === 'fdx' ? parseFdx(text) : parseFountain(text);
}
