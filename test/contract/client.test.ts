// The TypeScript client generated from openapi.yaml (clients/typescript), against the live service:
// its types compile with the rest (npm run typecheck) and its calls get what the types say.
import t from 'tap';
import { voicecue, type TtsResult } from '../../clients/typescript/index.js';
import { listening, testApp } from '../helpers.js';

t.test('synthesize, download and a typed error through the generated client', async (t) => {
  const { app, workers } = await testApp(t, { env: { VOICECUE_API_KEYS: 'k-client-0123456789' } });
  await workers.start();
  const base = `http://127.0.0.1:${await listening(app)}`;
  const vc = voicecue(base, { apiKey: 'k-client-0123456789' });

  const made = await vc.POST('/tts', { body: { text: 'Hello there, world.', timing_format: 'srt' } });
  t.equal(made.response.status, 201);
  const result = made.data as TtsResult; // 201's JSON (200 is the audio, with Accept: audio/*)
  t.same(result.words.map((w) => w.word), ['Hello', 'there', 'world']);
  t.equal(result.timing.aligner, 'native');
  t.equal(made.response.headers.get('location'), result.audio_url);

  const srt = await vc.GET('/download/{id}', { params: { path: { id: result.id }, query: { format: 'srt' } }, parseAs: 'text' });
  t.equal(srt.response.status, 200);
  t.match(srt.data, /^1\r?\n00:00:00,\d{3} --> 00:00:\d\d,\d{3}\r?\nHello there, world\./);
  const words = await vc.GET('/download/{id}', { params: { path: { id: result.id }, query: { format: 'json' } } });
  t.equal((words.data as { words: unknown[] }).words.length, 3);
  const wav = await vc.GET('/download/{id}', { params: { path: { id: result.id } }, parseAs: 'arrayBuffer' });
  t.equal(Buffer.from(wav.data as ArrayBuffer).toString('ascii', 0, 4), 'RIFF');

  const refused = await vc.POST('/tts', { body: { text: 'Hi.', speed: 9 } });
  t.equal(refused.response.status, 400);
  t.match(refused.error, { code: 'VALIDATION_ERROR', message: /speed must be at most 2\.0/ });
  const unauthorized = await voicecue(base).GET('/download/{id}', { params: { path: { id: result.id } } });
  t.equal(unauthorized.response.status, 401);
  t.equal(unauthorized.error?.code, 'UNAUTHORIZED');
});
