/** Migrations in order. Listed explicitly (not globbed) so SWC, ts-node and compiled JS all load them. */
import { LlmCallLogAndCache1763900000000 } from './1763900000000-LlmCallLogAndCache';
import { ScriptIngestion1763900100000 } from './1763900100000-ScriptIngestion';
import { RunDbStats1763900200000 } from './1763900200000-RunDbStats';
import { RunReports1763900300000 } from './1763900300000-RunReports';
import { LlmCallKey1763900450000 } from './1763900450000-LlmCallKey';
import { StorySessions1764100300000 } from './1764100300000-StorySessions';
import { NewsStories1764100000000 } from './1764100000000-NewsStories';
import { ProviderBatches1764100100000 } from './1764100100000-ProviderBatches';
import { Screenplays1764100200000 } from './1764100200000-Screenplays';
import { SessionSummaries1764100600000 } from './1764100600000-SessionSummaries';
import { ScreenplayRequests1764100700000 } from './1764100700000-ScreenplayRequests';
import { SessionSettings1764100800000 } from './1764100800000-SessionSettings';
import { ScreenplayRunsByStory1764100900000 } from './1764100900000-ScreenplayRunsByStory';
import { StorySearchDocument1764101000000 } from './1764101000000-StorySearchDocument';

export const migrations = [LlmCallLogAndCache1763900000000, ScriptIngestion1763900100000, RunDbStats1763900200000, RunReports1763900300000, LlmCallKey1763900450000,
  NewsStories1764100000000,
  StorySessions1764100300000,
  ProviderBatches1764100100000,
  Screenplays1764100200000,
  SessionSummaries1764100600000,
  ScreenplayRequests1764100700000,
  SessionSettings1764100800000,
  ScreenplayRunsByStory1764100900000,
  StorySearchDocument1764101000000,
];
