/**
 * The request pipeline: stage → audio (engine) → words (aligner chain) → subtitles → encode →
 * publish. Each step is its own module; a route composes the steps it needs (/tts all of them;
 * /align everything but the engine: its audio is decoded from the upload instead).
 */
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeReference, decodeToWav } from '../audio/decode.js';
import { ApiError } from '../errors.js';
import type { Format, TimingReport } from '../subtitles/index.js';
import type { SubtitleOptionsInput } from '../subtitles/options.js';
import type { Word } from '../types.js';
import { AUDIO_FILE, produceAudio, type AudioListener, type AudioRequest } from './audio.js';
import { timed, type StepContext } from './context.js';
import { encode, type Encoding } from './encode.js';
import { staged } from './stage.js';
import { writeSubtitles } from './subtitles.js';
import { timeWords, type Timing, type TimingMethod } from './words.js';

export { AUDIO_FILE, type AudioListener } from './audio.js';
export type { StepContext } from './context.js';
export type { Timing } from './words.js';

export interface SpeechRequest extends AudioRequest {
  subtitles: SubtitleOptionsInput;
  timingMethod?: TimingMethod;
  /** The audio kept and answered besides the WAV (default wav: the WAV only). */
  audioFormat?: Encoding;
  /** f5: a reference was uploaded as UPLOAD_FILE into the staging folder; this is its transcript. */
  uploadedReference?: { text: string };
  /** f5: a stored voice (POST /voices): its reference is copied into the staging folder. */
  storedVoice?: { id: string; text: string; audioPath: string };
}

export interface SpeechResult {
  id: string;
  engine: string;
  voice: string;
  sample_rate: number;
  samples: number;
  duration: number;
  words: Word[];
  timing: Timing;
  /** The subtitle formats written next to the audio; none when no aligner could time the words. */
  formats: Format[];
  /** The display rules applied to the cues, and the shares of cues they could not be met for; null without words. */
  subtitles: TimingReport | null;
  audio: { file: string; contentType: string; bytes: number; format: Encoding };
  /** f5: the seed it spoke with, what the installed F5 does not take, its notes, the reference seconds kept. */
  engineReport: { seed?: number; dropped?: string[]; notes?: string[]; reference_s?: number };
}

const LANGUAGE_LIKE = /^[a-z]{2,3}(?:[-_][a-z0-9]{1,8})*$/i;

/** What a streamed request hears while its speech is made: its id first, then each chunk of audio. */
export interface SpeechListener extends AudioListener {
  staged?(id: string): void;
}

/** The reference's name in the staging folder while it is spoken from; removed once the audio is made. */
const REFERENCE_FILE = 'reference.wav';

/**
 * Text to speech, published whole under a new id; with a listener, the audio is handed over as it
 * is produced. A multipart request passes `receive`, which reads the body into the staging folder
 * (the reference upload) and answers the request.
 */
export async function speak(ctx: StepContext, request: SpeechRequest | ((dir: string) => Promise<SpeechRequest>), listener?: SpeechListener): Promise<SpeechResult> {
  const started = performance.now();
  const { id, value } = await staged(ctx.store, async (id, dir) => {
    listener?.staged?.(id);
    const req = typeof request === 'function' ? await timed(ctx, 'upload', () => request(dir)) : request;
    let referenceS: number | undefined;
    let audioReq: AudioRequest = { engine: req.engine, text: req.text, voice: req.voice, language: req.language, speed: req.speed, ...(req.options ? { options: req.options } : {}) };
    if (req.uploadedReference) {
      const upload = join(dir, UPLOAD_FILE);
      referenceS = (await timed(ctx, 'reference', () => decodeReference(upload, join(dir, REFERENCE_FILE), ctx.signal))).duration;
      await rm(upload);
      audioReq = { ...audioReq, reference: { audio_path: join(dir, REFERENCE_FILE), text: req.uploadedReference.text } };
    } else if (req.storedVoice) {
      // A copy: the voice may be deleted while the job waits for the GPU.
      const { id: voice, text, audioPath } = req.storedVoice;
      await copyFile(audioPath, join(dir, REFERENCE_FILE)).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' ? new ApiError('UNKNOWN_VOICE', `voice ${voice} was deleted`) : err;
      });
      audioReq = { ...audioReq, reference: { audio_path: join(dir, REFERENCE_FILE), text, voice } };
    }
    const audio = await produceAudio(ctx, dir, audioReq, listener);
    // The caller's voice is not kept with the result.
    await rm(join(dir, REFERENCE_FILE), { force: true });
    for (const [name, ms] of Object.entries(audio.timings_ms)) ctx.timings[`worker_${name}`] = ms;
    const language = req.language ?? audio.voice.split('+')[0]!;
    const { words, timing } = await timeWords(ctx, {
      // A voice named like a language (en-us, en-us+f3) tells the aligners the language; a cloned voice's name does not.
      audioPath: join(dir, AUDIO_FILE), text: req.text, language: req.language ?? (LANGUAGE_LIKE.test(language) ? language : null), engine: req.engine, engineWords: audio.words,
      chunks: audio.chunks, method: req.timingMethod ?? 'auto',
    });
    // Without timed words the audio is still delivered, with no subtitle files: never invented times.
    const { formats, report } = words.length === 0
      ? { formats: [] as Format[], report: null }
      : await timed(ctx, 'subtitles', () => writeSubtitles(dir, words, req.subtitles, { duration: audio.duration, text: req.text, language }));
    const encoded = await timed(ctx, 'encode', () => encode(dir, req.audioFormat ?? 'wav', ctx.signal));
    return { audio, words, timing, formats, report, encoded, referenceS };
  });
  ctx.timings.total = Math.round((performance.now() - started) * 100) / 100;
  const { audio, words, timing, formats, report, encoded, referenceS } = value;
  ctx.metrics?.synthesized(audio.engine, (audio.timings_ms.synthesize ?? ctx.timings.worker_round_trip ?? 0) / 1000, audio.duration);
  countAlignment(ctx, timing);
  const { seed, dropped, notes } = audio;
  return {
    id, engine: audio.engine, voice: audio.voice, sample_rate: audio.sample_rate, samples: audio.samples, duration: audio.duration,
    words, timing, formats, subtitles: report, audio: encoded,
    engineReport: { ...(seed !== undefined ? { seed } : {}), ...(dropped ? { dropped } : {}), ...(notes ? { notes } : {}), ...(referenceS !== undefined ? { reference_s: referenceS } : {}) },
  };
}

export interface AlignRequest {
  text: string;
  language: string | null;
  timingMethod: TimingMethod;
  subtitles: SubtitleOptionsInput;
}

export type AlignResult = Omit<SpeechResult, 'engine' | 'voice' | 'subtitles' | 'engineReport'> & { subtitles: TimingReport };

/** The upload's name in the staging folder: a fixed name, never the client's. */
export const UPLOAD_FILE = 'upload.bin';

/**
 * Audio the client brought, timed against its script. `receive` writes the upload into the
 * staging folder as UPLOAD_FILE and returns the fields sent with it; the upload is decoded once
 * to the WAV the aligners read and then removed. No aligner able to time it is a 503 (nothing is
 * kept): unlike /tts there is no audio to deliver without the words.
 */
export async function align(ctx: StepContext, receive: (dir: string) => Promise<AlignRequest>): Promise<AlignResult> {
  const started = performance.now();
  const { id, value } = await staged(ctx.store, async (_id, dir) => {
    const req = await timed(ctx, 'upload', () => receive(dir));
    const upload = join(dir, UPLOAD_FILE);
    const decoded = await timed(ctx, 'decode', () => decodeToWav(upload, join(dir, AUDIO_FILE), ctx.config.align.maxAudioS, ctx.signal));
    await rm(upload);
    ctx.progress?.({ stage: 'decode', duration: decoded.duration });
    const { words, timing } = await timeWords(ctx, {
      audioPath: join(dir, AUDIO_FILE), text: req.text, language: req.language, engine: 'upload', engineWords: [], method: req.timingMethod,
    });
    if (words.length === 0) throw new ApiError('TIMING_UNAVAILABLE', timing.error!.message, {}, { skipped: timing.skipped });
    const { formats, report } = await timed(ctx, 'subtitles', () =>
      writeSubtitles(dir, words, req.subtitles, { duration: decoded.duration, text: req.text, language: req.language }));
    const encoded = await encode(dir, 'wav');
    return { decoded, words, timing, formats, report, encoded };
  });
  ctx.timings.total = Math.round((performance.now() - started) * 100) / 100;
  const { decoded, words, timing, formats, report, encoded } = value;
  countAlignment(ctx, timing);
  return { id, sample_rate: decoded.sampleRate, samples: decoded.samples, duration: decoded.duration, words, timing, formats, subtitles: report, audio: encoded };
}

/** The aligner that timed the words, and its seconds (the engine's own timings cost none). */
function countAlignment(ctx: StepContext, timing: Timing): void {
  const ms = timing.aligner ? ctx.timings[`align_${timing.aligner}`] : undefined;
  if (timing.aligner && ms !== undefined) ctx.metrics?.aligned(timing.aligner, ms / 1000);
}
