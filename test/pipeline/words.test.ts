// The aligner chain on its own: each step falls through to the next with its reason, the answer
// names the step that timed the words, and a client that went away ends the chain.
import t from 'tap';
import { ApiError } from '../../src/errors.js';
import type { Capability } from '../../src/lanes/index.js';
import type { StepContext } from '../../src/pipeline/context.js';
import { timeWords } from '../../src/pipeline/words.js';
import type { Workers } from '../../src/services/workers.js';
import type { Word } from '../../src/types.js';
import { loadConfig } from '../../src/config.js';

const word = (w: string, start: number, source: string): Word => ({ word: w, start, end: start + 0.2, char_start: 0, char_end: w.length, source, confidence: 0.9 });

/** A router whose whisperx is as the test says, and whose lane answers `align` with `run`. */
function context(whisperx: Partial<Capability>, run: (params: object) => Promise<unknown>, google?: StepContext['google']) {
  const calls: object[] = [];
  const workers = {
    capability: (_kind: string, name: string): Capability => (name === 'whisperx' ? { available: false, lane: 'gpu', batch: 1, ...whisperx } : { available: false, lane: 'cpu', batch: 1 }),
    laneFor: () => ({ run: (_method: string, params: object) => (calls.push(params), run(params)) }),
  } as unknown as Workers;
  const warnings: object[] = [];
  const log = { warn: (obj: object) => void warnings.push(obj) } as unknown as StepContext['log'];
  const ctx: StepContext = { config: loadConfig({}), workers, store: undefined as never, log, signal: new AbortController().signal, timings: {}, google };
  return { ctx, calls, warnings };
}

const request = { audioPath: '/data/staging/x/audio.wav', text: 'Hello world', language: 'en-us', engine: 'f5', engineWords: [] as Word[] };

t.test("the engine's own timings come first", async (t) => {
  const { ctx, calls } = context({ available: true }, async () => ({}));
  const words = [word('Hello', 0, 'espeak'), word('world', 0.3, 'espeak')];
  const out = await timeWords(ctx, { ...request, engine: 'espeak', engineWords: words });
  t.same(out, { words, timing: { method: 'auto', aligner: 'native', source: 'espeak', skipped: [] } });
  t.same(calls, [], 'no aligner was asked');
});

t.test('an engine without timings falls through to whisperx, which times the words', async (t) => {
  const timed = [word('Hello', 0.1, 'whisperx'), word('world', 0.5, 'whisperx')];
  const { ctx, calls } = context({ available: true, languages: ['en', 'de'] }, async () => ({ aligner: 'whisperx', words: timed, timings_ms: { align: 3 } }));
  const out = await timeWords(ctx, request);
  t.same(out.words, timed);
  t.same(out.timing, { method: 'auto', aligner: 'whisperx', source: 'whisperx', skipped: [{ aligner: 'native', reason: 'engine f5 gives no word timings of its own' }] });
  t.same(calls, [{ aligner: 'whisperx', audio_path: request.audioPath, text: 'Hello world', language: 'en-us' }]);
});

t.test("the engine's chunks reach whisperx as its segments", async (t) => {
  const timed = [word('Hello', 0.1, 'whisperx'), word('world', 0.5, 'whisperx')];
  const { ctx, calls } = context({ available: true }, async () => ({ aligner: 'whisperx', words: timed, timings_ms: {} }));
  const chunks = [{ char_start: 0, char_end: 5, start: 0, end: 0.4 }, { char_start: 6, char_end: 11, start: 0.4, end: 1 }];
  await timeWords(ctx, { ...request, chunks });
  t.same(calls, [{ aligner: 'whisperx', audio_path: request.audioPath, text: 'Hello world', language: 'en-us', segments: chunks }]);
  t.type(ctx.timings.align_whisperx, 'number');
});

t.test('nothing can time the words: no words, and a timings error that names every step and why', async (t) => {
  const cases: [string, Partial<Capability>, () => Promise<unknown>, RegExp][] = [
    ['unavailable', { available: false, reason: 'python package whisperx is not installed' }, async () => ({}), /whisperx: python package whisperx is not installed/],
    ['no model for the language', { available: true, languages: ['de'] }, async () => ({}), /whisperx: no whisperx model for language en/],
    ['it fails', { available: true }, async () => { throw new ApiError('ENGINE_FAILED', 'CUDA out of memory'); }, /whisperx: failed: CUDA out of memory/],
    ['it answers garbage', { available: true }, async () => ({ words: 'nope' }), /whisperx: failed: a malformed result/],
    ['it answers no words', { available: true }, async () => ({ aligner: 'whisperx', words: [], timings_ms: {} }), /whisperx: failed: it returned no words/],
  ];
  for (const [what, cap, run, reason] of cases) {
    const { ctx } = context(cap, run);
    const out = await timeWords(ctx, request);
    t.same(out.words, [], what);
    t.equal(out.timing.aligner, null, what);
    t.equal(out.timing.error?.code, 'TIMING_UNAVAILABLE', what);
    t.match(out.timing.error?.message, /native: engine f5 gives no word timings/, `${what}: the engine step's reason`);
    t.match(out.timing.error?.message, reason, `${what}: whisperx's reason`);
    t.match(out.timing.error?.message, /google: the google aligner is not set up/, `${what}: google's reason`);
    t.same(out.timing.skipped.map((s) => s.aligner), ['native', 'whisperx', 'pocketsphinx', 'dtw', 'google'], `${what}: every step, in order`);
  }
});

t.test('whisperx failing falls through to google, and the failure is logged', async (t) => {
  const heard = [word('Hello', 0.2, 'google'), word('world', 0.6, 'google')];
  const google = { unavailable: () => null, align: async () => heard };
  const { ctx, warnings } = context({ available: true }, async () => { throw new ApiError('ENGINE_FAILED', 'CUDA out of memory'); }, google);
  const out = await timeWords(ctx, request);
  t.same(out.words, heard);
  t.same(out.timing, {
    method: 'auto', aligner: 'google', source: 'google',
    skipped: [
      { aligner: 'native', reason: 'engine f5 gives no word timings of its own' }, { aligner: 'whisperx', reason: 'failed: CUDA out of memory' },
      { aligner: 'pocketsphinx', reason: 'unavailable' }, { aligner: 'dtw', reason: 'unavailable' },
    ],
  });
  t.match(warnings, [{ aligner: 'whisperx', err: 'CUDA out of memory' }]);
});

t.test('a named timing_method runs that step only', async (t) => {
  const google = { unavailable: () => null, align: async () => [word('Hello', 0.2, 'google')] };
  const { ctx, calls } = context({ available: true }, async () => ({ aligner: 'whisperx', words: [word('Hello', 0.1, 'whisperx')], timings_ms: {} }), google);
  const viaGoogle = await timeWords(ctx, { ...request, method: 'google' });
  t.same([viaGoogle.timing.aligner, viaGoogle.timing.skipped], ['google', []]);
  t.same(calls, [], 'whisperx was not asked');
  const native = await timeWords(ctx, { ...request, method: 'native' });
  t.equal(native.timing.error?.code, 'TIMING_UNAVAILABLE', 'f5 has no native timings, and nothing else is tried');
  t.same(native.timing.skipped, [{ aligner: 'native', reason: 'engine f5 gives no word timings of its own' }]);
});

t.test('a client that went away, or a service that stops, ends the chain at once', async (t) => {
  for (const code of ['CANCELLED', 'SHUTTING_DOWN'] as const) {
    const { ctx } = context({ available: true }, async () => { throw new ApiError(code, 'gone'); });
    const err = await timeWords(ctx, request).then(() => null, (e: ApiError) => e);
    t.equal(err?.code, code);
  }
});
