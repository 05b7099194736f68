// POST /align over HTTP with real recordings: Festival speech (another synthesizer than the
// espeak the dtw aligner uses, with exact word times) through the real CPU worker's aligners.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listening, parseEvents, ROOT, tempDir, testApp } from '../helpers.js';

interface Truth { text: string; duration: number; words: { word: string; start: number; end: number }[] }
interface Answer {
  id: string; duration: number; language: string | null;
  words: { word: string; start: number; end: number; char_start: number; char_end: number; confidence: number | null; source: string }[];
  timing: { method: string; aligner: string; skipped: { aligner: string; reason: string }[] };
  downloads: Record<string, string>;
  code?: string; message?: string;
}

const PYTHON = join(ROOT, '.venv/bin/python');

/** Festival speech of `text` as NAME.wav with its true word times (bench/festival_words.py). */
function festival(dir: string, name: string, text: string): { wav: string; truth: Truth } {
  execFileSync(PYTHON, [join(ROOT, 'bench/festival_words.py'), dir, name, text], { stdio: 'pipe' });
  return { wav: join(dir, `${name}.wav`), truth: JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Truth };
}

function ffmpeg(input: string, output: string, ...args: string[]): string {
  execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', input, ...args, output]);
  return output;
}

async function service(t: Parameters<typeof testApp>[0], env: Record<string, string> = {}) {
  const setup = await testApp(t, { env });
  await setup.workers.start();
  const port = await listening(setup.app);
  const post = async (fields: Record<string, string>, audio?: { path: string; name: string } | Buffer, name = 'audio'): Promise<{ status: number; body: Answer }> => {
    const form = new FormData();
    if (audio) form.append(name, new Blob([Buffer.isBuffer(audio) ? audio : readFileSync(audio.path)]), Buffer.isBuffer(audio) ? 'upload' : audio.name);
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    const res = await fetch(`http://127.0.0.1:${port}/align`, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as Answer };
  };
  return { ...setup, port, post };
}

const SCRIPT = 'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore.';

function inside(t: Test, body: Answer, duration: number, words: number): void {
  t.equal(body.words.length, words, 'every word of the script, none lost');
  let last = 0;
  for (const w of body.words) {
    if (w.start < last - 1e-6 || w.end < w.start || w.end > duration + 1e-3) {
      t.fail(`"${w.word}" at ${w.start}-${w.end} is out of order or outside the audio (${duration} s)`);
      return;
    }
    last = w.start;
  }
  t.pass('every word in order and inside the audio');
}

t.test('a Festival recording is aligned to its script: words as written, within 50 ms on average, subtitles to download', async (t) => {
  const dir = await tempDir(t);
  const { wav, truth } = festival(dir, 'clean', SCRIPT);
  const { post, port } = await service(t);
  const { status, body } = await post({ text: SCRIPT, language: 'en' }, { path: wav, name: 'clean.wav' });
  t.equal(status, 201, JSON.stringify(body).slice(0, 300));
  t.equal(body.timing.aligner, 'pocketsphinx', 'English goes to pocketsphinx on a CPU');
  t.ok(body.timing.skipped.some((s) => s.aligner === 'native'), 'an upload has no engine timings: native is skipped, and says so');
  const written = SCRIPT.split(' ').map((w) => w.replace(/[.,]$/, ''));
  t.same(body.words.map((w) => w.word), written, 'the words as written (the punctuation around them is the cues\' to keep)');
  t.same(body.words.map((w) => SCRIPT.slice(w.char_start, w.char_end)), written, 'character spans into the script');
  t.ok(Math.abs(body.duration - truth.duration) < 0.01, 'the duration of the upload');
  inside(t, body, body.duration, 17);
  const errors = truth.words.flatMap((tw, i) => [Math.abs(tw.start - body.words[i]!.start), Math.abs(tw.end - body.words[i]!.end)]);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  t.ok(mean < 0.05, `mean boundary error ${(mean * 1000).toFixed(1)} ms is under 50 ms`);
  t.ok(body.words.every((w) => typeof w.confidence === 'number'), 'each word has a confidence');
  const srt = await fetch(`http://127.0.0.1:${port}${body.downloads.srt}`);
  t.equal(srt.status, 200);
  t.match(await srt.text(), /^1\r?\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\r?\nThe quick brown/, 'a valid SRT');
  const audio = await fetch(`http://127.0.0.1:${port}${body.downloads.wav}`);
  const bytes = Buffer.from(await audio.arrayBuffer());
  t.equal(bytes.toString('ascii', 8, 12), 'WAVE', 'the upload converted once to WAV');
  t.equal(bytes.readUInt32LE(24), 24_000, 'at 24 kHz mono');
});

t.test('mp3 and flac uploads; dtw on request; a script with an extra or a missing sentence still answers inside the audio', async (t) => {
  const dir = await tempDir(t);
  const { wav } = festival(dir, 'clean', SCRIPT);
  const { post } = await service(t);
  for (const ext of ['mp3', 'flac']) {
    const file = ffmpeg(wav, join(dir, `clean.${ext}`));
    const { status, body } = await post({ text: SCRIPT }, { path: file, name: `clean.${ext}` });
    t.equal(status, 201, `${ext}: ${body.message ?? ''}`);
    t.ok(Math.abs(body.duration - 0) > 1, `${ext}: decoded (${body.duration} s)`);
    inside(t, body, body.duration, 17);
  }
  const dtw = await post({ text: SCRIPT, timing_method: 'dtw' }, { path: wav, name: 'clean.wav' });
  t.equal(dtw.status, 201);
  t.equal(dtw.body.timing.aligner, 'dtw', 'timing_method picks the aligner');
  inside(t, dtw.body, dtw.body.duration, 17);

  const extra = `${SCRIPT} Nobody said this sentence at all.`;
  const more = await post({ text: extra }, { path: wav, name: 'clean.wav' });
  t.equal(more.status, 201, 'a script with a sentence the audio lacks: still 2xx');
  inside(t, more.body, more.body.duration, 23);
  const mean = (ws: Answer['words']) => ws.reduce((a, w) => a + (w.confidence ?? 0), 0) / ws.length;
  const spoken = mean(more.body.words.slice(0, 17));
  const unspoken = mean(more.body.words.slice(17));
  t.ok(unspoken < spoken, `the unspoken sentence's words are marked less sure (${unspoken.toFixed(2)} vs ${spoken.toFixed(2)})`);
  const { wav: longer } = festival(dir, 'longer', `${SCRIPT} Then the fox ran far away.`);
  const fewer = await post({ text: SCRIPT }, { path: longer, name: 'longer.wav' });
  t.equal(fewer.status, 201, 'audio with a sentence the script lacks: still 2xx');
  inside(t, fewer.body, fewer.body.duration, 17);
});

t.test('Accept: text/event-stream streams the progress of a long alignment, then the answer; a refusal before any work stays a 4xx', async (t) => {
  const dir = await tempDir(t);
  const { wav } = festival(dir, 'clean', SCRIPT);
  // Eight times over (about 50 s): pocketsphinx aligns it in windows, each one a progress event.
  const list = join(dir, 'list.txt');
  writeFileSync(list, Array.from({ length: 8 }, () => `file '${wav}'`).join('\n'));
  const long = join(dir, 'long.wav');
  execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', long]);
  const script = Array.from({ length: 8 }, () => SCRIPT).join(' ');
  // A script past the longest text to speak is still a script to align (its own, larger limit, in the worker too).
  const { port } = await service(t, { VOICECUE_MAX_TEXT_CHARS: String(script.length - 100) });
  const stream = async (fields: Record<string, string>, audio?: string) => {
    const form = new FormData();
    if (audio) form.append('audio', new Blob([readFileSync(audio)]), 'long.wav');
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    return fetch(`http://127.0.0.1:${port}/align`, { method: 'POST', body: form, headers: { accept: 'text/event-stream' } });
  };

  const res = await stream({ text: script, timing_method: 'pocketsphinx' }, long);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = parseEvents(await res.text());
  const progress = events.filter((e) => e.event === 'progress').map((e) => e.data as { stage: string; aligner?: string; done: number; total: number; duration?: number });
  t.equal(progress[0]?.stage, 'decode', 'the first event: the recording decoded');
  t.ok(Math.abs(progress[0]!.duration! - 8 * 5) < 20, `with its duration (${progress[0]!.duration} s)`);
  const windows = progress.filter((p) => p.stage === 'align' && p.aligner === 'pocketsphinx' && p.done > 0);
  t.ok(windows.length >= 2, `a progress event per window (${windows.map((p) => `${p.done}/${p.total}`).join(', ')})`);
  t.ok(windows.every((p, i) => p.done <= p.total && (i === 0 || p.done >= windows[i - 1]!.done)), 'done grows and never passes total');
  t.equal(windows.at(-1)!.done, windows.at(-1)!.total, 'the last one is complete');
  const last = events.at(-1)!;
  t.equal(last.event, 'result', 'the stream ends with the result');
  const body = last.data as Answer;
  t.equal(body.timing.aligner, 'pocketsphinx');
  inside(t, body, body.duration, 17 * 8);
  t.equal((await fetch(`http://127.0.0.1:${port}${body.downloads.srt}`)).status, 200, 'the result is stored like a 201 answer');

  const failed = await stream({ text: SCRIPT, timing_method: 'google' }, wav);
  t.equal(failed.status, 200, 'a failure after the work began');
  const failedEvents = parseEvents(await failed.text());
  t.equal(failedEvents.at(-1)!.event, 'error', 'ends the stream with an error event');
  t.match(failedEvents.at(-1)!.data, { statusCode: 503, code: 'TIMING_UNAVAILABLE', error: 'Service Unavailable' }, "in the catalogue's shape");

  const refused = await stream({ text: SCRIPT });
  t.equal(refused.status, 400, 'no audio: refused before any work, so an ordinary answer');
  t.match(await refused.json(), { code: 'VALIDATION_ERROR' });
});

t.test('bad uploads are 4xx with stable codes and leave nothing behind', async (t) => {
  const dir = await tempDir(t);
  const { wav } = festival(dir, 'short', 'Hello there.');
  const { post, dataDir } = await service(t, { VOICECUE_MAX_ALIGN_S: '3', VOICECUE_MAX_UPLOAD_BYTES: '200000' });
  const stored = () => readdirSync(join(dataDir, 'artifacts')).filter((n) => !n.startsWith('.'));
  const before = stored();
  const cases: [string, Record<string, string>, Parameters<typeof post>[1], number, string][] = [
    ['not audio', { text: 'Hello there.' }, Buffer.from('this is plain text, not a recording'), 422, 'INVALID_AUDIO'],
    ['blank text', { text: '   ' }, { path: wav, name: 'short.wav' }, 422, 'NO_SPEECH'],
    ['no audio', { text: 'Hello there.' }, undefined, 400, 'VALIDATION_ERROR'],
    ['native', { text: 'Hello there.', timing_method: 'native' }, { path: wav, name: 'short.wav' }, 400, 'VALIDATION_ERROR'],
    ['a bad option', { text: 'Hello there.', max_lines: 'many' }, { path: wav, name: 'short.wav' }, 400, 'VALIDATION_ERROR'],
    ['an unknown field', { text: 'Hello there.', colour: 'red' }, { path: wav, name: 'short.wav' }, 400, 'VALIDATION_ERROR'],
  ];
  for (const [what, fields, audio, status, code] of cases) {
    const res = await post(fields, audio);
    t.equal(res.status, status, `${what}: ${res.status} ${res.body.message ?? ''}`);
    t.equal(res.body.code, code, `${what}: ${code}`);
    t.ok(res.body.message && res.body.message.length > 10, `${what}: says why`);
  }
  const long = ffmpeg(wav, join(dir, 'long.wav'), '-af', 'apad=pad_dur=4');
  const tooLong = await post({ text: 'Hello there.' }, { path: long, name: 'long.wav' });
  t.equal(tooLong.status, 413);
  t.equal(tooLong.body.code, 'AUDIO_TOO_LONG');
  const big = join(dir, 'big.wav');
  writeFileSync(big, Buffer.concat([readFileSync(wav), Buffer.alloc(300_000)]));
  const tooBig = await post({ text: 'Hello there.' }, { path: big, name: 'big.wav' });
  t.equal(tooBig.status, 413);
  t.equal(tooBig.body.code, 'PAYLOAD_TOO_LARGE');
  t.match(tooBig.body.message, /200000 bytes/);
  t.same(stored(), before, 'no failed request left files');
  const ok = await post({ text: 'Hello there.', max_lines: '1', fps: '25' }, { path: wav, name: 'short.wav' });
  t.equal(ok.status, 201, 'form values are typed as the options expect');
});

t.test('a JSON body is 415 with what to send', async (t) => {
  const { port } = await service(t);
  const res = await fetch(`http://127.0.0.1:${port}/align`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });
  t.equal(res.status, 415);
  const body = (await res.json()) as Answer;
  t.equal(body.code, 'UNSUPPORTED_MEDIA_TYPE');
  t.match(body.message, /multipart\/form-data/);
});
