import type { Cue } from './cues.js';
import { vttTime } from './time.js';

/** The IMSC 1.1 Text Profile designator, signalled with TTML2's ttp:contentProfiles as IMSC 1.1 asks. */
export const IMSC11_TEXT_PROFILE = 'http://www.w3.org/ns/ttml/profile/imsc1.1/text';

/**
 * A TTML media clock time, `HH:MM:SS.mmm`: written exactly like a WebVTT timestamp, so the
 * formatter is shared. Hours grow past two digits after 99 h, which TTML's clock-time allows.
 */
export const ttmlTime = (ms: number): string => vttTime(ms);

// Everything outside XML 1.0's Char production: C0 controls but tab, LF and CR; lone surrogates;
// U+FFFE and U+FFFF. A parser must reject a document holding any of them, even as a reference.
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text safe in XML content and in a quoted attribute value: forbidden characters go, markup is escaped. */
export const escapeXml = (s: string) => s.replace(NOT_XML_CHAR, '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);

// BCP 47's shape (RFC 5646 §2.1), not its registry: enough to keep junk out of the attribute.
const LANGUAGE_TAG = /^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/;
export const isLanguageTag = (s: string) => LANGUAGE_TAG.test(s);

export interface TtmlOptions {
  /** BCP 47 tag for xml:lang; "und" (undetermined) when not given. */
  lang?: string | undefined;
}

/**
 * TTML in the IMSC 1.1 Text Profile: one region at the bottom of the 80% safe area, a default
 * style (white sans-serif, centred, on a semi-opaque black box behind the text only), and one
 * `<p>` per cue timed in media time with the cue's exact milliseconds, lines split by `<br/>`.
 * Throws a RangeError for a `lang` that is not shaped like a language tag.
 */
export function renderTtml(cues: readonly Cue[], options: TtmlOptions = {}): string {
  const lang = options.lang ?? 'und';
  if (!LANGUAGE_TAG.test(lang)) throw new RangeError(`not a BCP 47 language tag: ${JSON.stringify(lang)}`);
  // Each <p> sits on one line with no whitespace inside, so nothing but the text is shown.
  // The box is on a <span>: on the <p> it would fill the region's whole width.
  const paragraphs = cues.map(
    (cue) =>
      `      <p begin="${ttmlTime(cue.start_ms)}" end="${ttmlTime(cue.end_ms)}"><span style="box">` +
      `${cue.lines.map(escapeXml).join('<br/>')}</span></p>\n`,
  );
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"' +
    ' xmlns:tts="http://www.w3.org/ns/ttml#styling"' +
    ` ttp:contentProfiles="${IMSC11_TEXT_PROFILE}" ttp:timeBase="media" xml:lang="${lang}">\n` +
    '  <head>\n' +
    '    <styling>\n' +
    // 80% of the default cell (1/15 of the height) keeps a 42-character line inside the region.
    '      <style xml:id="text" tts:color="white" tts:fontFamily="proportionalSansSerif"' +
    ' tts:fontSize="80%" tts:textAlign="center"/>\n' +
    '      <style xml:id="box" tts:backgroundColor="rgba(0,0,0,192)"/>\n' +
    '    </styling>\n' +
    '    <layout>\n' +
    // Tall enough for max_lines (4 at most); displayAlign="after" keeps the lines on its bottom edge.
    '      <region xml:id="bottom" tts:origin="10% 50%" tts:extent="80% 40%" tts:displayAlign="after"/>\n' +
    '    </layout>\n' +
    '  </head>\n' +
    '  <body region="bottom" style="text">\n' +
    '    <div>\n' +
    paragraphs.join('') +
    '    </div>\n' +
    '  </body>\n' +
    '</tt>\n'
  );
}
