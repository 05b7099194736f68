// The official openai package against the service, with the real espeak worker.
import t from 'tap';
import OpenAI from 'openai';
import { listening, parseWav, testApp } from '../helpers.js';
import { EXPECTED_CODEC, probe } from '../audio.js';

const TEXT = 'Speech for every client that speaks OpenAI. The year 2025 had 12 months, and this is the third sentence.';
const FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;

async function service(t: Parameters<typeof testApp>[0], env: Record<string, string> = {}) {
  const setup = await testApp(t, { env });
  await setup.workers.start();
  const port = await listening(setup.app);
  // The SDK keeps connections alive; once the test is done, drop them as they go idle so close() need not wait
  // (dropping them during the test would race a request reusing one).
  t.teardown(() => setInterval(() => setup.app.server.closeIdleConnections(), 50).unref());
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: env.VOICECUE_API_KEYS ?? 'unused', maxRetries: 0 });
  return { ...setup, port, client };
}

async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

t.test('every response_format, whole and streamed, is valid for its format and as long as the WAV', async (t) => {
  const { client } = await service(t);
  const wavRes = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: TEXT, response_format: 'wav' });
  const wav = await bytesOf(wavRes);
  const reference = parseWav(wav).duration;
  t.equal(wavRes.headers.get('content-type'), 'audio/wav');
  for (const format of FORMATS) {
    for (const stream of [false, true]) {
      const what = `${format}${stream ? ' streamed' : ''}`;
      const res = await client.audio.speech.create({
        model: 'tts-1', voice: 'alloy', input: TEXT, response_format: format, ...(stream ? { stream_format: 'audio' as const } : {}),
      });
      t.equal(res.headers.get('content-type'), { mp3: 'audio/mpeg', opus: 'audio/ogg; codecs=opus', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' }[format], `${what}: type`);
      t.equal(res.headers.get('content-length') === null, stream, `${what}: ${stream ? 'chunked' : 'with a length'}`);
      const bytes = await bytesOf(res);
      const info = await probe(bytes, format === 'pcm' ? 24000 : undefined);
      t.equal(info.codec, EXPECTED_CODEC[format].codec, `${what}: codec`);
      t.equal(info.sampleRate, EXPECTED_CODEC[format].rate, `${what}: sample rate`);
      t.equal(info.channels, 1, `${what}: mono`);
      // A streamed mp3 cannot go back to write its LAME header (the encoder delay), so players keep ~50-70 ms of padding.
      const tolerance = stream && format === 'mp3' ? 0.08 : 0.05;
      t.ok(Math.abs(info.decoded - reference) <= tolerance, `${what}: plays ${info.decoded.toFixed(3)} s, the WAV ${reference.toFixed(3)} s`);
      if (format === 'pcm') t.ok(Math.abs(bytes.length - reference * 24000 * 2) <= 2 && bytes.length % 2 === 0, `${what}: ${bytes.length} bytes = duration × 24000 × 2`);
    }
  }
});

t.test('OpenAI-shaped errors: 400 with error.type and error.param', async (t) => {
  const { client } = await service(t);
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing input', { model: 'tts-1', voice: 'alloy' }, 'input'],
    ['empty input', { model: 'tts-1', voice: 'alloy', input: '   ' }, 'input'],
    ['unknown voice', { model: 'tts-1', voice: 'no-such-voice', input: 'Hi.' }, 'voice'],
    ['unknown voice id', { model: 'tts-1', voice: { id: 'voice_1234' }, input: 'Hi.' }, 'voice'],
    ['bad format', { model: 'tts-1', voice: 'alloy', input: 'Hi.', response_format: 'ogg' }, 'response_format'],
    ['speed too high', { model: 'tts-1', voice: 'alloy', input: 'Hi.', speed: 4.5 }, 'speed'],
    ['speed too low', { model: 'tts-1', voice: 'alloy', input: 'Hi.', speed: 0.2 }, 'speed'],
    ['unknown model', { model: 'tts-9', voice: 'alloy', input: 'Hi.' }, 'model'],
    ['bad stream_format', { model: 'tts-1', voice: 'alloy', input: 'Hi.', stream_format: 'ws' }, 'stream_format'],
    ['input over the limit', { model: 'tts-1', voice: 'alloy', input: 'word '.repeat(1000) }, 'input'],
  ];
  for (const [what, body, param] of cases) {
    const err = await client.audio.speech.create(body as never).then(() => null, (e: unknown) => e);
    t.ok(err instanceof OpenAI.BadRequestError, `${what}: the SDK's BadRequestError`);
    if (!(err instanceof OpenAI.BadRequestError)) console.error("DEBUG", what, err);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    t.equal(e.status, 400, `${what}: 400`);
    t.equal(e.type, 'invalid_request_error', `${what}: type`);
    t.equal(e.param, param, `${what}: param`);
    t.type(e.error, 'object');
    t.type((e.error as { message?: unknown }).message, 'string', `${what}: a message`);
  }
  // A route that is not /v1 keeps the catalogue's shape.
  const { app } = await service(t);
  const native = await app.inject({ method: 'POST', url: '/tts', payload: {} });
  t.match(native.json(), { statusCode: 400, code: 'VALIDATION_ERROR' });
});

t.test('speed is clamped to the engine and instructions ignored, and the headers say so', async (t) => {
  const { client } = await service(t);
  const res = await client.audio.speech.create({ model: 'tts-1', voice: 'nova', input: 'Fast.', speed: 4, instructions: 'Speak cheerfully.', response_format: 'wav' });
  t.equal(res.headers.get('x-voicecue-speed'), '2');
  t.equal(res.headers.get('x-voicecue-instructions'), 'ignored');
  t.equal(res.headers.get('x-voicecue-voice'), 'en-us+f3', 'nova maps to an espeak voice');
  t.match(res.headers.get('x-voicecue-notice'), /speed 4 is outside espeak's 0.5-2: spoken at 2.*instructions are ignored/);
  const slow = await client.audio.speech.create({ model: 'tts-1', voice: 'nova', input: 'Fast.', speed: 0.5, response_format: 'wav' });
  t.ok(parseWav(await bytesOf(slow)).duration > parseWav(await bytesOf(res)).duration * 2, 'the clamped speed is the one spoken');
});

t.test('models, voices, and API keys as OpenAI clients send them (Authorization: Bearer)', async (t) => {
  const key = 'sk-voicecue-test-key-0123456789';
  const { client, port } = await service(t, { VOICECUE_API_KEYS: key, VOICECUE_OPENAI_VOICES: '{"alloy":"en-gb","custom":"de"}' });
  const models = await client.models.list();
  t.ok(models.data.some((m) => m.id === 'tts-1' && m.object === 'model'), 'tts-1 listed');
  t.ok(models.data.some((m) => m.id === 'espeak'), 'engines by name');
  const voices = await (await fetch(`http://127.0.0.1:${port}/v1/audio/voices`, { headers: { authorization: `Bearer ${key}` } })).json() as { voices: { id: string; voice: string }[] };
  t.match(voices.voices, [{ id: 'alloy', name: 'alloy', engine: 'espeak', voice: 'en-gb' }]);
  t.ok(voices.voices.some((v) => v.id === 'custom' && v.voice === 'de'), 'a configured voice');
  const res = await client.audio.speech.create({ model: 'tts-1', voice: 'custom', input: 'Guten Tag.', response_format: 'wav' });
  t.equal(res.headers.get('x-voicecue-voice'), 'de');
  const wrong = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-wrong-key-000000000000', maxRetries: 0 });
  const err = await wrong.models.list().then(() => null, (e: unknown) => e);
  t.ok(err instanceof OpenAI.AuthenticationError, 'a wrong key: 401 as the SDK reads it');
  t.equal((err as InstanceType<typeof OpenAI.AuthenticationError>).type, 'authentication_error');
});
