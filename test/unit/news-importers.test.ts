/** The article importers on the project's own fixtures: every format, and every malformed case refused with file, line and reason. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ArticleImportError, articleContentHash, articleKey, parseArticles, parseFieldMap } from '../../src/domain/news';

const DIR = path.resolve(__dirname, '../fixtures/news');
const parse = (file: string, opts: Parameters<typeof parseArticles>[2] = {}) => parseArticles(readFileSync(path.join(DIR, file)), file, opts);
const refusal = (fn: () => unknown): ArticleImportError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ArticleImportError) return err;
    throw err;
  }
  throw new Error('the file was accepted');
};

describe('CSV', () => {
  it('reads RFC 4180 quoting: newlines and doubled quotes inside a field, a comma in a title, CRLF', () => {
    const r = parse('articles.csv');
    expect(r.format).toBe('csv');
    expect(r.articles).toHaveLength(3);
    expect(r.articles[0]).toMatchObject({
      url: 'https://harbour.example/ferry-strike',
      title: 'Ferry crews strike over pensions',
      body: 'Ferry crews walked out at dawn.\n\nThe union says talks on pensions "broke down" on Monday.',
      topic: 'Labour',
      sourceName: 'Harbour Gazette',
    });
    expect(r.articles[1].title).toBe('Ferry strike, day two: talks resume');
    expect(r.articles[2].publishedAt.toISOString()).toBe('2026-03-03T18:30:00.000Z');
  });

  it('maps other column names with --map, and refuses without the date column named', () => {
    const r = parse('mapped.csv', { map: parseFieldMap('published=published_on') });
    expect(r.articles).toHaveLength(2);
    expect(r.articles[0]).toMatchObject({ title: 'Council approves new tram line', topic: 'Transport', url: 'https://city.example/tram', sourceName: 'city.example' });
    expect(r.articles[0].publishedAt.toISOString()).toBe('2026-03-04T00:00:00.000Z');
    expect(refusal(() => parse('mapped.csv')).message).toMatch(/^mapped\.csv:1: no date column .*--map published=<column>/);
    expect(refusal(() => parse('mapped.csv', { map: parseFieldMap('title=name') })).reason).toMatch(/--map title=name: no column "name"/);
  });

  it('refuses bad quoting, a missing title column and an article without a title, with the line', () => {
    expect(refusal(() => parse('bad-quoting.csv'))).toMatchObject({ file: 'bad-quoting.csv', reason: expect.stringMatching(/^invalid CSV: /) });
    expect(refusal(() => parse('no-title-column.csv'))).toMatchObject({ line: 1, reason: expect.stringMatching(/^no title column/) });
    expect(refusal(() => parse('empty-title.csv'))).toMatchObject({ line: 3, reason: 'the article has no title' });
  });

  it('refuses more than 5% unparseable dates; skips and lists fewer', () => {
    const refused = refusal(() => parse('bad-dates.csv'));
    expect(refused).toMatchObject({ line: 20, reason: expect.stringMatching(/^2 of 20 articles \(10\.0%\) have no parseable date, more than the 5% allowed/) });
    const r = parse('few-bad-dates.csv');
    expect(r.articles).toHaveLength(39);
    expect(r.skipped).toEqual([{ line: 41, reason: 'unparseable date "someday"' }]);
  });
});

describe('JSON Lines', () => {
  it('reads one article per line with any recognised keys; blank lines ignored', () => {
    const r = parse('articles.jsonl');
    expect(r.format).toBe('jsonl');
    expect(r.articles.map((a) => a.title)).toEqual(['Amateur astronomer finds a comet', 'Comet confirmed by observatory', 'Library extends opening hours']);
    expect(r.articles[0]).toMatchObject({ body: 'A comet was spotted from a back garden in Aldmoor.', topic: 'Science' });
    expect(r.articles[0].publishedAt.toISOString()).toBe('2026-03-05T20:40:00.000Z');
    expect(r.articles[1].publishedAt.toISOString()).toBe(new Date(1772748000 * 1000).toISOString());
    expect(r.articles[2]).toMatchObject({ url: null, sourceName: null });
  });

  it('refuses invalid JSON with its line', () => {
    expect(refusal(() => parse('bad-json.jsonl'))).toMatchObject({ line: 2, reason: expect.stringMatching(/^invalid JSON: /) });
  });

  it('takes a number past a Date\'s range for an unparseable date (refused or skipped as such), never an Invalid Date', () => {
    const line = (published: unknown, i: number) => JSON.stringify({ title: `T${i}`, body: 'b', published });
    const one = Buffer.from(`${line(99999999999999999, 0)}\n`);
    expect(refusal(() => parseArticles(one, 'huge.jsonl'))).toMatchObject({ reason: expect.stringMatching(/have no parseable date/) });
    const many = Buffer.from(`${[...Array.from({ length: 30 }, (_, i) => line('2026-03-04', i + 1)), line(-1e17, 99)].join('\n')}\n`);
    const r = parseArticles(many, 'many.jsonl');
    expect(r.articles).toHaveLength(30);
    expect(r.skipped).toEqual([{ line: 31, reason: 'unparseable date "-100000000000000000"' }]);
  });
});

describe('feeds', () => {
  it('reads RSS 2.0: content:encoded without markup, entities decoded, channel title as source', () => {
    const r = parse('feed-rss.xml');
    expect(r.format).toBe('rss');
    expect(r.articles[0]).toMatchObject({
      title: 'Ferry crews strike over pensions',
      url: 'https://harbour.example/ferry-strike',
      topic: 'Labour',
      sourceName: 'Harbour Gazette',
      body: 'Ferry crews walked out at dawn.\nThe union says talks on pensions "broke down".',
    });
    expect(r.articles[1]).toMatchObject({ title: 'Harbour fish market reopens & expands', body: 'Twelve new stalls open on the quay.' });
    expect(r.articles[1].publishedAt.toISOString()).toBe('2026-03-03T07:00:00.000Z');
  });

  it('reads Atom: alternate link, category label, published else updated', () => {
    const r = parse('feed-atom.xml');
    expect(r.format).toBe('atom');
    expect(r.articles[0]).toMatchObject({ url: 'https://valley.example/flood-warning', topic: 'Weather', sourceName: 'Valley Post', sourceId: 'urn:uuid:flood-1' });
    expect(r.articles[0].body).toBe('The river rose a metre overnight; sandbags are handed out at the town hall.');
    expect(r.articles[1].publishedAt.toISOString()).toBe('2026-03-04T08:00:00.000Z');
  });

  it('refuses XML that is not a feed, and a feed named with the wrong --format', () => {
    expect(refusal(() => parse('not-a-feed.xml')).reason).toMatch(/^not a feed/);
    expect(refusal(() => parse('feed-rss.xml', { format: 'atom' })).reason).toMatch(/--format atom, but the file is an RSS feed/);
    expect(refusal(() => parseArticles(Buffer.from('<rss><channel><item></rss>'), 'broken.xml')).reason).toMatch(/^invalid XML: /);
  });
});

describe('identity', () => {
  it('keys by URL, else source id, else content hash; a changed body changes the hash', () => {
    const [a] = parse('articles.csv').articles;
    expect(articleKey(a)).toBe(a.url);
    expect(articleKey({ ...a, url: null, sourceId: 'g1' })).toBe('id:Harbour Gazette:g1');
    expect(articleKey({ ...a, url: null })).toBe(`sha256:${articleContentHash(a)}`);
    expect(articleContentHash({ ...a, body: `${a.body}!` })).not.toBe(articleContentHash(a));
  });

  it('refuses an unknown --map field', () => {
    expect(() => parseFieldMap('headline=title')).toThrow(/unknown field "headline"/);
  });
});

describe('a NUL character (U+0000), which Postgres cannot store, is refused with where it is', () => {
  it('a raw NUL byte in a CSV: its line', () => {
    const csv = Buffer.from('title,body,published_at\nOne,fine,2026-03-01\nTwo,bro\u0000ken,2026-03-01\n');
    expect(() => parseArticles(csv, 'news.csv')).toThrow(new ArticleImportError('news.csv', 3, 'the file holds a NUL character (U+0000), which cannot be stored'));
  });

  it('a JSON \\u0000 escape in JSON Lines: its article', () => {
    const jsonl = Buffer.from('{"title":"One","body":"fine","published_at":"2026-03-01"}\n{"title":"Two","body":"bro\\u0000ken","published_at":"2026-03-01"}\n');
    expect(() => parseArticles(jsonl, 'news.jsonl')).toThrow(new ArticleImportError('news.jsonl', undefined, 'article 2 holds a NUL character (U+0000), which cannot be stored'));
  });

  it('a JSON \\ud800 escape (a lone surrogate, stored as U+FFFD) in JSON Lines: its article', () => {
    const jsonl = Buffer.from('{"title":"One","body":"fine","published_at":"2026-03-01"}\n{"title":"Two","body":"fine","topic":"w\\ud800x","published_at":"2026-03-01"}\n');
    expect(() => parseArticles(jsonl, 'news.jsonl')).toThrow(
      new ArticleImportError('news.jsonl', undefined, 'article 2 holds an unpaired UTF-16 surrogate, which is not text (it would be stored as U+FFFD)'),
    );
  });
});

describe('a feed declaring XML entities is refused before parsing (an expansion bomb, or an external entity reading a local file)', () => {
  const rss = (doctype: string) =>
    Buffer.from(`<?xml version="1.0"?>\n${doctype}\n<rss version="2.0"><channel><title>T</title><item><title>&a;</title><link>https://x.example/1</link><pubDate>Tue, 03 Mar 2026 07:00:00 GMT</pubDate></item></channel></rss>\n`);

  it.each([
    ['an entity bomb', '<!DOCTYPE rss [\n<!ENTITY a0 "ha">\n<!ENTITY a "&a0;&a0;&a0;&a0;">\n]>'],
    ['an external entity', '<!DOCTYPE rss [\n<!ENTITY a SYSTEM "file:///etc/passwd">\n]>'],
  ])('%s: exit 2 with its line, nothing imported', (_what, doctype) => {
    expect(() => parseArticles(rss(doctype), 'feed.xml')).toThrow(
      new ArticleImportError('feed.xml', 3, 'the feed declares XML entities (<!ENTITY …>), which can expand without bound or read local files; it was refused'),
    );
  });

  it('a DOCTYPE without entities (RSS 0.91\'s) is read', () => {
    const feed = Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel><title>T</title><item><title>Harbour news</title><link>https://x.example/1</link><pubDate>Tue, 03 Mar 2026 07:00:00 GMT</pubDate><description>Boats.</description></item></channel></rss>\n');
    expect(parseArticles(feed, 'feed.xml').articles.map((a) => a.title)).toEqual(['Harbour news']);
  });
});

describe('UTF-8', () => {
  it('a U+FFFD the file holds as text (a scraped article may) is read, not taken for invalid bytes', () => {
    const csv = Buffer.from('title,body,published_at\nOne,broken \uFFFD glyph,2026-03-01\n', 'utf8');
    expect(parseArticles(csv, 'news.csv').articles.map((a) => a.body)).toEqual(['broken \uFFFD glyph']);
  });

  it('invalid bytes are refused with their line', () => {
    const csv = Buffer.concat([Buffer.from('title,body,published_at\nOne,fine,2026-03-01\nTwo,caf'), Buffer.from([0xe9]), Buffer.from(',2026-03-01\n')]);
    expect(() => parseArticles(csv, 'news.csv')).toThrow(new ArticleImportError('news.csv', 3, 'the file is not valid UTF-8'));
  });
});
