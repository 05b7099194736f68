import { z } from 'zod';

/** The five files we write, in the order `all` renders them. */
export const FORMAT_NAMES = ['srt', 'vtt', 'ass', 'csv', 'json'] as const;
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
 * min_cue_duration (≤ 1 s) can never exceed max_cue_duration (≥ 1 s).
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
  min_cue_duration: z.number().min(0).max(1).optional()
    .describe('Seconds; a cue is never shorter than this nor than one frame at fps'),
  fps: z.number().min(1).max(240).default(25).describe('Video frame rate; one frame is the shortest cue'),
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
