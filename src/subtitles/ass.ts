import type { Cue } from './cues.js';
import type { SubtitleOptions } from './options.js';
import { assSpan, assTime, msToCs } from './time.js';

export type AssStyleOptions = Pick<SubtitleOptions, 'font_size' | 'primary_colour' | 'highlight_colour' | 'karaoke_tag'>;

/**
 * "#RRGGBB" or "#RRGGBBAA" to ASS "&HAABBGGRR". CSS alpha is opacity (FF opaque), ASS alpha is
 * transparency (00 opaque), so it is inverted.
 */
export function toAssColour(hex: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})?$/i.exec(hex);
  if (!m) throw new RangeError(`not a #RRGGBB[AA] colour: ${hex}`);
  const alpha = 255 - parseInt(m[4] ?? 'FF', 16);
  const byte = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
  return `&H${byte(alpha)}${m[3]}${m[2]}${m[1]}`.toUpperCase();
}

/**
 * ASS has no escape for a backslash, so one is followed by a WORD JOINER (U+2060, invisible) to
 * keep `\N`, `\n`, `\h`, `\{` in the text from being read as codes. Braces become `\{` and `\}`,
 * which libass shows as braces. Line breaks never reach here (cues carry them as parts' sep).
 */
export function escapeAss(s: string): string {
  return s.replace(/\\/g, '\\\u2060').replace(/[{}]/g, '\\$&');
}

/**
 * Karaoke text for one cue. Each word boundary is rounded to centiseconds on its own and the tags
 * are differences of those, so they add up exactly to the cue's length and never drift; silence
 * between words is an empty `{\kN}`. With \k a word turns from SecondaryColour to PrimaryColour
 * when it starts; with \kf it fills across its duration.
 */
function karaoke(cue: Cue, startCs: number, endCs: number, tag: 'k' | 'kf'): string {
  let out = '';
  let at = startCs;
  const clamp = (cs: number) => Math.min(Math.max(cs, at), endCs);
  for (const part of cue.parts) {
    const from = clamp(msToCs(part.start_ms));
    const to = clamp(msToCs(part.end_ms));
    out += part.sep === '\n' ? '\\N' : part.sep;
    if (from > at) out += `{\\k${from - at}}`;
    out += `{\\${tag}${to - from}}${escapeAss(part.text)}`;
    at = to;
  }
  if (endCs > at) out += `{\\k${endCs - at}}`;
  return out;
}

/**
 * A complete ASS script for 1920x1080: one readable bottom-centre style (outline and shadow)
 * and one Dialogue line per cue with karaoke tags. Cue times are rounded to centiseconds and the
 * end is kept inside the audio (assSpan); no cues gives a script with no Dialogue lines.
 */
export function renderAss(cues: readonly Cue[], style: AssStyleOptions, durationMs: number): string {
  const primary = toAssColour(style.highlight_colour); // sung
  const secondary = toAssColour(style.primary_colour); // not yet sung
  let out = `[Script Info]
; Written by voicecue
Title: voicecue
ScriptType: v4.00+
WrapStyle: 0
ScaledBorderAndShadow: yes
PlayResX: 1920
PlayResY: 1080

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,${style.font_size},${primary},${secondary},&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,3,1,2,96,96,64,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
`;
  for (const cue of cues) {
    // buildCues leaves no cue without a centisecond here, so every format has every cue.
    const [startCs, endCs] = assSpan(cue.start_ms, cue.end_ms, durationMs);
    const text = karaoke(cue, startCs, endCs, style.karaoke_tag);
    out += `Dialogue: 0,${assTime(startCs)},${assTime(endCs)},Default,,0,0,0,,${text}\n`;
  }
  return out;
}
