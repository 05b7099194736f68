/**
 * POST /v1/audio/speech's body as OpenAI defines it (openai-node's SpeechCreateParams), and what
 * GET /v1/models and /v1/audio/voices answer. Exported for the OpenAPI generation.
 */
import { z } from 'zod';
import { AUDIO_FORMATS } from '../audio/transcode.js';
import { codePointLength } from '../tts/request.js';
import { contentLength, NOT_BLANK_PATTERN } from '../text/blank.js';

/** What OpenAI accepts for `speed`; engines get it clamped to what they can (espeak 0.5–2.0). */
export const OPENAI_SPEED = { min: 0.25, max: 4 } as const;
export const STREAM_FORMATS = ['audio', 'sse'] as const;

export function speechBodySchema(maxInput: number) {
  return z.object({
    model: z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).min(1, 'must not be empty').max(100),
    input: z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).superRefine((text, ctx) => {
      const length = contentLength(text);
      if (length === 0) ctx.addIssue({ code: 'custom', message: 'must not be empty or only whitespace' });
      else if (length > maxInput) ctx.addIssue({ code: 'custom', message: `is ${length} characters; the limit is ${maxInput}` });
      else if (codePointLength(text) > 2 * maxInput) ctx.addIssue({ code: 'custom', message: `is too long with its surrounding whitespace; the limit is ${2 * maxInput}` });
    }).meta({ description: 'The text to speak: at most VOICECUE_OPENAI_MAX_INPUT (default 4096) characters.', minLength: 1, pattern: NOT_BLANK_PATTERN }),
    voice: z.union(
      [z.string().min(1).max(200), z.object({ id: z.string({ error: 'voice.id must be a string' }).min(1).max(200) })],
      { error: (iss) => (iss.input === undefined ? 'is required' : 'must be a voice name or {"id": "..."}') },
    ),
    instructions: z.string({ error: 'must be a string' }).max(4096, 'must be at most 4096 characters').optional(),
    response_format: z.enum(AUDIO_FORMATS, { error: `must be one of: ${AUDIO_FORMATS.join(', ')}` }).default('mp3'),
    speed: z
      .number({ error: 'must be a number' })
      .min(OPENAI_SPEED.min, `must be at least ${OPENAI_SPEED.min}`)
      .max(OPENAI_SPEED.max, `must be at most ${OPENAI_SPEED.max}`)
      .default(1),
    /** Absent: the whole file once made. `audio`: the audio as it is produced; `sse`: speech.audio.delta events. */
    stream_format: z.enum(STREAM_FORMATS, { error: 'must be one of: audio, sse' }).optional(),
  }, { error: 'must be a JSON object' }).meta({ examples: [{ model: 'tts-1', voice: 'alloy', input: 'Hello, world.', response_format: 'mp3' }] });
}
export type SpeechBody = z.infer<ReturnType<typeof speechBodySchema>>;

export const modelSchema = z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() });
export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) });

export const voiceSchema = z.object({
  id: z.string(),
  name: z.string(),
  engine: z.enum(['espeak', 'f5']),
  /** The eSpeak NG voice it speaks with (OpenAI names), or the stored voice's own. */
  voice: z.string(),
});
export const voiceListSchema = z.object({ voices: z.array(voiceSchema) });

/** OpenAI's error shape, answered on /v1/* only. */
export const openaiErrorSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});
export type OpenAIErrorBody = z.infer<typeof openaiErrorSchema>;
