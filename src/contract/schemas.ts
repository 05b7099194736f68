/**
 * The answers' shapes as zod schemas: with the request schemas the routes validate with, they
 * are the one source openapi.yaml is generated from (src/contract/openapi.ts), and tests hold
 * real answers to them.
 */
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors.js';
import { AUDIO_FORMATS } from '../audio/transcode.js';
import { TIMING_METHODS } from '../pipeline/words.js';
import { DOWNLOAD_FORMATS, type DownloadFormat } from '../tts/formats.js';

const int = () => z.number().int();
const nullable = <T extends z.ZodType>(s: T) => s.nullable();

export const errorSchema = z
  .object({
    statusCode: int(),
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
    error: z.string().meta({ description: 'The HTTP status text.' }),
    message: z.string().meta({ description: 'What went wrong, for a person; names the field for validation errors.' }),
  })
  .meta({ examples: [{ statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request', message: 'speed must be at most 2.0' }] });

export const wordSchema = z.object({
  word: z.string().meta({ description: 'The text as written in the request, without the punctuation around it.' }),
  start: z.number().meta({ description: 'Seconds, millisecond precision.' }),
  end: z.number(),
  char_start: int().meta({ description: 'Unicode code-point offset into the request text.' }),
  char_end: int().meta({ description: 'Exclusive.' }),
  source: z.string().meta({ description: 'espeak, whisperx, pocketsphinx, dtw, google or interpolated.' }),
  confidence: nullable(z.number()).optional().meta({ description: '0..1 where the aligner gives one; null where it does not.' }),
});

export const timingSchema = z
  .object({
    method: z.enum(TIMING_METHODS).meta({ description: 'The timing_method asked for.' }),
    aligner: nullable(z.string()).meta({ description: "`native` (the engine's own timings) or an aligner such as whisperx; null when none could time the words." }),
    source: nullable(z.string()).meta({ description: "The words' source." }),
    skipped: z.array(z.object({ aligner: z.string(), reason: z.string() })),
    error: z
      .object({ code: z.literal('TIMING_UNAVAILABLE'), message: z.string() })
      .optional()
      .meta({ description: 'Present when no step could time the words; the audio is delivered without words or subtitles.' }),
  })
  .meta({ description: 'Which step of the aligner chain timed the words, and why the steps before it did not.' });

export const subtitleReportSchema = z
  .object({
    rules: z.object({ reading_speed: z.number(), min_cue_duration: z.number(), chain_threshold: z.number(), chain_gap_frames: int(), fps: nullable(z.number()) }),
    cues: int(),
    over_reading_speed: z.number().meta({ description: 'Share of cues (0..1) read faster than reading_speed.' }),
    under_min_duration: z.number().meta({ description: 'Share of cues (0..1) shorter than min_cue_duration.' }),
  })
  .meta({ description: 'The display rules applied to the cues, and the shares of cues they could not be met for.' });

const downloads = z.record(z.string(), z.string()).meta({ description: 'A download path per stored format.' });
const timingsMs = (steps: string) => z.record(z.string(), z.number()).meta({ description: `Elapsed milliseconds per step (${steps}).` });

export const ttsResultSchema = z
  .object({
    id: z.string(),
    engine: z.string(),
    voice: z.string(),
    language: nullable(z.string()),
    speed: z.number(),
    sample_rate: int(),
    samples: int(),
    duration: z.number().meta({ description: 'Seconds.' }),
    words: z.array(wordSchema).meta({ description: 'Empty when return_word_timings is false or no aligner could time them.' }),
    timing: timingSchema,
    subtitles: nullable(subtitleReportSchema).meta({ description: 'null when no aligner could time the words (see timing.error).' }),
    audio_url: z.string().meta({ description: 'The audio in audio_format.' }),
    audio_format: z.enum(AUDIO_FORMATS),
    downloads,
    timings_ms: timingsMs('worker_synthesize, worker_write, worker_round_trip, align_*, subtitles, encode, total'),
    seed: int().optional().meta({ description: 'f5: the seed it spoke with.' }),
    dropped: z.array(z.string()).optional().meta({ description: 'f5: options the installed F5 does not take (not applied).' }),
    notes: z.array(z.string()).optional().meta({ description: 'f5: what the engine wants you to know (CPU, transcribed reference).' }),
    reference_s: z.number().optional().meta({ description: 'f5: seconds of the uploaded reference spoken from.' }),
  })
  .meta({
    examples: [
      {
        id: 'mi7k2x0a1Qw3Er5Ty7Ui9Op1A',
        engine: 'espeak',
        voice: 'en-us',
        language: null,
        speed: 1,
        sample_rate: 24000,
        samples: 21840,
        duration: 0.91,
        words: [
          { word: 'Hello', start: 0.05, end: 0.42, char_start: 0, char_end: 5, source: 'espeak', confidence: null },
          { word: 'world', start: 0.42, end: 0.88, char_start: 7, char_end: 12, source: 'espeak', confidence: null },
        ],
        timing: { method: 'auto', aligner: 'native', source: 'espeak', skipped: [] },
        subtitles: { rules: { reading_speed: 20, min_cue_duration: 0.833, chain_threshold: 0.5, chain_gap_frames: 2, fps: null }, cues: 1, over_reading_speed: 0, under_min_duration: 0 },
        audio_url: '/download/mi7k2x0a1Qw3Er5Ty7Ui9Op1A',
        audio_format: 'wav',
        downloads: { wav: '/download/mi7k2x0a1Qw3Er5Ty7Ui9Op1A', srt: '/download/mi7k2x0a1Qw3Er5Ty7Ui9Op1A?format=srt' },
        timings_ms: { worker_round_trip: 48, subtitles: 1, total: 52 },
      },
    ],
  });

export const alignResultSchema = z.object({
  id: z.string(),
  language: nullable(z.string()),
  sample_rate: int().meta({ description: 'Always 24000.' }),
  samples: int(),
  duration: z.number().meta({ description: 'Seconds of the recording.' }),
  words: z.array(wordSchema),
  timing: timingSchema,
  subtitles: subtitleReportSchema,
  audio_url: z.string().meta({ description: 'The decoded WAV.' }),
  downloads,
  timings_ms: timingsMs('upload, decode, align_*, subtitles, total'),
});

export const wordsFileSchema = z.object({
  words: z.array(wordSchema),
  cues: z.array(
    z.object({
      index: int().meta({ description: 'From 1.' }),
      start: z.number(),
      end: z.number(),
      text: z.string(),
      lines: z.array(z.string()),
      word_start: int().meta({ description: "Index of the cue's first word." }),
      word_end: int().meta({ description: 'Index after its last word.' }),
      char_start: int(),
      char_end: int(),
      cps: z.number().meta({ description: 'Characters shown (line breaks aside) per second on screen.' }),
      duration: z.number(),
      gap_before: z.number().meta({ description: 'Seconds since the previous cue ended (or since 0).' }),
      unmet: z.array(z.enum(['reading_speed', 'min_duration'])).meta({ description: 'Rules the timeline left no room for.' }),
    }),
  ),
});

const availability = z.object({ available: z.boolean(), reason: z.string().optional() }).catchall(z.unknown());
export const READY_STATES = ['warming', 'starting', 'restarting', 'failed', 'unavailable', 'stopping', 'stopped', 'closing'] as const;

export const healthSchema = z.object({
  status: z.enum(['ready', ...READY_STATES]),
  reason: z.string().optional().meta({ description: 'Why it is not ready.' }),
  engines: z.record(z.string(), availability),
  aligners: z.record(z.string(), availability),
  lanes: z.record(z.string(), z.record(z.string(), z.unknown())).optional().meta({ description: 'Verbose only: workers, queues, restarts per lane.' }),
  versions: z.record(z.string(), nullable(z.string())).optional().meta({ description: 'Verbose only.' }),
  warmup: z.record(z.string(), z.unknown()).optional().meta({ description: "Verbose only: warmup's report." }),
  disk: z
    .object({
      low: z.boolean(),
      reason: z.string().optional(),
      free: nullable(int()).optional().meta({ description: "Bytes free for voicecue's user; null when the volume could not be read." }),
      size: nullable(int()).optional(),
      min_free: int().optional(),
      quota: nullable(int()).optional().meta({ description: 'VOICECUE_DISK_QUOTA_MB in bytes; null when there is none.' }),
      used: nullable(int()).optional().meta({ description: 'Bytes of published results (with a quota only).' }),
      error: z.string().optional(),
    })
    .optional()
    .meta({ description: 'The data volume: only `{low: true, reason}` when below VOICECUE_MIN_FREE_MB (not a 503: /tts answers 507 meanwhile); verbose: always, with the figures.' }),
}).meta({
  examples: [{
    status: 'ready',
    engines: { espeak: { available: true }, f5: { available: false, reason: 'python package f5_tts is not installed' } },
    aligners: { native: { available: true }, pocketsphinx: { available: true }, dtw: { available: true } },
  }],
});

export const liveSchema = z.object({ status: z.literal('alive'), uptime: int().meta({ description: 'Seconds since the process started.' }) });

export const downloadFormatSchema = z
  .enum(Object.keys(DOWNLOAD_FORMATS) as [DownloadFormat, ...DownloadFormat[]])
  .meta({ description: 'The audio (wav, or mp3, opus, aac, flac, pcm: transcoded from the WAV on first request and kept beside it) or a timing file.' });

export const audioModelListSchema = z.object({ models: z.array(z.object({ id: z.string() })) });

export const storedVoiceSchema = z.object({
  id: z.string().meta({ description: 'Use it as `voice` with engine f5 (and on /v1/audio/speech).' }),
  name: z.string(),
  ref_text: z.string(),
  language: nullable(z.string()),
  duration: z.number().meta({ description: 'Seconds of the stored reference.' }),
  trimmed_from: z.number().optional().meta({ description: "Seconds of the upload, when it was cut at a pause to F5's 12 s." }),
  created_at: z.string().meta({ description: 'ISO 8601.' }),
  updated_at: z.string(),
  audio_url: z.string().meta({ description: 'The stored reference, to listen to.' }),
}).meta({
  examples: [{
    id: 'vc_0k3m9q2x7a1b5c8d4e6f', name: 'Narrator', ref_text: 'What I said in the recording.', language: 'en', duration: 8.2, trimmed_from: 18,
    created_at: '2026-12-03T10:00:00.000Z', updated_at: '2026-12-03T10:00:00.000Z', audio_url: '/voices/vc_0k3m9q2x7a1b5c8d4e6f/audio',
  }],
});
export const storedVoiceListSchema = z.object({ voices: z.array(storedVoiceSchema) });
