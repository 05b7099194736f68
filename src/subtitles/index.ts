import type { Word } from '../types.js';
import { renderAss } from './ass.js';
import { audioMs, buildCues, wordTimes, type Cue, type WordTime } from './cues.js';
import { renderCsv } from './csv.js';
import { renderJson } from './json.js';
import { FORMAT_NAMES, subtitleOptionsSchema, type Format, type SubtitleOptions, type SubtitleOptionsInput } from './options.js';
import { renderSrt } from './srt.js';
import { renderVtt } from './vtt.js';
import { timeCues, type CueTiming, type TimingReport } from './timing.js';
import { isLanguageTag, renderTtml } from './ttml.js';

/** Everything a format needs; built once per request and shared by the renderers. */
export interface RenderInput {
  words: readonly Word[];
  /** The words' times in ms, clamped to the audio (the same times the cues use). */
  times: readonly WordTime[];
  cues: readonly Cue[];
  /** Each cue's reading figures, for the JSON file. */
  timings: readonly CueTiming[];
  options: SubtitleOptions;
  durationMs: number;
  /** The language of the speech as a BCP 47 tag, or "und". */
  lang: string;
}

export interface FormatSpec {
  fileName: string;
  contentType: string;
  render: (input: RenderInput) => string;
}

/** File name, content type and renderer for each format. */
export const FORMATS: Readonly<Record<Format, FormatSpec>> = {
  srt: { fileName: 'subtitles.srt', contentType: 'application/x-subrip; charset=utf-8', render: (r) => renderSrt(r.cues) },
  vtt: { fileName: 'subtitles.vtt', contentType: 'text/vtt; charset=utf-8', render: (r) => renderVtt(r.cues) },
  ass: {
    fileName: 'subtitles.ass',
    contentType: 'text/x-ssa; charset=utf-8',
    render: (r) => renderAss(r.cues, r.options, r.durationMs),
  },
  ttml: { fileName: 'subtitles.ttml', contentType: 'application/ttml+xml', render: (r) => renderTtml(r.cues, { lang: r.lang }) },
  csv: { fileName: 'words.csv', contentType: 'text/csv; charset=utf-8; header=present', render: (r) => renderCsv(r.words, r.times) },
  // JSON is always UTF-8 (RFC 8259) and defines no charset parameter.
  json: { fileName: 'words.json', contentType: 'application/json', render: (r) => renderJson(r.words, r.times, r.cues, r.timings) },
};

export interface RenderResult {
  cues: Cue[];
  files: Partial<Record<Format, string>>;
  /** Which display rules were applied, and the shares of cues they could not be met for. */
  report: TimingReport;
}

/**
 * Builds the cues once and renders the requested formats (`all`: the six). `opts` may be raw
 * request options or already parsed ones; invalid values throw a ZodError naming the field.
 * `duration` is the audio's length in seconds; `text` is the request text the words' spans
 * point into, used to show punctuation between words. `also` names formats rendered whatever
 * timing_format says (the service always keeps the JSON words). `language` (a request's, or
 * the voice's) becomes the TTML file's xml:lang when it is shaped like a language tag.
 */
export function renderSubtitles(
  words: readonly Word[],
  opts: SubtitleOptionsInput,
  audio: { duration: number; text?: string | undefined; language?: string | null | undefined },
  also: readonly Format[] = [],
): RenderResult {
  const options = subtitleOptionsSchema.parse(opts);
  const durationMs = audioMs(audio.duration, words);
  const { cues, timings, report } = timeCues(buildCues(words, audio, options), options, durationMs);
  const lang = audio.language && isLanguageTag(audio.language) ? audio.language : 'und';
  const input: RenderInput = { words, times: wordTimes(words, durationMs), cues, timings, options, durationMs, lang };
  const wanted = options.timing_format === 'all' ? FORMAT_NAMES : FORMAT_NAMES.filter((f) => f === options.timing_format || also.includes(f));
  const files: Partial<Record<Format, string>> = {};
  for (const format of wanted) files[format] = FORMATS[format].render(input);
  return { cues, files, report };
}

export { buildCues, wordTimes, minCueMs, CUE_DEFAULTS, type Cue, type CuePart, type CueOptions, type WordTime } from './cues.js';
export { displayWidth } from './tokens.js';
export { timeCues, frameRate, cueChars, DEFAULT_FRAME_RATE, type CueTiming, type TimingReport, type TimingRules } from './timing.js';
export { toAssColour, escapeAss } from './ass.js';
export { escapeVtt } from './vtt.js';
export { escapeSrt } from './srt.js';
export { renderTtml, escapeXml, ttmlTime, IMSC11_TEXT_PROFILE } from './ttml.js';
export { csvField, CSV_HEADER } from './csv.js';
export {
  FORMAT_NAMES,
  formatSchema,
  timingFormatSchema,
  subtitleOptionsSchema,
  type Format,
  type TimingFormat,
  type SubtitleOptions,
  type SubtitleOptionsInput,
} from './options.js';
