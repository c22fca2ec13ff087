/**
 * The fake model's screenplays: a request whose system prompt asks for Fountain and whose user
 * message carries a `PLOT:` section (and `## Name` persona entries) is answered with a valid,
 * deterministic Fountain screenplay built from them — scene headings, action, and dialogue for
 * the named personas. A follow-up that replays a partial answer as the assistant's turn gets
 * the rest of the same screenplay, so continuations join up exactly.
 */
import { contentText } from './text';
import { estimateTokens, limitTokens, sentences, words, type Composed } from './text';

interface MessageLike {
  role?: unknown;
  content?: unknown;
}

/** What a screenplay request asks for, or undefined for any other request. */
export interface ScreenplayRequest {
  plot: string;
  personas: string[];
  /** The partial answer a continuation replays (the last assistant turn), if any. */
  partial: string;
}

const LOCATIONS = ['FERRY DECK', 'HARBOUR OFFICE', 'ENGINE ROOM', 'PIER', 'GALLEY', 'CUSTOMS SHED', 'LIGHTHOUSE', 'MARKET STREET'];
const TIMES = ['NIGHT', 'DAY', 'DAWN', 'DUSK', 'LATER'];
const FALLBACK_CAST = ['ALEX', 'SAM'];

/** Recognises a screenplay request from the system text and the messages. */
export function screenplayRequest(system: string, messages: unknown): ScreenplayRequest | undefined {
  if (!Array.isArray(messages)) return undefined;
  const list = messages as MessageLike[];
  const systemText = [system, ...list.filter((m) => m?.role === 'system').map((m) => contentText(m.content))].join('\n');
  if (!/\bFountain\b/.test(systemText)) return undefined;
  const first = list.find((m) => m?.role === 'user' && /^PLOT:/m.test(contentText(m.content)));
  if (!first) return undefined;
  const text = contentText(first.content);
  const plot = text.split(/^PLOT:\s*$/m)[1]?.split(/^PERSONAS\b.*$/m)[0]?.trim() ?? '';
  const personaBlock = text.split(/^PERSONAS\b.*$/m)[1] ?? '';
  const personas = [...personaBlock.matchAll(/^## (.+)$/gm)].map((m) => m[1].trim()).filter(Boolean);
  const assistants = list.filter((m) => m?.role === 'assistant');
  const partial = assistants.length ? contentText(assistants[assistants.length - 1].content) : '';
  return { plot, personas, partial };
}

/** Fountain of the whole screenplay: a scene per plot sentence (at most 40). */
export function fullScreenplay(plot: string, personas: string[]): string {
  const cast = (personas.length ? personas : FALLBACK_CAST).map((p) => p.toUpperCase());
  const beats = sentences(plot).slice(0, 40);
  if (!beats.length) beats.push('Nothing has happened yet.');
  const title = words(plot).slice(0, 3).join(' ') || 'Untitled';
  const out: string[] = [`Title: ${title}`, 'Credit: Written by the storyloom simulator', '', ''];
  beats.forEach((beat, i) => {
    const place = LOCATIONS[i % LOCATIONS.length];
    const time = TIMES[(i * 3 + beat.length) % TIMES.length];
    out.push(`${i % 3 === 2 ? 'EXT.' : 'INT.'} ${place} - ${time}`, '', beat, '');
    const beatWords = words(beat);
    for (let line = 0; line < 5; line++) {
      const speaker = cast[(i + line) % cast.length];
      const slice = beatWords.slice((line * 3) % Math.max(1, beatWords.length - 3), ((line * 3) % Math.max(1, beatWords.length - 3)) + 9);
      const said = slice.length ? slice.join(' ') : 'Nothing';
      out.push(speaker, `${said[0].toUpperCase()}${said.slice(1)}${line % 2 ? '?' : '.'}`, '');
      if (line === 1) out.push(`${speaker.split(' ')[0][0]}${speaker.split(' ')[0].slice(1).toLowerCase()} looks toward the ${place.toLowerCase()} and waits.`, '');
    }
  });
  out.push('FADE OUT.', '');
  return out.join('\n');
}

/** Prose with no scene heading: what the `wrongShape` fault answers instead of a screenplay. */
function notAScreenplay(plot: string): string {
  return `Here is a summary rather than a screenplay: ${sentences(plot).slice(0, 2).join(' ')}`;
}

/** The answer to a screenplay request, resuming after a partial answer, cut to max_tokens. */
export function composeScreenplay(req: ScreenplayRequest, maxTokens: number | undefined, wrongShape = false): Composed & { outputTokens: number } {
  const full = wrongShape ? notAScreenplay(req.plot) : fullScreenplay(req.plot, req.personas);
  const rest = req.partial && full.startsWith(req.partial) ? full.slice(req.partial.length) : full;
  const limited = limitTokens(rest, maxTokens);
  return { ...limited, outputTokens: estimateTokens(limited.text) };
}
