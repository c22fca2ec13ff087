/**
 * Generated news with known clusters (tests, the benchmark, the demo): each cluster has its own
 * vocabulary, so articles of one cluster share most words and articles of two clusters share
 * almost none, whichever embedding model reads them. Deterministic for the same options.
 */
import type { ParsedArticle } from './articles';

const SUBJECTS = [
  ['wildfire', 'blaze', 'evacuation', 'firefighters', 'hectares', 'smoke', 'containment', 'canyon', 'embers', 'drought', 'helicopters', 'ranchers'],
  ['election', 'ballots', 'candidate', 'turnout', 'polling', 'coalition', 'parliament', 'campaign', 'recount', 'voters', 'manifesto', 'runoff'],
  ['earthquake', 'magnitude', 'aftershock', 'epicentre', 'tremor', 'rubble', 'seismologists', 'collapsed', 'rescuers', 'fault', 'tsunami', 'richter'],
  ['football', 'striker', 'goalkeeper', 'penalty', 'stadium', 'midfield', 'league', 'transfer', 'referee', 'derby', 'trophy', 'coach'],
  ['vaccine', 'clinical', 'trial', 'dosage', 'immunity', 'regulator', 'pharmaceutical', 'antibodies', 'placebo', 'efficacy', 'patients', 'booster'],
  ['rocket', 'launch', 'orbit', 'satellite', 'booster', 'payload', 'astronauts', 'capsule', 'countdown', 'spaceport', 'docking', 'lunar'],
  ['inflation', 'interest', 'rates', 'central', 'bank', 'bond', 'yields', 'currency', 'mortgage', 'recession', 'treasury', 'markets'],
  ['flood', 'rainfall', 'river', 'levee', 'monsoon', 'submerged', 'dam', 'reservoir', 'sandbags', 'torrent', 'overflow', 'stranded'],
  ['strike', 'union', 'wages', 'workers', 'picket', 'negotiations', 'walkout', 'pensions', 'employers', 'arbitration', 'shifts', 'dockers'],
  ['museum', 'exhibition', 'painting', 'curator', 'sculpture', 'gallery', 'auction', 'masterpiece', 'restoration', 'collectors', 'artist', 'canvas'],
  ['cyberattack', 'ransomware', 'hackers', 'breach', 'encryption', 'servers', 'passwords', 'malware', 'outage', 'firewall', 'phishing', 'patch'],
  ['drought', 'harvest', 'farmers', 'irrigation', 'wheat', 'crops', 'livestock', 'famine', 'grain', 'yields', 'fertiliser', 'silos'],
];
const TOPICS = ['Wildfires', 'Elections', 'Earthquakes', 'Football', 'Vaccines', 'Space', 'Economy', 'Floods', 'Labour', 'Arts', 'Cybersecurity', 'Agriculture'];
const PLACES = ['Aldmoor', 'Brenvik', 'Calder Bay', 'Dunmere', 'Eastwold', 'Farrow', 'Glenhollow', 'Harwick', 'Islestead', 'Juniper Falls', 'Kestrel Point', 'Lowmarsh'];

export interface SyntheticNewsOptions {
  articles: number;
  clusters: number;
  /** Publication day (UTC midnight, ms); articles fall within its first 20 hours. */
  dayMs: number;
  /** With topics, clusters are also told apart by topic; without, only by their words. */
  withTopics?: boolean;
  /** Makes URLs and texts unique between sets (tests and bench runs share a database and a response cache). */
  salt?: string;
}

/** The cluster (0-based) the i-th article belongs to: articles are dealt round-robin. */
export function syntheticClusterOf(i: number, clusters: number): number {
  return i % clusters;
}

export function syntheticNews(opts: SyntheticNewsOptions): ParsedArticle[] {
  if (opts.clusters > SUBJECTS.length) throw new Error(`at most ${SUBJECTS.length} clusters`);
  const salt = opts.salt ?? 'synthetic';
  return Array.from({ length: opts.articles }, (_, i) => {
    const c = syntheticClusterOf(i, opts.clusters);
    const words = SUBJECTS[c];
    const n = Math.floor(i / opts.clusters);
    const pick = (k: number) => words[(n * 5 + k * 7) % words.length];
    const place = PLACES[c];
    const sentences = Array.from({ length: 6 }, (_, s) =>
      `${place} ${pick(s)} ${pick(s + 1)} ${pick(s + 2)} ${pick(s + 3)} ${words.slice(0, 6).join(' ')}.`);
    return {
      url: `https://news.example/${salt}/${c + 1}/${n + 1}`,
      sourceId: null,
      title: `${place}: ${pick(0)} ${pick(1)} ${pick(2)} (report ${n + 1})`,
      // The salt in the text too: another set's articles are never answered from the response cache.
      body: `${sentences.join(' ')}${opts.salt ? ` Filed as ${opts.salt}.` : ''}`,
      topic: opts.withTopics === false ? null : TOPICS[c],
      publishedAt: new Date(opts.dayMs + ((i * 7919) % (20 * 3600)) * 1000),
      sourceName: `Source ${(i % 5) + 1}`,
    };
  });
}
