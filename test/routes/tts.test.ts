// The vertical slice against the real worker and libespeak-ng.
import t, { type Test } from 'tap';
import { readdir } from 'node:fs/promises';
import { parseWav, testApp, waitFor } from '../helpers.js';
import type { Word } from '../../src/types.js';

const SENTENCE = 'Hello world, this is voicecue. The year 2025 had 12 months.';
const EXPECTED = ['Hello', 'world', 'this', 'is', 'voicecue', 'The', 'year', '2025', 'had', '12', 'months'];

function checkWords(t: Test, words: Word[], text: string, duration: number): void {
  t.same(words.map((w) => w.word), EXPECTED, 'every word of the text, "2025" and "12" as one word each');
  const points = [...text];
  words.forEach((w, i) => {
    t.equal(points.slice(w.char_start, w.char_end).join(''), w.word, `span of ${w.word}`);
    t.ok(w.end > w.start, `${w.word} has a length`);
    t.ok(w.start >= 0 && w.start < duration, `${w.word} starts inside the audio`);
    t.ok(w.end <= duration + 1e-3, `${w.word} ends inside the audio`);
    const prev = words[i - 1];
    if (prev) {
      t.ok(w.start >= prev.end, `${w.word} starts after ${prev.word} ends`);
      t.ok(w.char_start >= prev.char_end, `${w.word} comes after ${prev.word} in the text`);
    }
    t.equal(w.source, 'espeak');
  });
}

t.test('health is 503 until the worker is ready, 200 after', async (t) => {
  const { app, sidecar } = await testApp(t);
  const before = await app.inject('/health');
  t.equal(before.statusCode, 503);
  t.equal(before.json().status, 'starting');
  t.type(before.json().reason, 'string');
  t.equal((await app.inject('/health/live')).statusCode, 200, 'live while not ready');
  await sidecar.start();
  const after = await app.inject('/health');
  t.equal(after.statusCode, 200);
  const body = after.json();
  t.equal(body.status, 'ready');
  t.equal(body.engines.espeak.available, true);
  t.ok(body.engines.espeak.voice_count > 10);
  t.equal(body.engines.f5.available, false);
  t.type(body.engines.f5.reason, 'string');
  t.equal(body.aligners.native.available, true);
  t.match(body.versions, { 'espeak-ng': /^1\./ });
});

t.test('POST /tts: JSON with words whose audio downloads as a valid WAV', async (t) => {
  const { app, sidecar, store } = await testApp(t);
  await sidecar.start();
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(res.statusCode, 201);
  const body = res.json();
  t.match(body, { engine: 'espeak', voice: 'en-us', sample_rate: 22050, speed: 1 });
  t.match(body.id, /^[0-9a-z]{9}[\w-]{16}$/);
  t.equal(res.headers.location, `/download/${body.id}`);
  t.equal(body.audio_url, `/download/${body.id}`);
  t.same(body.downloads, { wav: `/download/${body.id}?format=wav`, json: `/download/${body.id}?format=json` });
  for (const stage of ['worker', 'worker_round_trip', 'store', 'total']) t.type(body.timings_ms[stage], 'number', `timing ${stage}`);
  checkWords(t, body.words, SENTENCE, body.duration);

  const audio = await app.inject(body.audio_url);
  t.equal(audio.statusCode, 200);
  t.equal(audio.headers['content-type'], 'audio/wav');
  t.equal(audio.headers['content-disposition'], `inline; filename="${body.id}.wav"`);
  t.equal(audio.headers['accept-ranges'], 'bytes');
  const wav = parseWav(audio.rawPayload);
  t.match(wav, { sampleRate: 22050, channels: 1, bits: 16 });
  t.ok(Math.abs(wav.duration - body.duration) < 0.001, `WAV lasts the stated ${body.duration} s`);

  const etag = audio.headers.etag as string;
  t.ok(etag, 'an ETag');
  const again = await app.inject({ url: body.audio_url, headers: { 'if-none-match': etag } });
  t.equal(again.statusCode, 304);
  const range = await app.inject({ url: body.audio_url, headers: { range: 'bytes=0-43' } });
  t.equal(range.statusCode, 206);
  t.equal(range.rawPayload.length, 44);
  t.equal(range.headers['content-range'], `bytes 0-43/${audio.rawPayload.length}`);
  const beyond = await app.inject({ url: body.audio_url, headers: { range: `bytes=${audio.rawPayload.length + 10}-` } });
  t.equal(beyond.statusCode, 416);

  const json = await app.inject(body.downloads.json);
  t.equal(json.statusCode, 200);
  t.match(json.headers['content-type'], /^application\/json/);
  t.equal(json.headers['content-disposition'], `attachment; filename="${body.id}.json"`);
  t.same(json.json().words, body.words);
  t.same(await readdir(store.stagingDir), [], 'nothing left in staging');
});

t.test('Accept: audio/wav answers the WAV itself with the id in a header', async (t) => {
  const { app, sidecar } = await testApp(t);
  await sidecar.start();
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'Straight to a file.', speed: 1.5 }, headers: { accept: 'audio/wav' } });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'audio/wav');
  const id = res.headers['x-voicecue-id'] as string;
  t.match(id, /^[0-9a-z]{9}[\w-]{16}$/);
  const wav = parseWav(res.rawPayload);
  t.ok(Math.abs(wav.duration - Number(res.headers['x-voicecue-duration'])) < 0.001);
  const stored = await app.inject(`/download/${id}`);
  t.same(stored.rawPayload, res.rawPayload, 'the same audio is stored under the id');
});

t.test('unknown voice is 422; language picks a voice; unspeakable text is 422', async (t) => {
  const { app, sidecar } = await testApp(t);
  await sidecar.start();
  const unknown = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hi', voice: 'xx-nope' } });
  t.equal(unknown.statusCode, 422);
  t.equal(unknown.json().code, 'UNKNOWN_VOICE');
  t.match(unknown.json().message, /xx-nope/);
  const german = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'Guten Tag', language: 'de' } });
  t.equal(german.statusCode, 201);
  t.equal(german.json().voice, 'de');
  t.same(german.json().words.map((w: Word) => w.word), ['Guten', 'Tag']);
  const silent = await app.inject({ method: 'POST', url: '/tts', payload: { text: '... !!! ...' } });
  t.equal(silent.statusCode, 422);
  t.equal(silent.json().code, 'NO_SPEECH');
  const noTimings = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'No words please.', return_word_timings: false } });
  t.equal(noTimings.statusCode, 201);
  t.same(noTimings.json().words, []);
  t.ok(noTimings.json().duration > 0.3);
});

t.test('a killed worker fails the request in flight with 503, health follows, and it comes back', async (t) => {
  const { app, sidecar, store } = await testApp(t);
  await sidecar.start();
  const pid = sidecar.pid!;
  const long = 'This sentence is long enough to keep the worker busy for a while. '.repeat(200);
  const inFlight = app.inject({ method: 'POST', url: '/tts', payload: { text: long } });
  await waitFor(() => sidecar.pending.inFlight === 1, 5000, 'the request to reach the worker');
  process.kill(pid, 'SIGKILL');
  const failed = await inFlight;
  t.equal(failed.statusCode, 503);
  t.equal(failed.json().code, 'SIDECAR_UNAVAILABLE');
  t.equal(failed.headers['retry-after'], '1');
  const during = await app.inject('/health');
  t.equal(during.statusCode, 503);
  t.equal(during.json().status, 'restarting');
  await waitFor(() => sidecar.state === 'ready', 10_000, 'the restart');
  t.equal((await app.inject('/health')).statusCode, 200);
  t.equal((await app.inject('/health')).json().restarts, 1);
  t.not(sidecar.pid, pid);
  const next = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(next.statusCode, 201);
  t.same(await readdir(store.stagingDir), [], 'the failed request left no partial files');
  t.same(await readdir(store.artifactsDir), [next.json().id], 'only the finished result is stored');
});
