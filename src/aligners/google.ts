/**
 * The google aligner (gateway side, the cloud fallback): Google Speech v1 `recognize` with word
 * time offsets, its words matched back onto our text (match.ts).
 *
 * - Credentials in memory only, from VOICECUE_GOOGLE_CREDENTIALS (or GOOGLE_CREDENTIALS_JSON),
 *   else VOICECUE_GOOGLE_CREDENTIALS_FILE, else GOOGLE_APPLICATION_CREDENTIALS; with none the
 *   client is never built (the auth library would probe the cloud metadata server).
 * - Inline audio is limited to about 60 s and 10 MB: longer audio is cut at its quietest moment
 *   into pieces of at most 55 s, recognised a few at a time, and the offsets shifted back.
 * - The language is the request's (BCP-47), never a fixed en-US; the sample rate is the file's.
 * - Each call has a deadline and a bounded number of retries (the client's own default retries
 *   for 10 minutes): both from the config.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { GoogleConfig } from '../config.js';
import { tokenizeResultSchema } from '../lanes/index.js';
import type { StepContext } from '../pipeline/context.js';
import type { GatewayAligner, WordsRequest } from '../pipeline/words.js';
import type { Word } from '../types.js';
import { matchWords, type Recognised } from './match.js';

export const MAX_PIECE_S = 55;
/** Inline audio is also limited to 10 MB: a piece of a high-rate, many-channel file is shorter. */
const MAX_PIECE_BYTES = 9_500_000;
/** A cut is looked for in the last this many seconds of a piece: the quietest 20 ms there. */
const CUT_WINDOW_S = 15;
const FRAME_S = 0.02;
/** gRPC codes worth another try: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE. */
const RETRYABLE = new Set([4, 8, 13, 14]);

/** Where the client connects, for tests: a local server with insecure channel credentials. */
export interface GoogleEndpoint {
  apiEndpoint: string;
  port: number;
  sslCreds: unknown;
}

interface Credentials {
  from: string;
  credentials?: { client_email: string; private_key: string };
  projectId?: string;
  keyFilename?: string;
}

/** The credentials as the client takes them, or why there are none. Never logs or returns the secret in a reason. */
export async function loadCredentials(source: GoogleConfig['credentials']): Promise<Credentials | { reason: string }> {
  if (!source) {
    return { reason: 'no Google credentials: set VOICECUE_GOOGLE_CREDENTIALS (the key JSON), VOICECUE_GOOGLE_CREDENTIALS_FILE or GOOGLE_APPLICATION_CREDENTIALS' };
  }
  let raw: string;
  if ('json' in source) raw = source.json.reveal();
  else {
    try {
      raw = await readFile(source.file, 'utf8');
    } catch (err) {
      return { reason: `${source.from} names a file that cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
  }
  let key: Record<string, unknown>;
  try {
    key = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return { reason: `${source.from} is not a JSON key (its content is not repeated here)` };
  }
  if (typeof key !== 'object' || key === null) return { reason: `${source.from} is not a JSON object` };
  const projectId = typeof key.project_id === 'string' ? key.project_id : undefined;
  if (typeof key.client_email === 'string' && typeof key.private_key === 'string') {
    // A PEM kept in an environment variable often arrives with its newlines escaped.
    const privateKey = key.private_key.includes('\n') ? key.private_key : key.private_key.replace(/\\n/g, '\n');
    return { from: source.from, credentials: { client_email: key.client_email, private_key: privateKey }, ...(projectId ? { projectId } : {}) };
  }
  // Other key types (an authorized user, workload identity): the auth library reads the file itself.
  if ('file' in source) return { from: source.from, keyFilename: source.file, ...(projectId ? { projectId } : {}) };
  return { reason: `${source.from} has no client_email and private_key (a service account key is needed)` };
}

/** A Duration's seconds arrive as a string (recognize), a Long (longRunningRecognize) or a number. */
export function offsetSeconds(d: { seconds?: unknown; nanos?: unknown } | null | undefined): number {
  if (!d) return 0;
  const s = d.seconds;
  const seconds = s === null || s === undefined ? 0 : typeof s === 'object' && 'toNumber' in (s as object) ? (s as { toNumber(): number }).toNumber() : Number(s);
  const nanos = Number(d.nanos ?? 0);
  return (Number.isFinite(seconds) ? seconds : 0) + (Number.isFinite(nanos) ? nanos : 0) / 1e9;
}

/** BCP-47 as Google wants it: en-us -> en-US, pt_br -> pt-BR, zh-hans-cn -> zh-Hans-CN. */
export function bcp47(language: string): string {
  const [lang, ...rest] = language.split(/[-_]/);
  return [lang!.toLowerCase(), ...rest.map((p) => (p.length === 2 ? p.toUpperCase() : p.length === 4 ? p[0]!.toUpperCase() + p.slice(1).toLowerCase() : p))].join('-');
}

export interface Pcm {
  sampleRate: number;
  channels: number;
  /** The 16-bit little-endian samples (interleaved when several channels). */
  data: Buffer;
}

/** A 16-bit PCM WAV (what the workers write), its chunks walked rather than assumed at 44 bytes. */
export function parseWav(buf: Buffer): Pcm {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('the audio is not a WAV file');
  let pos = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('ascii', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') fmt = { format: buf.readUInt16LE(body), channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    if (id === 'data') {
      if (!fmt || fmt.format !== 1 || fmt.bits !== 16) throw new Error('the audio is not 16-bit PCM');
      return { sampleRate: fmt.rate, channels: fmt.channels, data: buf.subarray(body, Math.min(buf.length, body + size)) };
    }
    pos = body + size + (size % 2);
  }
  throw new Error('the WAV file has no data');
}

/** [start, end) sample frames of pieces of at most `maxS` seconds, each cut at the quietest 20 ms near its end. */
export function splitAtPauses(pcm: Pcm, maxS = MAX_PIECE_S): [number, number][] {
  const frameBytes = 2 * pcm.channels;
  const frames = Math.floor(pcm.data.length / frameBytes);
  const max = Math.floor(Math.min(maxS * pcm.sampleRate, MAX_PIECE_BYTES / frameBytes));
  const hop = Math.max(1, Math.round(FRAME_S * pcm.sampleRate));
  const pieces: [number, number][] = [];
  let start = 0;
  while (frames - start > max) {
    const from = start + max - Math.floor(Math.min(CUT_WINDOW_S * pcm.sampleRate, max / 3));
    let best = start + max;
    let quietest = Infinity;
    for (let f = Math.max(start + hop, from); f + hop <= start + max; f += hop) {
      let energy = 0;
      for (let k = f; k < f + hop; k++) {
        const v = pcm.data.readInt16LE(k * frameBytes);
        energy += v * v;
      }
      if (energy < quietest) {
        quietest = energy;
        best = f + Math.floor(hop / 2);
      }
    }
    pieces.push([start, best]);
    start = best;
  }
  pieces.push([start, frames]);
  return pieces;
}

interface SpeechClientLike {
  recognize(request: object, options: object): Promise<[{ results?: { alternatives?: { words?: RawWord[] }[] }[] | null }, ...unknown[]]>;
  close(): Promise<void>;
}

interface RawWord {
  word?: string | null;
  startTime?: { seconds?: unknown; nanos?: unknown } | null;
  endTime?: { seconds?: unknown; nanos?: unknown } | null;
  confidence?: number | null;
}

const require = createRequire(import.meta.url);

export class GoogleAligner implements GatewayAligner {
  private creds: Credentials | { reason: string } | undefined;
  private client: SpeechClientLike | undefined;

  constructor(private readonly config: GoogleConfig, private readonly endpoint?: GoogleEndpoint) {}

  /** Reads the credentials once, at start; google is off with the reason when there are none. */
  async init(): Promise<void> {
    this.creds = await loadCredentials(this.config.credentials);
  }

  unavailable(): string | null {
    if (!this.creds) return 'the google aligner is starting';
    return 'reason' in this.creds ? this.creds.reason : null;
  }

  /** For /health: whether it can run, from where its credentials came (never what they are). */
  info(): { available: boolean; reason?: string; credentials?: string } {
    const why = this.unavailable();
    return why ? { available: false, reason: why } : { available: true, credentials: (this.creds as Credentials).from };
  }

  private speech(): SpeechClientLike {
    if (this.client) return this.client;
    const creds = this.creds as Credentials;
    const { SpeechClient } = require('@google-cloud/speech') as { SpeechClient: new (opts: object) => SpeechClientLike };
    this.client = new SpeechClient({
      ...(creds.credentials ? { credentials: creds.credentials } : { keyFilename: creds.keyFilename }),
      ...(creds.projectId ? { projectId: creds.projectId } : {}),
      ...(this.endpoint ?? {}),
    });
    return this.client;
  }

  async align(ctx: StepContext, req: WordsRequest): Promise<Word[]> {
    if (!req.language) throw new Error('google needs the language of the text (language, or a voice named by its language)');
    const pcm = parseWav(await readFile(req.audioPath));
    const duration = pcm.data.length / (2 * pcm.channels) / pcm.sampleRate;
    const pieces = splitAtPauses(pcm);
    const languageCode = bcp47(req.language);
    const heard: Recognised[][] = new Array(pieces.length);
    let next = 0;
    const worker = async () => {
      while (next < pieces.length) {
        const k = next++;
        const [a, b] = pieces[k]!;
        const content = pcm.data.subarray(a * 2 * pcm.channels, b * 2 * pcm.channels);
        const words = await this.recognize(ctx, content, pcm, languageCode);
        const shift = a / pcm.sampleRate;
        heard[k] = words.map((w) => ({ ...w, start: w.start + shift, end: w.end + shift }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.concurrency, pieces.length) }, worker));
    const spans = await ourWords(ctx, req.text);
    const words = matchWords(req.text, spans, heard.flat(), duration, 'google');
    if (!words) throw new Error(`google recognised none of the words of the text (${heard.flat().length} words heard in ${languageCode})`);
    return words;
  }

  private async recognize(ctx: StepContext, content: Buffer, pcm: Pcm, languageCode: string): Promise<Recognised[]> {
    const request = {
      config: {
        encoding: 'LINEAR16', sampleRateHertz: pcm.sampleRate, audioChannelCount: pcm.channels, languageCode,
        enableWordTimeOffsets: true, enableWordConfidence: true,
      },
      audio: { content },
    };
    for (let attempt = 0; ; attempt++) {
      if (ctx.signal.aborted) throw new Error('the client went away');
      try {
        const [response] = await this.speech().recognize(request, { timeout: this.config.timeoutMs, maxRetries: 0 });
        const out: Recognised[] = [];
        for (const result of response.results ?? []) {
          for (const w of result.alternatives?.[0]?.words ?? []) {
            if (!w.word) continue;
            out.push({ word: w.word, start: offsetSeconds(w.startTime), end: offsetSeconds(w.endTime), confidence: typeof w.confidence === 'number' && w.confidence > 0 ? w.confidence : null });
          }
        }
        return out;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (attempt >= this.config.retries || code === undefined || !RETRYABLE.has(code)) {
          throw new Error(`google recognize failed: ${(err as Error).message}`);
        }
        ctx.log.warn({ aligner: 'google', attempt: attempt + 1, code }, 'google recognize failed; trying again');
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  async close(): Promise<void> {
    await this.client?.close().catch(() => undefined);
  }
}

/** Our words' spans, from the worker's tokenizer: the one definition of a word both sides use. */
async function ourWords(ctx: StepContext, text: string): Promise<{ char_start: number; char_end: number }[]> {
  const lane = ctx.workers.lanes.cpu ?? ctx.workers.lanes.gpu;
  if (!lane) throw new Error('no worker lane to split the text into words');
  const parsed = tokenizeResultSchema.safeParse(await lane.call('tokenize', { text }));
  if (!parsed.success) throw new Error('the worker answered tokenize with a malformed result');
  return parsed.data.spans.map(([s, e]) => ({ char_start: s, char_end: e }));
}
