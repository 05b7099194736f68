import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { parse as parseAssScript } from 'ass-compiler';
import { parse as parseCsvText } from 'csv-parse/sync';
import { parser as srtParser, validator as srtValidator } from 'srt-validator';
import webvtt, { type Node as VttNode } from 'webvtt-parser';
import type { Word } from '../../src/types.js';

const run = promisify(execFile);

/** A deterministic PRNG (mulberry32), so generated timings are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const r3 = (s: number) => Math.round(s * 1000) / 1000;

export interface SynthOptions {
  /** 'segmenter': words as Intl.Segmenter sees them (no punctuation, CJK split into words);
   *  'spaces': every run of non-space characters is a word (punctuation included). */
  split?: 'segmenter' | 'spaces';
  seed?: number;
  /** Seconds per code point of a word. */
  perChar?: number;
  start?: number;
}

/**
 * Words from a text as an aligner would give them: code-point spans into the text, times with
 * short gaps between words, longer ones after commas and sentence ends, and a little jitter.
 * Returns the words and the audio duration (a bit after the last word).
 */
export function synthWords(text: string, o: SynthOptions = {}): { words: Word[]; duration: number } {
  const random = rng(o.seed ?? 1);
  const perChar = o.perChar ?? 0.065;
  const pieces: { index: number; segment: string }[] = [];
  if ((o.split ?? 'segmenter') === 'segmenter') {
    for (const s of new Intl.Segmenter('und', { granularity: 'word' }).segment(text)) {
      if (s.isWordLike || /\p{Extended_Pictographic}/u.test(s.segment)) pieces.push(s);
    }
  } else {
    for (const m of text.matchAll(/\S+/gu)) pieces.push({ index: m.index, segment: m[0] });
  }
  const cp = (unit: number) => [...text.slice(0, unit)].length;
  const words: Word[] = [];
  let t = o.start ?? 0.12;
  for (const [i, p] of pieces.entries()) {
    const len = [...p.segment].length;
    const dur = Math.max(0.08, len * perChar) * (0.8 + 0.4 * random());
    words.push({
      word: p.segment,
      start: r3(t),
      end: r3(t + dur),
      char_start: cp(p.index),
      char_end: cp(p.index) + len,
      source: i % 2 ? 'espeak' : 'whisperx',
      confidence: i % 3 === 0 ? null : r3(0.5 + random() / 2),
    });
    const next = pieces[i + 1];
    const between = next ? text.slice(p.index + p.segment.length, next.index) : '';
    t += dur;
    if (/[.!?。！？]/u.test(between) || /[.!?。！？]$/u.test(p.segment)) t += 0.45 + 0.3 * random();
    else if (/[,;:，、]/u.test(between) || /[,;:]$/u.test(p.segment)) t += 0.15 + 0.2 * random();
    else t += 0.02 + 0.06 * random();
  }
  return { words, duration: r3(t + 0.3) };
}

/** Nasty texts: every format must carry these through unchanged. */
export const NASTY_TEXTS: Record<string, string> = {
  punctuation: 'He said, "Hello, world." Then: {braces} and \\back\\slash\\N, <b>tags</b> & amps --> arrows; it\'s 5,000.00 (approx.) — ok?',
  emoji: 'I ❤️ pizza 🍕! Family 👨‍👩‍👧‍👦 and flags 🇯🇵 too, naïve café (e\u0301).',
  japanese: '今日は良い天気ですね。散歩に行きましょう！「はい」と彼女は言った。',
  chinese: '我们今天去公园散步，好吗？天气很好。',
  arabic: 'مرحبا بالعالم، كيف حالك؟ هذا اختبار للنص من اليمين إلى اليسار.',
  hebrew: 'שלום עולם! מה שלומך? "ציטוט", עם פסיקים.',
  newlines: 'Line one.\nLine two,\r\n\tthree   spaced\u00a0out.\n\n',
  quotes_in_words: 'She wrote "quoted", then O"Neil\'s {x} and a,b,c\\d end.',
};

const VOCAB = (
  'the quick brown fox jumps over lazy dog while seven bright singers carry their morning ' +
  'songs across a wide valley where rivers meet old stone bridges and children count ' +
  'passing clouds beneath tall pine trees that whisper stories about distant mountains ' +
  'extraordinary unbelievable communication international responsibility'
).split(' ');

/** A text of `count` words with commas and sentence ends sprinkled in, deterministic per seed. */
export function longText(count: number, seed = 7): string {
  const random = rng(seed);
  const out: string[] = [];
  let sentence = 0;
  for (let i = 0; i < count; i++) {
    let w = VOCAB[Math.floor(random() * VOCAB.length)]!;
    if (sentence === 0) w = w[0]!.toUpperCase() + w.slice(1);
    sentence++;
    const r = random();
    if (i === count - 1 || (sentence > 4 && r < 0.08)) (w += '.'), (sentence = 0);
    else if (r < 0.12) w += ',';
    out.push(w);
  }
  return out.join(' ');
}

// ---------------------------------------------------------------- parsers

const require = createRequire(import.meta.url);
const entities = JSON.parse(
  readFileSync(require.resolve('webvtt-parser/html-entities.json'), 'utf8'),
) as Record<string, string>;

export interface ParsedCue {
  start: number;
  end: number;
  text: string;
}

/** webvtt-parser with the full entity table (its small default table decodes "&amp;" wrongly). */
export function parseVtt(vtt: string): {
  errors: unknown[];
  cues: (ParsedCue & { timestamps: number[]; startsWithTimestamp: boolean })[];
} {
  const result = new webvtt.WebVTTParser(entities).parse(vtt, undefined);
  return {
    errors: result.errors,
    cues: result.cues.map((c) => {
      const timestamps: number[] = [];
      const flatten = (node: VttNode): string =>
        (node.children ?? [])
          .map((child) => {
            if (child.type === 'timestamp') timestamps.push(Math.round(Number(child.value) * 1000));
            return child.type === 'text' ? String(child.value) : flatten(child);
          })
          .join('');
      const text = flatten(c.tree);
      return {
        start: Math.round(c.startTime * 1000),
        end: Math.round(c.endTime * 1000),
        text,
        timestamps,
        startsWithTimestamp: c.tree.children?.[0]?.type === 'timestamp',
      };
    }),
  };
}

export function parseSrt(srt: string): { errors: unknown[]; cues: (ParsedCue & { n: number })[] } {
  const errors = srtValidator(srt);
  const cues = errors.length ? [] : srtParser.parse(srt);
  return {
    errors,
    cues: cues.map((c) => ({ n: c.sequenceNumber, start: c.time.start, end: c.time.end, text: c.text })),
  };
}

const ASS_DIALOGUE = /^Dialogue: 0,(\d+):([0-5]\d):([0-5]\d)\.(\d\d),(\d+):([0-5]\d):([0-5]\d)\.(\d\d),Default,,0,0,0,,(.*)$/;

/** Our ASS text back to plain text: drops {override} blocks, undoes \N, \{, \}, and "\⁠". */
export function assPlain(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    const next = raw[i + 1];
    if (c === '\\' && (next === 'N' || next === '{' || next === '}' || next === '\u2060')) {
      out += next === 'N' ? '\n' : next === '\u2060' ? '\\' : next;
      i++;
    } else if (c === '{') {
      const close = raw.indexOf('}', i);
      if (close < 0) throw new Error(`unclosed override block in ${raw}`);
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

export interface ParsedAssCue {
  /** centiseconds */
  start: number;
  end: number;
  text: string;
  /** The karaoke durations in order, and the tag kinds used. */
  karaoke: number[];
  tags: string[];
}

/** ass-compiler for the structure, a strict regex for each Dialogue line's times. */
export function parseAss(ass: string) {
  const script = parseAssScript(ass);
  const lines = ass.split('\n').filter((l) => l.startsWith('Dialogue:'));
  const cues: ParsedAssCue[] = lines.map((line) => {
    const m = ASS_DIALOGUE.exec(line);
    if (!m) throw new Error(`bad Dialogue line: ${line}`);
    const cs = (h: string, mm: string, ss: string, cc: string) => ((+h * 60 + +mm) * 60 + +ss) * 100 + +cc;
    const text = m[9]!;
    const karaoke: number[] = [];
    const tags: string[] = [];
    for (const k of text.matchAll(/\{\\(kf|k)(\d+)\}/g)) {
      tags.push(k[1]!);
      karaoke.push(Number(k[2]));
    }
    return { start: cs(m[1]!, m[2]!, m[3]!, m[4]!), end: cs(m[5]!, m[6]!, m[7]!, m[8]!), text: assPlain(text), karaoke, tags };
  });
  return { script, cues };
}

export function parseCsv(csv: string): Record<string, string>[] {
  return parseCsvText(csv, { columns: true, record_delimiter: '\r\n', relax_quotes: false, skip_empty_lines: false });
}

// ---------------------------------------------------------------- ffmpeg

/** Cue times as FFmpeg reads the file, in the stream's own time base units (ms or cs). */
export async function ffprobeCues(file: string): Promise<{ timeBase: string; cues: { start: number; duration: number }[] }> {
  const { stdout } = await run('ffprobe', [
    '-v', 'error',
    '-show_entries', 'stream=time_base:packet=pts,duration',
    '-of', 'json',
    file,
  ]);
  const json = JSON.parse(stdout) as {
    streams: { time_base: string }[];
    packets?: { pts: number; duration: number }[];
  };
  return {
    timeBase: json.streams[0]!.time_base,
    cues: (json.packets ?? []).map((p) => ({ start: p.pts, duration: p.duration })),
  };
}

export { run };
