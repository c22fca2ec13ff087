/** Text helpers for the fake model: token estimates, markup stripping, extractive answers, stream chunking. */

/** The simulator's token estimate: about four characters per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Text of a message `content` in any of the providers' shapes: a string or an array of parts with `text`. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') parts.push(part);
    else if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
      parts.push((part as { text: string }).text);
    }
  }
  return parts.join('\n');
}

interface ChatMessageLike {
  role?: unknown;
  content?: unknown;
}

/** Content of the last message whose role is 'user' ('' when there is none). */
export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as ChatMessageLike | null;
    if (m && m.role === 'user') return contentText(m.content);
  }
  return '';
}

/** All message text, for the input token count. */
export function allMessagesText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages.map((m) => contentText((m as ChatMessageLike | null)?.content)).join('\n');
}

/** Removes XML/HTML tags, code fences and markdown decoration so extracts read as prose. */
export function stripMarkup(text: string): string {
  return text
    .replace(/```[^\n]*\n?/g, '')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<\/?[A-Za-z][\w:-]*(\s[^<>]*)?\/?>/g, ' ')
    .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+/gm, '')
    .replace(/(\*\*|__|\*|`)/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[ \t]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .trim();
}

const WORD_RE = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

/** Words of the text, in order, case kept. */
export function words(text: string): string[] {
  return text.match(WORD_RE) ?? [];
}

/** Sentences and lines, in order. */
export function sentences(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    for (const s of line.split(/(?<=[.!?…])\s+/)) {
      const t = s.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

/** Cuts to at most `maxChars`, at a word boundary when one is in the second half. */
export function cutAt(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const hard = text.slice(0, maxChars);
  const space = hard.lastIndexOf(' ');
  return (space > maxChars / 2 ? hard.slice(0, space) : hard).trimEnd();
}

/** A model's unconstrained answer length, in tokens. */
export const NATURAL_ANSWER_TOKENS = 120;

export interface Composed {
  text: string;
  /** True when max_tokens cut the answer short. */
  truncated: boolean;
}

/** Extractive answer: leading sentences of the source up to ~120 tokens, then cut to max_tokens if that is smaller. */
export function composeText(source: string, maxTokens?: number): Composed {
  const clean = stripMarkup(source);
  const natural = naturalAnswer(clean) || fallbackAnswer(clean || source);
  return limitTokens(natural, maxTokens);
}

/** Applies max_tokens to an answer of natural length. */
export function limitTokens(text: string, maxTokens?: number): Composed {
  if (maxTokens === undefined || estimateTokens(text) <= maxTokens) return { text, truncated: false };
  const cut = cutAt(text, Math.max(1, maxTokens) * 4);
  return { text: cut || text.slice(0, Math.max(1, maxTokens) * 4), truncated: true };
}

function naturalAnswer(clean: string): string {
  const budget = NATURAL_ANSWER_TOKENS * 4;
  let out = '';
  for (const s of sentences(clean)) {
    const next = out ? `${out} ${s}` : s;
    if (next.length > budget) {
      // A long first sentence is still better than nothing.
      if (!out) out = cutAt(s, budget);
      break;
    }
    out = next;
  }
  return out;
}

function fallbackAnswer(source: string): string {
  const word = words(source)[0] ?? 'nothing';
  return `This is a simulated answer about ${word}.`;
}

/**
 * Splits text into stream deltas of about `size` characters, breaking after a space when possible.
 * Concatenating the pieces gives back the text exactly.
 */
export function splitDeltas(text: string, size = 20): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + size);
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end);
      if (space > i) end = space + 1;
    }
    out.push(text.slice(i, end));
    i = end;
  }
  return out.length ? out : [''];
}

/** Stream deltas with the output tokens each one adds (they sum to estimateTokens(text)). */
export function deltasWithTokens(text: string): { text: string; tokens: number }[] {
  let sent = 0;
  return splitDeltas(text).map((piece) => {
    const before = Math.ceil(sent / 4);
    sent += piece.length;
    return { text: piece, tokens: Math.ceil(sent / 4) - before };
  });
}
