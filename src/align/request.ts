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

/**
 * Form values typed as the schema expects them: "1.5" a number, "true" a boolean, where the
 * field is one; anything else is left as sent, so the schema names the field that is wrong.
 */
export function formValues(schema: z.ZodObject, fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    const type = Object.hasOwn(schema.shape, name) ? baseType(schema.shape[name] as z.ZodType) : 'string';
    const trimmed = value.trim();
    if (type === 'number' && trimmed !== '' && Number.isFinite(Number(trimmed))) out[name] = Number(trimmed);
    else if (type === 'boolean' && (trimmed === 'true' || trimmed === 'false')) out[name] = trimmed === 'true';
    else out[name] = value;
  }
  return out;
}

function baseType(field: z.ZodType): string {
  let def = field._zod.def as { type: string; innerType?: z.ZodType };
  while (def.innerType) def = def.innerType._zod.def as typeof def;
  return def.type;
}
