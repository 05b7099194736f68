// The vertical slice against the real worker and libespeak-ng.
import t, { type Test } from 'tap';
import { readdir } from 'node:fs/promises';
import { parseEvents, parseWav, testApp, waitFor } from '../helpers.js';
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

t.test('health is 503 until the worker is ready, 200 after; small unless verbose', async (t) => {
  const { app, workers } = await testApp(t);
  const started = workers.start();
  const before = await app.inject('/health');
  t.equal(before.statusCode, 503);
  t.equal(before.json().status, 'starting');
  t.type(before.json().reason, 'string');
  t.equal((await app.inject('/health/live')).statusCode, 200, 'live while not ready');
  await started;
  const after = await app.inject('/health');
  t.equal(after.statusCode, 200);
  const body = after.json();
  t.same(Object.keys(body).sort(), ['aligners', 'engines', 'status'], 'the public answer stays small');
  t.equal(body.status, 'ready');
  t.same(body.engines.espeak, { available: true });
  t.equal(body.engines.f5.available, false);
  t.match(body.engines.f5.reason, /gpu lane, which is off/);
  t.same(body.aligners.native, { available: true });
  const verbose = (await app.inject('/health?verbose=1')).json();
  t.ok(verbose.engines.espeak.voice_count > 10);
  t.match(verbose.versions, { 'espeak-ng': /^1\./ });
  t.match(verbose.lanes.cpu, { state: 'ready', queued: 0, running: 0, restarts: 0 });
});

t.test('POST /tts: JSON with words whose audio downloads as a valid WAV', async (t) => {
  const { app, workers, store } = await testApp(t);
  await workers.start();
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(res.statusCode, 201);
  const body = res.json();
  t.match(body, { engine: 'espeak', voice: 'en-us', sample_rate: 22050, speed: 1 });
  t.match(body.id, /^[0-9a-z]{9}[\w-]{16}$/);
  t.equal(res.headers.location, `/download/${body.id}`);
  t.equal(body.audio_url, `/download/${body.id}`);
  t.same(Object.keys(body.downloads).sort(), ['ass', 'csv', 'json', 'srt', 'ttml', 'vtt', 'wav'], 'every format by default');
  for (const [format, url] of Object.entries(body.downloads)) t.equal(url, `/download/${body.id}?format=${format}`);
  t.same(body.timing, { method: 'auto', aligner: 'native', source: 'espeak', skipped: [] }, 'the answer names the step that timed the words');
  for (const stage of ['worker_synthesize', 'worker_round_trip', 'subtitles', 'encode', 'total']) t.type(body.timings_ms[stage], 'number', `timing ${stage}`);
  checkWords(t, body.words, SENTENCE, body.duration);

  const audio = await app.inject(body.audio_url);
  t.equal(audio.statusCode, 200);
  t.equal(audio.headers['content-type'], 'audio/wav');
  t.equal(audio.headers['content-disposition'], `inline; filename="${body.id}.wav"`);
  t.equal(audio.headers['accept-ranges'], 'bytes');
  t.equal(audio.headers['cache-control'], 'private, max-age=86400, immutable');
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
  t.same(json.json().words.map((w: Word) => w.word), EXPECTED);
  t.ok(json.json().cues.length >= 2, 'two sentences, two cues at least');
  t.same(await readdir(store.stagingDir), [], 'nothing left in staging');
});

t.test('Accept: audio/wav answers the WAV itself with the id in a header', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
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

t.test('Accept: text/event-stream: a progress event per sentence spoken, then the answer; a bad body is still a 4xx', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
  const text = 'One sentence here. A second one follows. And a third ends it.';
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { text }, headers: { accept: 'text/event-stream' } });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/event-stream/);
  const events = parseEvents(res.payload);
  const spoken = events.filter((e) => e.event === 'progress' && (e.data as { stage: string }).stage === 'synthesize').map((e) => e.data as { done: number; total: number });
  t.same(spoken.map((p) => p.done), [1, 2, 3], 'one event per sentence, in order');
  t.ok(spoken.every((p) => p.total === 3), 'each says how many there are');
  const last = events.at(-1)!;
  t.equal(last.event, 'result');
  const body = last.data as { id: string; words: Word[]; timing: { aligner: string }; downloads: Record<string, string> };
  t.equal(body.words.length, 12, 'the answer as the 201 JSON has it');
  t.equal(body.timing.aligner, 'native');
  t.equal((await app.inject(body.downloads.srt!)).statusCode, 200, 'stored under its id');
  const bad = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'x', speed: 9 }, headers: { accept: 'text/event-stream' } });
  t.equal(bad.statusCode, 400, 'refused before any work: an ordinary answer');
  t.equal(bad.json().code, 'VALIDATION_ERROR');
});

t.test('unknown voice is 422; language picks a voice; unspeakable text is 422', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
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
  const srt = await app.inject(noTimings.json().downloads.srt);
  t.match(srt.body, /^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\nNo words please\.\n/, 'subtitles are written even so');
});

t.test('a killed worker fails the request in flight with 503, health follows, and it comes back', async (t) => {
  const { app, workers, store } = await testApp(t);
  await workers.start();
  const lane = workers.mainLane;
  const pid = lane.status().workers[0]!.pid!;
  const long = 'This sentence is long enough to keep the worker busy for a while. '.repeat(200);
  const inFlight = app.inject({ method: 'POST', url: '/tts', payload: { text: long } });
  await waitFor(() => lane.status().running === 1, 5000, 'the request to reach the worker');
  process.kill(pid, 'SIGKILL');
  const failed = await inFlight;
  t.equal(failed.statusCode, 503);
  t.equal(failed.json().code, 'SIDECAR_UNAVAILABLE');
  t.equal(failed.headers['retry-after'], '1');
  const during = await app.inject('/health');
  t.equal(during.statusCode, 503);
  t.equal(during.json().status, 'restarting');
  await waitFor(() => lane.state === 'ready', 10_000, 'the restart');
  t.equal((await app.inject('/health')).statusCode, 200);
  t.equal((await app.inject('/health?verbose=1')).json().lanes.cpu.restarts, 1);
  t.not(lane.status().workers[0]!.pid, pid);
  const next = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(next.statusCode, 201);
  t.same(await readdir(store.stagingDir), [], 'the failed request left no partial files');
  t.same(await readdir(store.artifactsDir), [next.json().id], 'only the finished result is stored');
});

t.test('subtitles: every format downloads with its type; timing_format picks one; options are validated', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
  const text = 'First sentence, with a comma. Second one follows! And a third? Yes.';
  const all = (await app.inject({ method: 'POST', url: '/tts', payload: { text, max_chars_per_line: 20 } })).json();
  const types: Record<string, RegExp> = {
    srt: /^application\/x-subrip/, vtt: /^text\/vtt/, ass: /^text\/x-ssa/, ttml: /^application\/ttml\+xml$/, csv: /^text\/csv/, json: /^application\/json/, wav: /^audio\/wav$/,
  };
  for (const [format, type] of Object.entries(types)) {
    const res = await app.inject(all.downloads[format]);
    t.equal(res.statusCode, 200, format);
    t.match(res.headers['content-type'], type, `${format} content type`);
    t.equal(res.headers['content-disposition'], `${format === 'wav' ? 'inline' : 'attachment'}; filename="${all.id}.${format}"`);
    if (format === 'vtt') t.match(res.body, /^WEBVTT\n/);
    if (format === 'ass') t.match(res.body, /PlayResX: 1920/);
    if (format === 'csv') t.match(res.body, /^word,start,end,confidence,source,char_start,char_end\r\n/);
  }
  const srt = (await app.inject(all.downloads.srt)).body;
  for (const line of srt.split('\n').filter((l) => l && !/^\d+$/.test(l) && !/-->/.test(l))) t.ok([...line].length <= 20, `line within 20: ${line}`);

  const one = (await app.inject({ method: 'POST', url: '/tts', payload: { text, timing_format: 'vtt' } })).json();
  t.same(Object.keys(one.downloads).sort(), ['json', 'vtt', 'wav'], 'the asked format, plus the audio and the words');
  const missing = await app.inject(`/download/${one.id}?format=srt`);
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'NOT_FOUND');
  t.match(missing.json().message, /no srt file/);

  for (const [payload, field] of [
    [{ text, timing_format: 'docx' }, 'timing_format'],
    [{ text, max_chars_per_line: 500 }, 'max_chars_per_line'],
    [{ text, highlight_colour: 'red' }, 'highlight_colour'],
    [{ text, karaoke_tag: 'ko' }, 'karaoke_tag'],
    [{ text, fps: 0 }, 'fps'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/tts', payload });
    t.equal(res.statusCode, 400, field);
    t.equal(res.json().code, 'VALIDATION_ERROR');
    t.match(res.json().message, new RegExp(`^${field} `), `names ${field}`);
  }
});

t.test('subtitles for 1000 words: the display rules make fewer cues too fast to read, and the answer says so', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
  const words = ('The quick brown fox jumps over the lazy dog near the riverbank. On 3 March 2024, about 1,500 people ' +
    'gathered in the square to hear the orchestra play. She said it was the best concert of her life, ' +
    'and nobody disagreed with her. Later that evening the rain started, slowly at first, then all at once.').split(' ');
  const text = Array.from({ length: 1000 }, (_, i) => words[i % words.length]).join(' ') + '.';
  const fast = async (options: object) => {
    const body = (await app.inject({ method: 'POST', url: '/tts', payload: { text, ...options } })).json();
    const file = (await app.inject(`/download/${body.id}?format=json`)).json() as { cues: { cps: number; unmet: string[] }[] };
    return { body, share: file.cues.filter((c) => c.cps > 20).length / file.cues.length, file };
  };
  const built = await fast({ reading_speed: 0, min_cue_duration: 0, chain_threshold: 0 });
  const timed = await fast({ fps: 25 });
  t.ok(built.share > timed.share, `over 20 cps: ${(built.share * 100).toFixed(1)}% as built, ${(timed.share * 100).toFixed(1)}% timed`);
  t.match(timed.body.subtitles, { rules: { reading_speed: 20, min_cue_duration: 5 / 6, chain_threshold: 0.5, chain_gap_frames: 2, fps: 25 }, cues: timed.file.cues.length });
  t.equal(timed.body.subtitles.over_reading_speed, Math.round((timed.file.cues.filter((c) => c.unmet.includes('reading_speed')).length / timed.file.cues.length) * 10_000) / 10_000);
});
