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
function context(whisperx: Partial<Capability>, run: (params: object) => Promise<unknown>) {
  const calls: object[] = [];
  const workers = {
    capability: (_kind: string, name: string): Capability => (name === 'whisperx' ? { available: false, lane: 'gpu', batch: 1, ...whisperx } : { available: false, lane: 'cpu', batch: 1 }),
    laneFor: () => ({ run: (_method: string, params: object) => (calls.push(params), run(params)) }),
  } as unknown as Workers;
  const log = { warn: () => undefined } as unknown as StepContext['log'];
  const ctx: StepContext = { config: loadConfig({}), workers, store: undefined as never, log, signal: new AbortController().signal, timings: {} };
  return { ctx, calls };
}

const request = { audioPath: '/data/staging/x/audio.wav', text: 'Hello world', language: 'en-us', engine: 'f5', engineWords: [] as Word[] };

t.test("the engine's own timings come first", async (t) => {
  const { ctx, calls } = context({ available: true }, async () => ({}));
  const words = [word('Hello', 0, 'espeak'), word('world', 0.3, 'espeak')];
  const out = await timeWords(ctx, { ...request, engine: 'espeak', engineWords: words });
  t.same(out, { words, timing: { aligner: 'native', source: 'espeak', skipped: [] } });
  t.same(calls, [], 'no aligner was asked');
});

t.test('an engine without timings falls through to whisperx, which times the words', async (t) => {
  const timed = [word('Hello', 0.1, 'whisperx'), word('world', 0.5, 'whisperx')];
  const { ctx, calls } = context({ available: true, languages: ['en', 'de'] }, async () => ({ aligner: 'whisperx', words: timed, timings_ms: { align: 3 } }));
  const out = await timeWords(ctx, request);
  t.same(out.words, timed);
  t.same(out.timing, { aligner: 'whisperx', source: 'whisperx', skipped: [{ aligner: 'native', reason: 'engine f5 gives no word timings of its own' }] });
  t.same(calls, [{ aligner: 'whisperx', audio_path: request.audioPath, text: 'Hello world', language: 'en-us' }]);
  t.type(ctx.timings.align_whisperx, 'number');
});

t.test('nothing can time the words: TIMING_UNAVAILABLE names every step and why', async (t) => {
  const cases: [string, Partial<Capability>, () => Promise<unknown>, RegExp][] = [
    ['unavailable', { available: false, reason: 'python package whisperx is not installed' }, async () => ({}), /whisperx: python package whisperx is not installed/],
    ['no model for the language', { available: true, languages: ['de'] }, async () => ({}), /whisperx: no whisperx model for language en/],
    ['it fails', { available: true }, async () => { throw new ApiError('ENGINE_FAILED', 'CUDA out of memory'); }, /whisperx: failed: CUDA out of memory/],
    ['it answers garbage', { available: true }, async () => ({ words: 'nope' }), /whisperx: failed: a malformed result/],
  ];
  for (const [what, cap, run, reason] of cases) {
    const { ctx } = context(cap, run);
    const err = await timeWords(ctx, request).then(() => null, (e: ApiError) => e);
    t.equal(err?.code, 'TIMING_UNAVAILABLE', what);
    t.equal(err?.statusCode, 503, what);
    t.match(err?.message, /native: engine f5 gives no word timings/, `${what}: the engine step's reason`);
    t.match(err?.message, reason, `${what}: whisperx's reason`);
  }
});

t.test('a client that went away, or a service that stops, ends the chain at once', async (t) => {
  for (const code of ['CANCELLED', 'SHUTTING_DOWN'] as const) {
    const { ctx } = context({ available: true }, async () => { throw new ApiError(code, 'gone'); });
    const err = await timeWords(ctx, request).then(() => null, (e: ApiError) => e);
    t.equal(err?.code, code);
  }
});
