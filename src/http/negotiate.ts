import { ApiError } from '../errors.js';

const OFFERS = {
  json: ['application/json'],
  audio: ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/mpeg', 'audio/ogg', 'audio/aac', 'audio/flac', 'audio/pcm'],
  events: ['text/event-stream'],
} as const;

/**
 * Picks JSON, audio or a server-sent event stream from an Accept header (RFC 9110): each offer takes the q of the most specific
 * range that matches it (an exact type, then a type wildcard, then the full wildcard), so an
 * explicit application/json;q=0 excludes JSON even next to a wildcard. The higher q wins; JSON
 * wins a tie and a missing header, audio a tie with events.
 */
export function negotiate(accept: string | undefined): 'json' | 'audio' | 'events' {
  if (!accept?.trim()) return 'json';
  const ranges = accept.split(',').map((part) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';').map((p) => p.trim());
    const q = params.find((p) => p.startsWith('q='));
    return { type, q: q ? Number(q.slice(2)) || 0 : 1 };
  });
  const qOf = (types: readonly string[]): number => {
    let best = { specificity: -1, q: 0 };
    for (const { type, q } of ranges) {
      const specificity = types.includes(type) ? 2 : types.some((t) => type === `${t.split('/')[0]}/*`) ? 1 : type === '*/*' ? 0 : -1;
      if (specificity > best.specificity) best = { specificity, q };
    }
    return best.q;
  };
  const json = qOf(OFFERS.json);
  const audio = qOf(OFFERS.audio);
  const events = qOf(OFFERS.events);
  if (json <= 0 && audio <= 0 && events <= 0) {
    throw new ApiError('NOT_ACCEPTABLE', 'this endpoint answers application/json, audio (audio/wav or the audio_format asked for) or text/event-stream');
  }
  if (events > json && events > audio) return 'events';
  return audio > json ? 'audio' : 'json';
}
