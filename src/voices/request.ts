import { z } from 'zod';
import { ttsBodySchema } from '../tts/request.js';

const tts = ttsBodySchema(1).shape;
const name = z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters')
  .meta({ description: 'What people call it: 1 to 100 characters.' });
const refText = z.string({ error: 'must be a string' }).max(2000, 'must be at most 2000 characters')
  .meta({ description: "The recording's transcript; empty lets F5 transcribe it at each use, where its ASR model is cached (slower)." });

/** POST /voices' form fields besides the `audio` file. */
export const voiceFieldsSchema = z
  .object({ name, ref_text: refText.default(''), language: tts.language })
  .strict();

/** PATCH /voices/:id: a new name, a corrected transcript, or both. */
export const voiceChangeSchema = z
  .object({ name: name.optional(), ref_text: refText.optional() }, { error: 'must be a JSON object' })
  .strict()
  .refine((c) => c.name !== undefined || c.ref_text !== undefined, 'must change name or ref_text')
  .meta({ examples: [{ name: 'Narrator, warm' }], minProperties: 1 });
