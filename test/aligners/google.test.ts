// The google aligner with the real @google-cloud/speech client against a local Speech v1 server
// (test/fixtures/speech-server.ts): the request it sends, offsets in every form, long audio cut
// and shifted, words matched back onto our text, bounded retries, and where credentials come from.
import t from 'tap';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bcp47, GoogleAligner, type GoogleEndpoint, loadCredentials, offsetSeconds, parseWav, splitAtPauses } from '../../src/aligners/google.js';
import { matchWords, numberWords, spokenTokens } from '../../src/aligners/match.js';
import { loadConfig, type GoogleConfig } from '../../src/config.js';
import type { StepContext } from '../../src/pipeline/context.js';
import { at, FAKE_KEY, speechServer, type RecognizeRequest } from '../fixtures/speech-server.js';
import { tempDir } from '../helpers.js';

// The Long that the client's own protobufjs decodes int64 into (longRunningRecognize's seconds).
const Long = (createRequire(import.meta.url)('google-gax') as { protobuf: { util: { Long: { fromNumber(n: number): object } } } }).protobuf.util.Long;

/** A 16-bit mono WAV of `seconds`, silent except for a tone from each [start, end, amplitude]. */
function wav(path: string, rate: number, seconds: number, tones: [number, number, number][] = []): void {
  const n = Math.round(rate * seconds);
  const data = Buffer.alloc(n * 2);
  for (const [s, e, amp] of tones) {
    for (let i = Math.round(s * rate); i < Math.min(n, Math.round(e * rate)); i++) data.writeInt16LE(Math.round(amp * Math.sin(i / 3)), i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8); h.write('fmt ', 12); h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(rate, 24); h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
}

/** A step context whose CPU lane tokenizes roughly as the worker does (its own tokenizer is tested on its side). */
function context(text: string): StepContext {
  const spans = [...text.matchAll(/[^\s,!?;:()—.]+(?:\.[^\s,!?;:()—.]+)*/gu)].map((m) => [[...text.slice(0, m.index)].length, [...text.slice(0, m.index + m[0].length)].length]);
  const lane = { call: async () => ({ spans, content: [0, [...text].length] }) };
  const warnings: object[] = [];
  return {
    config: loadConfig({}), workers: { lanes: { cpu: lane } } as never, store: undefined as never,
    log: { warn: (o: object) => void warnings.push(o) } as never, signal: new AbortController().signal, timings: {},
  };
}

async function aligner(t: { teardown(fn: () => unknown): void }, endpoint: GoogleEndpoint, over: Partial<GoogleConfig> = {}) {
  const config = loadConfig({ VOICECUE_GOOGLE_CREDENTIALS: JSON.stringify(FAKE_KEY) }).google;
  const g = new GoogleAligner({ ...config, ...over }, endpoint);
  await g.init();
  t.teardown(() => g.close());
  return g;
}

t.test('offsets: seconds as a string, a number or a Long, plus nanos', async (t) => {
  t.equal(offsetSeconds({ seconds: '12', nanos: 500_000_000 }), 12.5);
  t.equal(offsetSeconds({ seconds: 12, nanos: 250_000_000 }), 12.25);
  t.equal(offsetSeconds({ seconds: Long.fromNumber(125), nanos: 100_000_000 }), 125.1);
  t.equal(offsetSeconds({ nanos: 300_000_000 }), 0.3, 'seconds left out when zero');
  t.equal(offsetSeconds({ seconds: '3' }), 3, 'nanos left out when zero');
  t.equal(offsetSeconds(null), 0);
});

t.test('the language goes to Google as BCP-47, from the request', async (t) => {
  t.same(['en-us', 'pt_br', 'de', 'zh-hans-cn', 'EN-GB'].map(bcp47), ['en-US', 'pt-BR', 'de', 'zh-Hans-CN', 'en-GB']);
});

t.test('numbers and symbols are spoken tokens on both sides', async (t) => {
  t.same(numberWords('2025'), ['two', 'thousand', 'twenty', 'five']);
  t.same(numberWords('12'), ['twelve']);
  t.same(numberWords('007'), ['zero', 'zero', 'seven']);
  t.same(spokenTokens('$4.50,'), ['dollars', 'four', 'fifty']);
  t.same(spokenTokens('12%'), ['twelve', 'percent']);
  t.same(spokenTokens('Café'), ['cafe']);
});

t.test("recognised words are matched back onto our words: numbers, symbols, punctuation, misses", async (t) => {
  const text = 'In 2025, tickets cost $4.50 — up 12%! Wow.';
  const ctx = context(text);
  const spans = (await ctx.workers.lanes.cpu!.call('tokenize', { text })) as { spans: [number, number][] };
  const ours = spans.spans.map(([s, e]) => ({ char_start: s, char_end: e }));
  const heard = [
    ['in', 0.1, 0.2], ['twenty', 0.3, 0.5], ['twenty', 0.5, 0.7], ['five', 0.7, 0.9], ['tickets', 1.0, 1.4],
    ['cost', 1.5, 1.7], ['$4.50', 1.8, 2.4], ['up', 2.6, 2.7], ['twelve', 2.8, 3.1], ['percent', 3.1, 3.5],
  ].map(([word, start, end]) => ({ word: word as string, start: start as number, end: end as number, confidence: 0.8 }));
  const words = matchWords(text, ours, heard, 5, 'google')!;
  t.same(words.map((w) => w.word), ['In', '2025', 'tickets', 'cost', '$4.50', 'up', '12%', 'Wow']);
  const by = Object.fromEntries(words.map((w) => [w.word, w]));
  t.same([by['2025']!.start, by['2025']!.end], [0.3, 0.9], '"2025" spans "twenty twenty five"');
  t.same([by['$4.50']!.start, by['$4.50']!.end], [1.8, 2.4]);
  t.same([by['12%']!.start, by['12%']!.end], [2.8, 3.5], '"12%" spans "twelve percent"');
  t.equal(by['12%']!.source, 'google');
  t.equal(by['12%']!.confidence, 0.8);
  t.equal(by.Wow!.source, 'interpolated', 'a word Google missed is interpolated');
  t.ok(by.Wow!.start >= 3.5 && by.Wow!.end <= 5);
  let prev = 0;
  for (const w of words) {
    t.ok(w.start >= prev && w.end > w.start && w.end <= 5, `${w.word} in order, inside the audio`);
    prev = w.end;
  }
  t.equal(matchWords(text, ours, [{ word: 'banana', start: 0, end: 1, confidence: null }], 5, 'google'), null, 'nothing in common: no times at all');
});

t.test('the real client against a local Speech server: the request, and words matched back', async (t) => {
  const server = await speechServer(() => [
    { word: 'Guten', startTime: at(0.2), endTime: at(0.6), confidence: 0.9 },
    { word: 'Morgen', startTime: at(0.7), endTime: at(1.25), confidence: 0.7 },
  ]);
  t.teardown(() => server.close());
  const dir = await tempDir(t);
  const audio = join(dir, 'audio.wav');
  wav(audio, 24000, 2, [[0.2, 1.2, 8000]]);
  const g = await aligner(t, server.endpoint);
  t.equal(g.unavailable(), null);
  const text = 'Guten Morgen!';
  const words = await g.align(context(text), { audioPath: audio, text, language: 'de-de', engine: 'f5', engineWords: [] });
  t.same(words.map((w) => [w.word, w.start, w.end, w.source, w.confidence]), [['Guten', 0.2, 0.6, 'google', 0.9], ['Morgen', 0.7, 1.25, 'google', 0.7]]);
  t.equal(server.requests.length, 1);
  const [req] = server.requests as [RecognizeRequest];
  t.match(req.config, { encoding: 'LINEAR16', sampleRateHertz: 24000, languageCode: 'de-DE', enableWordTimeOffsets: true, enableWordConfidence: true });
  t.equal(req.audio.content.length, 2 * 24000 * 2, 'the PCM samples, without the WAV header');
});

t.test('three minutes of audio: cut at pauses into pieces of at most 55 s, recognised, shifted back', async (t) => {
  // A tone every 3 s; its loudness says which word it is, so the server can answer from the piece alone.
  const rate = 16000;
  const n = 60;
  const tones: [number, number, number][] = Array.from({ length: n }, (_, k) => [k * 3 + 0.5, k * 3 + 1.1, 200 * (k + 1)]);
  const dir = await tempDir(t);
  const audio = join(dir, 'audio.wav');
  wav(audio, rate, 180, tones);
  const server = await speechServer((req) => {
    const pcm = req.audio.content;
    const words = [];
    for (let i = 0; i < pcm.length / 2;) {
      if (Math.abs(pcm.readInt16LE(i * 2)) < 50) { i++; continue; }
      let j = i;
      let peak = 0;
      while (j < pcm.length / 2 && j - i < rate) { peak = Math.max(peak, Math.abs(pcm.readInt16LE(j * 2))); j++; }
      const k = Math.round(peak / 200) - 1;
      words.push({ word: `w${k}`, startTime: at(i / rate), endTime: at((i + 0.6 * rate) / rate), confidence: 0.9 });
      i += rate * 2;
    }
    return words;
  });
  t.teardown(() => server.close());
  const text = Array.from({ length: n }, (_, k) => `w${k}`).join(' ');
  const pieces = splitAtPauses(parseWav((await import('node:fs')).readFileSync(audio)));
  t.ok(pieces.length >= 4, `${pieces.length} pieces`);
  for (const [a, b] of pieces) t.ok((b - a) / rate <= 55, 'each piece at most 55 s');
  const g = await aligner(t, server.endpoint);
  const words = await g.align(context(text), { audioPath: audio, text, language: 'en-GB', engine: 'f5', engineWords: [] });
  t.equal(server.requests.length, pieces.length, 'one recognize a piece');
  t.ok(server.requests.every((r) => r.audio.content.length <= 55 * rate * 2 && r.config.languageCode === 'en-GB'));
  t.equal(words.length, n);
  t.ok(words.every((w) => w.source === 'google'), 'no tone was cut in two, every word was heard');
  const off = words.map((w, k) => Math.abs(w.start - tones[k]![0]));
  t.ok(Math.max(...off) < 0.01, `every word at its tone, in absolute time (worst ${Math.max(...off).toFixed(4)} s)`);
});

t.test('retries are bounded; a server that keeps failing fails the step', async (t) => {
  let calls = 0;
  const server = await speechServer(() => (++calls <= 2 ? { code: 14, details: 'try later' } : [{ word: 'hello', startTime: at(0.1), endTime: at(0.4) }]));
  t.teardown(() => server.close());
  const dir = await tempDir(t);
  const audio = join(dir, 'audio.wav');
  wav(audio, 22050, 1, [[0.1, 0.4, 5000]]);
  const g = await aligner(t, server.endpoint, { retries: 2 });
  const words = await g.align(context('hello'), { audioPath: audio, text: 'hello', language: 'en', engine: 'f5', engineWords: [] });
  t.equal(words[0]!.source, 'google');
  t.equal(calls, 3, 'two failures, then an answer');
  calls = -100; // now it fails more than the retries allow
  const once = await aligner(t, server.endpoint, { retries: 1 });
  const before = server.requests.length;
  await t.rejects(once.align(context('hello'), { audioPath: audio, text: 'hello', language: 'en', engine: 'f5', engineWords: [] }), /google recognize failed/);
  t.equal(server.requests.length - before, 2, 'one try and one retry');
});

t.test('credentials: from three places, in order; none means off with the reason', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'key.json');
  writeFileSync(file, JSON.stringify({ ...FAKE_KEY, client_email: 'from-file@x.iam.gserviceaccount.com' }));
  const other = join(dir, 'other.json');
  writeFileSync(other, JSON.stringify({ ...FAKE_KEY, client_email: 'from-gac@x.iam.gserviceaccount.com' }));
  const load = (env: Record<string, string>) => loadCredentials(loadConfig(env).google.credentials);
  const json = await load({ VOICECUE_GOOGLE_CREDENTIALS: JSON.stringify(FAKE_KEY), VOICECUE_GOOGLE_CREDENTIALS_FILE: file, GOOGLE_APPLICATION_CREDENTIALS: other });
  t.match(json, { from: 'VOICECUE_GOOGLE_CREDENTIALS', credentials: { client_email: FAKE_KEY.client_email }, projectId: 'voicecue-test' });
  t.ok(!('reason' in json) && json.credentials!.private_key.includes('\n') && !json.credentials!.private_key.includes('\\n'), 'escaped newlines in the PEM restored');
  t.match(await load({ VOICECUE_GOOGLE_CREDENTIALS_FILE: file, GOOGLE_APPLICATION_CREDENTIALS: other }), { from: 'VOICECUE_GOOGLE_CREDENTIALS_FILE', credentials: { client_email: 'from-file@x.iam.gserviceaccount.com' } });
  t.match(await load({ GOOGLE_APPLICATION_CREDENTIALS: other }), { from: 'GOOGLE_APPLICATION_CREDENTIALS', credentials: { client_email: 'from-gac@x.iam.gserviceaccount.com' } });
  t.match(await load({}), { reason: /no Google credentials: set VOICECUE_GOOGLE_CREDENTIALS/ });
  t.match(await load({ VOICECUE_GOOGLE_CREDENTIALS_FILE: join(dir, 'missing.json') }), { reason: /cannot be read \(ENOENT\)/ });
  const bad = await load({ VOICECUE_GOOGLE_CREDENTIALS: '{"private_key": "TOPSECRET' });
  t.match(bad, { reason: /not a JSON key/ });
  t.notMatch(JSON.stringify(bad), /TOPSECRET/, 'the reason never repeats the secret');
  t.notMatch(JSON.stringify(loadConfig({ VOICECUE_GOOGLE_CREDENTIALS: JSON.stringify(FAKE_KEY) })), /TOPSECRET/, 'nor does the config, serialized');
  const off = new GoogleAligner(loadConfig({}).google);
  await off.init();
  t.match(off.info(), { available: false, reason: /no Google credentials/ });
  t.throws(() => loadConfig({ VOICECUE_GOOGLE_CREDENTIALS: 'x', VOICECUE_GOOGLE_RETRIES: '99' }), /VOICECUE_GOOGLE_RETRIES/);
});
