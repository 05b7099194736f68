// The one place that converts and formats times. Inside the module every time is an integer
// number of milliseconds; seconds come in from `Word` and go out only through these functions.

/** Seconds (ms precision) to integer milliseconds; anything that is not a finite number is 0. */
export function toMs(seconds: number): number {
  return Number.isFinite(seconds) ? Math.round(seconds * 1000) : 0;
}

/** Integer milliseconds to the nearest centisecond (ASS's grid); halves round up. */
export function msToCs(ms: number): number {
  return Math.round(ms / 10);
}

/**
 * A cue's ASS start and end in centiseconds: both rounded, the end kept inside the audio. The cue
 * builder uses it too, so every cue it makes keeps at least one centisecond here.
 */
export function assSpan(startMs: number, endMs: number, durationMs: number): [number, number] {
  return [msToCs(startMs), Math.min(msToCs(endMs), Math.floor(durationMs / 10))];
}

/** Milliseconds as a JSON number of seconds: ms / 1000 prints with at most 3 decimals. */
export function msToSeconds(ms: number): number {
  return ms / 1000;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function clock(ms: number, sep: string): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${sep}${pad(ms % 1000, 3)}`;
}

/** SRT: `HH:MM:SS,mmm`. */
export const srtTime = (ms: number): string => clock(ms, ',');

/** WebVTT: `HH:MM:SS.mmm` (hours always written, so cue and inline timestamps look alike). */
export const vttTime = (ms: number): string => clock(ms, '.');

/** ASS: `h:mm:ss.cc` from centiseconds, exactly two digits after the point. */
export function assTime(cs: number): string {
  const h = Math.floor(cs / 360_000);
  const m = Math.floor(cs / 6000) % 60;
  const s = Math.floor(cs / 100) % 60;
  return `${h}:${pad(m, 2)}:${pad(s, 2)}.${pad(cs % 100, 2)}`;
}

/** CSV: seconds with exactly three decimals, built from the integer so no float noise shows. */
export function csvSeconds(ms: number): string {
  return `${Math.floor(ms / 1000)}.${pad(ms % 1000, 3)}`;
}
