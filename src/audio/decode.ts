/**
 * Decoding an uploaded recording (any format ffmpeg reads) into the WAV every aligner reads:
 * 16-bit mono at 24 kHz, the engines' own rate. Only real audio containers are opened, from a
 * file and nothing else, so a playlist or concat file cannot make ffmpeg read other files.
 */
import { execa } from 'execa';
import { open, rename } from 'node:fs/promises';
import { ApiError } from '../errors.js';
import { clip } from '../http/clip.js';
import { FFMPEG, PCM_RATE } from './transcode.js';

/** Demuxers of audio formats people upload (mov covers mp4 and m4a; matroska covers webm). */
const DEMUXERS = 'wav,w64,mp3,flac,ogg,mov,mp4,m4a,matroska,webm,aac,aiff,caf,au,amr,wv,ape,tta,mpc,asf,wma,opus';

export interface Decoded {
  samples: number;
  sampleRate: number;
  duration: number;
}

/**
 * Decodes the first audio stream of `input` into `output`. Decoding stops just past `maxS`
 * seconds, so an over-long file costs no more than the limit to refuse (413 AUDIO_TOO_LONG).
 * A file that is not audio is 422 INVALID_AUDIO with ffmpeg's reason.
 */
export async function decodeToWav(input: string, output: string, maxS: number, signal: AbortSignal): Promise<Decoded> {
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-protocol_whitelist', 'file', '-format_whitelist', DEMUXERS, '-i', input,
    '-map', '0:a:0', '-vn', '-sn', '-dn', '-map_metadata', '-1',
    '-ac', '1', '-ar', String(PCM_RATE), '-c:a', 'pcm_s16le', '-t', String(maxS + 0.5), '-f', 'wav', output,
  ];
  await ffmpeg(args, signal);
  const samples = await wavSamples(output);
  const duration = samples / PCM_RATE;
  if (samples === 0) throw new ApiError('INVALID_AUDIO', 'audio holds no sound: its audio stream is empty');
  if (duration > maxS) throw new ApiError('AUDIO_TOO_LONG', `audio is longer than the limit of ${maxS} s`);
  return { samples, sampleRate: PCM_RATE, duration };
}

/**
 * Runs ffmpeg to its end; answers its stderr. A failure is 422 INVALID_AUDIO with ffmpeg's last
 * line (without the file's path), a missing ffmpeg 503, a client gone CANCELLED.
 */
async function ffmpeg(args: string[], signal: AbortSignal): Promise<string> {
  try {
    const { stderr } = await execa(FFMPEG, args, { stdin: 'ignore', stdout: 'ignore', cancelSignal: signal, forceKillAfterDelay: 1000, maxBuffer: { stderr: 1024 * 1024 } });
    return String(stderr);
  } catch (err) {
    const e = err as { isCanceled?: boolean; code?: string; stderr?: string };
    if (e.isCanceled || signal.aborted) throw new ApiError('CANCELLED', 'the client went away; decoding stopped');
    if (e.code === 'ENOENT') throw new ApiError('ENCODER_UNAVAILABLE', `ffmpeg is not installed (${FFMPEG}): uploads cannot be decoded`);
    const said = String(e.stderr ?? '').trim().split('\n').pop() ?? '';
    throw new ApiError('INVALID_AUDIO', `audio could not be decoded as a recording${said ? `: ${clip(said.replace(/^[^:]*: /, ''), 160)}` : ''}`);
  }
}

/** Samples in a 16-bit mono WAV that ffmpeg wrote to a file (it seeks back to fill in the data size). */
async function wavSamples(path: string): Promise<number> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(size, 4096));
    await file.read(head, 0, head.length, 0);
    let at = 12;
    while (at + 8 <= head.length) {
      const id = head.toString('ascii', at, at + 4);
      const length = head.readUInt32LE(at + 4);
      if (id === 'data') return Math.floor(Math.min(length, size - at - 8) / 2);
      at += 8 + length + (length % 2);
    }
    return 0;
  } finally {
    await file.close();
  }
}

/** F5 clones from at most 12 s of reference (longer makes it slow and drift); longer uploads are cut at a pause. */
export const REFERENCE_MAX_S = 12;
/** Past this a reference is refused rather than cut: it is not a short sample of a voice. */
export const REFERENCE_UPLOAD_MAX_S = 60;
/** A stored voice's upload (POST /voices): 1 to 30 s. */
export const VOICE_UPLOAD_S = { min: 1, max: 30 } as const;

/**
 * A voice reference for f5: decoded to mono 24 kHz, and over REFERENCE_MAX_S cut at the last
 * pause between 3 s and 12 s (ffmpeg's silencedetect), else at 12 s, so no word is cut in half
 * where a pause allows. Answers the seconds kept and the upload's own.
 */
export async function decodeReference(input: string, output: string, signal: AbortSignal, maxS: number = REFERENCE_UPLOAD_MAX_S): Promise<{ duration: number; uploaded: number }> {
  const { duration: uploaded } = await decodeToWav(input, output, maxS, signal);
  if (uploaded <= REFERENCE_MAX_S) return { duration: uploaded, uploaded };
  const stderr = await ffmpeg(['-nostdin', '-hide_banner', '-i', output, '-af', 'silencedetect=noise=-35dB:duration=0.15', '-f', 'null', '-'], signal);
  const pauses = [...stderr.matchAll(/silence_start: (\d+(?:\.\d+)?)/g)].map((m) => Number(m[1])).filter((s) => s >= 3 && s <= REFERENCE_MAX_S);
  const cut = pauses.length ? Math.max(...pauses) + 0.05 : REFERENCE_MAX_S;
  const cutPath = `${output}.cut.wav`;
  await ffmpeg(['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', output, '-t', cut.toFixed(3), '-c:a', 'pcm_s16le', '-f', 'wav', cutPath], signal);
  await rename(cutPath, output);
  return { duration: (await wavSamples(output)) / PCM_RATE, uploaded };
}
