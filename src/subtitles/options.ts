import { z } from 'zod';

/** The six files we write, in the order `all` renders them. */
export const FORMAT_NAMES = ['srt', 'vtt', 'ass', 'ttml', 'csv', 'json'] as const;
export type Format = (typeof FORMAT_NAMES)[number];

export const formatSchema = z.enum(FORMAT_NAMES);
export const timingFormatSchema = z.enum([...FORMAT_NAMES, 'all']);
export type TimingFormat = z.infer<typeof timingFormatSchema>;

const colour = z
  .string()
  .regex(/^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/, 'must be a colour as #RRGGBB or #RRGGBBAA (AA = opacity, FF opaque)');

/**
 * Per-request subtitle options (snake_case, as the API spells them). Every field has a default,
 * so `subtitleOptionsSchema.parse({})` gives the full set. Times are in seconds.
 *
 * Bounds are chosen so no cross-field check is needed: one frame (≤ 1 s at fps ≥ 1) and
 * min_cue_duration (≤ 1 s) can never exceed max_cue_duration (≥ 1 s). The display rules
 * (reading speed, minimum duration, chaining, frames) are applied in timing.ts.
 *
 * Embedding: flat with `bodySchema.extend(subtitleOptionsSchema.shape)`, or nested with
 * `subtitles: subtitleOptionsSchema.prefault({})` (zod 4's `.default({})` would skip the inner defaults).
 */
export const subtitleOptionsSchema = z.object({
  timing_format: timingFormatSchema.default('all').describe('Which subtitle files to produce'),
  max_chars_per_line: z.number().int().min(10).max(120).default(42)
    .describe('Line length limit; CJK and emoji count as two'),
  max_lines: z.number().int().min(1).max(4).default(2).describe('Lines per cue'),
  max_cue_duration: z.number().min(1).max(30).default(7).describe('Seconds a cue may stay on screen'),
  min_cue_duration: z.number().min(0).max(1).default(5 / 6)
    .describe('Seconds a cue stays up at least, lingering into the silence after it where there is room'),
  reading_speed: z.number().min(0).max(100).default(20)
    .describe('Characters a second a viewer is asked to read at most; a faster cue lingers into the silence after it (0: no limit)'),
  chain_threshold: z.number().min(0).max(2).default(0.5)
    .describe('Seconds: a shorter gap between two cues is closed to chain_gap_frames, so the screen does not blink (0: off)'),
  chain_gap_frames: z.number().int().min(0).max(12).default(2).describe('Frames left between chained cues'),
  fps: z.number().min(1).max(240).optional()
    .describe('Video frame rate (23.976, 29.97 and 59.94 mean the NTSC rates): cue boundaries snap to its frames. Without it times keep ms precision and frames count at 25 fps'),
  pause_threshold: z.number().min(0.05).max(10).default(0.4)
    .describe('A silence longer than this (seconds) always starts a new cue'),
  font_size: z.number().int().min(8).max(400).default(64).describe('ASS font size at 1920x1080'),
  primary_colour: colour.default('#FFFFFF').describe('Text colour before its word is spoken (ASS SecondaryColour)'),
  highlight_colour: colour.default('#FFD700').describe('Text colour once its word is spoken (ASS PrimaryColour)'),
  karaoke_tag: z.enum(['k', 'kf']).default('k').describe('ASS karaoke: \\k switches per word, \\kf fills across it'),
});

/** Options after parsing (all defaults applied). */
export type SubtitleOptions = z.output<typeof subtitleOptionsSchema>;
/** What a caller may pass (every field optional). */
export type SubtitleOptionsInput = z.input<typeof subtitleOptionsSchema>;
