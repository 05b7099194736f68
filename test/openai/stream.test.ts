// Streaming from /v1/audio/speech with the real espeak worker: the SDK's SSE reader, audio that
// leaves before synthesis ends, and streamed audio and words equal to what is stored.
import t from 'tap';
import OpenAI from 'openai';
import { Stream } from 'openai/streaming';
import { execa } from 'execa';
import { listening, parseWav, testApp } from '../helpers.js';

const TEXT = 'Streaming starts with the first sentence. The second one follows while it plays! Does the third arrive too? It does, in 2025.';

/** A text of `n` words in sentences of 8 to 15 words, each starting with a capital. */
function words(n: number): string {
  const vocab = 'the quick brown fox jumps over a lazy dog near rivers while people think speech is simple and clear'.split(' ');
  const out: string[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  let left = 0;
  for (let i = 0; i < n; i++) {
    let w = vocab[next() % vocab.length]!;
    if (left === 0) {
      w = w[0]!.toUpperCase() + w.slice(1);
      left = 8 + (next() % 8);
    }
    left--;
    out.push(left === 0 || i === n - 1 ? `${w}.` : w);
  }
  return out.join(' ');
}

async function service(t: Parameters<typeof testApp>[0]) {
  // 1000 words are ~5500 characters: past OpenAI's 4096, within the service's own limit.
  const setup = await testApp(t, { env: { VOICECUE_OPENAI_MAX_INPUT: '20000' } });
  await setup.workers.start();
  const port = await listening(setup.app);
  // The SDK keeps connections alive; once the test is done, drop them as they go idle so close() need not wait
  // (dropping them during the test would race a request reusing one).
  t.teardown(() => setInterval(() => setup.app.server.closeIdleConnections(), 50).unref());
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { ...setup, port, client };
}

interface Event {
  type: string;
  audio?: string;
  usage?: { input_tokens: number; output_tokens: number; total_tokens: number };
  words?: { word: string; start: number; end: number; char_start: number; char_end: number }[];
}

async function decode(bytes: Buffer, input: string[] = []): Promise<Buffer> {
  const { stdout } = await execa('ffmpeg', ['-v', 'error', ...input, '-i', 'pipe:0', '-f', 's16le', 'pipe:1'], { input: bytes, encoding: 'buffer' });
  return Buffer.from(stdout);
}

t.test("the SDK's SSE reader reads the sse stream; voicecue.words do not break it; audio and words equal the stored ones", async (t) => {
  const { client, app } = await service(t);
  for (const format of ['pcm', 'wav', 'flac', 'mp3'] as const) {
    const res = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: TEXT, response_format: format, stream_format: 'sse' });
    t.match(res.headers.get('content-type'), /^text\/event-stream/);
    const id = res.headers.get('x-voicecue-id')!;
    const events: Event[] = [];
    for await (const event of Stream.fromSSEResponse<Event>(res, new AbortController())) events.push(event);
    const types = events.map((e) => e.type);
    t.ok(types.includes('speech.audio.delta'), `${format}: audio deltas`);
    t.equal(types.at(-1), 'speech.audio.done', `${format}: done comes last`);
    t.equal(types.filter((ty) => ty === 'speech.audio.done').length, 1);
    t.ok(types.every((ty) => ['speech.audio.delta', 'speech.audio.done', 'voicecue.words'].includes(ty)), `${format}: only these events`);
    const done = events.at(-1)!;
    t.match(done.usage, { input_tokens: Number, output_tokens: Number, total_tokens: Number });
    t.equal(done.usage!.total_tokens, done.usage!.input_tokens + done.usage!.output_tokens);
    const streamed = Buffer.concat(events.filter((e) => e.type === 'speech.audio.delta').map((e) => Buffer.from(e.audio!, 'base64')));

    // The same request, not streamed: the same audio within the codec (exact where it is lossless).
    const whole = Buffer.from(await (await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: TEXT, response_format: format })).arrayBuffer());
    if (format === 'pcm') t.same(streamed, whole, 'pcm: the same samples');
    else if (format === 'wav') t.same(streamed.subarray(44), whole.subarray(44), 'wav: the same samples after the header');
    else if (format === 'flac') t.same(await decode(streamed), await decode(whole), 'flac: decodes to the same samples');
    else {
      const [a, b] = [await decode(streamed), await decode(whole)];
      // A streamed mp3 has no LAME header: its decoder keeps the encoder delay at the start and the padding at the end.
      t.ok(Math.abs(a.length - b.length) / 2 / 22050 < 0.08, `mp3: as long within the codec's framing (${a.length} vs ${b.length} bytes)`);
    }

    // The streamed words are the stored words.
    const streamedWords = events.filter((e) => e.type === 'voicecue.words').flatMap((e) => e.words!);
    const stored = (await app.inject(`/download/${id}?format=json`)).json().words as Event['words'] & object;
    t.same(streamedWords, stored.map(({ word, start, end, char_start, char_end }) => ({ word, start, end, char_start, char_end })), `${format}: streamed words = stored words`);
    t.equal(done.usage!.input_tokens, stored.length);
  }
});

t.test('1000 words: the first audio byte arrives while the worker is still synthesizing', async (t) => {
  const { client, workers, app, port } = await service(t);
  const text = words(1000);
  t.ok(text.length > 4096, `${text.length} characters`);
  const lane = workers.lanes.cpu!;

  // stream_format audio: at the first body chunk, the lane still has the job running.
  const res = await fetch(`http://127.0.0.1:${port}/v1/audio/speech`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: text, response_format: 'wav', stream_format: 'audio' }),
  });
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  let runningAtFirstByte: number | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    runningAtFirstByte ??= lane.status().running;
    chunks.push(value);
  }
  t.equal(runningAtFirstByte, 1, 'synthesis was still running when the first byte arrived');
  const streamed = Buffer.concat(chunks);
  const id = res.headers.get('x-voicecue-id')!;
  const stored = (await app.inject(`/download/${id}`)).rawPayload;
  t.same(streamed.subarray(44), stored.subarray(44), 'the streamed samples are the stored WAV');
  t.ok(parseWav(stored).duration > 200, 'a long text');

  // sse: the first audio delta comes before most words are timed.
  const sse = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: text, response_format: 'mp3', stream_format: 'sse' });
  let wordsBeforeFirstAudio: number | undefined;
  let allWords = 0;
  for await (const event of Stream.fromSSEResponse<Event>(sse, new AbortController())) {
    if (event.type === 'speech.audio.delta') wordsBeforeFirstAudio ??= allWords;
    if (event.type === 'voicecue.words') allWords += event.words!.length;
  }
  t.equal(allWords, 1000, 'every word streamed');
  t.ok(wordsBeforeFirstAudio !== undefined && wordsBeforeFirstAudio < 100, `first audio after ${wordsBeforeFirstAudio} of 1000 words`);
});

t.test('an error before the first chunk is an OpenAI error; a client that goes away stops the worker and ffmpeg', async (t) => {
  const { client, workers, port, log } = await service(t);
  const err = await client.audio.speech.create({ model: 'tts-1', voice: 'xx-none', input: 'Hi.', stream_format: 'sse' }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof OpenAI.BadRequestError);
  const controller = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}/v1/audio/speech`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
    body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: words(1000), response_format: 'mp3', stream_format: 'audio' }),
  });
  await res.body!.getReader().read(); // the first bytes
  controller.abort();
  const lane = workers.lanes.cpu!;
  const { waitFor } = await import('../helpers.js');
  await waitFor(() => lane.status().running === 0, 10_000, 'the job to stop');
  t.ok(lane.stats.cancelledRunning >= 1, 'the running job was cancelled on its worker');
  await waitFor(async () => {
    const { stdout } = await execa('pgrep', ['-P', String(process.pid), 'ffmpeg'], { reject: false });
    return stdout.trim() === '';
  }, 5000, 'ffmpeg to exit');
  t.pass('no ffmpeg left');
  void log;
});
