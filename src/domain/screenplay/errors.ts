export type ScreenplayParseErrorCode = 'empty' | 'too_large' | 'not_text' | 'no_scenes' | 'malformed_xml';

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
