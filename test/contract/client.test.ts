// The TypeScript client generated from openapi.yaml (clients/typescript), against the live service:
// its types compile with the rest (npm run typecheck) and its calls get what the types say.
import t from 'tap';
import { voicecue, type TtsResult } from '../../clients/typescript/index.js';
import { listening, testApp } from '../helpers.js';

t.test('synthesize, download, the voice library and a typed error through the generated client', async (t) => {
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

  // The voice library: a multipart upload (the WAV just made), listed, read, deleted.
  const recording = new Blob([Buffer.from(wav.data as ArrayBuffer)], { type: 'audio/wav' });
  const stored = await vc.POST('/voices', {
    body: { name: 'Client voice', ref_text: 'Hello there, world.', audio: '' },
    bodySerializer: ({ name, ref_text }) => {
      const form = new FormData();
      form.append('name', name);
      form.append('ref_text', ref_text ?? '');
      form.append('audio', recording, 'hello.wav');
      return form;
    },
  });
  t.equal(stored.response.status, 201, JSON.stringify(stored.error));
  const voiceId = stored.data!.id;
  const listed = await vc.GET('/voices');
  t.same(listed.data!.voices.map((v) => [v.id, v.name]), [[voiceId, 'Client voice']]);
  const one = await vc.GET('/voices/{id}', { params: { path: { id: voiceId } } });
  t.equal(one.data!.ref_text, 'Hello there, world.');
  t.equal((await vc.DELETE('/voices/{id}', { params: { path: { id: voiceId } } })).response.status, 204);
  const gone = await vc.GET('/voices/{id}', { params: { path: { id: voiceId } } });
  t.equal(gone.error?.code, 'NOT_FOUND');

  const refused = await vc.POST('/tts', { body: { text: 'Hi.', speed: 9 } });
  t.equal(refused.response.status, 400);
  t.match(refused.error, { code: 'VALIDATION_ERROR', message: /speed must be at most 2\.0/ });
  const unauthorized = await voicecue(base).GET('/download/{id}', { params: { path: { id: result.id } } });
  t.equal(unauthorized.response.status, 401);
  t.equal(unauthorized.error?.code, 'UNAUTHORIZED');
});
