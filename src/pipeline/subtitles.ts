import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FORMATS, renderSubtitles, type Format, type TimingReport } from '../subtitles/index.js';
import type { SubtitleOptionsInput } from '../subtitles/options.js';
import type { Word } from '../types.js';

/**
 * Render the subtitle files next to the audio (the JSON words are always kept, they are the
 * result itself); returns the formats written and what the display rules could not meet.
 */
export function writeSubtitles(
  dir: string,
  words: Word[],
  options: SubtitleOptionsInput,
  media: { duration: number; text: string; language: string | null },
): { formats: Format[]; report: TimingReport } {
  const { files, report } = renderSubtitles(words, options, media, ['json']);
  const formats = Object.keys(files) as Format[];
  // Written synchronously: a few small files cost microseconds each, while the thread pool's
  // three round trips a file (open, write, close) cost milliseconds on the hot path.
  for (const f of formats) writeFileSync(join(dir, FORMATS[f].fileName), files[f]!);
  return { formats, report };
}
