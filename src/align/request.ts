import { z } from 'zod';
import { subtitleOptionsSchema } from '../subtitles/index.js';
import { TIMING_METHODS } from '../pipeline/words.js';
import { ttsBodySchema } from '../tts/request.js';

/** Every step of the chain but the engine's own timings: an upload has none. */
export const ALIGN_METHODS = TIMING_METHODS.filter((m) => m !== 'native');

/** POST /align's form fields besides the `audio` file; multipart sends them as strings (see formValues). */
export function alignFieldsSchema(maxTextChars: number) {
  const tts = ttsBodySchema(maxTextChars).shape;
  return z
    .object({
      text: tts.text,
      language: tts.language,
      timing_method: z.enum(ALIGN_METHODS, { error: `must be one of: ${ALIGN_METHODS.join(', ')}` }).default('auto'),
      return_word_timings: tts.return_word_timings,
      ...subtitleOptionsSchema.shape,
    })
    .strict();
}

export type AlignFields = z.infer<ReturnType<typeof alignFieldsSchema>>;
