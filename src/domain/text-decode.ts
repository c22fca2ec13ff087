/**
 * Text given as bytes (a screenplay, a plot) checked and decoded the one way: refused when it is
 * empty, starts with a UTF-16 byte-order mark, holds a NUL byte (a binary file), is not valid
 * UTF-8, or holds only whitespace. Pure.
 */
export type TextDecodeErrorCode = 'empty' | 'not_text';

/** The bytes are not usable text; `message` says what is wrong and what to do. */
export class TextDecodeError extends Error {
  override readonly name = 'TextDecodeError';

  constructor(
    readonly code: TextDecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** How the messages name the text and what they tell the person who gave it. */
export interface TextSubject {
  /** "The file", "The plot". */
  name: string;
  /** What an empty text means: "nothing to import". */
  nothing: string;
  /** How to try again after saving it as UTF-8: "import it again". */
  again: string;
  /** What to give instead of a binary file (a sentence). */
  binaryAdvice: string;
}

/**
 * The text of `bytes` without a leading BOM (line endings as they are), or a TextDecodeError.
 * Checks run cheapest first; a size limit is the caller's, before this.
 */
export function decodeUtf8Text(bytes: Uint8Array, subject: TextSubject): string {
  const { name, nothing, again, binaryAdvice } = subject;
  if (bytes.length === 0) throw new TextDecodeError('empty', `${name} is empty: ${nothing}.`);
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new TextDecodeError('not_text', `${name} is not UTF-8 text (it starts with a UTF-16 byte-order mark). Save it as UTF-8 and ${again}.`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new TextDecodeError('not_text', `${name} is not UTF-8 text (found a NUL byte at offset ${nul}); it looks like a binary file. ${binaryAdvice}`);
  }
  let text: string;
  try {
    // ignoreBOM keeps a BOM in the output so that stripping it below is explicit.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new TextDecodeError(
      'not_text',
      `${name} is not UTF-8 text (found invalid bytes at offset ${firstInvalidUtf8Offset(bytes)}). Save it with UTF-8 encoding and ${again}.`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new TextDecodeError('empty', `${name} is empty (it holds only whitespace): ${nothing}.`);
  return text;
}

/**
 * Offset of the first byte of the first ill-formed UTF-8 sequence (TextDecoder does not say where),
 * following the WHATWG decoder's rules: no overlongs, no surrogates, nothing above U+10FFFF.
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] as number;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    let trailing: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      trailing = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      trailing = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      trailing = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else {
      return i;
    }
    for (let k = 1; k <= trailing; k++) {
      const byte = bytes[i + k];
      const min = k === 1 ? low : 0x80;
      const max = k === 1 ? high : 0xbf;
      if (byte === undefined || byte < min || byte > max) return i;
    }
    i += trailing + 1;
  }
  return -1;
}
