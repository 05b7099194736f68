/**
 * Transcoding: the worker's 16-bit PCM into the encodings clients ask for, by ffmpeg through
 * execa. Audio goes in on ffmpeg's stdin and comes out on its stdout as it is encoded, so a
 * streamed answer starts before the input ends and no intermediate file is written per format.
 * ffmpeg is killed when the caller's signal aborts (the client went away).
 */
import { execa, type ResultPromise } from 'execa';
import { Readable, type Writable } from 'node:stream';
import { ApiError } from '../errors.js';

/** OpenAI's set of response formats; `pcm` is raw 24 kHz 16-bit mono little-endian, as OpenAI sends it. */
export const AUDIO_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];
/** The formats made by ffmpeg (wav is the worker's own file). */
export type TranscodedFormat = Exclude<AudioFormat, 'wav'>;

export interface AudioFormatSpec {
  /** The file it is cached as, beside audio.wav. */
  file: string;
  contentType: string;
  /** ffmpeg's output options (codec, rate, muxer). */
  args: readonly string[];
}

export const PCM_RATE = 24_000;

/**
 * Bit rates near OpenAI's; opus and pcm are resampled (opus encodes 8/12/16/24/48 kHz only,
 * OpenAI's pcm is 24 kHz); aac at 48 kHz, where its priming and last-frame padding (ADTS cannot
 * signal them) stay under 50 ms.
 */
export const TRANSCODED: Readonly<Record<TranscodedFormat, AudioFormatSpec>> = {
  mp3: { file: 'audio.mp3', contentType: 'audio/mpeg', args: ['-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3'] },
  opus: { file: 'audio.opus', contentType: 'audio/ogg; codecs=opus', args: ['-ar', '48000', '-c:a', 'libopus', '-b:a', '48k', '-f', 'ogg'] },
  aac: { file: 'audio.aac', contentType: 'audio/aac', args: ['-ar', '48000', '-c:a', 'aac', '-b:a', '96k', '-f', 'adts'] },
  flac: { file: 'audio.flac', contentType: 'audio/flac', args: ['-c:a', 'flac', '-f', 'flac'] },
  pcm: { file: 'audio.pcm', contentType: 'audio/pcm', args: ['-ar', String(PCM_RATE), '-ac', '1', '-c:a', 'pcm_s16le', '-f', 's16le'] },
};

export function isTranscoded(format: string): format is TranscodedFormat {
  return Object.hasOwn(TRANSCODED, format);
}

export const FFMPEG = 'ffmpeg';

/** What the input is: a WAV file's bytes, or headerless s16le PCM at a known rate (a stream being produced). */
export type TranscodeInput = { kind: 'wav' } | { kind: 'pcm'; sampleRate: number };

export interface Transcoder {
  /** Write the input here (end it when done). */
  stdin: Writable;
  /** The encoded audio, as ffmpeg writes it. */
  stdout: Readable;
  /** Resolves when ffmpeg exits 0; rejects with ENGINE_FAILED (or CANCELLED when aborted). */
  done: Promise<void>;
}

/**
 * Starts one ffmpeg that encodes stdin to `format`. `output` is `pipe:1` (stdout, streamed) or
 * a path: a file lets ffmpeg seek back when it finishes, so mp3 gets its LAME header with the
 * encoder delay (players trim it: exact duration) and flac its STREAMINFO sample count.
 */
export function transcoder(format: TranscodedFormat, input: TranscodeInput, signal: AbortSignal, output = 'pipe:1'): Transcoder {
  const inputArgs = input.kind === 'wav' ? ['-f', 'wav'] : ['-f', 's16le', '-ar', String(input.sampleRate), '-ac', '1'];
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    ...inputArgs, '-i', 'pipe:0',
    '-map_metadata', '-1', '-vn', ...TRANSCODED[format].args,
    // Streamed: each packet leaves as soon as it is muxed.
    ...(output === 'pipe:1' ? ['-flush_packets', '1'] : []),
    output,
  ];
  const proc: ResultPromise = execa(FFMPEG, args, {
    stdin: 'pipe', stdout: output === 'pipe:1' ? 'pipe' : 'ignore', stderr: 'pipe',
    buffer: { stdout: false, stderr: true }, encoding: 'buffer', cancelSignal: signal, forceKillAfterDelay: 1000,
    maxBuffer: { stderr: 64 * 1024 },
  });
  const done = proc.then(
    () => undefined,
    (err: { isCanceled?: boolean; stderr?: Uint8Array | string; shortMessage?: string; code?: string }) => {
      if (err.isCanceled || signal.aborted) throw new ApiError('CANCELLED', 'the client went away; transcoding stopped');
      if (err.code === 'ENOENT') throw new ApiError('ENCODER_UNAVAILABLE', `ffmpeg is not installed (${FFMPEG}): only wav can be served`);
      const said = Buffer.from(err.stderr ?? '').toString('utf8').trim().slice(-500);
      throw new ApiError('ENGINE_FAILED', `encoding ${format} failed; it has been logged`, {}, { message: said || err.shortMessage });
    },
  );
  // A write after ffmpeg died must not throw out of the pipe: its exit says what happened.
  proc.stdin!.on('error', () => undefined);
  return { stdin: proc.stdin!, stdout: (proc.stdout as Readable | null) ?? Readable.from([]), done };
}

/** Encodes a whole WAV (a readable of its bytes) into a file at `path` (seekable: see transcoder). */
export async function transcodeToFile(wav: Readable, format: TranscodedFormat, path: string, signal: AbortSignal): Promise<void> {
  const t = transcoder(format, { kind: 'wav' }, signal, path);
  wav.on('error', () => t.stdin.destroy());
  wav.pipe(t.stdin);
  await t.done;
}
