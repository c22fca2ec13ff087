import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArticles } from '../../src/domain/news';
import { CORPUS } from './corpus-dir';

/** The CSV importer on 171 real Wikinews articles from 2019 (CC BY 2.5): `npm run test:corpus`. */
const FILE = path.join(CORPUS, 'news/wikinews_2019.csv');

describe('news/wikinews_2019.csv', () => {
  const parsed = parseArticles(readFileSync(FILE), 'wikinews_2019.csv');

  it('reads all 171 articles, none skipped', () => {
    expect(parsed.format).toBe('csv');
    expect(parsed.articles).toHaveLength(171);
    expect(parsed.skipped).toEqual([]);
  });

  it('maps url, date, title and text; keeps multi-line quoted bodies whole', () => {
    const first = parsed.articles[0];
    expect(first.title).toBe('Magnitogorsk apartment building collapses after explosion, dozens dead');
    expect(first.url).toBe('https://en.wikinews.org//wiki/Magnitogorsk_apartment_building_collapses_after_explosion,_dozens_dead');
    expect(first.publishedAt.toISOString()).toBe('2019-01-04T00:00:00.000Z');
    expect(first.sourceName).toBe('en.wikinews.org');
    expect(first.body).toContain('of "presumably between 36 and 40 people under the rubble"');
    expect(first.body.split('\n').length).toBeGreaterThan(3);
  });

  it('gives every article a distinct URL, a 2019 date and a body', () => {
    expect(new Set(parsed.articles.map((a) => a.url)).size).toBe(171);
    expect(parsed.articles.every((a) => a.publishedAt.getUTCFullYear() === 2019 && a.body.length > 0)).toBe(true);
  });
});
