// The protocol's contract: every method and every error code through the real worker, each
// reply held to the gateway's own schemas (src/lanes/protocol.ts), and both sides' tables equal.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { isErrorCode } from '../../src/errors.js';
import {
  LineTransport, METHODS, PROTOCOL_VERSION, WORKER_ERROR_CODES, progressEventSchema, readyEventSchema, replySchema, workerError,
} from '../../src/lanes/index.js';
import { BLANK_CODE_POINTS, contentSpan } from '../../src/text/blank.js';
import { ROOT, memoryLogger, tempDir } from '../helpers.js';

// Faults the real loop must carry as error replies: an engine failure and a handler bug.
const FAULTS = `
import voicecue_worker.engines.espeak as e, voicecue_worker.server as s
from voicecue_worker.errors import ENGINE_FAILED, RpcError
speak = e.EspeakEngine.speak
def faulty(self, text, *a, **k):
    if text == "engine-failed": raise RpcError(ENGINE_FAILED, "espeak_Synth failed with error 1")
    if text == "internal": raise ZeroDivisionError("a handler bug")
    return speak(self, text, *a, **k)
e.EspeakEngine.speak = faulty
raise SystemExit(s.main(["--lane", "cpu"]))
`;

type Message = Record<string, unknown> & { id?: unknown; event?: string };

function worker(dataDir: string) {
  const proc = spawn('python3', ['-c', FAULTS], { cwd: join(ROOT, 'worker-py'), env: { ...process.env, VOICECUE_DATA_DIR: dataDir }, stdio: ['pipe', 'pipe', 'ignore'] });
  // The gateway's own framing and parsing of the worker's lines.
  const transport = new LineTransport({ input: proc.stdout!, output: proc.stdin!, log: memoryLogger() });
  const waiting: ((m: Message) => void)[] = [];
  const inbox: Message[] = [];
  transport.onMessage = (msg) => {
    const next = waiting.shift();
    if (next) next(msg);
    else inbox.push(msg);
  };
  const recv = () => new Promise<Message>((resolve) => (inbox.length ? resolve(inbox.shift()!) : waiting.push(resolve)));
  const sendRaw = (raw: string) => proc.stdin!.write(raw + '\n');
  let nextId = 1;
  /** One request; progress events are collected until its reply. */
  const request = async (method: string, params?: object) => {
    const id = nextId++;
    sendRaw(JSON.stringify({ id, method, ...(params ? { params } : {}) }));
    const progress: Message[] = [];
    for (;;) {
      const msg = await recv();
      if (msg.event === 'progress') progress.push(msg);
      else return { reply: msg, progress, id };
    }
  };
  return { proc, recv, sendRaw, request };
}

t.test('every method and error code of the real worker parses with the gateway\'s schemas', async (t) => {
  const dataDir = await tempDir(t);
  const w = worker(dataDir);
  t.teardown(() => void w.proc.kill('SIGKILL'));
  const seen = new Set<string>();
  const expectError = (reply: Message, code: string, what: string) => {
    const parsed = replySchema.safeParse(reply);
    t.ok(parsed.success, `${what}: the error reply parses`);
    const error = (reply as { error?: { code: string; message: string } }).error;
    t.equal(error?.code, code, what);
    t.ok(error?.message, `${what}: a message`);
    seen.add(code);
  };
  const expectResult = (method: keyof typeof METHODS, reply: Message) => {
    t.ok(replySchema.safeParse(reply).success, `${method}: the reply parses`);
    const result = METHODS[method].result.safeParse((reply as { result?: unknown }).result);
    t.ok(result.success, `${method}: the result matches its schema${result.success ? '' : `: ${JSON.stringify(result.error.issues)}`}`);
    return result.data as Record<string, unknown>;
  };

  const ready = readyEventSchema.parse(await w.recv());
  t.equal(ready.protocol, PROTOCOL_VERSION);
  t.same([...ready.methods].sort(), Object.keys(METHODS).sort(), 'both sides list the same methods');
  t.same([...ready.errors].sort(), [...WORKER_ERROR_CODES].sort(), 'both sides list the same error codes');

  expectResult('ping', (await w.request('ping')).reply);
  const caps = expectResult('capabilities', (await w.request('capabilities')).reply);
  const { event: _event, ...info } = ready;
  t.same(caps, info, 'capabilities repeats the ready event');
  const tokens = expectResult('tokenize', (await w.request('tokenize', { text: ' Hello, 2025! ' })).reply);
  t.same(tokens, { spans: [[1, 6], [8, 12]], content: [1, 13] });

  // One whitespace rule on both sides: the worker's content span is the gateway's, for every blank
  // either language knows and for their neighbours.
  for (const cp of [...BLANK_CODE_POINTS, 0x1b, 0x200b, 0x2060, 0x180e, 0x1f600]) {
    const c = String.fromCodePoint(cp);
    for (const [shape, text] of [['around', `${c}x${c}`], ['alone', `${c}${c}`], ['inside', `x${c}y`]] as const) {
      const { content } = (await w.request('tokenize', { text })).reply.result as { content: [number, number] };
      // (the name is ASCII: a raw U+2028 would break the TAP stream)
      t.same(content, contentSpan(text), `U+${cp.toString(16).toUpperCase().padStart(4, '0')} ${shape} a word`);
    }
  }

  const out = (name: string) => join(dataDir, name);
  const long = 'A sentence long enough to be spoken in several chunks by the engine. '.repeat(60);
  const spoken = await w.request('synthesize', { engine: 'espeak', text: long, voice: 'en-us', language: null, speed: 1, output_path: out('a.wav'), word_timings: true });
  const synth = expectResult('synthesize', spoken.reply);
  t.ok((synth.words as unknown[]).length > 500, 'words');
  t.ok(spoken.progress.length > 1, 'progress events');
  for (const p of spoken.progress) t.ok(progressEventSchema.safeParse(p).success, 'a progress event parses');

  expectError((await w.request('align', { aligner: 'native', text: 'Hello', audio_path: out('a.wav') })).reply, 'INVALID_PARAMS', 'align with an engine-only aligner');
  expectError((await w.request('align', { aligner: 'whisperx', text: 'Hello', audio_path: out('a.wav') })).reply, 'ENGINE_UNAVAILABLE', 'align on the wrong lane');
  expectError((await w.request('synthesize', { engine: 'f5', text: 'Hello', output_path: out('b.wav') })).reply, 'ENGINE_UNAVAILABLE', 'f5 on the cpu lane');
  expectError((await w.request('synthesize', { text: 'Hello', voice: 'xx-nope', output_path: out('b.wav') })).reply, 'UNKNOWN_VOICE', 'unknown voice');
  expectError((await w.request('synthesize', { text: '...', output_path: out('b.wav') })).reply, 'NO_SPEECH', 'nothing to say');
  expectError((await w.request('synthesize', { text: 'engine-failed', output_path: out('b.wav') })).reply, 'ENGINE_FAILED', 'engine failure');
  expectError((await w.request('synthesize', { text: 'internal', output_path: out('b.wav') })).reply, 'INTERNAL', 'handler bug');
  expectError((await w.request('synthesize', { text: long, output_path: out('b.wav'), max_audio_s: 5 })).reply, 'BUDGET_EXCEEDED', 'over budget');
  expectError((await w.request('frobnicate')).reply, 'METHOD_NOT_FOUND', 'unknown method');
  w.sendRaw('{not json');
  expectError(await w.recv(), 'PARSE_ERROR', 'bad JSON');
  w.sendRaw('[1, 2]');
  expectError(await w.recv(), 'INVALID_REQUEST', 'not an object');

  // cancel: a running job answers CANCELLED, the cancel itself {cancelled: true}.
  w.sendRaw(JSON.stringify({ id: 900, method: 'synthesize', params: { text: long.repeat(4), output_path: out('c.wav') } }));
  const first = await w.recv();
  t.equal(first.event, 'progress');
  w.sendRaw(JSON.stringify({ id: 901, method: 'cancel', params: { id: 900 } }));
  const replies = new Map<unknown, Message>();
  while (replies.size < 2) {
    const m = await w.recv();
    if (m.event !== 'progress') replies.set(m.id, m);
  }
  t.same(expectResult('cancel', replies.get(901)!), { cancelled: true });
  expectError(replies.get(900)!, 'CANCELLED', 'a cancelled job');

  t.same([...seen].sort(), [...WORKER_ERROR_CODES].sort(), 'every error code was produced and parsed');
  for (const code of WORKER_ERROR_CODES) {
    const mapped = workerError(code, 'x').code;
    t.ok(isErrorCode(mapped) && (mapped === code || mapped === 'INTERNAL_ERROR'), `${code} maps onto the catalogue (${mapped})`);
  }

  expectResult('shutdown', (await w.request('shutdown')).reply);
  t.equal(await new Promise((resolve) => w.proc.once('exit', resolve)), 0, 'shutdown exits 0');
});
