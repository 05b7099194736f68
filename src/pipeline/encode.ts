import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isTranscoded, TRANSCODED, transcodeToFile, type AudioFormat } from '../audio/transcode.js';
import { AUDIO_FILE } from './audio.js';

/** The audio encodings a result can be stored and answered in. */
export const ENCODINGS: Readonly<Record<AudioFormat, { file: string; contentType: string }>> = {
  wav: { file: AUDIO_FILE, contentType: 'audio/wav' },
  ...TRANSCODED,
};
export type Encoding = AudioFormat;

/**
 * Encode: the audio as the client asked for it. Workers write 16-bit PCM WAV, so for `wav`
 * this step only checks the file; other formats are made by ffmpeg into the staging folder,
 * next to the WAV, and published with it (GET /download serves both).
 */
export async function encode(dir: string, encoding: Encoding, signal: AbortSignal = new AbortController().signal): Promise<{ file: string; contentType: string; bytes: number; format: Encoding }> {
  const { file, contentType } = ENCODINGS[encoding];
  if (isTranscoded(encoding)) await transcodeToFile(createReadStream(join(dir, AUDIO_FILE)), encoding, join(dir, file), signal);
  const { size } = await stat(join(dir, file));
  return { file, contentType, bytes: size, format: encoding };
}
