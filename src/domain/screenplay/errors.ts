export type ScreenplayParseErrorCode = 'empty' | 'too_large' | 'not_text' | 'no_scenes' | 'too_many_scenes' | 'malformed_xml' | 'xml_entities';

/**
 * The file cannot be imported as a screenplay. `message` is written for the person importing it:
 * what is wrong and what to do. Retrying the same bytes always fails the same way (non-retryable).
 */
export class ScreenplayParseError extends Error {
  override readonly name = 'ScreenplayParseError';

  constructor(
    readonly code: ScreenplayParseErrorCode,
    message: string,
  ) {
    super(message);
  }
}
