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
      text: tts.text.meta({ description: 'The script: 1 to VOICECUE_MAX_ALIGN_TEXT_CHARS (default 200000) characters after trimming.', minLength: 1 }),
      language: tts.language,
      timing_method: z.enum(ALIGN_METHODS, { error: `must be one of: ${ALIGN_METHODS.join(', ')}` }).default('auto').meta({
        description: "auto tries whisperx, pocketsphinx, dtw, then google; any other value runs only that step. None able to time the words is 503 TIMING_UNAVAILABLE, with each step's reason.",
      }),
      return_word_timings: tts.return_word_timings,
      ...subtitleOptionsSchema.shape,
    })
    .strict();
}

export type AlignFields = z.infer<ReturnType<typeof alignFieldsSchema>>;
