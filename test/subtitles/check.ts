// Reads every generated file back with real parsers (and FFmpeg) and lists what disagrees with the
// cues, so a test can assert `problems` is empty and see every mismatch at once.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSV_HEADER, type Cue, type RenderResult } from '../../src/subtitles/index.js';
import type { Word } from '../../src/types.js';
import { ffprobeCues, parseAss, parseCsv, parseSrt, parseVtt } from './helpers.js';

export interface CheckContext {
  words: Word[];
  durationMs: number;
  text?: string;
  karaokeTag?: 'k' | 'kf';
  /** Also read srt, vtt and ass back with ffprobe. */
  ffprobe?: boolean;
}

const ms = (seconds: number) => Math.round(seconds * 1000);
const csvTime = (m: number) => (m / 1000).toFixed(3);

/** Checks that hold for cues whatever the format. */
export function cueProblems(cues: readonly Cue[], durationMs: number): string[] {
  const p: string[] = [];
  let prevEnd = 0;
  let prevWordEnd = 0;
  for (const [i, c] of cues.entries()) {
    const at = `cue ${c.index}`;
    if (c.index !== i + 1) p.push(`${at}: index ${c.index} at position ${i}`);
    for (const v of [c.start_ms, c.end_ms]) if (!Number.isInteger(v)) p.push(`${at}: time ${v} not integer ms`);
    if (c.start_ms < prevEnd) p.push(`${at}: starts ${c.start_ms} before previous end ${prevEnd}`);
    if (c.end_ms <= c.start_ms) p.push(`${at}: end ${c.end_ms} not after start ${c.start_ms}`);
    if (c.end_ms > durationMs) p.push(`${at}: ends ${c.end_ms} after audio ${durationMs}`);
    if (c.word_start < prevWordEnd || c.word_end <= c.word_start) p.push(`${at}: word range ${c.word_start}..${c.word_end}`);
    if (c.text !== c.lines.join('\n')) p.push(`${at}: text and lines disagree`);
    if (c.lines.some((l) => l === '' || l !== l.trim())) p.push(`${at}: empty or padded line ${JSON.stringify(c.lines)}`);
    prevEnd = c.end_ms;
    prevWordEnd = c.word_end;
  }
  return p;
}

export async function fileProblems(result: RenderResult, ctx: CheckContext): Promise<string[]> {
  const p: string[] = [];
  const { cues, files } = result;
  const { srt, vtt, ass, csv, json } = files;

  // SRT
  if (srt !== undefined) {
    if (cues.length === 0) {
      if (srt !== '') p.push(`srt: expected an empty file, got ${JSON.stringify(srt)}`);
    } else {
      const parsed = parseSrt(srt);
      if (parsed.errors.length) p.push(`srt: ${parsed.errors.map(String).join('; ')}`);
      if (!/^(?:\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n(?:.+\n)+\n)+$/.test(srt)) p.push('srt: layout');
      if (parsed.cues.length !== cues.length) p.push(`srt: ${parsed.cues.length} cues, expected ${cues.length}`);
      for (const [i, c] of parsed.cues.entries()) {
        const want = cues[i];
        if (!want) break;
        if (c.n !== i + 1 || c.start !== want.start_ms || c.end !== want.end_ms || c.text !== want.text) {
          p.push(`srt cue ${i + 1}: ${JSON.stringify(c)} != ${JSON.stringify([want.start_ms, want.end_ms, want.text])}`);
        }
      }
    }
  }

  // WebVTT
  if (vtt !== undefined) {
    const parsed = parseVtt(vtt);
    if (!vtt.startsWith('WEBVTT\n')) p.push('vtt: header');
    if (parsed.errors.length) p.push(`vtt: ${JSON.stringify(parsed.errors)}`);
    if (parsed.cues.length !== cues.length) p.push(`vtt: ${parsed.cues.length} cues, expected ${cues.length}`);
    for (const [i, c] of parsed.cues.entries()) {
      const want = cues[i];
      if (!want) break;
      if (c.start !== want.start_ms || c.end !== want.end_ms || c.text !== want.text) {
        p.push(`vtt cue ${i + 1}: ${JSON.stringify(c)} != ${JSON.stringify([want.start_ms, want.end_ms, want.text])}`);
      }
      // Inline timestamps: strictly increasing, strictly inside, none before the first word.
      let last = want.start_ms;
      for (const ts of c.timestamps) {
        if (ts <= last || ts >= want.end_ms) p.push(`vtt cue ${i + 1}: timestamp ${ts} out of order`);
        last = ts;
      }
      if (c.startsWithTimestamp) p.push(`vtt cue ${i + 1}: a timestamp before the first word`);
      if (c.timestamps.length > want.parts.length - 1) p.push(`vtt cue ${i + 1}: too many timestamps`);
    }
    if (cues.length === 0 && vtt !== 'WEBVTT\n') p.push(`vtt: expected header only, got ${JSON.stringify(vtt)}`);
  }

  // ASS
  if (ass !== undefined) {
    const parsed = parseAss(ass);
    const { info, styles, events } = parsed.script;
    if (info.ScriptType !== 'v4.00+' || info.PlayResX !== '1920' || info.PlayResY !== '1080' || info.ScaledBorderAndShadow !== 'yes') {
      p.push(`ass: script info ${JSON.stringify(info)}`);
    }
    const style = styles.style[0];
    if (styles.style.length !== 1 || style?.Name !== 'Default' || style.Alignment !== '2' || Number(style.Outline) <= 0) {
      p.push(`ass: style ${JSON.stringify(styles.style)}`);
    }
    if (events.dialogue.length !== cues.length || parsed.cues.length !== cues.length) {
      p.push(`ass: ${events.dialogue.length}/${parsed.cues.length} dialogues, expected ${cues.length}`);
    }
    const lastCs = Math.floor(ctx.durationMs / 10);
    let prevEnd = 0;
    for (const [i, c] of parsed.cues.entries()) {
      const want = cues[i];
      const d = events.dialogue[i];
      if (!want || !d) break;
      const at = `ass cue ${i + 1}`;
      // ass-compiler's own reading of the times must agree with the strict regex.
      if (Math.round(d.Start * 100) !== c.start || Math.round(d.End * 100) !== c.end) p.push(`${at}: parsers disagree`);
      if (Math.abs(c.start * 10 - want.start_ms) > 5) p.push(`${at}: start ${c.start}cs vs ${want.start_ms}ms`);
      if (Math.abs(c.end * 10 - want.end_ms) > 10 || c.end > lastCs) p.push(`${at}: end ${c.end}cs vs ${want.end_ms}ms`);
      if (c.start < prevEnd || c.end <= c.start) p.push(`${at}: overlap or empty ${c.start}..${c.end}`);
      prevEnd = c.end;
      const sum = c.karaoke.reduce((a, b) => a + b, 0);
      if (sum !== c.end - c.start) p.push(`${at}: karaoke sums to ${sum}, cue is ${c.end - c.start}`);
      const tag = ctx.karaokeTag ?? 'k';
      if (!c.tags.includes(tag)) p.push(`${at}: no \\${tag} tag`);
      if (c.text !== want.text) p.push(`${at}: text ${JSON.stringify(c.text)} != ${JSON.stringify(want.text)}`);
    }
  }

  // CSV
  if (csv !== undefined) {
    if (!csv.startsWith(CSV_HEADER.join(',') + '\r\n')) p.push('csv: header');
    if (/(?<!\r)\n/.test(csv.replace(/"(?:[^"]|"")*"/g, ''))) p.push('csv: a bare LF line ending');
    const rows = parseCsv(csv);
    if (rows.length !== ctx.words.length) p.push(`csv: ${rows.length} rows, expected ${ctx.words.length}`);
    for (const [i, row] of rows.entries()) {
      const w = ctx.words[i]!;
      const start = Math.min(Math.max(ms(w.start), 0), ctx.durationMs);
      const end = Math.min(Math.max(ms(w.end), start), ctx.durationMs);
      const want = {
        word: w.word,
        start: csvTime(start),
        end: csvTime(end),
        confidence: w.confidence == null ? '' : String(w.confidence),
        source: w.source,
        char_start: String(w.char_start),
        char_end: String(w.char_end),
      };
      if (JSON.stringify(row) !== JSON.stringify(want)) p.push(`csv row ${i}: ${JSON.stringify(row)} != ${JSON.stringify(want)}`);
    }
  }

  // JSON
  if (json !== undefined) {
    const doc = JSON.parse(json) as {
      words: { word: string; start: number; end: number; confidence: number | null; char_start: number; char_end: number }[];
      cues: { index: number; start: number; end: number; text: string; lines: string[]; word_start: number; word_end: number }[];
    };
    if (doc.words.length !== ctx.words.length) p.push(`json: ${doc.words.length} words`);
    for (const [i, w] of doc.words.entries()) {
      const src = ctx.words[i]!;
      for (const v of [w.start, w.end]) if (Math.round(v * 1000) / 1000 !== v) p.push(`json word ${i}: ${v} not ms precision`);
      if (w.word !== src.word || w.char_start !== src.char_start || w.char_end !== src.char_end) p.push(`json word ${i}: ${JSON.stringify(w)}`);
      if (ctx.text !== undefined && [...ctx.text].slice(w.char_start, w.char_end).join('') !== w.word) p.push(`json word ${i}: span does not match text`);
    }
    if (doc.cues.length !== cues.length) p.push(`json: ${doc.cues.length} cues`);
    for (const [i, c] of doc.cues.entries()) {
      const want = cues[i]!;
      if (ms(c.start) !== want.start_ms || ms(c.end) !== want.end_ms || c.text !== want.text || c.index !== i + 1 ||
          c.word_start !== want.word_start || c.word_end !== want.word_end || c.lines.join('\n') !== want.text) {
        p.push(`json cue ${i + 1}: ${JSON.stringify(c)}`);
      }
    }
  }

  if (ctx.ffprobe && cues.length > 0) p.push(...(await ffprobeProblems(result)));
  return p;
}

/** FFmpeg must read the same cue times: to the ms for SRT and WebVTT, to the cs for ASS. */
async function ffprobeProblems(result: RenderResult): Promise<string[]> {
  const p: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'voicecue-probe-'));
  try {
    for (const format of ['srt', 'vtt', 'ass'] as const) {
      const content = result.files[format];
      if (content === undefined) continue;
      const file = join(dir, `subtitles.${format}`);
      await writeFile(file, content);
      const probed = await ffprobeCues(file);
      const want = format === 'ass' ? parseAss(content).cues.map((c) => ({ start: c.start, duration: c.end - c.start }))
        : result.cues.map((c) => ({ start: c.start_ms, duration: c.end_ms - c.start_ms }));
      const base = format === 'ass' ? '1/100' : '1/1000';
      if (probed.timeBase !== base) p.push(`ffprobe ${format}: time base ${probed.timeBase}`);
      // FFmpeg's demuxers sort packets by time; ours are already in order.
      if (JSON.stringify(probed.cues) !== JSON.stringify(want)) {
        p.push(`ffprobe ${format}: ${JSON.stringify(probed.cues).slice(0, 400)} != ${JSON.stringify(want).slice(0, 400)}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return p;
}

/** The text the cues show, all whitespace removed: must equal the request text's. */
export const visible = (s: string) => s.replace(/\s+/gu, '');
