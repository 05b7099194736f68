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
const num = (min: number, max: number, description: string) => z.number().min(min).max(max).optional().meta({ description });
// Not .int(): zod's int refuses 2^64 as "not a whole number"; it is a whole number, out of range.
const whole = (min: number, max: number, description: string) =>
  z.number().refine(Number.isInteger, 'must be a whole number').min(min).max(max).optional().meta({ type: 'integer', description });

/**
 * f5's per-request overrides of its defaults (nfe_step 32, cfg_strength 2, target_rms 0.1,
 * cross_fade_duration 0.15, sway_sampling_coef -1). The seed stops at 2^53-1: past it a JSON
 * number cannot be read back exactly, and a seed that cannot be replayed is no seed.
 */
export const f5OptionsSchema = z.object({
  nfe_step: whole(4, 64, 'f5: flow steps (default 32); fewer is faster and rougher.'),
  cfg_strength: num(0, 10, 'f5: classifier-free guidance (default 2.0).'),
  target_rms: num(0.001, 1, 'f5: loudness the reference is brought to (default 0.1).'),
  cross_fade_duration: num(0, 1, 'f5: seconds chunks cross-fade over (default 0.15).'),
  sway_sampling_coef: num(-1, 1, 'f5: sway sampling (default -1.0).'),
  seed: whole(0, Number.MAX_SAFE_INTEGER, 'f5: the same seed, text and reference give the same audio; without one a random seed is used and answered.'),
  fix_duration: num(0.1, 3600, "f5: seconds of reference plus speech, instead of F5's own estimate."),
  remove_silence: z.boolean({ error: 'must be true or false' }).optional().meta({ description: "f5: cut long pauses (the chunks' spans are then not known to the aligners)." }),
});
export const F5_OPTIONS = Object.keys(f5OptionsSchema.shape) as (keyof z.infer<typeof f5OptionsSchema>)[];

export function ttsBodySchema(maxTextChars: number) {
  return z
    .object({
      text: z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).superRefine((text, ctx) => {
        const length = contentLength(text); // blanks as both sides trim them (src/text/blank.ts)
        const raw = codePointLength(text);
        // Blanks only are well-formed text with nothing to speak: 422 NO_SPEECH (assertSpeakable).
        if (raw === 0) ctx.addIssue({ code: 'custom', message: 'must not be empty' });
        else if (length > maxTextChars) ctx.addIssue({ code: 'custom', message: `is ${length} characters; the limit is ${maxTextChars}` });
        // Surrounding whitespace does not count, within reason.
        else if (raw > 2 * maxTextChars) ctx.addIssue({ code: 'custom', message: `is ${raw} characters with its surrounding whitespace; the limit is ${2 * maxTextChars}` });
      }).meta({ description: 'The text to speak: 1 to VOICECUE_MAX_TEXT_CHARS (default 20000) characters (code points) after trimming.', minLength: 1 }),
      engine: z.enum(['espeak', 'f5'], { error: 'must be one of: espeak, f5' }).optional().meta({ description: 'Default VOICECUE_DEFAULT_ENGINE (espeak). f5 clones the voice of ref_audio (multipart).' }),
      voice: z.string({ error: 'must be a string' }).regex(VOICE_NAME, 'must be a voice name such as en-us or en-us+f3').optional()
        .meta({ description: "An eSpeak NG voice such as en-us, de or en-us+f3 (default VOICECUE_DEFAULT_VOICE, en-us); with engine f5, a stored voice's id (POST /voices)." }),
      language: z.string({ error: 'must be a string' }).regex(LANGUAGE, 'must be a language code such as en or en-us').optional()
        .meta({ description: 'A language code; picks the voice when voice is not given, and the aligners that can run.' }),
      // 1e309 in JSON is a number past a double's range: it arrives as Infinity and is out of range, not "not a number".
      speed: z
        .number({ error: (iss) => (iss.input === Infinity ? 'must be at most 2.0' : iss.input === -Infinity ? 'must be at least 0.5' : 'must be a number') })
        .min(0.5, 'must be at least 0.5')
        .max(2, 'must be at most 2.0')
        .default(1)
        .meta({ description: '0.5 (slower) to 2.0 (faster).' }),
      return_word_timings: z.boolean({ error: 'must be true or false' }).default(true).meta({ description: 'Include the words in the answer; subtitle files are written either way.' }),
      timing_method: z.enum(TIMING_METHODS, { error: `must be one of: ${TIMING_METHODS.join(', ')}` }).default('auto').meta({
        description: "Who times the words: auto tries the engine's own timings, then whisperx, pocketsphinx, dtw and google, falling through on failure; any other value runs only that step. When none can, the audio is still delivered (201) with timing.error, no words and no subtitle files.",
      }),
      /** The audio kept beside the WAV and answered with Accept: audio/*. */
      audio_format: z.enum(AUDIO_FORMATS, { error: `must be one of: ${AUDIO_FORMATS.join(', ')}` }).default('wav')
        .meta({ description: 'The audio kept beside the WAV (ffmpeg) and answered with `Accept: audio/*`; `pcm` is 24 kHz 16-bit mono little-endian.' }),
      ...subtitleOptionsSchema.shape,
      ...f5OptionsSchema.shape,
      /** The reference's transcript: sent with ref_audio (multipart); empty lets F5 transcribe it where its ASR model is cached. */
      ref_text: z.string({ error: 'must be a string' }).max(2000, 'must be at most 2000 characters').optional()
        .meta({ description: 'f5, multipart only: the transcript of ref_audio; empty lets F5 transcribe it where its ASR model is cached.' }),
    }, { error: 'must be a JSON object' })
    .strict()
    .meta({ examples: [{ text: 'Hello, world.', voice: 'en-us', timing_format: 'srt' }] });
}

export type TtsBody = z.infer<ReturnType<typeof ttsBodySchema>>;
