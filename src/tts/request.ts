import { z } from 'zod';
import { VOICE_NAME } from '../config.js';
import { subtitleOptionsSchema } from '../subtitles/index.js';
import { contentLength } from '../text/blank.js';
import { TIMING_METHODS } from '../pipeline/words.js';
import { AUDIO_FORMATS } from '../audio/transcode.js';

/** Code points, not UTF-16 units: an emoji is one character to the person who typed it. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

const LANGUAGE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$/;

// Messages from parseOrThrow's describe(), which names the bounds (and reads 1e309 as past the maximum).
const num = (min: number, max: number) => z.number().min(min).max(max).optional();
// Not .int(): zod's int refuses 2^64 as "not a whole number"; it is a whole number, out of range.
const whole = (min: number, max: number) => z.number().refine(Number.isInteger, 'must be a whole number').min(min).max(max).optional();

/**
 * f5's per-request overrides of its defaults (nfe_step 32, cfg_strength 2, target_rms 0.1,
 * cross_fade_duration 0.15, sway_sampling_coef -1). The seed stops at 2^53-1: past it a JSON
 * number cannot be read back exactly, and a seed that cannot be replayed is no seed.
 */
export const f5OptionsSchema = z.object({
  nfe_step: whole(4, 64),
  cfg_strength: num(0, 10),
  target_rms: num(0.001, 1),
  cross_fade_duration: num(0, 1),
  sway_sampling_coef: num(-1, 1),
  seed: whole(0, Number.MAX_SAFE_INTEGER),
  fix_duration: num(0.1, 3600),
  remove_silence: z.boolean({ error: 'must be true or false' }).optional(),
});
export const F5_OPTIONS = Object.keys(f5OptionsSchema.shape) as (keyof z.infer<typeof f5OptionsSchema>)[];

export function ttsBodySchema(maxTextChars: number) {
  return z
    .object({
      text: z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).superRefine((text, ctx) => {
        const length = contentLength(text); // blanks as both sides trim them (src/text/blank.ts)
        const raw = codePointLength(text);
        if (length === 0) ctx.addIssue({ code: 'custom', message: 'must not be empty or only whitespace' });
        else if (length > maxTextChars) ctx.addIssue({ code: 'custom', message: `is ${length} characters; the limit is ${maxTextChars}` });
        // Surrounding whitespace does not count, within reason.
        else if (raw > 2 * maxTextChars) ctx.addIssue({ code: 'custom', message: `is ${raw} characters with its surrounding whitespace; the limit is ${2 * maxTextChars}` });
      }),
      engine: z.enum(['espeak', 'f5'], { error: 'must be one of: espeak, f5' }).optional(),
      voice: z.string({ error: 'must be a string' }).regex(VOICE_NAME, 'must be a voice name such as en-us or en-us+f3').optional(),
      language: z.string({ error: 'must be a string' }).regex(LANGUAGE, 'must be a language code such as en or en-us').optional(),
      // 1e309 in JSON is a number past a double's range: it arrives as Infinity and is out of range, not "not a number".
      speed: z
        .number({ error: (iss) => (iss.input === Infinity ? 'must be at most 2.0' : iss.input === -Infinity ? 'must be at least 0.5' : 'must be a number') })
        .min(0.5, 'must be at least 0.5')
        .max(2, 'must be at most 2.0')
        .default(1),
      return_word_timings: z.boolean({ error: 'must be true or false' }).default(true),
      timing_method: z.enum(TIMING_METHODS, { error: `must be one of: ${TIMING_METHODS.join(', ')}` }).default('auto'),
      /** The audio kept beside the WAV and answered with Accept: audio/*. */
      audio_format: z.enum(AUDIO_FORMATS, { error: `must be one of: ${AUDIO_FORMATS.join(', ')}` }).default('wav'),
      ...subtitleOptionsSchema.shape,
      ...f5OptionsSchema.shape,
      /** The reference's transcript: sent with ref_audio (multipart); empty lets F5 transcribe it where its ASR model is cached. */
      ref_text: z.string({ error: 'must be a string' }).max(2000, 'must be at most 2000 characters').optional(),
    }, { error: 'must be a JSON object' })
    .strict();
}

export type TtsBody = z.infer<ReturnType<typeof ttsBodySchema>>;
