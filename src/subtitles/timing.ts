import type { Cue } from './cues.js';
import { assSpan } from './time.js';

/**
 * Display timing the way a subtitler does it, applied to cues built on the words' own times:
 * each cue stays up long enough to be read (reading speed, minimum duration) by lingering into
 * the silence after it — never over the next cue, never past the audio, never past the longest
 * a cue may last; small gaps are closed to a fixed number of frames so the screen does not
 * blink; with an fps, every boundary lands on a frame (starts round down, ends up). Only the
 * cues' start and end move; the words (karaoke, word files) keep their own times.
 */

export interface TimingRules {
  /** Characters a second a viewer is asked to read at most (0: no limit). */
  reading_speed: number;
  /** Seconds a cue stays up at least, where the silence after it allows. */
  min_cue_duration: number;
  /** Gaps shorter than this (seconds) are closed to `chain_gap_frames`; 0 turns chaining off. */
  chain_threshold: number;
  chain_gap_frames: number;
  max_cue_duration: number;
  /** The video's frame rate: boundaries snap to its frames. Without it, times keep ms precision. */
  fps?: number | undefined;
}

/** The frame rate frames are counted in when no fps is given (gaps, the shortest cue). */
export const DEFAULT_FRAME_RATE = 25;

/** 23.976, 29.97 and 59.94 are the NTSC rates 24000/1001, 30000/1001 and 60000/1001. */
export function frameRate(fps: number | undefined): number {
  const rate = fps ?? DEFAULT_FRAME_RATE;
  const ntsc = Math.round(rate) * (1000 / 1001);
  return Math.abs(rate - ntsc) < 0.005 ? ntsc : rate;
}

export interface CueTiming {
  /** Characters shown (line breaks not counted) per second on screen. */
  cps: number;
  duration_ms: number;
  /** Silence before it: from the previous cue's end, or from the start for the first. */
  gap_before_ms: number;
  /** Rules the timeline left no room for. */
  unmet: ('reading_speed' | 'min_duration')[];
}

export interface TimingReport {
  rules: { reading_speed: number; min_cue_duration: number; chain_threshold: number; chain_gap_frames: number; fps: number | null };
  cues: number;
  /** Shares of all cues, 0..1. */
  over_reading_speed: number;
  under_min_duration: number;
}

/** A cue's reading length: what is on screen, less the line breaks. */
export function cueChars(cue: Cue): number {
  let n = 0;
  for (const ch of cue.text) if (ch !== '\n') n++;
  return n;
}

/** Applies the rules to cues (in order, not overlapping); returns new cues and each one's figures. */
export function timeCues(cues: readonly Cue[], rules: TimingRules, durationMs: number): { cues: Cue[]; timings: CueTiming[]; report: TimingReport } {
  const frame = 1000 / frameRate(rules.fps);
  // Half a millisecond of slack: a frame boundary stored as whole ms maps back to its own frame
  // (and rounding never moves a time the wrong way).
  const down = rules.fps ? (ms: number) => Math.min(ms, Math.round(Math.floor((ms + 0.5) / frame) * frame)) : (ms: number) => ms;
  const up = rules.fps ? (ms: number) => Math.max(ms, Math.round(Math.ceil((ms - 0.5) / frame) * frame)) : (ms: number) => ms;
  // `gap` frames before a time on the grid: counted in frames, so it lands on one.
  const before = rules.fps
    ? (ms: number) => Math.round((Math.floor((ms + 0.5) / frame) - rules.chain_gap_frames) * frame)
    : (ms: number) => ms - Math.round(rules.chain_gap_frames * frame);
  const oneFrame = Math.ceil(frame);
  const chainBelow = Math.round(rules.chain_threshold * 1000);
  const minMs = Math.round(rules.min_cue_duration * 1000);
  const maxMs = Math.round(rules.max_cue_duration * 1000);
  const lastFrame = down(durationMs);

  const out: Cue[] = [];
  let prevEnd = 0;
  for (let i = 0; i < cues.length; i++) {
    const cue = cues[i]!;
    const next = cues[i + 1];
    // Its frame, or where the previous cue ended if that is later (cues within one frame).
    const s = Math.max(down(cue.start_ms), prevEnd);
    const nextStart = next === undefined ? undefined : Math.max(down(next.start_ms), s);
    // The latest it may end: a gap before the next cue, the audio's end, its longest.
    const room = Math.min(nextStart === undefined ? durationMs : before(nextStart), durationMs, s + maxMs);
    const readMs = rules.reading_speed > 0 ? Math.ceil((cueChars(cue) * 1000) / rules.reading_speed) : 0;
    let e = Math.max(cue.end_ms, Math.min(s + Math.max(readMs, minMs), room));
    if (next !== undefined && nextStart !== undefined) {
      e = Math.min(e, next.start_ms);
      // A short gap closes to the fixed one: the end moves later, or a little earlier where the
      // cues touch, but never so early that its last word is not shown for a frame.
      const chained = Math.min(before(nextStart), s + maxMs);
      if (chainBelow > 0 && nextStart - up(e) < chainBelow && chained >= Math.max(s, cue.parts.at(-1)!.start_ms) + oneFrame) e = chained;
    }
    // Up to a frame, within its longest; down instead where up would reach into the next cue.
    e = Math.min(up(e), down(s + maxMs));
    if (next !== undefined && e > next.start_ms) e = down(next.start_ms);
    if (e > durationMs) e = lastFrame;
    // Cues packed closer than frames allow keep the times they were built with.
    if (assSpan(s, e, durationMs)[1] <= assSpan(s, e, durationMs)[0]) e = cue.end_ms;
    out.push({ ...cue, start_ms: s, end_ms: e });
    prevEnd = e;
  }

  const timings = out.map((c, i): CueTiming => {
    const duration_ms = c.end_ms - c.start_ms;
    const cps = (cueChars(c) * 1000) / duration_ms;
    const unmet: CueTiming['unmet'] = [];
    if (rules.reading_speed > 0 && cps > rules.reading_speed + 1e-9) unmet.push('reading_speed');
    if (duration_ms < minMs) unmet.push('min_duration');
    return { cps: Math.round(cps * 100) / 100, duration_ms, gap_before_ms: c.start_ms - (i > 0 ? out[i - 1]!.end_ms : 0), unmet };
  });
  const share = (rule: CueTiming['unmet'][number]) =>
    timings.length ? Math.round((timings.filter((t) => t.unmet.includes(rule)).length / timings.length) * 10_000) / 10_000 : 0;
  const report: TimingReport = {
    rules: {
      reading_speed: rules.reading_speed,
      min_cue_duration: rules.min_cue_duration,
      chain_threshold: rules.chain_threshold,
      chain_gap_frames: rules.chain_gap_frames,
      fps: rules.fps ?? null,
    },
    cues: out.length,
    over_reading_speed: share('reading_speed'),
    under_min_duration: share('min_duration'),
  };
  return { cues: out, timings, report };
}
