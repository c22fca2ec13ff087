/**
 * Removes what says where a history was recorded (stack traces, absolute file paths, worker
 * identities) from a history exported as JSON, before it is committed. Only failure and
 * metadata text changes: events, their order, ids and payloads stay as recorded, so the
 * history replays exactly as before.
 */

/** An absolute POSIX or Windows path, up to the next quote, space or bracket. */
const ABSOLUTE_PATH = /(?:[A-Za-z]:\\|\/)(?:[^\s"'()<>:\\/]+[\\/])+[^\s"'()<>:]*(?::\d+(?::\d+)?)?/g;
/** `pid@host`, as the SDK names a worker or client by default. */
const DEFAULT_IDENTITY = /^\d+@.+$/;

export const RECORDED_IDENTITY = 'storyloom-recorder';

export function sanitizeHistory<T>(history: T): T {
  return sanitize(history, '') as T;
}

function sanitize(value: unknown, key: string): unknown {
  if (Array.isArray(value)) return value.map((v) => sanitize(v, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sanitize(v, k)]));
  }
  if (typeof value !== 'string') return value;
  if (key === 'stackTrace') return '';
  if (key === 'identity' && DEFAULT_IDENTITY.test(value)) return RECORDED_IDENTITY;
  // Payload data is base64 and never matches; failure messages may quote a path.
  if (key === 'message') return value.replace(ABSOLUTE_PATH, '<path>');
  return value;
}

/** What a committed history must not contain: the text a machine leaves in a raw export. */
export function machineTraces(json: string): string[] {
  const found: string[] = [];
  const text = JSON.parse(json) as unknown;
  const visit = (value: unknown, key: string) => {
    if (Array.isArray(value)) value.forEach((v) => visit(v, key));
    else if (value !== null && typeof value === 'object') Object.entries(value).forEach(([k, v]) => visit(v, k));
    else if (typeof value === 'string') {
      if (key === 'stackTrace' && value !== '') found.push(`stack trace: ${value.slice(0, 80)}`);
      if (key === 'identity' && DEFAULT_IDENTITY.test(value)) found.push(`identity: ${value}`);
      if (key === 'message') for (const m of value.match(ABSOLUTE_PATH) ?? []) found.push(`path: ${m}`);
    }
  };
  visit(text, '');
  return found;
}
