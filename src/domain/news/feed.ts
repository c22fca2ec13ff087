/**
 * RSS 2.0 (`rss > channel > item`) and Atom (`feed > entry`) files, read with fast-xml-parser.
 * An article's body is its content (content:encoded / Atom content) or else its description /
 * summary, with markup removed; its source name is the channel's or feed's title.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ArticleImportError, collectArticles, type FieldValues, type ParseResult } from './articles';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  processEntities: true,
  htmlEntities: true,
  trimValues: true,
  parseTagValue: false,
  isArray: (name) => ['item', 'entry', 'category', 'link'].includes(name),
});

type Node = Record<string, unknown>;

/** Element text whether fast-xml-parser gave a string or an object with text and attributes. */
function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return text(v[0]);
  if (typeof v === 'object') return text((v as Node)['#text']);
  return '';
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Markup out and HTML entities decoded (CDATA keeps them encoded), paragraphs kept. */
export function stripHtml(html: string): string {
  return html
    .replace(/<\s*(br|\/p|\/div|\/li|\/h\d)\s*\/?>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
        return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
      }
      return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
    })
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export function isFeed(xml: string): 'rss' | 'atom' | undefined {
  const head = xml.slice(0, 2000);
  if (/<rss[\s>]/.test(head)) return 'rss';
  if (/<feed[\s>]/.test(head)) return 'atom';
  return undefined;
}

export function parseFeedArticles(xml: string, file: string): ParseResult {
  const body = xml.replace(/^\uFEFF/, '');
  // A DOCTYPE is allowed (RSS 0.91 feeds have one); entities declared in it are not: they can
  // expand without bound or name a local file. Refused before parsing, as in an FDX file.
  // Only the prolog, before the root element, is looked at (linear: no backtracking over a large file).
  const rootAt = body.search(/<[A-Za-z]/);
  const prolog = rootAt === -1 ? body : body.slice(0, rootAt);
  const entityAt = /<!DOCTYPE\b/i.test(prolog) ? prolog.search(/<!ENTITY\b/i) : -1;
  if (entityAt !== -1) {
    const line = body.slice(0, entityAt).split('\n').length;
    throw new ArticleImportError(file, line, 'the feed declares XML entities (<!ENTITY …>), which can expand without bound or read local files; it was refused');
  }
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw new ArticleImportError(file, valid.err.line, `invalid XML: ${valid.err.msg}`);
  let doc: Node;
  try {
    doc = parser.parse(body) as Node;
  } catch (err) {
    throw new ArticleImportError(file, undefined, `invalid XML: ${(err as Error).message}`);
  }
  const lineOf = itemLines(body);
  if (doc.rss) {
    const channel = (doc.rss as Node).channel as Node | undefined;
    if (!channel) throw new ArticleImportError(file, undefined, 'not an RSS 2.0 feed: <rss> has no <channel>');
    const items = (channel.item as Node[] | undefined) ?? [];
    const source = text(channel.title) || null;
    const records = items.map((item, i) => {
      const values: FieldValues = {
        title: text(item.title),
        url: text(item.link),
        id: text(item.guid),
        body: stripHtml(text(item['content:encoded']) || text(item.description)),
        topic: text((item.category as unknown[] | undefined)?.[0]),
        published: text(item.pubDate) || text(item['dc:date']),
        source: text(item.source),
      };
      return { line: lineOf('item', i), values };
    });
    return collectArticles(file, 'rss', records, { sourceName: source });
  }
  if (doc.feed) {
    const feed = doc.feed as Node;
    const entries = (feed.entry as Node[] | undefined) ?? [];
    const source = text(feed.title) || null;
    const records = entries.map((entry, i) => {
      const links = (entry.link as Node[] | undefined) ?? [];
      const link = links.find((l) => !l['@rel'] || l['@rel'] === 'alternate') ?? links[0];
      const category = (entry.category as Node[] | undefined)?.[0];
      const values: FieldValues = {
        title: stripHtml(text(entry.title)),
        url: link ? String(link['@href'] ?? '') : '',
        id: text(entry.id),
        body: stripHtml(text(entry.content) || text(entry.summary)),
        topic: category ? String(category['@label'] ?? category['@term'] ?? '') : '',
        published: text(entry.published) || text(entry.updated),
        source: text((entry.source as Node | undefined)?.title),
      };
      return { line: lineOf('entry', i), values };
    });
    return collectArticles(file, 'atom', records, { sourceName: source });
  }
  throw new ArticleImportError(file, undefined, 'not a feed: the root element is neither <rss> (RSS 2.0) nor <feed> (Atom)');
}

/** The 1-based line of the i-th <tag> element (for error messages). */
function itemLines(xml: string): (tag: string, i: number) => number {
  const cache = new Map<string, number[]>();
  return (tag, i) => {
    let lines = cache.get(tag);
    if (!lines) {
      lines = [];
      const re = new RegExp(`<${tag}[\\s>]`, 'g');
      let m: RegExpExecArray | null;
      while ((m = re.exec(xml))) lines.push(xml.slice(0, m.index).split('\n').length);
      cache.set(tag, lines);
    }
    return lines[i] ?? 1;
  };
}
