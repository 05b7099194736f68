import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIO_FILE } from './audio.js';

/** The audio encodings a result can be answered in. */
export const ENCODINGS = { wav: { file: AUDIO_FILE, contentType: 'audio/wav' } } as const;
export type Encoding = keyof typeof ENCODINGS;

/**
 * Encode: the audio as the client asked for it. Workers write 16-bit PCM WAV, so for `wav`
 * this step only checks the file; compressed formats (ffmpeg, streamed) join the table here.
 */
export async function encode(dir: string, encoding: Encoding): Promise<{ file: string; contentType: string; bytes: number }> {
  const { file, contentType } = ENCODINGS[encoding];
  const { size } = await stat(join(dir, file));
  return { file, contentType, bytes: size };
}
